//! The whole profile through UpdateMyProfile (nested masks, bounds, field-named errors),
//! onboarding step by step and its completion, the background and its redaction, and the
//! activation by the coach's evaluation event.

use stride_proto::profile as pb;
use stride_testkit::{
    authed,
    bus::{Publisher, assert_invalid},
    fixtures,
};
use tonic::Code;
use uuid::Uuid;

use crate::support::{NOW, get, next_update, registered, start, update};

fn body() -> pb::Body {
    pb::Body {
        birth_year: 1990,
        height: Some(pb::Height {
            value: 70.0,
            unit: pb::LengthUnit::In as i32,
        }),
        weight: Some(pb::Weight {
            value: 72.5,
            unit: pb::WeightUnit::Kg as i32,
        }),
        fitness_level: pb::FitnessLevel::Intermediate as i32,
        goals: vec!["lose weight".into(), "run 10k".into()],
        workout_style: pb::WorkoutStyle::Hiit as i32,
        daily_activity: pb::DailyActivity::Moderate as i32,
        equipment: vec!["dumbbells".into()],
        limitations: vec!["no jumping: left knee".into()],
        ..Default::default()
    }
}

#[tokio::test]
async fn nested_masks_change_only_the_named_fields_and_the_event_carries_the_copied_state() {
    let (mut h, mut probe) = start().await;
    let user = Uuid::now_v7();
    let auth = Publisher::start(&h.amqp, "auth").await;
    registered(&h, &auth, user, "ann").await;
    let first = next_update(&mut probe).await;
    // A new profile's defaults, as the API documents them.
    assert_eq!(
        (
            first.profile_visibility.as_str(),
            first.show_on_leaderboards,
            first.daily_focus_goal_minutes,
            first.avatar_url.as_str()
        ),
        ("private", true, 480, "")
    );
    let p = get(&h, user).await.unwrap();
    assert_eq!(p.units, pb::Units::Metric as i32);
    assert_eq!(p.activation_state, pb::ActivationState::New as i32);
    assert!(!p.onboarding_completed);
    assert_eq!(
        p.practice.as_ref().unwrap().tone,
        "Professional & Confident"
    );
    assert_eq!(p.learning.as_ref().unwrap().daily_focus_goal_minutes, 480);
    assert_eq!(
        p.privacy,
        Some(pb::Privacy {
            visibility: pb::ProfileVisibility::Private as i32,
            show_on_leaderboards: true
        })
    );

    let token = h.token(user);
    let wanted = pb::Profile {
        bio: "Runner.\nCoffee.".into(),
        body: Some(body()),
        privacy: Some(pb::Privacy {
            visibility: pb::ProfileVisibility::Public as i32,
            show_on_leaderboards: false,
        }),
        learning: Some(pb::Learning {
            daily_focus_goal_minutes: 300,
            subjects: vec!["algebra".into()],
            ..Default::default()
        }),
        practice: Some(pb::PracticeContext {
            preparation_type: pb::PreparationType::Interview as i32,
            agenda: "not in the mask".into(),
            training_focus: Some(pb::TrainingFocus {
                title: "STAR answers".into(),
                tags: vec!["behavioral".into()],
                agenda_template: "Answer 2 behavioral questions using STAR".into(),
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let got = h
        .client
        .update_my_profile(authed(
            update(
                &[
                    "bio",
                    "body",
                    "privacy",
                    "learning.daily_focus_goal_minutes",
                    "practice.preparation_type",
                    "practice.training_focus",
                ],
                wanted,
            ),
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .profile
        .unwrap();
    assert_eq!(got.bio, "Runner.\nCoffee.");
    let b = got.body.clone().unwrap();
    assert_eq!(b.age, 36, "derived from the birth year on the clock's date");
    assert_eq!(b, pb::Body { age: 36, ..body() });
    let l = got.learning.clone().unwrap();
    assert_eq!(l.daily_focus_goal_minutes, 300);
    assert!(l.subjects.is_empty(), "learning.subjects was not named");
    let pr = got.practice.clone().unwrap();
    assert_eq!(pr.preparation_type, pb::PreparationType::Interview as i32);
    assert_eq!(pr.agenda, "", "practice.agenda was not named");
    assert_eq!(pr.training_focus.unwrap().title, "STAR answers");
    assert_eq!(get(&h, user).await.unwrap(), got, "persisted as answered");

    let ev = next_update(&mut probe).await;
    assert_eq!(ev.revision, 2);
    assert_eq!(
        (
            ev.profile_visibility.as_str(),
            ev.show_on_leaderboards,
            ev.daily_focus_goal_minutes
        ),
        ("public", false, 300)
    );
    h.stop().await;
}

#[tokio::test]
async fn every_bad_value_is_refused_with_its_field_named() {
    let (mut h, _probe) = start().await;
    let user = Uuid::now_v7();
    let auth = Publisher::start(&h.amqp, "auth").await;
    registered(&h, &auth, user, "bob").await;
    let token = h.token(user);
    let before = get(&h, user).await.unwrap();
    let many = |n: usize| (0..n).map(|i| format!("item {i}")).collect::<Vec<_>>();
    let cases: Vec<(&str, pb::Profile, &str)> = vec![
        (
            "timezone",
            pb::Profile {
                timezone: "Europe/Pariss".into(),
                ..Default::default()
            },
            "profile.timezone",
        ),
        (
            "locale",
            pb::Profile {
                locale: "en-US".into(),
                ..Default::default()
            },
            "profile.locale",
        ),
        (
            "units",
            pb::Profile {
                units: 7,
                ..Default::default()
            },
            "profile.units",
        ),
        (
            "privacy.visibility",
            pb::Profile {
                privacy: Some(pb::Privacy {
                    visibility: 4,
                    show_on_leaderboards: true,
                }),
                ..Default::default()
            },
            "profile.privacy.visibility",
        ),
        (
            "body.weight",
            pb::Profile {
                body: Some(pb::Body {
                    weight: Some(pb::Weight {
                        value: 1000.0,
                        unit: pb::WeightUnit::Lb as i32,
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            },
            "profile.body.weight.value",
        ),
        (
            "body.height",
            pb::Profile {
                body: Some(pb::Body {
                    height: Some(pb::Height {
                        value: 180.0,
                        unit: 0,
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            },
            "profile.body.height.unit",
        ),
        (
            "body.fitness_level",
            pb::Profile {
                body: Some(pb::Body {
                    fitness_level: 9,
                    ..Default::default()
                }),
                ..Default::default()
            },
            "profile.body.fitness_level",
        ),
        (
            "body.birth_year",
            pb::Profile {
                body: Some(pb::Body {
                    birth_year: 2030,
                    ..Default::default()
                }),
                ..Default::default()
            },
            "profile.body.birth_year",
        ),
        (
            "body.equipment",
            pb::Profile {
                body: Some(pb::Body {
                    equipment: many(31),
                    ..Default::default()
                }),
                ..Default::default()
            },
            "profile.body.equipment",
        ),
        (
            "practice.preparation_type",
            pb::Profile {
                practice: Some(pb::PracticeContext {
                    preparation_type: 42,
                    ..Default::default()
                }),
                ..Default::default()
            },
            "profile.practice.preparation_type",
        ),
        (
            "practice.training_focus.tags",
            pb::Profile {
                practice: Some(pb::PracticeContext {
                    training_focus: Some(pb::TrainingFocus {
                        tags: vec!["x".repeat(33)],
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            },
            "profile.practice.training_focus.tags",
        ),
        (
            "learning.work_hours",
            pb::Profile {
                learning: Some(pb::Learning {
                    work_hours: Some(pb::WorkHours {
                        start_minute: 1020,
                        end_minute: 540,
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            },
            "profile.learning.work_hours",
        ),
        (
            "learning.daily_focus_goal_minutes",
            pb::Profile {
                learning: Some(pb::Learning {
                    daily_focus_goal_minutes: -5,
                    ..Default::default()
                }),
                ..Default::default()
            },
            "profile.learning.daily_focus_goal_minutes",
        ),
        (
            "bio",
            pb::Profile {
                bio: "b".repeat(501),
                ..Default::default()
            },
            "profile.bio",
        ),
    ];
    for (path, wanted, field) in cases {
        let err = h
            .client
            .update_my_profile(authed(update(&[path], wanted), &token))
            .await
            .unwrap_err();
        assert_invalid(&err, &[field]);
    }
    // Unknown and read-only paths name the mask.
    for path in [
        "nickname",
        "avatar_url",
        "onboarding_completed",
        "body.age",
        "body.weight.value",
    ] {
        let err = h
            .client
            .update_my_profile(authed(update(&[path], Default::default()), &token))
            .await
            .unwrap_err();
        assert_invalid(&err, &["update_mask.paths"]);
    }
    assert_eq!(get(&h, user).await.unwrap(), before, "nothing changed");
    h.stop().await;
}

#[tokio::test]
async fn onboarding_is_saved_step_by_step_and_completed_once() {
    let (mut h, mut probe) = start().await;
    let user = Uuid::now_v7();
    let auth = Publisher::start(&h.amqp, "auth").await;
    registered(&h, &auth, user, "cleo").await;
    next_update(&mut probe).await;
    let token = h.token(user);

    let step = |step: pb::OnboardingStep, profile: pb::Profile| pb::SaveOnboardingStepRequest {
        step: step as i32,
        profile: Some(profile),
    };
    let p = h
        .client
        .save_onboarding_step(authed(
            step(
                pb::OnboardingStep::Body,
                pb::Profile {
                    body: Some(body()),
                    display_name: "not this step's".into(),
                    ..Default::default()
                },
            ),
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .profile
        .unwrap();
    assert_eq!(p.onboarding_steps, [pb::OnboardingStep::Body as i32]);
    assert_eq!(p.body.unwrap().goals, body().goals);
    assert_eq!(p.display_name, "cleo", "only the step's group is read");

    // A bad value in a step names the profile's field; nothing is saved.
    let err = h
        .client
        .save_onboarding_step(authed(
            step(
                pb::OnboardingStep::Basics,
                pb::Profile {
                    display_name: "Cleo".into(),
                    timezone: "Nowhere/Land".into(),
                    locale: "fr".into(),
                    ..Default::default()
                },
            ),
            &token,
        ))
        .await
        .unwrap_err();
    assert_invalid(&err, &["profile.timezone"]);
    let err = h
        .client
        .save_onboarding_step(authed(
            pb::SaveOnboardingStepRequest {
                step: 0,
                profile: None,
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_invalid(&err, &["step"]);

    let p = h
        .client
        .save_onboarding_step(authed(
            step(
                pb::OnboardingStep::Basics,
                pb::Profile {
                    display_name: "Cleo".into(),
                    timezone: "Europe/Paris".into(),
                    locale: "fr".into(),
                    units: pb::Units::Imperial as i32,
                    ..Default::default()
                },
            ),
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .profile
        .unwrap();
    assert_eq!(
        p.onboarding_steps,
        [
            pb::OnboardingStep::Basics as i32,
            pb::OnboardingStep::Body as i32
        ]
    );
    assert_eq!(
        (p.display_name.as_str(), p.timezone.as_str(), p.units),
        ("Cleo", "Europe/Paris", pb::Units::Imperial as i32)
    );
    assert_eq!(next_update(&mut probe).await.revision, 2);
    assert_eq!(next_update(&mut probe).await.timezone, "Europe/Paris");

    let done = h
        .client
        .complete_onboarding(authed(pb::CompleteOnboardingRequest {}, &token))
        .await
        .unwrap()
        .into_inner()
        .profile
        .unwrap();
    assert!(done.onboarding_completed);
    assert_eq!(
        done.onboarding_complete_time,
        Some(stride_kit::convert::timestamp(NOW))
    );
    assert_eq!(next_update(&mut probe).await.revision, 4);
    // Idempotent: a second completion (a retry after a lost answer) changes and announces
    // nothing, and keeps the first completion time.
    h.clock.advance(time::Duration::hours(1));
    let again = h
        .client
        .complete_onboarding(authed(pb::CompleteOnboardingRequest {}, &token))
        .await
        .unwrap()
        .into_inner()
        .profile
        .unwrap();
    assert_eq!(again, done);
    assert!(probe.quiet_for(std::time::Duration::from_millis(500)).await);
    // No profile: NOT_FOUND.
    let err = h
        .client
        .complete_onboarding(authed(
            pb::CompleteOnboardingRequest {},
            &h.token(Uuid::now_v7()),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    h.stop().await;
}

#[tokio::test]
async fn the_background_is_structured_and_its_personal_data_redacted_on_request() {
    let (mut h, _probe) = start().await;
    let user = Uuid::now_v7();
    let auth = Publisher::start(&h.amqp, "auth").await;
    registered(&h, &auth, user, "dan").await;
    let token = h.token(user);
    let cv = "Dan Moreau\nEmail: dan@example.com | +33 6 12 34 56 78\n\nEXPERIENCE\nSales lead at Acme (2019-2024)\n";
    let b = h
        .client
        .set_my_background(authed(
            pb::SetMyBackgroundRequest {
                cv_text: cv.into(),
                redact_personal_data: false,
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .background
        .unwrap();
    assert!(!b.redacted);
    assert_eq!(b.cv_text, cv.trim());
    let headings: Vec<&str> = b.sections.iter().map(|s| s.heading.as_str()).collect();
    assert_eq!(headings, ["", "EXPERIENCE"]);
    assert!(b.sections[0].lines[1].contains("dan@example.com"));

    let r = h
        .client
        .redact_my_background(authed(pb::RedactMyBackgroundRequest {}, &token))
        .await
        .unwrap()
        .into_inner()
        .background
        .unwrap();
    assert!(r.redacted);
    assert_eq!(r.cv_text, "", "the raw text holds what was redacted");
    let all: String = r
        .sections
        .iter()
        .flat_map(|s| s.lines.iter().cloned())
        .collect::<Vec<_>>()
        .join("\n");
    for gone in ["Dan Moreau", "dan@example.com", "12 34 56 78"] {
        assert!(!all.contains(gone), "{gone} left in {all}");
    }
    assert!(all.contains("Sales lead at Acme (2019-2024)"), "{all}");
    let stored = get(&h, user).await.unwrap().background.unwrap();
    assert_eq!(stored, r);

    // Redacting as it is stored, in one call.
    let b = h
        .client
        .set_my_background(authed(
            pb::SetMyBackgroundRequest {
                cv_text: "Contact: dan@example.com".into(),
                redact_personal_data: true,
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .background
        .unwrap();
    assert_eq!(b.sections[0].lines, ["Contact: [email]"]);

    for bad in [String::new(), "x".repeat(20_001), "nul\u{0}".into()] {
        let err = h
            .client
            .set_my_background(authed(
                pb::SetMyBackgroundRequest {
                    cv_text: bad,
                    redact_personal_data: true,
                },
                &token,
            ))
            .await
            .unwrap_err();
        assert_invalid(&err, &["cv_text"]);
    }
    h.stop().await;
}

#[tokio::test]
async fn the_first_evaluated_practice_session_activates_the_user_once() {
    let (h, _probe) = start().await;
    let (user, other) = (Uuid::now_v7(), Uuid::now_v7());
    let auth = Publisher::start(&h.amqp, "auth").await;
    registered(&h, &auth, user, "eve").await;
    registered(&h, &auth, other, "finn").await;
    // Published on the real broker, as ai-coach will.
    let coach = Publisher::start(&h.amqp, "ai-coach").await;
    let first_at = NOW + time::Duration::minutes(5);
    let id = coach
        .publish(&fixtures::practice_session_evaluated(
            user,
            Uuid::now_v7(),
            82,
            first_at,
            "UTC",
        ))
        .await;
    h.consumed(id).await;
    let p = get(&h, user).await.unwrap();
    assert_eq!(p.activation_state, pb::ActivationState::Activated as i32);
    assert_eq!(
        p.activate_time,
        Some(stride_kit::convert::timestamp(first_at))
    );
    // A later session changes nothing; the other user is still new.
    let id = coach
        .publish(&fixtures::practice_session_evaluated(
            user,
            Uuid::now_v7(),
            40,
            first_at + time::Duration::days(1),
            "UTC",
        ))
        .await;
    h.consumed(id).await;
    assert_eq!(get(&h, user).await.unwrap().activate_time, p.activate_time);
    assert_eq!(
        get(&h, other).await.unwrap().activation_state,
        pb::ActivationState::New as i32
    );
    // A malformed session id is dead-lettered, not retried forever.
    let mut bad = fixtures::practice_session_evaluated(other, Uuid::now_v7(), 50, NOW, "UTC");
    bad.practice_session_id = "not-a-uuid".into();
    coach.publish(&bad).await;
    h.deliveries("dead_lettered", 1).await;
    assert_eq!(
        get(&h, other).await.unwrap().activation_state,
        pb::ActivationState::New as i32
    );
    h.stop().await;
}

#[tokio::test]
async fn a_training_focus_sets_the_agenda_to_its_template() {
    let (mut h, _probe) = start().await;
    let user = Uuid::now_v7();
    let auth = Publisher::start(&h.amqp, "auth").await;
    registered(&h, &auth, user, "gil").await;
    let token = h.token(user);
    let focus = pb::TrainingFocus {
        title: "Pitch in 60 seconds".into(),
        tags: vec!["pitch".into(), "brevity".into()],
        agenda_template: "Problem, solution, ask.".into(),
    };
    let p = h
        .client
        .set_my_training_focus(authed(
            pb::SetMyTrainingFocusRequest {
                training_focus: Some(focus.clone()),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .profile
        .unwrap();
    let practice = p.practice.unwrap();
    assert_eq!(practice.training_focus, Some(focus));
    assert_eq!(practice.agenda, "Problem, solution, ask.");
    assert_eq!(practice.tone, "Professional & Confident", "untouched");
    let err = h
        .client
        .set_my_training_focus(authed(
            pb::SetMyTrainingFocusRequest {
                training_focus: Some(pb::TrainingFocus {
                    title: "t".repeat(101),
                    ..Default::default()
                }),
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_invalid(&err, &["profile.practice.training_focus.title"]);
    h.stop().await;
}
