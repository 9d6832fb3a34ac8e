//! User challenges: an owner creates, updates (before the first day), deletes and ends them;
//! others join (within the cap, until the end) and leave; private ones are NOT_FOUND to others;
//! bad input names its fields.

use prost_types::FieldMask;
use stride_kit::convert::{date, from_date};
use stride_proto::challenge::{
    self as pb, ChallengeState, ChallengeView, GoalKind, ParticipantStatus, Visibility,
};
use stride_testkit::{
    authed,
    bus::{assert_invalid, reason},
};
use time::{
    Date,
    macros::{date, datetime},
};
use tonic::Code;
use uuid::Uuid;

use crate::support::{FOCUS_THREE, Harness, start};

/// Wednesday 18 November 2026, 09:00 UTC.
const NOW: time::OffsetDateTime = datetime!(2026-11-18 09:00 UTC);

pub fn spec(title: &str, goal: GoalKind, target: i32) -> pb::ChallengeSpec {
    pb::ChallengeSpec {
        title: title.into(),
        goal_kind: goal as i32,
        activity_kind: if matches!(goal, GoalKind::SessionsCompleted | GoalKind::Minutes) {
            "focus".into()
        } else {
            String::new()
        },
        target,
        points: 20,
        ..Default::default()
    }
}

pub async fn create(h: &Harness, owner: Uuid, s: pb::ChallengeSpec) -> pb::Challenge {
    try_create(h, owner, s)
        .await
        .expect("create")
        .challenge
        .expect("challenge")
}

pub async fn try_create(
    h: &Harness,
    owner: Uuid,
    s: pb::ChallengeSpec,
) -> Result<pb::CreateChallengeResponse, tonic::Status> {
    h.client
        .clone()
        .create_challenge(authed(
            pb::CreateChallengeRequest { challenge: Some(s) },
            &h.token(owner),
        ))
        .await
        .map(tonic::Response::into_inner)
}

pub async fn get(h: &Harness, user: Uuid, id: &str) -> Result<pb::Challenge, tonic::Status> {
    h.client
        .clone()
        .get_challenge(authed(
            pb::GetChallengeRequest {
                challenge_id: id.into(),
            },
            &h.token(user),
        ))
        .await
        .map(|r| r.into_inner().challenge.expect("challenge"))
}

pub async fn join(h: &Harness, user: Uuid, id: &str) -> Result<pb::Challenge, tonic::Status> {
    h.client
        .clone()
        .join_challenge(authed(
            pb::JoinChallengeRequest {
                challenge_id: id.into(),
            },
            &h.token(user),
        ))
        .await
        .map(|r| r.into_inner().challenge.expect("challenge"))
}

pub async fn leave(h: &Harness, user: Uuid, id: &str) -> Result<pb::Challenge, tonic::Status> {
    h.client
        .clone()
        .leave_challenge(authed(
            pb::LeaveChallengeRequest {
                challenge_id: id.into(),
            },
            &h.token(user),
        ))
        .await
        .map(|r| r.into_inner().challenge.expect("challenge"))
}

async fn update(
    h: &Harness,
    user: Uuid,
    id: &str,
    s: pb::ChallengeSpec,
    paths: &[&str],
) -> Result<pb::Challenge, tonic::Status> {
    h.client
        .clone()
        .update_challenge(authed(
            pb::UpdateChallengeRequest {
                challenge_id: id.into(),
                challenge: Some(s),
                update_mask: Some(FieldMask {
                    paths: paths.iter().map(|p| (*p).to_owned()).collect(),
                }),
            },
            &h.token(user),
        ))
        .await
        .map(|r| r.into_inner().challenge.expect("challenge"))
}

async fn delete(h: &Harness, user: Uuid, id: &str) -> Result<(), tonic::Status> {
    h.client
        .clone()
        .delete_challenge(authed(
            pb::DeleteChallengeRequest {
                challenge_id: id.into(),
            },
            &h.token(user),
        ))
        .await
        .map(|_| ())
}

pub async fn end(h: &Harness, user: Uuid, id: &str) -> Result<pb::Challenge, tonic::Status> {
    h.client
        .clone()
        .end_challenge(authed(
            pb::EndChallengeRequest {
                challenge_id: id.into(),
            },
            &h.token(user),
        ))
        .await
        .map(|r| r.into_inner().challenge.expect("challenge"))
}

