//! GetProgressSummary over rollups fed by real events: local dates, streaks, validation.

use stride_bus::Event as _;
use stride_kit::Clock as _;
use stride_proto::{analytics::GetProgressSummaryRequest, events::SessionCompleted};
use stride_testkit::{
    authed,
    bus::{assert_invalid, publish_raw},
};
use time::macros::{date, datetime};
use tonic::Code;
use uuid::Uuid;

use crate::support::{award, delivered, per_day, profile, session, start, summary};

#[tokio::test]
async fn sessions_roll_up_on_the_producers_local_dates() {
    let (h, p) = start(datetime!(2026-03-04 12:00 UTC)).await;
    let (ada, bob) = (Uuid::now_v7(), Uuid::now_v7());
    // 23:30 UTC on Monday the 2nd is already Tuesday the 3rd in Kolkata (UTC+5:30).
    p.publish(&session(
        ada,
        "focus",
        datetime!(2026-03-02 23:30 UTC),
        25,
        "Asia/Kolkata",
    ))
    .await;
    p.publish(&session(
        ada,
        "workout",
        datetime!(2026-03-03 08:00 UTC),
        40,
        "Asia/Kolkata",
    ))
    .await;
    p.publish(&session(
        ada,
        "focus",
        datetime!(2026-03-02 04:00 UTC),
        25,
        "Asia/Kolkata",
    ))
    .await;
    p.publish(&award(ada, date!(2026 - 03 - 03), 50)).await;
    delivered(&h, "handled", 4).await;

    let s = summary(&h, ada, None).await;
    assert_eq!(
        s.timezone, "Asia/Kolkata",
        "the session's zone stands in until a profile arrives"
    );
    assert_eq!(
        stride_kit::convert::from_date(s.start_date.as_ref().unwrap()),
        Some(date!(2026 - 03 - 02))
    );
    assert_eq!(
        stride_kit::convert::from_date(s.end_date.as_ref().unwrap()),
        Some(date!(2026 - 03 - 08))
    );
    assert_eq!((s.sessions_completed, s.focus_sessions), (3, 2));
    assert_eq!(s.total_duration.as_ref().unwrap().seconds, 90 * 60);
    let days = per_day(&s);
    assert_eq!(days.len(), 7);
    assert_eq!(days[0], (date!(2026 - 03 - 02), 1));
    assert_eq!(days[1], (date!(2026 - 03 - 03), 2));
    assert!(days[2..].iter().all(|(_, n)| *n == 0));
    assert_eq!(s.days[1].focus_sessions, 1);
    assert_eq!(s.days[1].total_duration.as_ref().unwrap().seconds, 65 * 60);
    // Wednesday (today in Kolkata) has nothing yet: the streak ending yesterday still counts.
    assert_eq!((s.current_streak, s.longest_streak), (2, 2));

    let points: i32 = sqlx::query_scalar(
        "SELECT points FROM daily_rollups WHERE user_id = $1 AND local_date = $2",
    )
    .bind(ada)
    .bind(date!(2026 - 03 - 03))
    .fetch_one(&h.db)
    .await
    .unwrap();
    assert_eq!(points, 50);

    // Another user sees nothing of Ada's.
    let other = summary(&h, bob, None).await;
    assert_eq!(
        (
            other.sessions_completed,
            other.current_streak,
            other.longest_streak
        ),
        (0, 0, 0)
    );
    h.stop().await;
}

#[tokio::test]
async fn a_redelivered_event_counts_once() {
    let (h, _p) = start(datetime!(2026-03-04 12:00 UTC)).await;
    let ada = Uuid::now_v7();
    let event = session(ada, "focus", datetime!(2026-03-04 09:00 UTC), 25, "UTC");
    let id = Uuid::now_v7();
    let payload = prost::Message::encode_to_vec(&event);
    for _ in 0..2 {
        publish_raw(
            &h.amqp,
            id,
            SessionCompleted::TYPE,
            "activity-session",
            &payload,
        )
        .await;
    }
    delivered(&h, "handled", 1).await;
    delivered(&h, "duplicate", 1).await;
    let s = summary(&h, ada, None).await;
    assert_eq!((s.sessions_completed, s.focus_sessions), (1, 1));
    assert_eq!(s.total_duration.as_ref().unwrap().seconds, 25 * 60);
    assert_eq!(s.current_streak, 1);
    h.stop().await;
}

