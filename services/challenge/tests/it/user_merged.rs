//! `user.merged.v1` moves the guest's memberships, progress and points to the target account,
//! combining windows both have (counts add up, a window pays out once) and leaves no row of the
//! guest.

use std::time::Duration;

use prost::Message as _;
use stride_bus::Event as _;
use stride_kit::{clock::Clock as _, convert};
use stride_proto::{challenge::GetLeaderboardRequest, events};
use stride_testkit::{EVENT_DEADLINE, authed, eventually};
use time::{
    Date, OffsetDateTime,
    macros::{date, datetime},
};
use uuid::Uuid;

use crate::support::{Harness, Probe, Publisher, consumed_count, publish_raw, user_rows};

/// `user.merged.v1` as auth publishes it.
fn merged(source: &str, target: &str, at: OffsetDateTime) -> events::UserMerged {
    events::UserMerged {
        source_user_id: source.into(),
        target_user_id: target.into(),
        occur_time: Some(convert::timestamp(at)),
        timezone: "Europe/Paris".into(),
        local_date: Some(convert::date(convert::local_date(at, "Europe/Paris"))),
    }
}

/// `(window_start, current, completed)` of every progress row of `user`.
async fn progress(h: &Harness, user: Uuid) -> Vec<(Date, i32, bool)> {
    sqlx::query_as(
        "SELECT window_start, current, completed_at IS NOT NULL FROM progress
         WHERE user_id = $1 ORDER BY window_start",
    )
    .bind(user)
    .fetch_all(&h.db)
    .await
    .expect("progress")
}

/// `(window_start, ledger id, points)` of every award of `user`.
async fn awards(h: &Harness, user: Uuid) -> Vec<(Date, Uuid, i32)> {
    sqlx::query_as(
        "SELECT window_start, id, points FROM points_ledger WHERE user_id = $1 ORDER BY window_start",
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
    let mut h = Harness::start(datetime!(2026-10-30 09:00 UTC)).await;
    let mut probe = Probe::bind(&h.amqp, "challenge.completed.v1").await;
    let profile_service = Publisher::start(&h.amqp, "profile").await;
    let activity = Publisher::start(&h.amqp, "activity-session").await;
    let (source, target, bystander) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    for (u, name) in [(source, "Guest"), (target, "Ann"), (bystander, "Bob")] {
        let id = profile_service
            .publish(&super::profile(u, name, "UTC"))
            .await;
        h.consumed(id).await;
        let token = h.token(u);
        super::join(&mut h, &token).await;
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
            let id = activity
                .publish(&super::session(u, "focus", end, "UTC"))
                .await;
            h.consumed(id).await;
        }
    }
    for _ in 0..4 {
        probe.next::<events::ChallengeCompleted>().await;
    }
    h.clock.set(datetime!(2026-11-18 12:00 UTC));
    let target_award = awards(&h, target).await[0];
    let bystander_rows = user_rows(&h.db, bystander).await;
    let bystander_awards = awards(&h, bystander).await;

    let auth = Publisher::start(&h.amqp, "auth").await;
    let merge = merged(&source.to_string(), &target.to_string(), h.clock.now());
    let event_id = auth.publish(&merge).await;
    h.consumed(event_id).await;

    assert!(gone(&user_rows(&h.db, source).await), "no row of the guest");
    assert_eq!(
        progress(&h, target).await,
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
    let (_, kind, app, ev) = probe.next::<events::ChallengeCompleted>().await;
    assert_eq!(
        (kind.as_str(), app.as_str()),
        ("challenge.completed.v1", "challenge")
    );
    assert_eq!(ev.user_id, target.to_string());
    assert_eq!(ev.challenge_id, super::FOCUS_THREE);
    assert_eq!(ev.points_awarded, 50);
    assert_eq!(ev.window_start, Some(convert::date(date!(2026 - 11 - 16))));
    assert_eq!(ev.occur_time, merge.occur_time);
    assert_eq!(ev.local_date, merge.local_date);
    assert_eq!(ev.timezone, "Europe/Paris");

    // The API agrees: this week's progress is complete, membership dates from the guest's join.
    let token = h.token(target);
    let got = super::get(&mut h, &token).await;
    assert!(got.challenge.expect("challenge").joined);
    let mine = got.my_progress.expect("progress");
    assert_eq!((mine.current, mine.target, mine.completed), (3, 3, true));
    assert_eq!(
        mine.join_time,
        Some(convert::timestamp(datetime!(2026-10-30 09:00 UTC)))
    );
    let board = h
        .client
        .get_leaderboard(authed(GetLeaderboardRequest { top_n: 10 }, &token))
        .await
        .expect("board")
        .into_inner();
    let me = board.me.expect("me");
    assert_eq!((me.rank, me.points), (1, 150));
    let ranked: Vec<(String, i64)> = board
        .entries
        .iter()
        .map(|e| (e.user_id.clone(), e.points))
        .collect();
    assert_eq!(
        ranked,
        [(target.to_string(), 150), (bystander.to_string(), 50)]
    );
    assert_eq!(user_rows(&h.db, bystander).await, bystander_rows);
    assert_eq!(awards(&h, bystander).await, bystander_awards);

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
    eventually(EVENT_DEADLINE, "the redelivery is absorbed", || async {
        (consumed_count("challenge", "duplicate") == 1).then_some(())
    })
    .await;
    let again = auth.publish(&merge).await;
    h.consumed(again).await;
    assert_eq!(awards(&h, target).await, paid);
    assert_eq!(progress(&h, target).await.len(), 3);
    assert!(gone(&user_rows(&h.db, source).await));
    assert!(probe.quiet_for(Duration::from_millis(700)).await);
    h.stop().await;
}

#[tokio::test]
async fn user_merged_with_an_invalid_payload_is_dead_lettered() {
    let mut h = Harness::start(datetime!(2026-11-18 09:00 UTC)).await;
    let source = Uuid::now_v7();
    let token = h.token(source);
    super::join(&mut h, &token).await;
    let before = user_rows(&h.db, source).await;

    let auth = Publisher::start(&h.amqp, "auth").await;
    let (s, now) = (source.to_string(), h.clock.now());
    for bad in [
        merged("not-a-uuid", &Uuid::now_v7().to_string(), now),
        merged(&s, "", now),
        merged(&s, &s, now),
    ] {
        auth.publish(&bad).await;
    }
    publish_raw(
        &h.amqp,
        Uuid::now_v7(),
        events::UserMerged::TYPE,
        "auth",
        b"\xff\xff\xff",
    )
    .await;
    eventually(
        EVENT_DEADLINE,
        "every bad event is dead-lettered",
        || async { (consumed_count("challenge", "dead_lettered") == 4).then_some(()) },
    )
    .await;
    assert_eq!(consumed_count("challenge", "handled"), 0);
    assert_eq!(user_rows(&h.db, source).await, before);
    h.stop().await;
}
