//! Sign-in with Google / Facebook ID tokens and the Telegram Login Widget, against stand-in
//! providers: a real JWKS server with generated keys (`stride_testkit::oidc`) and widget hashes
//! computed from Telegram's documented algorithm (`stride_testkit::telegram`). Auth runs on a
//! manual clock, which is what judges token and payload ages.

use std::{sync::Arc, time::Duration};

use serde_json::json;
use stride_kit::{Clock as _, ManualClock, SystemClock};
use stride_notify::DevSink;
use stride_proto::auth as pb;
use stride_testkit::{
    EVENT_DEADLINE, authed, eventually,
    oidc::{self, Provider, TestKey},
    telegram,
};
use tonic::{Code, Status};

use super::{Harness, bad_fields, harness_with, reason, signup_req};

pub(super) const GOOGLE_CLIENT: &str = oidc::CLIENT_ID;
pub(super) const FACEBOOK_APP: &str = "1234567890";
pub(super) const BOT_TOKEN: &str = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw";
pub(super) const TELEGRAM_ID: i64 = 987_654_321;

/// Auth with Google, Facebook and Telegram pointed at stand-ins, on a manual clock.
pub(super) struct World {
    pub h: Harness,
    pub clock: ManualClock,
    pub google_key: TestKey,
    pub google: Provider,
    pub facebook_key: TestKey,
    pub facebook: Provider,
}

/// Five minutes behind real time, whole seconds: auth's own access tokens (signed at the manual
/// instant, checked against real time) are valid at once, and ID-token times are exact.
pub(super) fn manual_clock() -> ManualClock {
    let now = SystemClock.now();
    ManualClock::new(now.replace_nanosecond(0).unwrap() - time::Duration::minutes(5))
}

pub(super) fn unix(clock: &ManualClock) -> i64 {
    use stride_kit::clock::Clock as _;
    clock.now().unix_timestamp()
}

pub(super) async fn world() -> World {
    world_with(|_| {}).await
}

/// A [`World`] whose settings `tune` may change further.
pub(super) async fn world_with(tune: impl FnOnce(&mut stride_auth::settings::Settings)) -> World {
    let clock = manual_clock();
    let google_key = TestKey::rsa("g-2026-1");
    let google = Provider::start(&[&google_key], Some(3600)).await;
    let facebook_key = TestKey::rsa("fb-1");
    let facebook = Provider::start(&[&facebook_key], None).await;
    let (google_url, facebook_url) = (google.url.clone(), facebook.url.clone());
    let h = harness_with(Arc::new(clock.clone()), |s| {
        s.google_client_ids = vec!["stride-ios.apps.example".into(), GOOGLE_CLIENT.into()];
        s.google_jwks_url = Some(google_url);
        s.facebook_client_ids = vec![FACEBOOK_APP.into()];
        s.facebook_jwks_url = Some(facebook_url);
        s.telegram_bot_token = Some(BOT_TOKEN.into());
        s.telegram_max_age = Duration::from_secs(86_400);
        tune(s);
    })
    .await;
    World {
        h,
        clock,
        google_key,
        google,
        facebook_key,
        facebook,
    }
}

impl World {
    pub(super) fn now(&self) -> i64 {
        unix(&self.clock)
    }

    /// A Google ID token for `subject` issued now, bound to `nonce`.
    pub(super) fn google_token(
        &self,
        subject: &str,
        email: Option<(&str, bool)>,
        nonce: &str,
    ) -> String {
        self.google_key.mint(&oidc::google_claims(
            GOOGLE_CLIENT,
            subject,
            email,
            nonce,
            self.now(),
        ))
    }
}

pub(super) async fn sign_in_google(
    h: &mut Harness,
    id_token: &str,
    nonce: &str,
) -> Result<pb::SignInWithIdTokenResponse, Status> {
    id_token_sign_in(h, pb::Provider::Google, id_token, nonce).await
}

pub(super) async fn id_token_sign_in(
    h: &mut Harness,
    provider: pb::Provider,
    id_token: &str,
    nonce: &str,
) -> Result<pb::SignInWithIdTokenResponse, Status> {
    h.client
        .sign_in_with_id_token(pb::SignInWithIdTokenRequest {
            provider: provider.into(),
            id_token: id_token.into(),
            nonce: nonce.into(),
            timezone: String::new(),
        })
        .await
        .map(|r| r.into_inner())
}