pub async fn list(h: &Harness, user: Uuid, view: ChallengeView) -> Vec<String> {
    h.client
        .clone()
        .list_challenges(authed(
            pb::ListChallengesRequest {
                view: view as i32,
                page_size: 100,
                ..Default::default()
            },
            &h.token(user),
        ))
        .await
        .expect("list")
        .into_inner()
        .challenges
        .into_iter()
        .map(|c| c.id)
        .collect()
}

fn code<T: std::fmt::Debug>(r: Result<T, tonic::Status>) -> Code {
    r.expect_err("refused").code()
}

fn day(c: &Option<stride_proto::Date>) -> Option<Date> {
    c.as_ref().and_then(from_date)
}

#[tokio::test]
async fn an_owner_creates_updates_before_the_start_and_deletes_others_get_not_found() {
    let (h, _probe) = start(NOW).await;
    let (ann, bob) = (Uuid::now_v7(), Uuid::now_v7());

    let c = create(
        &h,
        ann,
        pb::ChallengeSpec {
            start_date: Some(date(date!(2026 - 11 - 20))),
            description: "Five hours of focus".into(),
            ..spec("Deep work", GoalKind::Minutes, 300)
        },
    )
    .await;
    assert_eq!(
        (c.title.as_str(), c.target, c.points, c.goal_kind),
        ("Deep work", 300, 20, GoalKind::Minutes as i32)
    );
    assert_eq!(c.owner_id, ann.to_string());
    assert_eq!(
        c.visibility,
        Visibility::Private as i32,
        "private by default"
    );
    assert_eq!(
        (day(&c.start_date), day(&c.end_date)),
        (Some(date!(2026 - 11 - 20)), Some(date!(2026 - 11 - 26))),
        "seven days by default"
    );
    assert_eq!(c.state, ChallengeState::Upcoming as i32);
    assert!(!c.is_system);
    // The owner takes part.
    assert_eq!((c.joined, c.participant_count), (true, 1));
    let p = c.my_progress.as_ref().expect("progress");
    assert_eq!((p.current, p.target), (0, 300));
    assert_eq!(p.status, ParticipantStatus::NotStarted as i32);

    // Another user's private challenge is NOT_FOUND, whatever they try, and not listed.
    assert_eq!(code(get(&h, bob, &c.id).await), Code::NotFound);
    assert_eq!(code(join(&h, bob, &c.id).await), Code::NotFound);
    assert_eq!(code(leave(&h, bob, &c.id).await), Code::NotFound);
    assert_eq!(
        code(
            update(
                &h,
                bob,
                &c.id,
                spec("Mine", GoalKind::Minutes, 1),
                &["title"]
            )
            .await
        ),
        Code::NotFound
    );
    assert_eq!(code(delete(&h, bob, &c.id).await), Code::NotFound);
    assert_eq!(code(end(&h, bob, &c.id).await), Code::NotFound);
    assert!(
        !list(&h, bob, ChallengeView::Unspecified)
            .await
            .contains(&c.id)
    );
    // Nobody's system challenge is theirs to change.
    assert_eq!(
        code(
            update(
                &h,
                ann,
                FOCUS_THREE,
                spec("X", GoalKind::Minutes, 1),
                &["title"]
            )
            .await
        ),
        Code::NotFound
    );
    assert_eq!(code(delete(&h, ann, FOCUS_THREE).await), Code::NotFound);
    assert_eq!(
        list(&h, ann, ChallengeView::Owned).await,
        std::slice::from_ref(&c.id)
    );

    // Only the masked fields change; moving the start moves the end with it.
    let u = update(
        &h,
        ann,
        &c.id,
        pb::ChallengeSpec {
            title: "Deeper work".into(),
            target: 1,
            start_date: Some(date(date!(2026 - 11 - 21))),
            visibility: Visibility::Public as i32,
            ..Default::default()
        },
        &["title", "start_date", "visibility"],
    )
    .await
    .expect("update");
    assert_eq!((u.title.as_str(), u.target), ("Deeper work", 300));
    assert_eq!(
        (day(&u.start_date), day(&u.end_date)),
        (Some(date!(2026 - 11 - 21)), Some(date!(2026 - 11 - 27)))
    );
    // Now public: Bob sees it.
    assert!(list(&h, bob, ChallengeView::Public).await.contains(&c.id));
    assert!(!get(&h, bob, &c.id).await.expect("public").joined);

    // Bad updates name their fields.
    let err = update(&h, ann, &c.id, pb::ChallengeSpec::default(), &[])
        .await
        .expect_err("no mask");
    assert_invalid(&err, &["update_mask"]);
    let err = update(
        &h,
        ann,
        &c.id,
        pb::ChallengeSpec {
            start_date: Some(date(date!(2026 - 11 - 17))),
            target: 0,
            ..Default::default()
        },
        &["start_date", "target", "owner"],
    )
    .await
    .expect_err("bad");
    assert_invalid(
        &err,
        &["update_mask", "challenge.target", "challenge.start_date"],
    );

    // From its first day (in the owner's zone) it can no longer change.
    h.clock.set(datetime!(2026-11-21 00:30 UTC));
    let err = update(
        &h,
        ann,
        &c.id,
        spec("Late", GoalKind::Minutes, 1),
        &["title"],
    )
    .await
    .expect_err("started");
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(reason(&err), "CHALLENGE_STARTED");

    delete(&h, ann, &c.id).await.expect("delete");
    assert_eq!(code(get(&h, ann, &c.id).await), Code::NotFound);
    assert_eq!(code(delete(&h, ann, &c.id).await), Code::NotFound);
    h.stop().await;
}