#[tokio::test]
async fn streak_survives_the_dst_change() {
    // Europe/Paris springs forward on 2026-03-29 at 01:00 UTC (UTC+1 → UTC+2).
    let (h, p) = start(datetime!(2026-03-30 08:00 UTC)).await;
    let ada = Uuid::now_v7();
    let tz = "Europe/Paris";
    p.publish(&profile(ada, tz, 1, h.clock.now())).await;
    p.publish(&session(
        ada,
        "focus",
        datetime!(2026-03-28 12:00 UTC),
        25,
        tz,
    ))
    .await;
    p.publish(&session(
        ada,
        "focus",
        datetime!(2026-03-29 10:00 UTC),
        25,
        tz,
    ))
    .await;
    // 22:30 UTC on the 29th is 00:30 on Monday the 30th in Paris (it would be the 29th in UTC).
    p.publish(&session(
        ada,
        "focus",
        datetime!(2026-03-29 22:30 UTC),
        25,
        tz,
    ))
    .await;
    delivered(&h, "handled", 4).await;

    let s = summary(&h, ada, None).await;
    assert_eq!(s.timezone, tz);
    assert_eq!(per_day(&s)[0], (date!(2026 - 03 - 30), 1));
    assert_eq!(s.sessions_completed, 1);
    assert_eq!((s.current_streak, s.longest_streak), (3, 3));

    let last_week = summary(&h, ada, Some(date!(2026 - 03 - 29))).await;
    let days = per_day(&last_week);
    assert_eq!(days[0].0, date!(2026 - 03 - 23));
    assert_eq!(days[5], (date!(2026 - 03 - 28), 1));
    assert_eq!(days[6], (date!(2026 - 03 - 29), 1));
    assert_eq!(last_week.sessions_completed, 2);
    h.stop().await;
}

#[tokio::test]
async fn streak_survives_a_timezone_change_without_double_counting() {
    // 2026-06-03 02:00 UTC is 11:00 on the 3rd in Tokyo, but still 22:00 on the 2nd in New York.
    let (h, p) = start(datetime!(2026-06-03 02:00 UTC)).await;
    let ada = Uuid::now_v7();
    p.publish(&profile(ada, "America/New_York", 1, h.clock.now()))
        .await;
    // Day 1 and 2, late evening in New York (already the next day in UTC).
    p.publish(&session(
        ada,
        "focus",
        datetime!(2026-06-02 03:00 UTC),
        25,
        "America/New_York",
    ))
    .await;
    p.publish(&session(
        ada,
        "workout",
        datetime!(2026-06-03 00:00 UTC),
        30,
        "America/New_York",
    ))
    .await;
    delivered(&h, "handled", 3).await;
    let before = summary(&h, ada, None).await;
    assert_eq!(before.timezone, "America/New_York");
    assert_eq!((before.current_streak, before.sessions_completed), (2, 2));

    // The user flies to Tokyo; a late, stale revision of the old zone must not win.
    p.publish(&profile(ada, "Asia/Tokyo", 2, h.clock.now()))
        .await;
    p.publish(&profile(ada, "America/New_York", 1, h.clock.now()))
        .await;
    // Day 3: an instant that is still June 2nd in New York, June 3rd in Tokyo.
    p.publish(&session(
        ada,
        "focus",
        datetime!(2026-06-03 01:00 UTC),
        25,
        "Asia/Tokyo",
    ))
    .await;
    delivered(&h, "handled", 6).await;

    let s = summary(&h, ada, None).await;
    assert_eq!(s.timezone, "Asia/Tokyo");
    let days = per_day(&s);
    assert_eq!(days[0], (date!(2026 - 06 - 01), 1));
    assert_eq!(days[1], (date!(2026 - 06 - 02), 1));
    assert_eq!(days[2], (date!(2026 - 06 - 03), 1));
    assert_eq!(s.sessions_completed, 3, "no day counted twice");
    assert_eq!((s.current_streak, s.longest_streak), (3, 3));
    h.stop().await;
}

#[tokio::test]
async fn current_streak_ends_yesterday_then_breaks() {
    let (h, p) = start(datetime!(2026-06-10 09:00 UTC)).await;
    let ada = Uuid::now_v7();
    for (day, hour) in [(5u8, 8u8), (6, 9), (7, 10), (9, 20)] {
        let end = datetime!(2026-06-01 00:00 UTC)
            + time::Duration::days(i64::from(day) - 1)
            + time::Duration::hours(hour.into());
        p.publish(&session(ada, "focus", end, 25, "UTC")).await;
    }
    delivered(&h, "handled", 4).await;
    // Today (the 10th) has no session: the run 9th counts; the longest is 5th..7th.
    let s = summary(&h, ada, None).await;
    assert_eq!((s.current_streak, s.longest_streak), (1, 3));
    // A session today extends it.
    p.publish(&session(
        ada,
        "break",
        datetime!(2026-06-10 08:30 UTC),
        5,
        "UTC",
    ))
    .await;
    delivered(&h, "handled", 5).await;
    let s = summary(&h, ada, None).await;
    assert_eq!((s.current_streak, s.longest_streak), (2, 3));
    assert_eq!((s.sessions_completed, s.focus_sessions), (2, 1));
    // Two days later without sessions the streak is gone, the record stays.
    h.clock.advance(time::Duration::days(2));
    let s = summary(&h, ada, None).await;
    assert_eq!((s.current_streak, s.longest_streak), (0, 3));
    h.stop().await;
}