/// (users, identities) rows in auth's database.
pub(super) async fn counts(h: &Harness) -> (i64, i64) {
    let pool = sqlx::PgPool::connect(&h.db).await.unwrap();
    let (users,): (i64,) = sqlx::query_as("SELECT count(*) FROM users")
        .fetch_one(&pool)
        .await
        .unwrap();
    let (identities,): (i64,) = sqlx::query_as("SELECT count(*) FROM identities")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    (users, identities)
}

pub(super) async fn identities(h: &mut Harness, access: &str) -> Vec<pb::Identity> {
    h.client
        .list_identities(authed(pb::ListIdentitiesRequest {}, access))
        .await
        .expect("list identities")
        .into_inner()
        .identities
}

/// The id of the newest mail to `to` so far (0 if none), to wait for the next one after it.
pub(super) fn last_mail(sink: &DevSink, to: &str) -> u64 {
    sink.mail_to(to).last().map_or(0, |m| m.id)
}

/// The code in the first code mail to `to` after mail id `after` (other mail, such as the
/// "sign-in method added" notice, is skipped).
pub(super) async fn mail_code(sink: &DevSink, to: &str, after: u64) -> String {
    let text = eventually(EVENT_DEADLINE, &format!("a code mail to {to}"), || {
        let found = sink
            .mail_to(to)
            .into_iter()
            .find(|m| m.id > after && m.text.contains(" code is "))
            .map(|m| m.text);
        async move { found }
    })
    .await;
    let start = text.find(" code is ").unwrap() + " code is ".len();
    let code = text[start..start + 6].to_owned();
    assert!(code.bytes().all(|b| b.is_ascii_digit()), "{text}");
    code
}

/// Sends a code for `purpose` to `address` (with the caller's token when given) and reads it
/// from the sink: the mail goes to `mailbox` (the address itself, or the account's address for
/// re-authentication).
pub(super) async fn send_code(
    h: &mut Harness,
    access: Option<&str>,
    purpose: pb::CodePurpose,
    address: &str,
    mailbox: &str,
) -> String {
    let after = last_mail(&h.sink, mailbox);
    let req = pb::SendCodeRequest {
        channel: pb::CodeChannel::Email.into(),
        address: address.into(),
        purpose: purpose.into(),
    };
    let req = match access {
        Some(token) => authed(req, token),
        None => tonic::Request::new(req),
    };
    h.client.send_code(req).await.expect("send code");
    mail_code(&h.sink, mailbox, after).await
}

/// Passwordless sign-in with an email code: creates the account (email verified) if the address
/// is new, and verifies the address of an existing one.
pub(super) async fn email_code_sign_in(
    h: &mut Harness,
    address: &str,
) -> pb::SignInWithCodeResponse {
    let code = send_code(h, None, pb::CodePurpose::SignIn, address, address).await;
    h.client
        .sign_in_with_code(pb::SignInWithCodeRequest {
            channel: pb::CodeChannel::Email.into(),
            address: address.into(),
            code,
            timezone: String::new(),
        })
        .await
        .expect("sign in with code")
        .into_inner()
}

/// A Telegram widget payload for [`TELEGRAM_ID`] authenticated at `auth_date`, signed with
/// `bot_token`.
pub(super) fn telegram_payload(bot_token: &str, auth_date: i64) -> pb::TelegramAuthData {
    let mut data = pb::TelegramAuthData {
        id: TELEGRAM_ID,
        first_name: "Ann".into(),
        last_name: "Lee".into(),
        username: "ann_lee".into(),
        photo_url: "https://t.me/i/userpic/320/ann.jpg".into(),
        auth_date,
        hash: String::new(),
    };
    data.hash = telegram_hash(bot_token, &data);
    data
}

fn telegram_hash(bot_token: &str, d: &pb::TelegramAuthData) -> String {
    let (id, auth_date) = (d.id.to_string(), d.auth_date.to_string());
    telegram::sign(
        bot_token,
        &[
            ("id", &id),
            ("first_name", &d.first_name),
            ("last_name", &d.last_name),
            ("username", &d.username),
            ("photo_url", &d.photo_url),
            ("auth_date", &auth_date),
        ],
    )
}

pub(super) async fn sign_in_telegram(
    h: &mut Harness,
    data: pb::TelegramAuthData,
) -> Result<pb::SignInWithTelegramResponse, Status> {
    h.client
        .sign_in_with_telegram(pb::SignInWithTelegramRequest {
            data: Some(data),
            timezone: String::new(),
        })
        .await
        .map(|r| r.into_inner())
}

