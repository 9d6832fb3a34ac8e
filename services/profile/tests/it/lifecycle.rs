//! `user.deleted.v1` and `user.merged.v1`: the shared conformance suite, then what profile's
//! merge does field by field (target wins, empty fields filled from the guest's).

use std::time::Duration;

use stride_proto::profile as pb;
use stride_testkit::{
    authed,
    bus::{Publisher, user_rows},
    conformance, fixtures,
};
use tonic::Code;
use uuid::Uuid;

use crate::support::{Harness, NOW, get, next_update, profile_exists, start, update};

/// Gives `user` a profile, the way sign-up does.
async fn seed(h: &Harness, auth: &Publisher, user: Uuid) {
    auth.publish(&fixtures::user_registered(
        user,
        &format!("u{}", user.simple()),
        "UTC",
        NOW,
    ))
    .await;
    profile_exists(h, user).await;
}

#[tokio::test]
async fn user_deleted_keeps_the_lifecycle_contract() {
    let (h, _probe) = start().await;
    let auth = Publisher::start(&h.amqp, "auth").await;
    conformance::user_deleted(&h, |u| seed(&h, &auth, u)).await;
    h.stop().await;
}

#[tokio::test]
async fn user_merged_keeps_the_lifecycle_contract() {
    let (h, _probe) = start().await;
    let auth = Publisher::start(&h.amqp, "auth").await;
    conformance::user_merged(&h, |u| seed(&h, &auth, u)).await;
    h.stop().await;
}

#[tokio::test]
async fn a_deleted_users_profile_is_not_found_and_others_stay() {
    let (h, _probe) = start().await;
    let auth = Publisher::start(&h.amqp, "auth").await;
    let (user, other) = (Uuid::now_v7(), Uuid::now_v7());
    seed(&h, &auth, user).await;
    seed(&h, &auth, other).await;
    let id = auth.publish(&fixtures::user_deleted(user, NOW)).await;
    h.consumed(id).await;
    assert_eq!(get(&h, user).await.unwrap_err().code(), Code::NotFound);
    assert_eq!(
        get(&h, other).await.expect("other").user_id,
        other.to_string()
    );
    h.stop().await;
}

#[tokio::test]
async fn user_merged_fills_the_targets_empty_fields_and_forgets_the_source() {
    let (mut h, mut probe) = start().await;
    let auth = Publisher::start(&h.amqp, "auth").await;
    let (source, target, bystander) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    auth.publish(&fixtures::user_registered(
        source,
        "guest_7f3",
        "Asia/Tokyo",
        NOW,
    ))
    .await;
    // The target's username is empty (an account made from an external identity) and so, after
    // an update, is nothing else: its zone and locale win, its display name is filled.
    auth.publish(&fixtures::user_registered(
        target,
        "",
        "America/New_York",
        NOW,
    ))
    .await;
    auth.publish(&fixtures::user_registered(bystander, "carol", "UTC", NOW))
        .await;
    for _ in 0..3 {
        assert_eq!(next_update(&mut probe).await.revision, 1);
    }
    let untouched = profile_exists(&h, bystander).await;
    let bystander_rows = user_rows(&h.db, bystander).await;
    let guest = pb::Profile {
        display_name: "Guest Ann".into(),
        locale: "fr".into(),
        ..Default::default()
    };
    h.client
        .update_my_profile(authed(
            update(&["display_name", "locale"], guest),
            &h.token(source),
        ))
        .await
        .expect("guest update");
    assert_eq!(next_update(&mut probe).await.revision, 2);

    let merge = fixtures::user_merged(&source.to_string(), &target.to_string(), NOW);
    let event_id = auth.publish(&merge).await;
    // The target's consumers learn its new state under the next revision.
    let ev = next_update(&mut probe).await;
    assert_eq!(ev.user_id, target.to_string());
    assert_eq!(ev.revision, 2);
    assert_eq!(
        (
            ev.display_name.as_str(),
            ev.timezone.as_str(),
            ev.locale.as_str()
        ),
        ("Guest Ann", "America/New_York", "en")
    );
    h.consumed(event_id).await;

    let p = get(&h, target).await.expect("target profile");
    assert_eq!(p.user_id, target.to_string());
    assert_eq!(p.username, "guest_7f3", "empty username filled");
    assert_eq!(p.display_name, "Guest Ann", "empty display name filled");
    assert_eq!(p.timezone, "America/New_York", "the target's zone wins");
    assert_eq!(p.locale, "en", "the target's locale wins");
    assert_eq!(ev.occur_time, p.update_time);
    assert_eq!(get(&h, source).await.unwrap_err().code(), Code::NotFound);
    assert_eq!(get(&h, bystander).await.expect("bystander"), untouched);
    assert_eq!(user_rows(&h.db, bystander).await, bystander_rows);

    // A re-publication under a new id finds no source, changes and announces nothing.
    let again = auth.publish(&merge).await;
    h.consumed(again).await;
    assert_eq!(get(&h, target).await.expect("target profile"), p);
    assert!(
        probe.quiet_for(Duration::from_millis(700)).await,
        "nothing more announced"
    );
    let emitted: i64 =
        sqlx::query_scalar("SELECT count(*) FROM outbox WHERE event_type = 'profile.updated.v1'")
            .fetch_one(&h.db)
            .await
            .unwrap();
    assert_eq!(emitted, 5, "3 registrations, 1 guest update, 1 merge");
    h.stop().await;
}

