//! ListIdentities, UnlinkIdentity and SetPrimaryIdentity: the caller's sign-in identities, at
//! least one kept, exactly one primary.

use stride_proto::auth as pb;
use stride_testkit::{
    authed,
    bus::{assert_invalid, reason},
};
use tonic::{Code, Status};

use crate::support::{
    Auth, PASSWORD, email_code_sign_in, email_credential, id_token_credential, identities, link,
    link_code, me, password, primaries, providers::world, reauth_code, reauthentication_code,
    signup,
};

async fn unlink(h: &Auth, access: &str, id: &str) -> Result<(), Status> {
    unlink_with(h, access, id, password(PASSWORD)).await
}

async fn unlink_with(
    h: &Auth,
    access: &str,
    id: &str,
    proof: Option<pb::AccountProof>,
) -> Result<(), Status> {
    h.client
        .clone()
        .unlink_identity(authed(
            pb::UnlinkIdentityRequest {
                identity_id: id.into(),
                proof,
            },
            access,
        ))
        .await
        .map(drop)
}

async fn set_primary(h: &Auth, access: &str, id: &str) -> Result<(), Status> {
    h.client
        .clone()
        .set_primary_identity(authed(
            pb::SetPrimaryIdentityRequest {
                identity_id: id.into(),
                proof: password(PASSWORD),
            },
            access,
        ))
        .await
        .map(drop)
}

#[tokio::test]
async fn a_password_signup_has_one_primary_email_identity() {
    let mut w = world().await;
    let (user, tokens) = signup(&w.h, "Ann@Example.com", "ann").await;
    let ids = identities(&w.h, &tokens.access_token).await;
    assert_eq!(ids.len(), 1, "{ids:?}");
    let email = &ids[0];
    assert_eq!(email.provider(), pb::Provider::Email);
    assert_eq!(email.subject, "ann@example.com");
    assert_eq!(email.email, "ann@example.com");
    assert!(email.primary);
    assert!(!email.email_verified, "not proved yet");
    assert_eq!(email.create_time, user.create_time);
    assert!(uuid::Uuid::parse_str(&email.id).is_ok());

    let err =
        w.h.client
            .list_identities(pb::ListIdentitiesRequest {})
            .await
            .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    w.h.stop().await;
}

#[tokio::test]
async fn unlink_keeps_the_last_identity_and_only_touches_the_callers() {
    let w = world().await;
    let (_, hal) = signup(&w.h, "hal@example.com", "hal").await;
    let (_, ivy) = signup(&w.h, "ivy@example.com", "ivy").await;
    let hal_email = identities(&w.h, &hal.access_token).await.remove(0);
    let ivy_email = identities(&w.h, &ivy.access_token).await.remove(0);

    let err = unlink(&w.h, &hal.access_token, &hal_email.id)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(reason(&err), "LAST_IDENTITY");
    // L1: a stolen access token alone cannot remove a way in: proof is required, and checked.
    let err = unlink_with(&w.h, &hal.access_token, &hal_email.id, None)
        .await
        .unwrap_err();
    assert_invalid(&err, &["proof"]);
    let err = unlink_with(
        &w.h,
        &hal.access_token,
        &hal_email.id,
        password("not the password"),
    )
    .await
    .unwrap_err();
    assert_eq!(reason(&err), "INVALID_CREDENTIALS");

    // Someone else's identity, or none at all, is NOT_FOUND; a malformed id is a bad field.
    for id in [ivy_email.id.clone(), uuid::Uuid::now_v7().to_string()] {
        let err = unlink(&w.h, &hal.access_token, &id).await.unwrap_err();
        assert_eq!(err.code(), Code::NotFound, "{id}");
    }
    for bad in ["", "nope"] {
        let err = unlink(&w.h, &hal.access_token, bad).await.unwrap_err();
        assert_invalid(&err, &["identity_id"]);
    }
    assert_eq!(identities(&w.h, &ivy.access_token).await.len(), 1);

    // With a second identity, either may go; the remaining one is primary.
    let code = link_code(&w.h, &hal.access_token, "hal@work.example").await;
    let work = link(
        &w.h,
        &hal.access_token,
        password(PASSWORD),
        Some(email_credential("hal@work.example", &code)),
    )
    .await
    .unwrap()
    .identity
    .unwrap();
    unlink(&w.h, &hal.access_token, &work.id).await.unwrap();
    let ids = identities(&w.h, &hal.access_token).await;
    assert_eq!(ids.len(), 1);
    assert_eq!(ids[0].id, hal_email.id);
    assert!(ids[0].primary);
    let err = unlink(&w.h, &hal.access_token, &work.id).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "already gone");
    assert!(
        email_code_sign_in(&w.h, "hal@work.example").await.created,
        "the unlinked address no longer reaches Hal's account"
    );
    w.h.stop().await;
}