#[track_caller]
fn assert_refused(result: Result<impl std::fmt::Debug, Status>, code: Code, why: &str, case: &str) {
    match result {
        Err(s) => {
            assert_eq!(s.code(), code, "{case}: {s:?}");
            assert_eq!(reason(&s), why, "{case}: {s:?}");
        }
        Ok(r) => panic!("{case}: accepted: {r:?}"),
    }
}

// ---- Google ----

#[tokio::test]
async fn google_first_sign_in_creates_an_account_and_the_next_signs_it_in() {
    let mut w = world().await;
    let token = w.google_token("g-100", Some(("New.User@Example.com", true)), "nonce-1");
    let first = sign_in_google(&mut w.h, &token, "nonce-1").await.unwrap();
    assert!(first.created);
    let user = first.user.unwrap();
    assert!(!user.is_anonymous);
    // A verified email no account uses becomes the account's email, normalised.
    assert_eq!(user.email, "new.user@example.com");
    assert!(user.email_verified);
    let tokens = first.tokens.unwrap();

    let ids = identities(&mut w.h, &tokens.access_token).await;
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(ids[0].provider(), pb::Provider::Google);
    assert_eq!(ids[0].subject, "g-100");
    assert_eq!(ids[0].email, "new.user@example.com");
    assert!(ids[0].email_verified && ids[0].primary);
    assert_eq!(counts(&w.h).await, (1, 1));

    // Later, with a fresh token (new nonce) from a second client id of ours: same account.
    w.clock.advance(time::Duration::seconds(30));
    let claims = oidc::with(
        oidc::google_claims(
            "stride-ios.apps.example",
            "g-100",
            Some(("new.user@example.com", true)),
            "nonce-2",
            w.now(),
        ),
        "azp",
        json!("stride-ios.apps.example"),
    );
    let second = sign_in_google(&mut w.h, &w.google_key.mint(&claims), "nonce-2")
        .await
        .unwrap();
    assert!(!second.created);
    assert_eq!(second.user.unwrap().id, user.id);
    assert_ne!(
        second.tokens.unwrap().refresh_token,
        tokens.refresh_token,
        "a new session"
    );
    assert_eq!(counts(&w.h).await, (1, 1));
    let ids = identities(&mut w.h, &tokens.access_token).await;
    assert_eq!(
        ids[0].last_sign_in_time.as_ref().unwrap().seconds,
        w.now(),
        "the identity records its last use"
    );
    w.h.running.stop().await.unwrap();
}

#[tokio::test]
async fn a_verified_google_email_links_to_the_account_that_verified_it() {
    let mut w = world().await;
    // Ann proves her mailbox with a code: her account exists with a verified email.
    let ann = email_code_sign_in(&mut w.h, "ann@example.com").await;
    assert!(ann.created);
    let ann_user = ann.user.unwrap();
    assert!(ann_user.email_verified);

    let token = w.google_token("g-ann", Some(("ANN@example.com", true)), "n-1");
    let res = sign_in_google(&mut w.h, &token, "n-1").await.unwrap();
    assert!(!res.created, "linked, not created");
    assert_eq!(res.user.unwrap().id, ann_user.id);
    assert_eq!(counts(&w.h).await, (1, 2));

    let ids = identities(&mut w.h, &ann.tokens.unwrap().access_token).await;
    let providers: Vec<_> = ids.iter().map(|i| (i.provider(), i.primary)).collect();
    assert_eq!(
        providers,
        [(pb::Provider::Email, true), (pb::Provider::Google, false)],
        "the email stays primary: {ids:?}"
    );
    assert_eq!(ids[1].subject, "g-ann");

    // From now on the Google identity itself signs in, whatever its email says.
    let token = w.google_token("g-ann", Some(("ann.new@example.com", true)), "n-2");
    let again = sign_in_google(&mut w.h, &token, "n-2").await.unwrap();
    assert!(!again.created);
    assert_eq!(again.user.unwrap().id, ann_user.id);
    assert_eq!(counts(&w.h).await, (1, 2));
    w.h.running.stop().await.unwrap();
}

