//! `user.deleted.v1` and `user.merged.v1`: the shared conformance suite, then what challenge's
//! merge combines (memberships, progress per window, a window paid once, a window completed by
//! adding up) and that a deleted user leaves the leaderboard.

use std::time::Duration;

use prost::Message as _;
use stride_kit::{Clock as _, convert};
use stride_proto::{Event as _, events};
use stride_testkit::{
    bus::{Publisher, publish_raw, user_rows},
    conformance, fixtures,
};
use time::{
    Date, OffsetDateTime,
    macros::{date, datetime},
};
use uuid::Uuid;

use crate::support::{
    FOCUS_THREE, Harness, deliver, get, join, leaderboard, next_completion, profile, session, start,
};

/// Wednesday; the week runs from Monday 16 to Sunday 22 November.
const NOW: OffsetDateTime = datetime!(2026-11-18 09:00 UTC);

/// Producers of what challenge consumes.
struct Producers {
    profile: Publisher,
    activity: Publisher,
}

impl Producers {
    async fn start(h: &Harness) -> Self {
        Self {
            profile: Publisher::start(&h.amqp, "profile").await,
            activity: Publisher::start(&h.amqp, "activity-session").await,
        }
    }
}

/// Gives `user` a row in every table: a name, a membership, and this week's three focus
/// sessions (progress and points).
async fn seed(h: &Harness, p: &Producers, user: Uuid) {
    deliver(h, &p.profile, &profile(user, "Ann", "UTC")).await;
    join(h, user).await;
    for hour in [10, 12, 14] {
        let end = datetime!(2026-11-18 00:00 UTC) + time::Duration::hours(hour);
        deliver(h, &p.activity, &session(user, "focus", end, "UTC")).await;
    }
}

#[tokio::test]
async fn user_deleted_keeps_the_lifecycle_contract() {
    let (h, _probe) = start(NOW).await;
    let p = Producers::start(&h).await;
    conformance::user_deleted(&h, |u| seed(&h, &p, u)).await;
    h.stop().await;
}

#[tokio::test]
async fn user_merged_keeps_the_lifecycle_contract() {
    let (h, _probe) = start(NOW).await;
    let p = Producers::start(&h).await;
    conformance::user_merged(&h, |u| seed(&h, &p, u)).await;
    h.stop().await;
}

#[tokio::test]
async fn a_deleted_user_leaves_the_leaderboard() {
    let (h, _probe) = start(NOW).await;
    let p = Producers::start(&h).await;
    let (user, other) = (Uuid::now_v7(), Uuid::now_v7());
    seed(&h, &p, user).await;
    seed(&h, &p, other).await;
    assert_eq!(leaderboard(&h, other, 10).await.entries.len(), 2);

    let auth = Publisher::start(&h.amqp, "auth").await;
    deliver(&h, &auth, &fixtures::user_deleted(user, h.clock.now())).await;
    // The other one leads it alone (50 for the week, 10 each for first_session and
    // first_challenge).
    let board = leaderboard(&h, other, 10).await;
    let me = board.me.expect("me");
    assert_eq!((me.rank, me.points), (1, 70));
    assert_eq!(board.entries.len(), 1, "{:?}", board.entries);
    h.stop().await;
}

/// `user.merged.v1` as auth publishes it, for a user in Paris.
fn merged(source: Uuid, target: Uuid, at: OffsetDateTime) -> events::UserMerged {
    events::UserMerged {
        timezone: "Europe/Paris".into(),
        local_date: Some(convert::date(convert::local_date(at, "Europe/Paris"))),
        ..fixtures::user_merged(&source.to_string(), &target.to_string(), at)
    }
}

/// `(window_start, current, completed)` of every progress row of `user`.
async fn progress_rows(h: &Harness, user: Uuid) -> Vec<(Date, i32, bool)> {
    sqlx::query_as(
        "SELECT window_start, current, completed_at IS NOT NULL FROM progress
         WHERE user_id = $1 ORDER BY window_start",
    )
    .bind(user)
    .fetch_all(&h.db)
    .await
    .expect("progress")
}

/// `(window_start, ledger id, points)` of every challenge award of `user`.
async fn awards(h: &Harness, user: Uuid) -> Vec<(Date, Uuid, i32)> {
    sqlx::query_as(
        "SELECT window_start, id, points FROM points_ledger
         WHERE user_id = $1 AND reason = 'challenge' ORDER BY window_start",
    )
    .bind(user)
    .fetch_all(&h.db)
    .await
    .expect("awards")
}

