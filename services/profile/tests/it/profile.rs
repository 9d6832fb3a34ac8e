//! GetMyProfile and UpdateMyProfile: the caller's own profile, masked updates, field-named
//! errors, identity only from the token.

use stride_proto::profile as pb;
use stride_testkit::{
    TestIssuer, authed,
    bus::{Publisher, assert_invalid, reason},
    fixtures,
};
use tonic::Code;
use uuid::Uuid;

use crate::support::{NOW, get, next_update, profile_exists, start, update};

#[tokio::test]
async fn no_profile_yet_is_not_found() {
    let (mut h, _probe) = start().await;
    let token = h.token(Uuid::now_v7());
    let err = h
        .client
        .get_my_profile(authed(pb::GetMyProfileRequest {}, &token))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert_eq!(reason(&err), "NOT_FOUND");
    let named = pb::Profile {
        display_name: "x".into(),
        ..Default::default()
    };
    let err = h
        .client
        .update_my_profile(authed(update(&["display_name"], named), &token))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    h.stop().await;
}

#[tokio::test]
async fn update_with_a_mask_changes_named_fields_and_emits_revision_2() {
    let (mut h, mut probe) = start().await;
    let (user, other) = (Uuid::now_v7(), Uuid::now_v7());
    let auth = Publisher::start(&h.amqp, "auth").await;
    auth.publish(&fixtures::user_registered(user, "bob", "UTC", NOW))
        .await;
    assert_eq!(next_update(&mut probe).await.revision, 1);
    let before = profile_exists(&h, user).await;

    // user_id in the body is ignored: the caller is the one in the token.
    let changed = pb::Profile {
        user_id: other.to_string(),
        display_name: "  Bob Builder ".into(),
        timezone: "Europe/Paris".into(),
        locale: "de".into(), // not in the mask: neither checked nor applied
        ..Default::default()
    };
    let token = h.token(user);
    let p = h
        .client
        .update_my_profile(authed(
            update(&["display_name", "timezone"], changed.clone()),
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .profile
        .unwrap();
    assert_eq!(p.user_id, user.to_string());
    assert_eq!(p.display_name, "Bob Builder");
    assert_eq!(p.timezone, "Europe/Paris");
    assert_eq!(p.locale, "en");
    assert_eq!(p.create_time, before.create_time);

    let ev = next_update(&mut probe).await;
    assert_eq!(ev.user_id, user.to_string());
    assert_eq!(ev.revision, 2);
    assert_eq!(
        (
            ev.display_name.as_str(),
            ev.timezone.as_str(),
            ev.locale.as_str()
        ),
        ("Bob Builder", "Europe/Paris", "en")
    );
    assert_eq!(ev.occur_time, p.update_time);

    let locale = pb::Profile {
        locale: "fr".into(),
        ..Default::default()
    };
    let p = h
        .client
        .update_my_profile(authed(update(&["locale"], locale), &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(p.profile.unwrap().locale, "fr");
    assert_eq!(next_update(&mut probe).await.revision, 3);

    let got = get(&h, user).await.unwrap();
    assert_eq!(
        (
            got.display_name.as_str(),
            got.timezone.as_str(),
            got.locale.as_str()
        ),
        ("Bob Builder", "Europe/Paris", "fr")
    );

    // Someone else naming this user's id in the body reaches only their own (missing) profile.
    let err = h
        .client
        .update_my_profile(authed(update(&["display_name"], changed), &h.token(other)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    h.stop().await;
}

#[tokio::test]
async fn invalid_updates_name_the_bad_fields() {
    let (mut h, _probe) = start().await;
    let token = h.token(Uuid::now_v7());
    let bad = pb::Profile {
        display_name: " ".into(),
        timezone: "Mars/Olympus".into(),
        locale: "de".into(),
        ..Default::default()
    };
    let cases: Vec<(pb::UpdateMyProfileRequest, Vec<&str>)> = vec![
        (update(&["timezone"], bad.clone()), vec!["profile.timezone"]),
        (update(&["locale"], bad.clone()), vec!["profile.locale"]),
        (
            update(&["display_name", "timezone", "locale"], bad.clone()),
            vec!["profile.display_name", "profile.timezone", "profile.locale"],
        ),
        (
            update(&["avatar_url"], bad.clone()),
            vec!["update_mask.paths"],
        ),
        (update(&[], bad.clone()), vec!["update_mask"]),
        (
            pb::UpdateMyProfileRequest {
                profile: Some(bad),
                update_mask: None,
            },
            vec!["update_mask"],
        ),
    ];
    for (req, want) in cases {
        let err = h
            .client
            .update_my_profile(authed(req, &token))
            .await
            .unwrap_err();
        assert_invalid(&err, &want);
    }
    let err = h
        .client
        .update_my_profile(authed(update(&["nickname"], Default::default()), &token))
        .await
        .unwrap_err();
    assert!(err.message().contains("nickname"), "{}", err.message());
    h.stop().await;
}

#[tokio::test]
async fn calls_without_a_valid_token_are_unauthenticated() {
    let (mut h, _probe) = start().await;
    let err = h
        .client
        .get_my_profile(pb::GetMyProfileRequest {})
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    let err = h
        .client
        .update_my_profile(update(&["locale"], Default::default()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    // Signed by a key profile does not trust.
    let stranger = TestIssuer::new().token(Uuid::now_v7());
    let err = h
        .client
        .get_my_profile(authed(pb::GetMyProfileRequest {}, &stranger))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    h.stop().await;
}