#[tokio::test]
async fn unverified_emails_never_join_accounts() {
    let mut w = world().await;
    // Bob signed up with a password and never verified his email.
    let bob =
        w.h.client
            .signup(signup_req("bob@example.com", "bob", "password-1"))
            .await
            .unwrap()
            .into_inner();
    let (bob_user, bob_tokens) = (bob.user.unwrap(), bob.tokens.unwrap());
    // Cat verified hers with a code.
    let cat = email_code_sign_in(&mut w.h, "cat@example.com")
        .await
        .user
        .unwrap();

    // Google vouches for bob@: Bob's own claim to it is unproven, so no link, and the new
    // account cannot take the address either.
    let token = w.google_token("g-bob", Some(("bob@example.com", true)), "n");
    let res = sign_in_google(&mut w.h, &token, "n").await.unwrap();
    assert!(res.created);
    let other = res.user.unwrap();
    assert_ne!(other.id, bob_user.id);
    assert_eq!(other.email, "");

    // Google does not vouch for cat@: no link to Cat's verified account.
    let token = w.google_token("g-cat", Some(("cat@example.com", false)), "n");
    let res = sign_in_google(&mut w.h, &token, "n").await.unwrap();
    assert!(res.created);
    assert_ne!(res.user.as_ref().unwrap().id, cat.id);
    assert_eq!(res.user.unwrap().email, "");

    // An unverified address nobody uses is not taken either.
    let token = w.google_token("g-dan", Some(("dan@example.com", false)), "n");
    let res = sign_in_google(&mut w.h, &token, "n").await.unwrap();
    assert!(res.created);
    assert_eq!(res.user.unwrap().email, "");
    assert_eq!(counts(&w.h).await, (5, 5));

    // Once Bob verifies his email (VerifyEmail), a new Google identity vouching for it links.
    let code = send_code(
        &mut w.h,
        Some(&bob_tokens.access_token),
        pb::CodePurpose::VerifyEmail,
        "",
        "bob@example.com",
    )
    .await;
    let verified =
        w.h.client
            .verify_email(authed(
                pb::VerifyEmailRequest { code },
                &bob_tokens.access_token,
            ))
            .await
            .unwrap()
            .into_inner();
    assert!(verified.user.unwrap().email_verified);
    let token = w.google_token("g-bob-2", Some(("bob@example.com", true)), "n");
    let res = sign_in_google(&mut w.h, &token, "n").await.unwrap();
    assert!(!res.created);
    assert_eq!(res.user.unwrap().id, bob_user.id);
    assert_eq!(counts(&w.h).await, (5, 6));
    w.h.running.stop().await.unwrap();
}

#[tokio::test]
async fn a_google_email_linked_to_another_account_is_not_taken_as_an_address() {
    let mut w = world().await;
    let (ann, tokens) = {
        let res =
            w.h.client
                .signup(signup_req("ann@example.com", "ann", "password-1"))
                .await
                .unwrap()
                .into_inner();
        (res.user.unwrap(), res.tokens.unwrap())
    };
    // Ann adds a second, proved address.
    let access = tokens.access_token.as_str();
    let code = send_code(
        &mut w.h,
        Some(access),
        pb::CodePurpose::Link,
        "ann@work.example",
        "ann@work.example",
    )
    .await;
    w.h.client
        .link_identity(authed(
            pb::LinkIdentityRequest {
                proof: Some(pb::AccountProof {
                    proof: Some(pb::account_proof::Proof::CurrentPassword(
                        "password-1".into(),
                    )),
                }),
                credential: Some(pb::link_identity_request::Credential::Code(
                    pb::CodeCredential {
                        channel: pb::CodeChannel::Email.into(),
                        address: "ann@work.example".into(),
                        code,
                    },
                )),
            },
            access,
        ))
        .await
        .unwrap();

    // A Google account vouching for that address is a new account, without the address.
    let token = w.google_token("g-work", Some(("ann@work.example", true)), "n");
    let res = sign_in_google(&mut w.h, &token, "n").await.unwrap();
    assert!(res.created);
    assert_eq!(res.user.unwrap().email, "");
    // The address still reaches Ann's account only.
    let res = email_code_sign_in(&mut w.h, "ann@work.example").await;
    assert_eq!(res.user.unwrap().id, ann.id);
    w.h.running.stop().await.unwrap();
}

