//! `user.merged.v1` adds the guest's daily figures to the target account's (streaks follow from
//! the combined days), keeps the target's timezone and leaves no row of the guest.

use stride_bus::Event as _;
use stride_kit::{clock::Clock as _, convert};
use stride_proto::events::{ChallengeCompleted, UserMerged};
use stride_testkit::bus::{Publisher, consumed_count, publish_raw};
use time::{
    Date, OffsetDateTime,
    macros::{date, datetime},
};
use uuid::Uuid;

use crate::support::{Harness, per_day, profile, session, user_rows};

/// `user.merged.v1` as auth publishes it.
fn merged(source: &str, target: &str, at: OffsetDateTime) -> UserMerged {
    UserMerged {
        source_user_id: source.into(),
        target_user_id: target.into(),
        occur_time: Some(convert::timestamp(at)),
        timezone: "Europe/Paris".into(),
        local_date: Some(convert::date(convert::local_date(at, "Europe/Paris"))),
    }
}

fn award(user: Uuid, day: Date, points: i32) -> ChallengeCompleted {
    ChallengeCompleted {
        user_id: user.to_string(),
        challenge_id: Uuid::now_v7().to_string(),
        title: "Focus week".into(),
        points_awarded: points,
        window_start: None,
        occur_time: None,
        local_date: Some(convert::date(day)),
        timezone: "UTC".into(),
    }
}

/// `(local_date, sessions, focus, seconds, points)` of every rollup of `user`.
async fn rollups(h: &Harness, user: Uuid) -> Vec<(Date, i32, i32, i64, i32)> {
    sqlx::query_as(
        "SELECT local_date, sessions_completed, focus_sessions, total_seconds, points
         FROM daily_rollups WHERE user_id = $1 ORDER BY local_date",
    )
    .bind(user)
    .fetch_all(&h.db)
    .await
    .expect("rollups")
}

async fn timezone(h: &Harness, user: Uuid) -> Option<(String, i64)> {
    sqlx::query_as("SELECT timezone, revision FROM user_timezones WHERE user_id = $1")
        .bind(user)
        .fetch_optional(&h.db)
        .await
        .expect("timezone")
}

fn gone(rows: &[(String, i64)]) -> bool {
    rows.iter().all(|(_, n)| *n == 0)
}