#[tokio::test]
async fn bad_input_names_its_fields_and_a_missing_token_is_refused() {
    let (h, _probe) = start(NOW).await;
    let ann = Uuid::now_v7();
    let err = try_create(
        &h,
        ann,
        pb::ChallengeSpec {
            title: String::new(),
            goal_kind: 99,
            activity_kind: "nap".into(),
            target: -1,
            points: 1000,
            visibility: 42,
            start_date: Some(stride_proto::Date {
                year: 2026,
                month: 2,
                day: 30,
            }),
            duration_days: 3,
            end_date: Some(date(date!(2026 - 12 - 01))),
            max_participants: -5,
            ..Default::default()
        },
    )
    .await
    .expect_err("bad");
    assert_invalid(
        &err,
        &[
            "challenge.visibility",
            "challenge.title",
            "challenge.goal_kind",
            "challenge.activity_kind",
            "challenge.target",
            "challenge.points",
            "challenge.max_participants",
            "challenge.start_date",
            "challenge.duration_days",
        ],
    );
    let err = try_create(&h, ann, spec("Tasks", GoalKind::TasksCompleted, 0))
        .await
        .expect_err("target");
    assert_invalid(&err, &["challenge.target"]);
    for bad in ["", "nope"] {
        let err = join(&h, ann, bad).await.expect_err("bad id");
        assert_invalid(&err, &["challenge_id"]);
    }
    let err = h
        .client
        .clone()
        .list_challenges(authed(
            pb::ListChallengesRequest {
                view: 77,
                ..Default::default()
            },
            &h.token(ann),
        ))
        .await
        .expect_err("view");
    assert_invalid(&err, &["view"]);
    let err = h
        .client
        .clone()
        .create_challenge(tonic::Request::new(pb::CreateChallengeRequest::default()))
        .await
        .expect_err("no token");
    assert_eq!(err.code(), Code::Unauthenticated);
    h.stop().await;
}