#[tokio::test]
async fn rejected_id_tokens_create_nothing() {
    let mut w = world().await;
    let now = w.now();
    let nonce = "raw-nonce-7";
    let valid = || {
        oidc::google_claims(
            GOOGLE_CLIENT,
            "g-7",
            Some(("eve@example.com", true)),
            nonce,
            now,
        )
    };
    let key = &w.google_key;
    let attacker = TestKey::rsa(&key.kid);
    let stranger = TestKey::rsa("not-published");
    let token = key.mint(&valid());
    let (head, rest) = token.split_once('.').unwrap();
    let signature = rest.rsplit_once('.').unwrap().1;
    let altered_payload = oidc::b64(
        &serde_json::to_vec(&oidc::with(valid(), "sub", json!("g-someone-else"))).unwrap(),
    );
    let cases: Vec<(&str, String, &str, &str)> = vec![
        (
            "wrong audience",
            key.mint(&oidc::with(valid(), "aud", json!("another-app"))),
            nonce,
            "ID_TOKEN_AUDIENCE",
        ),
        (
            "our audience among others, azp someone else's",
            key.mint(&oidc::with(
                oidc::with(valid(), "aud", json!([GOOGLE_CLIENT, "another-app"])),
                "azp",
                json!("another-app"),
            )),
            nonce,
            "ID_TOKEN_AUDIENCE",
        ),
        (
            "wrong issuer",
            key.mint(&oidc::with(
                valid(),
                "iss",
                json!("https://accounts.evil.example"),
            )),
            nonce,
            "ID_TOKEN_ISSUER",
        ),
        (
            "Facebook's issuer on the Google endpoint",
            key.mint(&oidc::with(valid(), "iss", json!(oidc::FACEBOOK_ISS))),
            nonce,
            "ID_TOKEN_ISSUER",
        ),
        (
            "expired beyond the leeway",
            key.mint(&oidc::with(
                oidc::with(valid(), "iat", json!(now - 3700)),
                "exp",
                json!(now - 61),
            )),
            nonce,
            "ID_TOKEN_EXPIRED",
        ),
        (
            "issued in the future",
            key.mint(&oidc::with(valid(), "iat", json!(now + 120))),
            nonce,
            "ID_TOKEN_NOT_YET_VALID",
        ),
        (
            "nonce of another attempt",
            key.mint(&valid()),
            "raw-nonce-8",
            "ID_TOKEN_NONCE",
        ),
        (
            "raw nonce in the token instead of its hash",
            key.mint(&oidc::with(valid(), "nonce", json!(nonce))),
            nonce,
            "ID_TOKEN_NONCE",
        ),
        (
            "no nonce in the token",
            key.mint(&oidc::without(valid(), "nonce")),
            nonce,
            "ID_TOKEN_NONCE",
        ),
        (
            "no nonce in the request",
            key.mint(&valid()),
            "",
            "ID_TOKEN_NONCE",
        ),
        (
            "alg none",
            oidc::unsigned(&key.kid, &valid()),
            nonce,
            "ID_TOKEN_ALGORITHM",
        ),
        (
            "signed by another key under the provider's kid",
            attacker.mint(&valid()),
            nonce,
            "ID_TOKEN_SIGNATURE",
        ),
        (
            "payload changed after signing",
            format!("{head}.{altered_payload}.{signature}"),
            nonce,
            "ID_TOKEN_SIGNATURE",
        ),
        (
            "a kid the provider does not publish",
            stranger.mint(&valid()),
            nonce,
            "ID_TOKEN_UNKNOWN_KEY",
        ),
        ("not a JWT", "not-a-jwt".into(), nonce, "ID_TOKEN_MALFORMED"),
        (
            "no subject",
            key.mint(&oidc::without(valid(), "sub")),
            nonce,
            "ID_TOKEN_MALFORMED",
        ),
    ];
    for (case, token, raw_nonce, why) in cases {
        let result = sign_in_google(&mut w.h, &token, raw_nonce).await;
        assert_refused(result, Code::Unauthenticated, why, case);
    }
    // A Google token presented as Facebook's: Facebook's keys do not know its kid.
    let result = id_token_sign_in(&mut w.h, pb::Provider::Facebook, &token, nonce).await;
    assert_refused(
        result,
        Code::Unauthenticated,
        "ID_TOKEN_UNKNOWN_KEY",
        "Google token as Facebook",
    );

    // Bad fields are INVALID_ARGUMENT, named.
    for provider in [
        pb::Provider::Unspecified as i32,
        pb::Provider::Email as i32,
        pb::Provider::Telegram as i32,
        99,
    ] {
        let err =
            w.h.client
                .sign_in_with_id_token(pb::SignInWithIdTokenRequest {
                    provider,
                    id_token: token.clone(),
                    nonce: nonce.into(),
                    timezone: String::new(),
                })
                .await
                .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "provider {provider}");
        assert_eq!(bad_fields(&err), ["provider"]);
    }
    // (The time zone is checked before the token fields, so it is reported on its own.)
    let bad = |id_token: &str, nonce: String, timezone: &str| pb::SignInWithIdTokenRequest {
        provider: pb::Provider::Google.into(),
        id_token: id_token.into(),
        nonce,
        timezone: timezone.into(),
    };
    let err =
        w.h.client
            .sign_in_with_id_token(bad("", "n".repeat(600), ""))
            .await
            .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(bad_fields(&err), ["id_token", "nonce"]);
    let err =
        w.h.client
            .sign_in_with_id_token(bad(&token, nonce.into(), "Mars/Olympus_Mons"))
            .await
            .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(bad_fields(&err), ["timezone"]);

    assert_eq!(counts(&w.h).await, (0, 0), "nothing was created");

    // The control: the untouched token signs in.
    let res = sign_in_google(&mut w.h, &token, nonce).await.unwrap();
    assert!(res.created);
    assert_eq!(counts(&w.h).await, (1, 1));
    w.h.running.stop().await.unwrap();
}