#[tokio::test]
async fn user_merged_adds_up_the_days_and_recomputes_the_streaks() {
    // Friday 6 March; the guest was active on Tuesday and Wednesday, the target on Wednesday
    // and Thursday: three days in a row only together.
    let mut h = Harness::start(datetime!(2026-03-06 12:00 UTC)).await;
    let (source, target, bystander) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    h.publish(&profile(source, "Asia/Tokyo", 1)).await;
    h.publish(&profile(target, "Europe/Paris", 1)).await;
    h.publish(&profile(bystander, "Europe/Paris", 1)).await;
    let at = |d: Date| d.with_hms(9, 0, 0).expect("time").assume_utc();
    for (u, day, kind, minutes, tz) in [
        (source, date!(2026 - 03 - 03), "focus", 25, "Asia/Tokyo"),
        (source, date!(2026 - 03 - 04), "break", 5, "Asia/Tokyo"),
        (target, date!(2026 - 03 - 04), "focus", 25, "Europe/Paris"),
        (target, date!(2026 - 03 - 05), "focus", 25, "Europe/Paris"),
        (
            bystander,
            date!(2026 - 03 - 05),
            "focus",
            25,
            "Europe/Paris",
        ),
    ] {
        h.publish(&session(u, kind, at(day), minutes, tz)).await;
    }
    h.publish(&award(source, date!(2026 - 03 - 04), 50)).await;
    h.publish(&award(target, date!(2026 - 03 - 04), 30)).await;
    h.wait_consumed("handled", 10).await;
    let s = h.summary(target, None).await;
    assert_eq!((s.current_streak, s.longest_streak), (2, 2));
    let s = h.summary(source, None).await;
    assert_eq!((s.current_streak, s.longest_streak), (0, 2));
    let bystander_rows = user_rows(&h.db, bystander).await;
    let bystander_days = rollups(&h, bystander).await;

    let auth = Publisher::start(&h.amqp, "auth").await;
    let merge = merged(&source.to_string(), &target.to_string(), h.clock.now());
    let event_id = auth.publish(&merge).await;
    h.wait_consumed("handled", 11).await;

    assert!(gone(&user_rows(&h.db, source).await), "no row of the guest");
    assert_eq!(
        rollups(&h, target).await,
        [
            (date!(2026 - 03 - 03), 1, 1, 25 * 60, 0),
            (date!(2026 - 03 - 04), 2, 1, 30 * 60, 80),
            (date!(2026 - 03 - 05), 1, 1, 25 * 60, 0),
        ]
    );
    assert_eq!(
        timezone(&h, target).await,
        Some(("Europe/Paris".to_owned(), 1)),
        "the target's zone wins"
    );
    let s = h.summary(target, None).await;
    assert_eq!(s.timezone, "Europe/Paris");
    assert_eq!((s.sessions_completed, s.focus_sessions), (4, 3));
    assert_eq!(
        s.total_duration.map(|d| convert::from_duration(&d)),
        Some(time::Duration::minutes(80))
    );
    assert_eq!(
        per_day(&s)[1..4],
        [
            (date!(2026 - 03 - 03), 1),
            (date!(2026 - 03 - 04), 2),
            (date!(2026 - 03 - 05), 1),
        ]
    );
    assert_eq!(
        (s.current_streak, s.longest_streak),
        (3, 3),
        "streaks recomputed from the combined days"
    );
    let s = h.summary(source, None).await;
    assert_eq!((s.sessions_completed, s.longest_streak), (0, 0));
    assert!(
        gone(&user_rows(&h.db, source).await),
        "reading creates nothing"
    );
    assert_eq!(user_rows(&h.db, bystander).await, bystander_rows);
    assert_eq!(rollups(&h, bystander).await, bystander_days);

    // A redelivery of the same message is absorbed; a re-publication under a new id finds no
    // guest row and adds nothing.
    let before = rollups(&h, target).await;
    publish_raw(
        &h.amqp,
        event_id,
        UserMerged::TYPE,
        "auth",
        &prost::Message::encode_to_vec(&merge),
    )
    .await;
    h.wait_consumed("duplicate", 1).await;
    auth.publish(&merge).await;
    h.wait_consumed("handled", 12).await;
    assert_eq!(rollups(&h, target).await, before);
    assert!(gone(&user_rows(&h.db, source).await));
    assert_eq!(h.summary(target, None).await.current_streak, 3);
    h.stop().await;
}

#[tokio::test]
async fn a_target_without_a_timezone_takes_the_guests_until_its_profile_arrives() {
    let h = Harness::start(datetime!(2026-03-06 12:00 UTC)).await;
    let (source, target) = (Uuid::now_v7(), Uuid::now_v7());
    h.publish(&profile(source, "Asia/Tokyo", 5)).await;
    h.wait_consumed("handled", 1).await;

    let auth = Publisher::start(&h.amqp, "auth").await;
    auth.publish(&merged(
        &source.to_string(),
        &target.to_string(),
        h.clock.now(),
    ))
    .await;
    h.wait_consumed("handled", 2).await;
    assert!(gone(&user_rows(&h.db, source).await));
    // A hint, not the guest's revision: any profile revision of the target replaces it.
    assert_eq!(
        timezone(&h, target).await,
        Some(("Asia/Tokyo".to_owned(), -1))
    );
    h.publish(&profile(target, "Europe/Paris", 1)).await;
    h.wait_consumed("handled", 3).await;
    assert_eq!(
        timezone(&h, target).await,
        Some(("Europe/Paris".to_owned(), 1))
    );
    h.stop().await;
}

#[tokio::test]
async fn user_merged_with_an_invalid_payload_is_dead_lettered() {
    let mut h = Harness::start(datetime!(2026-03-06 12:00 UTC)).await;
    let source = Uuid::now_v7();
    h.publish(&session(
        source,
        "focus",
        datetime!(2026-03-06 09:00 UTC),
        25,
        "UTC",
    ))
    .await;
    h.wait_consumed("handled", 1).await;
    let before = rollups(&h, source).await;

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
        UserMerged::TYPE,
        "auth",
        b"\xff\xff\xff",
    )
    .await;
    stride_testkit::eventually(
        stride_testkit::EVENT_DEADLINE,
        "every bad event is dead-lettered",
        || async { (consumed_count("analytics", "dead_lettered") == 4).then_some(()) },
    )
    .await;
    assert_eq!(consumed_count("analytics", "handled"), 1);
    assert_eq!(rollups(&h, source).await, before);
    assert_eq!(h.summary(source, None).await.sessions_completed, 1);
    h.stop().await;
}