#[tokio::test]
async fn joining_respects_the_cap_and_the_end_and_leaving_frees_a_place() {
    let (h, _probe) = start(NOW).await;
    let (ann, bob, cat, dan) = (
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
    );
    let c = create(
        &h,
        ann,
        pb::ChallengeSpec {
            visibility: Visibility::Public as i32,
            max_participants: 2,
            ..spec("Two of us", GoalKind::LessonsCompleted, 3)
        },
    )
    .await;
    assert_eq!(c.state, ChallengeState::Active as i32, "starts today");
    assert_eq!(
        join(&h, bob, &c.id).await.expect("join").participant_count,
        2
    );
    // Joining again is a no-op, even when full.
    assert_eq!(
        join(&h, bob, &c.id).await.expect("again").participant_count,
        2
    );
    let err = join(&h, cat, &c.id).await.expect_err("full");
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (Code::FailedPrecondition, "CHALLENGE_FULL")
    );
    let left = leave(&h, bob, &c.id).await.expect("leave");
    assert_eq!((left.joined, left.participant_count), (false, 1));
    // Leaving twice changes nothing.
    assert_eq!(
        leave(&h, bob, &c.id)
            .await
            .expect("again")
            .participant_count,
        1
    );
    assert!(join(&h, cat, &c.id).await.expect("a place").joined);
    for (user, view) in [
        (cat, ChallengeView::Joined),
        (cat, ChallengeView::Current),
        (dan, ChallengeView::Public),
        (ann, ChallengeView::Owned),
    ] {
        assert!(list(&h, user, view).await.contains(&c.id), "{view:?}");
    }
    assert!(!list(&h, bob, ChallengeView::Joined).await.contains(&c.id));

    // A few participants show with their public card: a private profile stays out.
    let profiles = stride_testkit::bus::Publisher::start(&h.amqp, "profile").await;
    let card = |user, name: &str, visibility: &str| stride_proto::events::ProfileUpdated {
        avatar_url: format!("https://cdn.example/{name}.png"),
        profile_visibility: visibility.into(),
        ..crate::support::profile(user, name, "UTC")
    };
    crate::support::deliver(&h, &profiles, &card(ann, "Ann", "public")).await;
    crate::support::deliver(&h, &profiles, &card(cat, "Cat", "private")).await;
    let shown: Vec<(String, String, String)> = get(&h, dan, &c.id)
        .await
        .expect("public")
        .participants
        .into_iter()
        .map(|p| (p.user_id, p.display_name, p.avatar_url))
        .collect();
    assert_eq!(
        shown,
        [(
            ann.to_string(),
            "Ann".to_owned(),
            "https://cdn.example/Ann.png".to_owned()
        )]
    );
    assert!(!list(&h, dan, ChallengeView::Owned).await.contains(&c.id));

    // The owner ends it: ended for everyone, no more joining, no second end.
    let ended = end(&h, ann, &c.id).await.expect("end");
    assert_eq!(ended.state, ChallengeState::Ended as i32);
    assert!(ended.end_time.is_some());
    leave(&h, cat, &c.id).await.expect("cat leaves");
    let err = join(&h, dan, &c.id).await.expect_err("ended");
    assert_eq!(reason(&err), "CHALLENGE_ENDED");
    let err = end(&h, ann, &c.id).await.expect_err("twice");
    assert_eq!(reason(&err), "CHALLENGE_ENDED");
    assert!(!list(&h, ann, ChallengeView::Current).await.contains(&c.id));
    h.stop().await;
}

#[tokio::test]
async fn a_friends_challenge_is_seen_and_joined_by_the_owners_friends_only() {
    let (h, _probe) = start(NOW).await;
    let (ann, friend, stranger) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let profiles = stride_testkit::bus::Publisher::start(&h.amqp, "profile").await;
    for (u, name) in [(ann, "Ann"), (friend, "Bob"), (stranger, "Cyd")] {
        crate::support::deliver(&h, &profiles, &crate::support::profile(u, name, "UTC")).await;
    }
    crate::friends_lifecycle::befriend(&h, ann, friend).await;
    let c = create(
        &h,
        ann,
        pb::ChallengeSpec {
            visibility: Visibility::Friends as i32,
            ..spec("Friends only", GoalKind::SessionsCompleted, 3)
        },
    )
    .await;
    assert_eq!(c.visibility, Visibility::Friends as i32);

    // A stranger cannot tell it exists.
    assert_eq!(code(get(&h, stranger, &c.id).await), Code::NotFound);
    assert_eq!(code(join(&h, stranger, &c.id).await), Code::NotFound);
    assert!(
        !list(&h, stranger, ChallengeView::Unspecified)
            .await
            .contains(&c.id)
    );
    // The owner's friend sees it, lists it and joins it.
    assert_eq!(
        get(&h, friend, &c.id).await.expect("friend sees it").id,
        c.id
    );
    assert!(
        list(&h, friend, ChallengeView::Unspecified)
            .await
            .contains(&c.id)
    );
    let joined = join(&h, friend, &c.id).await.expect("friend joins");
    assert_eq!((joined.joined, joined.participant_count), (true, 2));
}