fn gone(rows: &[(String, i64)]) -> bool {
    rows.iter().all(|(_, n)| *n == 0)
}

#[tokio::test]
async fn user_merged_combines_progress_and_points_once_per_window() {
    // Everyone joins on Friday 30 October; the sessions come in the three weeks after.
    let (h, mut probe) = start(datetime!(2026-10-30 09:00 UTC)).await;
    let p = Producers::start(&h).await;
    let (source, target, bystander) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    for (u, name) in [(source, "Guest"), (target, "Ann"), (bystander, "Bob")] {
        deliver(&h, &p.profile, &profile(u, name, "UTC")).await;
        join(&h, u).await;
        h.clock.advance(time::Duration::hours(1));
    }
    // Focus sessions per user and (Monday of the) week: the guest completed 2 Nov and 9 Nov and
    // did 2 of 3 on 16 Nov; the target completed 9 Nov and did 1 of 3 on 16 Nov.
    let plan: [(Uuid, Date, i64); 6] = [
        (source, date!(2026 - 11 - 02), 3),
        (source, date!(2026 - 11 - 09), 3),
        (source, date!(2026 - 11 - 16), 2),
        (target, date!(2026 - 11 - 09), 3),
        (target, date!(2026 - 11 - 16), 1),
        (bystander, date!(2026 - 11 - 16), 3),
    ];
    for (u, monday, n) in plan {
        for i in 0..n {
            let end = monday.midnight().assume_utc() + time::Duration::hours(10 + 2 * i);
            deliver(&h, &p.activity, &session(u, "focus", end, "UTC")).await;
        }
    }
    // The relay publishes at least once: on a loaded machine a message may come twice under
    // its own id (consumers absorb it); only distinct ids are announcements.
    let mut announced = Vec::new();
    while announced.len() < 4 {
        let id = next_completion(&mut probe).await.0;
        if !announced.contains(&id) {
            announced.push(id);
        }
    }
    h.clock.set(datetime!(2026-11-18 12:00 UTC));
    let target_award = awards(&h, target).await[0];
    let bystander_rows = user_rows(&h.db, bystander).await;
    let bystander_awards = awards(&h, bystander).await;

    let auth = Publisher::start(&h.amqp, "auth").await;
    let merge = merged(source, target, h.clock.now());
    let event_id = deliver(&h, &auth, &merge).await;

    assert!(gone(&user_rows(&h.db, source).await), "no row of the guest");
    assert_eq!(
        progress_rows(&h, target).await,
        [
            (date!(2026 - 11 - 02), 3, true),
            (date!(2026 - 11 - 09), 6, true),
            (date!(2026 - 11 - 16), 3, true),
        ]
    );
    let paid = awards(&h, target).await;
    assert_eq!(paid.len(), 3, "one award per window: {paid:?}");
    assert_eq!(
        paid[1], target_award,
        "the target's own award of 9 Nov stands"
    );
    assert!(paid.iter().all(|(_, _, p)| *p == 50));

    // 16 Nov reached 3 only by combining: completed and paid now, announced like any completion.
    let (id, ev) = loop {
        let (id, ev) = next_completion(&mut probe).await;
        if !announced.contains(&id) {
            break (id, ev);
        }
    };
    announced.push(id);
    assert_eq!(ev.user_id, target.to_string());
    assert_eq!(ev.challenge_id, FOCUS_THREE);
    assert_eq!(ev.points_awarded, 50);
    assert_eq!(ev.window_start, Some(convert::date(date!(2026 - 11 - 16))));
    assert_eq!(ev.occur_time, merge.occur_time);
    assert_eq!(ev.local_date, merge.local_date);
    assert_eq!(ev.timezone, "Europe/Paris");

    // The API agrees: this week's progress is complete, membership dates from the guest's join.
    let got = get(&h, target).await;
    assert!(got.challenge.expect("challenge").joined);
    let mine = got.my_progress.expect("progress");
    assert_eq!((mine.current, mine.target, mine.completed), (3, 3, true));
    assert_eq!(
        mine.join_time,
        Some(convert::timestamp(datetime!(2026-10-30 09:00 UTC)))
    );
    // Three windows (150), and the achievements once each: first_session and first_challenge
    // (10 each, which both had), focus_10 (25: 12 focus sessions only together).
    let board = leaderboard(&h, target, 10).await;
    let me = board.me.expect("me");
    assert_eq!(
        (me.rank, me.points, me.display_name.as_str()),
        (1, 195, "Ann")
    );
    let ranked: Vec<(String, i64)> = board
        .entries
        .iter()
        .map(|e| (e.user_id.clone(), e.points))
        .collect();
    assert_eq!(
        ranked,
        [(target.to_string(), 195), (bystander.to_string(), 70)]
    );
    assert_eq!(user_rows(&h.db, bystander).await, bystander_rows);
    assert_eq!(awards(&h, bystander).await, bystander_awards);
    // XP once per cause: 12 sessions × 25, three windows × 25 (9 Nov's once), first_session 20,
    // first_challenge 20 (each once) and focus_10 50: 465, level 3.
    let rewards = crate::support::rewards(&h)
        .get_my_rewards(stride_testkit::authed(
            stride_proto::challenge::GetMyRewardsRequest {},
            &h.token(target),
        ))
        .await
        .expect("rewards")
        .into_inner();
    assert_eq!((rewards.xp, rewards.level, rewards.points), (465, 3, 195));

    // A redelivery of the same message is absorbed; a re-publication under a new id finds no
    // guest row: nothing changes, nothing is paid or announced again.
    publish_raw(
        &h.amqp,
        event_id,
        events::UserMerged::TYPE,
        "auth",
        &merge.encode_to_vec(),
    )
    .await;
    h.deliveries("duplicate", 1).await;
    deliver(&h, &auth, &merge).await;
    assert_eq!(awards(&h, target).await, paid);
    assert_eq!(progress_rows(&h, target).await.len(), 3);
    assert!(gone(&user_rows(&h.db, source).await));
    // Nothing new is announced. (The relay publishes at least once: a loaded machine may
    // repeat a message already seen, under its own id, which consumers absorb.)
    while let Ok((id, _)) =
        tokio::time::timeout(Duration::from_millis(700), next_completion(&mut probe)).await
    {
        assert!(
            announced.contains(&id),
            "a new completion after the replays: {id}"
        );
    }
    h.stop().await;
}