#[tokio::test]
async fn id_token_times_are_judged_by_auths_clock() {
    let mut w = world().await;
    let start = w.now();
    // Minted for an hour from now: its iat lies beyond the leeway for auth's clock.
    let claims = oidc::google_claims(GOOGLE_CLIENT, "g-time", None, "n", start + 3600);
    let token = w.google_key.mint(&claims);
    assert_refused(
        sign_in_google(&mut w.h, &token, "n").await,
        Code::Unauthenticated,
        "ID_TOKEN_NOT_YET_VALID",
        "an hour early",
    );
    // When auth's clock gets there, the same token is fine...
    w.clock.advance(time::Duration::hours(1));
    let res = sign_in_google(&mut w.h, &token, "n").await.unwrap();
    assert!(res.created);
    // ...until exp (iat + 3600) plus the 60 s leeway has passed.
    w.clock.advance(time::Duration::seconds(3590 + 60));
    let res = sign_in_google(&mut w.h, &token, "n").await.unwrap();
    assert!(!res.created, "still valid at exp + leeway");
    w.clock.advance(time::Duration::seconds(1));
    assert_refused(
        sign_in_google(&mut w.h, &token, "n").await,
        Code::Unauthenticated,
        "ID_TOKEN_EXPIRED",
        "past exp + leeway",
    );
    assert_eq!(counts(&w.h).await, (1, 1));
    w.h.running.stop().await.unwrap();
}

#[tokio::test]
async fn providers_that_are_not_configured_are_failed_precondition() {
    let clock = manual_clock();
    let key = TestKey::rsa("k1");
    let google = Provider::start(&[&key], None).await;
    let url = google.url.clone();
    // Only Google is set up.
    let mut h = harness_with(Arc::new(clock.clone()), |s| {
        s.google_client_ids = vec![GOOGLE_CLIENT.into()];
        s.google_jwks_url = Some(url);
    })
    .await;
    let now = unix(&clock);
    let fb = key.mint(&oidc::facebook_claims(FACEBOOK_APP, "fb-1", None, "n", now));
    let err = id_token_sign_in(&mut h, pb::Provider::Facebook, &fb, "n")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(reason(&err), "PROVIDER_NOT_CONFIGURED");
    let err = sign_in_telegram(&mut h, telegram_payload(BOT_TOKEN, now - 5))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(reason(&err), "PROVIDER_NOT_CONFIGURED");
    assert_eq!(counts(&h).await, (0, 0));
    // The configured one works.
    let token = key.mint(&oidc::google_claims(GOOGLE_CLIENT, "g-1", None, "n", now));
    assert!(sign_in_google(&mut h, &token, "n").await.unwrap().created);
    h.running.stop().await.unwrap();
}

#[tokio::test]
async fn provider_keys_that_cannot_be_fetched_make_sign_in_unavailable() {
    let mut w = world().await;
    w.google.set_failing(true);
    let token = w.google_token("g-9", None, "n");
    let err = sign_in_google(&mut w.h, &token, "n").await.unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    assert_eq!(counts(&w.h).await, (0, 0));
    assert_eq!(w.google.hits(), 1);

    // Back up: the next fetch waits for the refetch interval (30 s) of auth's clock, so a
    // flood of sign-ins against a failing provider costs it one request per interval.
    w.google.set_failing(false);
    let err = sign_in_google(&mut w.h, &token, "n").await.unwrap_err();
    assert_eq!(err.code(), Code::Unavailable);
    assert_eq!(w.google.hits(), 1);
    w.clock.advance(time::Duration::seconds(30));
    let res = sign_in_google(&mut w.h, &token, "n").await.unwrap();
    assert!(res.created);
    assert_eq!(w.google.hits(), 2);

    // Down again after the cache expired (max-age 3600): the last key set still serves.
    w.google.set_failing(true);
    w.clock.advance(time::Duration::seconds(3601));
    let token = w.google_token("g-9", None, "n2");
    let res = sign_in_google(&mut w.h, &token, "n2").await.unwrap();
    assert!(!res.created);
    assert_eq!(w.google.hits(), 3, "a refetch was tried");
    w.h.running.stop().await.unwrap();
}

