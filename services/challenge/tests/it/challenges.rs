//! ListChallenges, GetChallenge and JoinChallenge: the catalogue, joining once, pages, and the
//! errors (fields named, unknown ids, no token).

use stride_kit::convert;
use stride_proto::challenge::{
    GetChallengeRequest, GetLeaderboardRequest, GoalKind, JoinChallengeRequest,
    ListChallengesRequest, ListChallengesResponse, Recurrence,
};
use stride_testkit::{authed, bus::assert_invalid};
use time::macros::{date, datetime};
use tonic::Code;
use uuid::Uuid;

use crate::support::{FOCUS_THREE, Harness, get, join, start};

async fn list(h: &Harness, user: Uuid, page_size: i32, page_token: &str) -> ListChallengesResponse {
    h.client
        .clone()
        .list_challenges(authed(
            ListChallengesRequest {
                page_size,
                page_token: page_token.into(),
                ..Default::default()
            },
            &h.token(user),
        ))
        .await
        .expect("list")
        .into_inner()
}

#[tokio::test]
async fn listing_joining_and_lookup_errors() {
    let (h, _probe) = start(datetime!(2026-11-02 08:00 UTC)).await;
    let (ann, bob) = (Uuid::now_v7(), Uuid::now_v7());

    let page = list(&h, ann, 0, "").await;
    // Focus Three and seed 001's three weekly challenges.
    let seeded: Vec<_> = page
        .challenges
        .iter()
        .map(|c| {
            (
                c.title.as_str(),
                c.goal_kind,
                c.activity_kind.as_str(),
                c.target,
                c.points,
            )
        })
        .collect();
    assert_eq!(
        seeded,
        [
            (
                "Focus Three",
                GoalKind::SessionsCompleted as i32,
                "focus",
                3,
                50
            ),
            (
                "Healthy Boundaries",
                GoalKind::ShutdownReflections as i32,
                "",
                5,
                75
            ),
            (
                "Focus Sprint Master",
                GoalKind::SessionsCompleted as i32,
                "focus",
                10,
                75
            ),
            (
                "Break Champion",
                GoalKind::SessionsCompleted as i32,
                "break",
                5,
                75
            ),
        ]
    );
    assert!(
        page.challenges
            .iter()
            .all(|c| c.is_system && c.recurrence == Recurrence::Weekly as i32)
    );
    assert!(page.next_page_token.is_empty());
    let c = &page.challenges[0];
    assert_eq!(c.id, FOCUS_THREE);
    assert_eq!(
        (c.title.as_str(), c.description.as_str()),
        ("Focus Three", "Complete 3 focus sessions this week")
    );
    assert_eq!(c.goal_kind, GoalKind::SessionsCompleted as i32);
    assert_eq!(c.recurrence, Recurrence::Weekly as i32);
    assert_eq!(
        (c.activity_kind.as_str(), c.target, c.points, c.is_system),
        ("focus", 3, 50, true)
    );
    assert_eq!((c.joined, c.participant_count), (false, 0));
    assert!(
        get(&h, ann).await.my_progress.is_none(),
        "no progress before joining"
    );

    // Joining twice keeps the first join time.
    join(&h, ann).await;
    h.clock.advance(time::Duration::hours(1));
    let again = join(&h, ann).await;
    assert_eq!(
        again.challenge.as_ref().map(|c| c.participant_count),
        Some(1)
    );
    let p = again.my_progress.expect("progress");
    assert_eq!(
        p.join_time.as_ref().and_then(convert::from_timestamp),
        Some(datetime!(2026-11-02 08:00 UTC))
    );
    assert_eq!(
        p.window_start.as_ref().and_then(convert::from_date),
        Some(date!(2026 - 11 - 02))
    );

    let theirs = list(&h, bob, 0, "").await;
    assert_eq!(
        (
            theirs.challenges[0].joined,
            theirs.challenges[0].participant_count
        ),
        (false, 1)
    );
    assert!(list(&h, ann, 1, "").await.challenges[0].joined);

    let ann_token = h.token(ann);
    let mut client = h.client.clone();
    let unknown = Uuid::now_v7().to_string();
    let err = client
        .get_challenge(authed(
            GetChallengeRequest {
                challenge_id: unknown.clone(),
            },
            &ann_token,
        ))
        .await
        .expect_err("unknown");
    assert_eq!(err.code(), Code::NotFound);
    let err = client
        .join_challenge(authed(
            JoinChallengeRequest {
                challenge_id: unknown,
            },
            &ann_token,
        ))
        .await
        .expect_err("unknown");
    assert_eq!(err.code(), Code::NotFound);
    let err = client
        .get_challenge(authed(
            GetChallengeRequest {
                challenge_id: "nope".into(),
            },
            &ann_token,
        ))
        .await
        .expect_err("malformed");
    assert_invalid(&err, &["challenge_id"]);
    let err = client
        .join_challenge(authed(
            JoinChallengeRequest {
                challenge_id: String::new(),
            },
            &ann_token,
        ))
        .await
        .expect_err("missing");
    assert_invalid(&err, &["challenge_id"]);
    let err = client
        .list_challenges(authed(
            ListChallengesRequest {
                page_size: 500,
                page_token: "@@".into(),
                ..Default::default()
            },
            &ann_token,
        ))
        .await
        .expect_err("bad page");
    assert_invalid(&err, &["page_size", "page_token"]);
    let err = crate::support::boards(&h)
        .get_leaderboard(tonic::Request::new(GetLeaderboardRequest::default()))
        .await
        .expect_err("no token");
    assert_eq!(err.code(), Code::Unauthenticated);
    h.stop().await;
}

#[tokio::test]
async fn challenges_are_listed_in_pages_that_continue_where_the_last_ended() {
    let (h, _probe) = start(datetime!(2026-11-02 08:00 UTC)).await;
    // A challenge of old without dates, after the system ones in id order.
    let second = Uuid::parse_str("d0000000-0000-4000-8000-000000000002").expect("uuid");
    sqlx::query(
        "INSERT INTO challenges (id, title, goal_kind, activity_kind, target, points, recurrence)
         VALUES ($1, 'Study Ten', 'sessions_completed', 'study', 10, 100, 'none')",
    )
    .bind(second)
    .execute(&h.db)
    .await
    .expect("second challenge");
    let user = Uuid::now_v7();

    let all = list(&h, user, 0, "").await;
    assert_eq!(all.challenges.len(), 5);
    assert!(all.next_page_token.is_empty());

    let first = list(&h, user, 2, "").await;
    assert_eq!(first.challenges.len(), 2);
    assert_eq!(first.challenges[0].id, FOCUS_THREE);
    assert!(!first.next_page_token.is_empty());
    let middle = list(&h, user, 2, &first.next_page_token).await;
    assert_eq!(middle.challenges.len(), 2);
    assert!(middle.challenges.iter().all(|c| c.is_system));
    let rest = list(&h, user, 2, &middle.next_page_token).await;
    assert_eq!(rest.challenges.len(), 1);
    let c = &rest.challenges[0];
    assert_eq!(c.id, second.to_string());
    assert_eq!(
        (c.recurrence, c.is_system, c.target),
        (Recurrence::None as i32, false, 10)
    );
    assert!(rest.next_page_token.is_empty(), "the last page");
    h.stop().await;
}