#[tokio::test]
async fn owned_challenges_follow_a_merge_and_on_deletion_go_or_stay_for_others() {
    use crate::user_challenges::{create, get as get_one, join as join_one, spec};
    use stride_proto::challenge::{GoalKind, Visibility};

    let (h, _probe) = start(NOW).await;
    let p = Producers::start(&h).await;
    let (guest, tom, bob) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let alone = create(&h, guest, spec("Alone", GoalKind::LessonsCompleted, 2)).await;
    let shared = create(
        &h,
        guest,
        stride_proto::challenge::ChallengeSpec {
            visibility: Visibility::Public as i32,
            description: "Guest's words".into(),
            ..spec("Shared", GoalKind::LessonsCompleted, 2)
        },
    )
    .await;
    join_one(&h, bob, &shared.id).await.expect("bob joins");
    join_one(&h, tom, &shared.id).await.expect("tom joins");
    assert_eq!(
        get_one(&h, bob, &shared.id)
            .await
            .expect("get")
            .participant_count,
        3
    );

    let auth = Publisher::start(&h.amqp, "auth").await;
    deliver(&h, &auth, &merged(guest, tom, h.clock.now())).await;
    let s = get_one(&h, tom, &shared.id).await.expect("tom owns it");
    assert_eq!(s.owner_id, tom.to_string());
    // Guest and Tom were both in it: one participant now.
    assert_eq!((s.participant_count, s.joined), (2, true));
    assert_eq!(
        get_one(&h, tom, &alone.id).await.expect("moved").owner_id,
        tom.to_string()
    );

    deliver(&h, &p.profile, &profile(tom, "Tom", "UTC")).await;
    deliver(&h, &auth, &fixtures::user_deleted(tom, h.clock.now())).await;
    assert!(gone(&user_rows(&h.db, tom).await));
    // Nobody else was in "Alone": gone. "Shared" stays for Bob, without owner or description.
    let owned: i64 = sqlx::query_scalar("SELECT count(*) FROM challenges WHERE owner_id = $1")
        .bind(tom)
        .fetch_one(&h.db)
        .await
        .expect("count");
    assert_eq!(owned, 0);
    assert_eq!(
        get_one(&h, bob, &alone.id).await.expect_err("gone").code(),
        tonic::Code::NotFound
    );
    let s = get_one(&h, bob, &shared.id).await.expect("kept");
    assert_eq!(
        (
            s.owner_id.as_str(),
            s.description.as_str(),
            s.participant_count
        ),
        ("", "", 1)
    );
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM challenges WHERE id = $1")
        .bind(Uuid::parse_str(&alone.id).expect("uuid"))
        .fetch_one(&h.db)
        .await
        .expect("count");
    assert_eq!(rows, 0);
    h.stop().await;
}