// ---- Facebook ----

#[tokio::test]
async fn facebook_sign_in_creates_an_account_then_signs_it_in() {
    let mut w = world().await;
    let claims = oidc::facebook_claims(
        FACEBOOK_APP,
        "fb-10158",
        Some("ann@example.com"),
        "fb-nonce",
        w.now(),
    );
    let token = w.facebook_key.mint(&claims);
    let first = id_token_sign_in(&mut w.h, pb::Provider::Facebook, &token, "fb-nonce")
        .await
        .unwrap();
    assert!(first.created);
    let user = first.user.unwrap();
    // Facebook does not say the email is verified, so the account does not take it.
    assert_eq!(user.email, "");
    let tokens = first.tokens.unwrap();
    let ids = identities(&mut w.h, &tokens.access_token).await;
    assert_eq!(ids.len(), 1);
    assert_eq!(ids[0].provider(), pb::Provider::Facebook);
    assert_eq!(ids[0].subject, "fb-10158");
    assert!(!ids[0].email_verified && ids[0].primary);

    w.clock.advance(time::Duration::minutes(10));
    let claims = oidc::facebook_claims(FACEBOOK_APP, "fb-10158", None, "fb-2", w.now());
    let token = w.facebook_key.mint(&claims);
    let second = id_token_sign_in(&mut w.h, pb::Provider::Facebook, &token, "fb-2")
        .await
        .unwrap();
    assert!(!second.created);
    assert_eq!(second.user.unwrap().id, user.id);
    assert_eq!(counts(&w.h).await, (1, 1));
    assert_eq!(
        w.facebook.hits(),
        1,
        "the key set was fetched once and cached"
    );
    w.h.running.stop().await.unwrap();
}

// ---- Telegram ----

#[tokio::test]
async fn telegram_sign_in_creates_an_account_then_signs_it_in() {
    let mut w = world().await;
    let payload = telegram_payload(BOT_TOKEN, w.now() - 30);
    let first = sign_in_telegram(&mut w.h, payload).await.unwrap();
    assert!(first.created);
    let user = first.user.unwrap();
    assert_eq!((user.email.as_str(), user.is_anonymous), ("", false));
    let ids = identities(&mut w.h, &first.tokens.unwrap().access_token).await;
    assert_eq!(ids.len(), 1);
    assert_eq!(ids[0].provider(), pb::Provider::Telegram);
    assert_eq!(ids[0].subject, TELEGRAM_ID.to_string());
    assert!(ids[0].primary);

    // Next day, a new widget payload (the name changed meanwhile): the id is what counts.
    w.clock.advance(time::Duration::days(1));
    let mut data = telegram_payload(BOT_TOKEN, w.now() - 5);
    data.first_name = "Annie".into();
    data.hash = telegram_hash(BOT_TOKEN, &data);
    let second = sign_in_telegram(&mut w.h, data).await.unwrap();
    assert!(!second.created);
    assert_eq!(second.user.unwrap().id, user.id);
    assert_eq!(counts(&w.h).await, (1, 1));
    w.h.running.stop().await.unwrap();
}