#[tokio::test]
async fn an_empty_week_has_seven_zero_days() {
    let (h, _p) = start(datetime!(2026-11-22 12:00 UTC)).await;
    let s = summary(&h, Uuid::now_v7(), None).await;
    assert_eq!(s.timezone, "UTC");
    let days = per_day(&s);
    assert_eq!(days.len(), 7);
    // 2026-11-22 is a Sunday: the ISO week starts on Monday the 16th.
    assert_eq!(days[0].0, date!(2026 - 11 - 16));
    assert_eq!(days[6].0, date!(2026 - 11 - 22));
    assert!(days.iter().all(|(_, n)| *n == 0));
    assert!(
        s.days
            .iter()
            .all(|d| d.total_duration.as_ref().unwrap().seconds == 0)
    );
    assert_eq!(
        (s.sessions_completed, s.current_streak, s.longest_streak),
        (0, 0, 0)
    );
    h.stop().await;
}

#[tokio::test]
async fn invalid_date_and_range_are_rejected_with_field_names() {
    let (h, _p) = start(datetime!(2026-11-22 12:00 UTC)).await;
    let token = h.token(Uuid::now_v7());
    let req = GetProgressSummaryRequest {
        range: 42,
        date: Some(stride_proto::Date {
            year: 2026,
            month: 2,
            day: 30,
        }),
        ..Default::default()
    };
    let mut client = h.client.clone();
    let err = client
        .get_progress_summary(authed(req, &token))
        .await
        .unwrap_err();
    assert_invalid(&err, &["range", "date"]);
    // Years outside 1..=9998 are refused too (week arithmetic stays in range).
    let req = GetProgressSummaryRequest {
        range: 1,
        date: Some(stride_proto::Date {
            year: 9999,
            month: 12,
            day: 31,
        }),
        ..Default::default()
    };
    let err = client
        .get_progress_summary(authed(req, &token))
        .await
        .unwrap_err();
    assert_invalid(&err, &["date"]);

    let err = client
        .get_progress_summary(GetProgressSummaryRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    h.stop().await;
}

#[tokio::test]
async fn a_poison_event_is_dead_lettered_and_the_queue_keeps_flowing() {
    let (h, p) = start(datetime!(2026-11-22 12:00 UTC)).await;
    let ada = Uuid::now_v7();
    let mut poison = session(ada, "focus", datetime!(2026-11-22 08:00 UTC), 25, "UTC");
    poison.user_id = "not-a-uuid".into();
    p.publish(&poison).await;
    let mut undated = session(ada, "focus", datetime!(2026-11-22 08:00 UTC), 25, "UTC");
    undated.local_date = None;
    p.publish(&undated).await;
    p.publish(&session(
        ada,
        "focus",
        datetime!(2026-11-22 09:00 UTC),
        25,
        "UTC",
    ))
    .await;
    delivered(&h, "dead_lettered", 2).await;
    delivered(&h, "handled", 1).await;
    let s = summary(&h, ada, None).await;
    assert_eq!(s.sessions_completed, 1);
    h.stop().await;
}

#[tokio::test]
async fn days_arriving_out_of_order_join_into_one_run() {
    let (h, p) = start(datetime!(2026-06-20 12:00 UTC)).await;
    let ada = Uuid::now_v7();
    // 10th, 14th, 12th, 11th, then 13th bridges the two runs; a second session on the 12th
    // and a challenge award on the 9th (points, no session) change no run.
    for day in [10i64, 14, 12, 11, 13, 12] {
        let end = datetime!(2026-06-01 08:00 UTC) + time::Duration::days(day - 1);
        p.publish(&session(ada, "focus", end, 25, "UTC")).await;
    }
    p.publish(&award(ada, date!(2026 - 06 - 09), 50)).await;
    delivered(&h, "handled", 7).await;
    let s = summary(&h, ada, Some(date!(2026 - 06 - 14))).await;
    assert_eq!(s.longest_streak, 5, "10th..14th is one run");
    assert_eq!(s.sessions_completed, 6);
    // Each day's own figures, though the days' rows were written (and rewritten) out of order.
    assert_eq!(
        per_day(&s).iter().map(|(_, n)| *n).collect::<Vec<_>>(),
        [0, 0, 1, 1, 2, 1, 1],
        "the 8th..14th, day by day"
    );
    // The 15th extends it; today (the 20th) is long past it.
    p.publish(&session(
        ada,
        "focus",
        datetime!(2026-06-15 08:00 UTC),
        25,
        "UTC",
    ))
    .await;
    delivered(&h, "handled", 8).await;
    let s = summary(&h, ada, None).await;
    assert_eq!((s.current_streak, s.longest_streak), (0, 6));
    h.stop().await;
}

#[tokio::test]
async fn a_poison_event_amid_a_burst_fails_alone() {
    // Many events at once are handled in batches; a batch holding a poison event is rolled
    // back and retried one by one: every good event counts exactly once, the poison alone is
    // dead-lettered.
    let (h, p) = start(datetime!(2026-11-22 12:00 UTC)).await;
    let users: Vec<Uuid> = (0..8).map(|_| Uuid::now_v7()).collect();
    for i in 0..60usize {
        let mut e = session(
            users[i % users.len()],
            "focus",
            datetime!(2026-11-22 08:00 UTC),
            25,
            "UTC",
        );
        if i == 30 {
            e.user_id = "not-a-uuid".into();
        }
        p.publish(&e).await;
    }
    delivered(&h, "dead_lettered", 1).await;
    delivered(&h, "handled", 59).await;
    let mut total = 0;
    for u in &users {
        total += summary(&h, *u, None).await.sessions_completed;
    }
    assert_eq!(total, 59);
    h.stop().await;
}

#[tokio::test]
async fn a_burst_is_logged_once_each_in_order_and_what_the_log_has_is_not_applied_again() {
    // Events handled together are appended to the log in one statement, then applied one by
    // one: each is logged once, in delivery order, and applied once; an event the log already
    // holds (its inbox row gone, e.g. an inbox restored from an older backup) is not applied.
    let (h, p) = start(datetime!(2026-11-22 12:00 UTC)).await;
    let users: Vec<Uuid> = (0..4).map(|_| Uuid::now_v7()).collect();
    let old = session(
        users[0],
        "focus",
        datetime!(2026-11-22 07:00 UTC),
        25,
        "UTC",
    );
    let old_id = Uuid::now_v7();
    let payload = prost::Message::encode_to_vec(&old);
    sqlx::query(
        "INSERT INTO event_log (event_id, event_type, user_id, occurred_at, received_at, payload)
         VALUES ($1, $2, $3, now(), now(), $4)",
    )
    .bind(old_id)
    .bind(SessionCompleted::TYPE)
    .bind(users[0])
    .bind(&payload)
    .execute(&h.db)
    .await
    .expect("a logged event");
    let mut published = Vec::new();
    for i in 0..40usize {
        if i == 20 {
            publish_raw(
                &h.amqp,
                old_id,
                SessionCompleted::TYPE,
                "activity-session",
                &payload,
            )
            .await;
        }
        let e = session(
            users[i % users.len()],
            "focus",
            datetime!(2026-11-22 08:00 UTC),
            25,
            "UTC",
        );
        published.push(p.publish(&e).await);
    }
    delivered(&h, "handled", 41).await;
    let mut total = 0;
    for u in &users {
        total += summary(&h, *u, None).await.sessions_completed;
    }
    assert_eq!(total, 40, "the event the log had is not counted");
    let logged: Vec<Uuid> =
        sqlx::query_scalar("SELECT event_id FROM event_log WHERE event_id <> $1 ORDER BY seq")
            .bind(old_id)
            .fetch_all(&h.db)
            .await
            .expect("the log");
    assert_eq!(logged, published, "each once, in delivery order");
    let copies: i64 = sqlx::query_scalar("SELECT count(*) FROM event_log WHERE event_id = $1")
        .bind(old_id)
        .fetch_one(&h.db)
        .await
        .expect("count");
    assert_eq!(copies, 1);
    h.stop().await;
}

#[tokio::test]
async fn a_session_that_does_not_count_adds_nothing_and_starts_no_streak() {
    let (h, _p) = start(datetime!(2026-03-04 12:00 UTC)).await;
    let ada = Uuid::now_v7();
    let short = stride_testkit::fixtures::session_completed_uncounted(
        ada,
        "focus",
        datetime!(2026-03-04 09:00 UTC),
        time::Duration::seconds(1),
        "UTC",
    );
    let id = Uuid::now_v7();
    publish_raw(
        &h.amqp,
        id,
        SessionCompleted::TYPE,
        "activity-session",
        &prost::Message::encode_to_vec(&short),
    )
    .await;
    delivered(&h, "handled", 1).await;
    let s = summary(&h, ada, None).await;
    assert_eq!((s.sessions_completed, s.focus_sessions), (0, 0));
    assert_eq!(s.current_streak, 0);
    // The same session counted (or from a producer that predates `counts`) adds up.
    let counted = session(ada, "focus", datetime!(2026-03-04 10:00 UTC), 25, "UTC");
    let legacy = SessionCompleted {
        counts: None,
        ..session(ada, "focus", datetime!(2026-03-04 11:00 UTC), 25, "UTC")
    };
    for e in [counted, legacy] {
        publish_raw(
            &h.amqp,
            Uuid::now_v7(),
            SessionCompleted::TYPE,
            "activity-session",
            &prost::Message::encode_to_vec(&e),
        )
        .await;
    }
    delivered(&h, "handled", 3).await;
    let s = summary(&h, ada, None).await;
    assert_eq!((s.sessions_completed, s.focus_sessions), (2, 2));
    assert_eq!(s.current_streak, 1);
    h.stop().await;
}

/// The summary reads its days before it knows the caller's zone (one round trip): on a Sunday
/// evening in UTC it is already Monday — a new week — at UTC+14, and still Sunday at UTC−11.
/// Each caller gets their own week, its previous week, and nothing outside them.
#[tokio::test]
async fn the_week_follows_the_callers_local_today_on_either_side_of_utc() {
    let now = datetime!(2026-03-08 20:00 UTC);
    let (h, p) = start(now).await;
    let (east, west) = (Uuid::now_v7(), Uuid::now_v7());
    // East (Kiritimati, UTC+14): Monday the 9th 09:00 local, and Sunday the 8th 02:00 local.
    p.publish(&session(
        east,
        "focus",
        datetime!(2026-03-08 19:00 UTC),
        25,
        "Pacific/Kiritimati",
    ))
    .await;
    p.publish(&session(
        east,
        "focus",
        datetime!(2026-03-07 12:00 UTC),
        30,
        "Pacific/Kiritimati",
    ))
    .await;
    // West (Pago Pago, UTC−11): Sunday the 8th 08:00 local, and Sunday the 1st (last week).
    p.publish(&session(
        west,
        "focus",
        datetime!(2026-03-08 19:00 UTC),
        20,
        "Pacific/Pago_Pago",
    ))
    .await;
    p.publish(&session(
        west,
        "focus",
        datetime!(2026-03-02 09:00 UTC),
        10,
        "Pacific/Pago_Pago",
    ))
    .await;
    // Two weeks back for West: outside both the week and the previous one.
    p.publish(&session(
        west,
        "focus",
        datetime!(2026-02-20 09:00 UTC),
        15,
        "Pacific/Pago_Pago",
    ))
    .await;
    delivered(&h, "handled", 5).await;

    let date = |d: &Option<stride_proto::Date>| stride_kit::convert::from_date(d.as_ref().unwrap());
    let e = summary(&h, east, None).await;
    assert_eq!(e.timezone, "Pacific/Kiritimati");
    assert_eq!(date(&e.start_date), Some(date!(2026 - 03 - 09)));
    assert_eq!(e.total_duration.as_ref().unwrap().seconds, 25 * 60);
    assert_eq!(date(&e.previous_start_date), Some(date!(2026 - 03 - 02)));
    let prev = e.previous_totals.as_ref().unwrap();
    assert_eq!(prev.active_duration.as_ref().unwrap().seconds, 30 * 60);

    let w = summary(&h, west, None).await;
    assert_eq!(w.timezone, "Pacific/Pago_Pago");
    assert_eq!(date(&w.start_date), Some(date!(2026 - 03 - 02)));
    assert_eq!(date(&w.end_date), Some(date!(2026 - 03 - 08)));
    assert_eq!(w.total_duration.as_ref().unwrap().seconds, 20 * 60);
    assert_eq!(w.days.len(), 7);
    let prev = w.previous_totals.as_ref().unwrap();
    assert_eq!(
        prev.active_duration.as_ref().unwrap().seconds,
        10 * 60,
        "the session of Feb 20 is two weeks back, in neither period"
    );
    // A streak over the two Sundays' weeks is not a run: West's current streak is today only.
    assert_eq!(w.current_streak, 1);
    h.stop().await;
}
