//! GetPublicProfile: a card only for PUBLIC profiles; private, friends-only and missing users all
//! answer the same NOT_FOUND.

use stride_proto::profile as pb;
use stride_testkit::{
    authed,
    bus::{Publisher, assert_invalid, reason},
};
use tonic::Code;
use uuid::Uuid;

use crate::support::{Harness, png, registered, start, update};

async fn card(h: &Harness, caller: Uuid, user: &str) -> Result<pb::PublicProfile, tonic::Status> {
    h.client
        .clone()
        .get_public_profile(authed(
            pb::GetPublicProfileRequest {
                user_id: user.to_owned(),
            },
            &h.token(caller),
        ))
        .await
        .map(|r| r.into_inner().profile.expect("card"))
}

async fn set_visibility(h: &Harness, user: Uuid, v: pb::ProfileVisibility) {
    let p = pb::Profile {
        privacy: Some(pb::Privacy {
            visibility: v as i32,
            show_on_leaderboards: true,
        }),
        bio: "Hello".into(),
        ..Default::default()
    };
    h.client
        .clone()
        .update_my_profile(authed(update(&["privacy", "bio"], p), &h.token(user)))
        .await
        .expect("update");
}

#[tokio::test]
async fn only_public_profiles_show_a_card_and_hidden_ones_look_missing() {
    let (h, _probe) = start().await;
    let (viewer, owner) = (Uuid::now_v7(), Uuid::now_v7());
    let auth = Publisher::start(&h.amqp, "auth").await;
    registered(&h, &auth, viewer, "viewer").await;
    registered(&h, &auth, owner, "owner").await;

    // Private by default.
    let missing = card(&h, viewer, &Uuid::now_v7().to_string())
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    let private = card(&h, viewer, &owner.to_string()).await.unwrap_err();
    assert_eq!(
        (private.code(), private.message(), reason(&private)),
        (missing.code(), missing.message(), reason(&missing)),
        "a private profile is indistinguishable from a missing one"
    );

    // Friends-only: no friends source yet, so as private.
    set_visibility(&h, owner, pb::ProfileVisibility::Friends).await;
    assert_eq!(
        card(&h, viewer, &owner.to_string())
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );

    set_visibility(&h, owner, pb::ProfileVisibility::Public).await;
    h.client
        .clone()
        .upload_my_avatar(authed(
            pb::UploadMyAvatarRequest {
                content: png(20, 20),
            },
            &h.token(owner),
        ))
        .await
        .expect("upload");
    let c = card(&h, viewer, &owner.to_string()).await.unwrap();
    assert_eq!(c.user_id, owner.to_string());
    assert_eq!(c.display_name, "owner");
    assert_eq!(c.bio, "Hello");
    assert!(c.avatar_url.contains("/avatars/"), "{}", c.avatar_url);

    // Back to private: hidden again.
    set_visibility(&h, owner, pb::ProfileVisibility::Private).await;
    assert_eq!(
        card(&h, viewer, &owner.to_string())
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    // One's own card is always visible to oneself.
    assert_eq!(
        card(&h, owner, &owner.to_string()).await.unwrap().user_id,
        owner.to_string()
    );
    // A malformed id names the field; no token is UNAUTHENTICATED.
    assert_invalid(
        &card(&h, viewer, "not-a-uuid").await.unwrap_err(),
        &["user_id"],
    );
    let err = h
        .client
        .clone()
        .get_public_profile(pb::GetPublicProfileRequest {
            user_id: owner.to_string(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    h.stop().await;
}