#[tokio::test]
async fn user_merged_gives_the_guests_profile_to_a_target_without_one() {
    let (h, mut probe) = start().await;
    let auth = Publisher::start(&h.amqp, "auth").await;
    let (source, target) = (Uuid::now_v7(), Uuid::now_v7());
    auth.publish(&fixtures::user_registered(
        source,
        "guest_a1",
        "Europe/Paris",
        NOW,
    ))
    .await;
    assert_eq!(next_update(&mut probe).await.revision, 1);
    let before = profile_exists(&h, source).await;

    let event_id = auth
        .publish(&fixtures::user_merged(
            &source.to_string(),
            &target.to_string(),
            NOW,
        ))
        .await;
    let ev = next_update(&mut probe).await;
    assert_eq!(ev.user_id, target.to_string());
    assert_eq!(ev.revision, 2);
    h.consumed(event_id).await;

    let p = get(&h, target).await.expect("target profile");
    assert_eq!(
        (
            p.username.as_str(),
            p.display_name.as_str(),
            p.timezone.as_str(),
            p.locale.as_str()
        ),
        ("guest_a1", "guest_a1", "Europe/Paris", "en")
    );
    assert_eq!(p.create_time, before.create_time);
    assert!(user_rows(&h.db, source).await.iter().all(|(_, n)| *n == 0));
    assert_eq!(get(&h, source).await.unwrap_err().code(), Code::NotFound);
    h.stop().await;
}

#[tokio::test]
async fn user_merged_carries_the_guests_onboarding_answers_activation_and_background_over() {
    let (mut h, _probe) = start().await;
    let auth = Publisher::start(&h.amqp, "auth").await;
    let (guest, target) = (Uuid::now_v7(), Uuid::now_v7());
    seed(&h, &auth, guest).await;
    seed(&h, &auth, target).await;
    let (gt, tt) = (h.token(guest), h.token(target));
    // The guest went through onboarding, practiced and gave a CV.
    let answers = pb::Profile {
        body: Some(pb::Body {
            fitness_level: pb::FitnessLevel::Beginner as i32,
            goals: vec!["cardio".into()],
            ..Default::default()
        }),
        learning: Some(pb::Learning {
            subjects: vec!["chemistry".into()],
            daily_focus_goal_minutes: 120,
            ..Default::default()
        }),
        privacy: Some(pb::Privacy {
            visibility: pb::ProfileVisibility::Public as i32,
            show_on_leaderboards: true,
        }),
        ..Default::default()
    };
    h.client
        .update_my_profile(authed(
            update(&["body", "learning", "privacy"], answers),
            &gt,
        ))
        .await
        .expect("guest answers");
    h.client
        .save_onboarding_step(authed(
            pb::SaveOnboardingStepRequest {
                step: pb::OnboardingStep::Practice as i32,
                profile: None,
            },
            &gt,
        ))
        .await
        .expect("guest step");
    h.client
        .complete_onboarding(authed(pb::CompleteOnboardingRequest {}, &gt))
        .await
        .expect("guest completes");
    h.client
        .set_my_background(authed(
            pb::SetMyBackgroundRequest {
                cv_text: "EXPERIENCE\nBarista".into(),
                redact_personal_data: false,
            },
            &gt,
        ))
        .await
        .expect("guest CV");
    let coach = Publisher::start(&h.amqp, "ai-coach").await;
    let id = coach
        .publish(&fixtures::practice_session_evaluated(
            guest,
            Uuid::now_v7(),
            70,
            NOW,
            "UTC",
        ))
        .await;
    h.consumed(id).await;
    // The target answered some of it already.
    let own = pb::Profile {
        body: Some(pb::Body {
            goals: vec!["strength".into()],
            ..Default::default()
        }),
        ..Default::default()
    };
    h.client
        .update_my_profile(authed(update(&["body.goals"], own), &tt))
        .await
        .expect("target answers");

    let merge = fixtures::user_merged(&guest.to_string(), &target.to_string(), NOW);
    let id = auth.publish(&merge).await;
    h.consumed(id).await;
    let p = get(&h, target).await.expect("target");
    let body = p.body.clone().unwrap();
    assert_eq!(body.goals, ["strength"], "the target's answer wins");
    assert_eq!(body.fitness_level, pb::FitnessLevel::Beginner as i32);
    let learning = p.learning.clone().unwrap();
    assert_eq!(learning.subjects, ["chemistry"]);
    assert_eq!(learning.daily_focus_goal_minutes, 120);
    assert_eq!(
        p.privacy.unwrap_or_default().visibility,
        pb::ProfileVisibility::Private as i32,
        "privacy is the target's"
    );
    assert!(p.onboarding_completed);
    assert_eq!(p.onboarding_steps, [pb::OnboardingStep::Practice as i32]);
    assert_eq!(p.activation_state, pb::ActivationState::Activated as i32);
    assert_eq!(
        p.background.clone().unwrap().sections[0].heading,
        "EXPERIENCE"
    );
    assert_eq!(get(&h, guest).await.unwrap_err().code(), Code::NotFound);
    // A replay changes nothing.
    let again = auth.publish(&merge).await;
    h.consumed(again).await;
    assert_eq!(get(&h, target).await.expect("target"), p);
    h.stop().await;
}