#[tokio::test]
async fn unlinking_the_primary_email_hands_its_roles_to_the_remaining_identity() {
    let mut w = world().await;
    let (jo, tokens) = signup(&w.h, "jo@example.com", "joe").await;
    let access = tokens.access_token.as_str();
    let code = link_code(&w.h, access, "jo@work.example").await;
    link(
        &w.h,
        access,
        password(PASSWORD),
        Some(email_credential("jo@work.example", &code)),
    )
    .await
    .unwrap();
    let ids = identities(&w.h, access).await;
    let primary = ids.iter().find(|i| i.primary).unwrap().id.clone();
    unlink(&w.h, access, &primary).await.unwrap();

    let ids = identities(&w.h, access).await;
    assert_eq!(ids.len(), 1);
    assert_eq!(primaries(&ids), ["jo@work.example"]);
    // The password went with its address, which no longer signs in.
    let err =
        w.h.client
            .login(pb::LoginRequest {
                email: "jo@example.com".into(),
                password: PASSWORD.into(),
            })
            .await
            .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    // The remaining (verified) address is the account's address now, so the account can still
    // prove itself with a re-authentication code.
    let user = me(&w.h, access).await;
    assert_eq!(user.id, jo.id);
    assert_eq!(user.email, "jo@work.example");
    assert!(user.email_verified);
    let proof = reauthentication_code(&w.h, access, "jo@work.example").await;
    let code = link_code(&w.h, access, "jo@home.example").await;
    link(
        &w.h,
        access,
        reauth_code(&proof),
        Some(email_credential("jo@home.example", &code)),
    )
    .await
    .unwrap();
    w.h.stop().await;
}

#[tokio::test]
async fn set_primary_identity_moves_the_single_primary_flag() {
    let w = world().await;
    let (_, kim) = signup(&w.h, "kim@example.com", "kim").await;
    let (_, lou) = signup(&w.h, "lou@example.com", "lou").await;
    let token = w.google_token("g-kim", None, "n");
    let google = link(
        &w.h,
        &kim.access_token,
        password(PASSWORD),
        Some(id_token_credential(&token, "n")),
    )
    .await
    .unwrap()
    .identity
    .unwrap();

    set_primary(&w.h, &kim.access_token, &google.id)
        .await
        .unwrap();
    let ids = identities(&w.h, &kim.access_token).await;
    assert_eq!(primaries(&ids), ["g-kim"]);
    // Again: nothing changes.
    set_primary(&w.h, &kim.access_token, &google.id)
        .await
        .unwrap();
    assert_eq!(
        primaries(&identities(&w.h, &kim.access_token).await),
        ["g-kim"]
    );
    let email = ids.iter().find(|i| !i.primary).unwrap().id.clone();
    set_primary(&w.h, &kim.access_token, &email).await.unwrap();
    assert_eq!(
        primaries(&identities(&w.h, &kim.access_token).await),
        ["kim@example.com"]
    );

    // Lou cannot touch Kim's identities, and hers stay as they are.
    let err = set_primary(&w.h, &lou.access_token, &google.id)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = set_primary(&w.h, &lou.access_token, "x").await.unwrap_err();
    assert_invalid(&err, &["identity_id"]);
    assert_eq!(
        primaries(&identities(&w.h, &lou.access_token).await),
        ["lou@example.com"]
    );
    assert_eq!(
        primaries(&identities(&w.h, &kim.access_token).await),
        ["kim@example.com"]
    );
    w.h.stop().await;
}

/// M6: an account with only a provider identity (no password, no address codes reach) proves
/// itself with a fresh credential of that identity, so it can delete itself; a credential of an
/// identity it does not have proves nothing.
#[tokio::test]
async fn a_provider_only_account_proves_itself_with_a_fresh_provider_credential() {
    let w = world().await;
    let first = w.google_token("g-only", None, "n1");
    let signed_in = crate::support::providers::sign_in_google(&w.h, &first, "n1")
        .await
        .unwrap();
    assert!(signed_in.created);
    let access = signed_in.tokens.unwrap().access_token;
    let proof = |token: String, nonce: &str| {
        Some(pb::AccountProof {
            proof: Some(pb::account_proof::Proof::IdToken(pb::IdTokenCredential {
                provider: pb::Provider::Google.into(),
                id_token: token,
                nonce: nonce.into(),
            })),
        })
    };
    let delete = |proof: Option<pb::AccountProof>| {
        let mut c = w.h.client.clone();
        let access = access.clone();
        async move {
            c.delete_account(authed(
                pb::DeleteAccountRequest {
                    proof,
                    password: String::new(),
                },
                &access,
            ))
            .await
        }
    };
    let stranger = w.google_token("g-someone-else", None, "n2");
    let err = delete(proof(stranger, "n2")).await.unwrap_err();
    assert_eq!(reason(&err), "INVALID_CREDENTIALS");
    let fresh = w.google_token("g-only", None, "n3");
    delete(proof(fresh, "n3"))
        .await
        .expect("deleted with a fresh ID token");
    w.h.stop().await;
}