#[tokio::test]
async fn telegram_payload_with_any_field_changed_is_refused() {
    let mut w = world().await;
    let valid = telegram_payload(BOT_TOKEN, w.now() - 30);
    let flip = |hash: &str| {
        let mut h = hash.to_owned();
        let last = if h.ends_with('0') { "1" } else { "0" };
        h.replace_range(63.., last);
        h
    };
    type Tamper = fn(&mut pb::TelegramAuthData);
    let tampers: [(&str, Tamper); 11] = [
        ("id", |d| d.id += 1),
        ("first_name", |d| d.first_name = "Eve".into()),
        ("first_name removed", |d| d.first_name.clear()),
        ("last_name", |d| d.last_name = "Mallory".into()),
        ("last_name removed", |d| d.last_name.clear()),
        ("username", |d| d.username = "eve".into()),
        ("username removed", |d| d.username.clear()),
        ("photo_url", |d| {
            d.photo_url = "https://evil.example/p.jpg".into();
        }),
        ("photo_url removed", |d| d.photo_url.clear()),
        ("auth_date", |d| d.auth_date += 1),
        ("auth_date earlier", |d| d.auth_date -= 60),
    ];
    for (field, tamper) in tampers {
        let mut data = valid.clone();
        tamper(&mut data);
        assert_ne!(data, valid);
        let result = sign_in_telegram(&mut w.h, data).await;
        assert_refused(result, Code::Unauthenticated, "TELEGRAM_SIGNATURE", field);
    }
    let hashes = [
        ("hash", flip(&valid.hash), "TELEGRAM_SIGNATURE"),
        (
            "hash of another bot",
            telegram_payload("987:other-bot", valid.auth_date).hash,
            "TELEGRAM_SIGNATURE",
        ),
        ("hash missing", String::new(), "TELEGRAM_MALFORMED"),
        (
            "hash truncated",
            valid.hash[..62].to_owned(),
            "TELEGRAM_MALFORMED",
        ),
        ("hash not hex", "z".repeat(64), "TELEGRAM_MALFORMED"),
    ];
    for (case, hash, why) in hashes {
        let data = pb::TelegramAuthData {
            hash,
            ..valid.clone()
        };
        let result = sign_in_telegram(&mut w.h, data).await;
        assert_refused(result, Code::Unauthenticated, why, case);
    }
    let err =
        w.h.client
            .sign_in_with_telegram(pb::SignInWithTelegramRequest {
                data: None,
                timezone: String::new(),
            })
            .await
            .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(bad_fields(&err), ["data"]);
    assert_eq!(counts(&w.h).await, (0, 0));

    // The control: the payload as Telegram signed it.
    assert!(sign_in_telegram(&mut w.h, valid).await.unwrap().created);
    assert_eq!(counts(&w.h).await, (1, 1));
    w.h.running.stop().await.unwrap();
}

#[tokio::test]
async fn telegram_payload_older_than_the_max_age_is_refused() {
    let mut w = world_with(|s| s.telegram_max_age = Duration::from_secs(600)).await;
    let now = w.now();
    assert_refused(
        sign_in_telegram(&mut w.h, telegram_payload(BOT_TOKEN, now - 601)).await,
        Code::Unauthenticated,
        "TELEGRAM_EXPIRED",
        "601 s old",
    );
    assert_refused(
        sign_in_telegram(&mut w.h, telegram_payload(BOT_TOKEN, now + 120)).await,
        Code::Unauthenticated,
        "TELEGRAM_EXPIRED",
        "from the future",
    );
    // A fresh payload goes stale as auth's clock moves on.
    let payload = telegram_payload(BOT_TOKEN, now - 10);
    w.clock.advance(time::Duration::seconds(591));
    assert_refused(
        sign_in_telegram(&mut w.h, payload.clone()).await,
        Code::Unauthenticated,
        "TELEGRAM_EXPIRED",
        "aged past the limit",
    );
    assert_eq!(counts(&w.h).await, (0, 0));
    // Exactly the max age is still accepted.
    let payload = telegram_payload(BOT_TOKEN, w.now() - 600);
    assert!(sign_in_telegram(&mut w.h, payload).await.unwrap().created);
    w.h.running.stop().await.unwrap();
}

#[tokio::test]
async fn racing_first_sign_ins_of_one_identity_end_in_one_account() {
    let w = world().await;
    let token = w.google_token("g-race", Some(("race@example.com", true)), "nonce-r");
    let mut calls = Vec::new();
    for _ in 0..6 {
        let mut client = w.h.client.clone();
        let token = token.clone();
        calls.push(tokio::spawn(async move {
            client
                .sign_in_with_id_token(pb::SignInWithIdTokenRequest {
                    provider: pb::Provider::Google.into(),
                    id_token: token,
                    nonce: "nonce-r".into(),
                    timezone: String::new(),
                })
                .await
                .map(|r| r.into_inner())
        }));
    }
    let mut ids = std::collections::HashSet::new();
    let mut created = 0;
    for c in calls {
        let r = c.await.unwrap().expect("every racer is signed in");
        created += usize::from(r.created);
        ids.insert(r.user.unwrap().id);
    }
    assert_eq!(ids.len(), 1, "one account");
    assert_eq!(created, 1, "created once");
    assert_eq!(counts(&w.h).await, (1, 1));
    w.h.running.stop().await.unwrap();
}
