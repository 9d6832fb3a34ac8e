//! The user lifecycle: the shared contract (`stride_testkit::conformance`) and what analytics
//! does on a merge: the guest's daily figures add up with the target's (streaks follow from the
//! combined days), the target's zone wins, and no row of the guest remains.

use stride_kit::Clock as _;
use stride_testkit::{
    bus::{Publisher, user_rows},
    conformance, fixtures,
};
use time::{
    Date,
    macros::{date, datetime},
};
use uuid::Uuid;

use crate::support::{Harness, award, delivered, per_day, profile, session, start, summary};

/// Gives `user` a profile zone and focus goal, a session, an award, a task and streak
/// settings: a row in every table analytics keeps (the event log included).
async fn seed(h: &Harness, p: &Publisher, user: Uuid) {
    let now = h.clock.now();
    let day = date!(2026 - 03 - 03);
    let ids = [
        p.publish(&profile(user, "Europe/Paris", 1, now)).await,
        p.publish(&session(
            user,
            "focus",
            day.with_time(time::macros::time!(12:00)).assume_utc(),
            25,
            "Europe/Paris",
        ))
        .await,
        p.publish(&award(user, day, 50)).await,
        p.publish(&fixtures::task_created(
            user,
            Uuid::now_v7(),
            "Plan",
            None,
            day.with_time(time::macros::time!(08:00)).assume_utc(),
            "Europe/Paris",
        ))
        .await,
    ];
    for id in ids {
        h.consumed(id).await;
    }
    // The user's own streak settings.
    let req = stride_proto::analytics::UpdateStreakSettingsRequest {
        settings: Some(stride_proto::analytics::StreakSettings {
            grace_days: 1,
            freezes_per_month: 1,
        }),
    };
    h.client
        .clone()
        .update_streak_settings(stride_testkit::authed(req, &h.token(user)))
        .await
        .expect("settings");
    // H's tables (issue 15): trends, mastery, share cards.
    crate::views::seed(h, p, user).await;
}

#[tokio::test]
async fn user_deleted_keeps_the_contract() {
    let (h, p) = start(datetime!(2026-03-04 12:00 UTC)).await;
    let (hr, pr) = (&h, &p);
    conformance::user_deleted(&h, move |u| seed(hr, pr, u)).await;
    h.stop().await;
}

#[tokio::test]
async fn user_merged_keeps_the_contract() {
    let (h, p) = start(datetime!(2026-03-04 12:00 UTC)).await;
    let (hr, pr) = (&h, &p);
    conformance::user_merged(&h, move |u| seed(hr, pr, u)).await;
    h.stop().await;
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

/// The user's profile zone and its revision, as the directory holds them.
async fn profile_zone(h: &Harness, user: Uuid) -> Option<(String, i64)> {
    sqlx::query_as("SELECT timezone, revision FROM user_directory WHERE user_id = $1")
        .bind(user)
        .fetch_optional(&h.db)
        .await
        .expect("directory")
}

/// The zone a session hinted for the user.
async fn hinted_zone(h: &Harness, user: Uuid) -> Option<String> {
    sqlx::query_scalar("SELECT timezone FROM timezone_hints WHERE user_id = $1")
        .bind(user)
        .fetch_optional(&h.db)
        .await
        .expect("hint")
}

fn gone(rows: &[(String, i64)]) -> bool {
    rows.iter().all(|(_, n)| *n == 0)
}

#[tokio::test]
async fn user_merged_adds_up_the_days_and_recomputes_the_streaks() {
    // Friday 6 March; the guest was active on Tuesday and Wednesday, the target on Wednesday
    // and Thursday: three days in a row only together.
    let (h, p) = start(datetime!(2026-03-06 12:00 UTC)).await;
    let now = h.clock.now();
    let (source, target, bystander) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    p.publish(&profile(source, "Asia/Tokyo", 1, now)).await;
    p.publish(&profile(target, "Europe/Paris", 1, now)).await;
    p.publish(&profile(bystander, "Europe/Paris", 1, now)).await;
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
        p.publish(&session(u, kind, at(day), minutes, tz)).await;
    }
    p.publish(&award(source, date!(2026 - 03 - 04), 50)).await;
    p.publish(&award(target, date!(2026 - 03 - 04), 30)).await;
    delivered(&h, "handled", 10).await;
    let s = summary(&h, target, None).await;
    assert_eq!((s.current_streak, s.longest_streak), (2, 2));
    let s = summary(&h, source, None).await;
    assert_eq!((s.current_streak, s.longest_streak), (0, 2));
    let bystander_rows = user_rows(&h.db, bystander).await;
    let bystander_days = rollups(&h, bystander).await;

    let auth = Publisher::start(&h.amqp, "auth").await;
    let merge = fixtures::user_merged(&source.to_string(), &target.to_string(), now);
    auth.publish(&merge).await;
    delivered(&h, "handled", 11).await;

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
        profile_zone(&h, target).await,
        Some(("Europe/Paris".to_owned(), 1)),
        "the target's zone wins"
    );
    let s = summary(&h, target, None).await;
    assert_eq!(s.timezone, "Europe/Paris");
    assert_eq!((s.sessions_completed, s.focus_sessions), (4, 3));
    assert_eq!(
        s.total_duration
            .map(|d| stride_kit::convert::from_duration(&d)),
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
    let s = summary(&h, source, None).await;
    assert_eq!((s.sessions_completed, s.longest_streak), (0, 0));
    assert!(
        gone(&user_rows(&h.db, source).await),
        "reading creates nothing"
    );
    assert_eq!(user_rows(&h.db, bystander).await, bystander_rows);
    assert_eq!(rollups(&h, bystander).await, bystander_days);

    // The guest's log rows moved with the figures: a rebuild gives the same answers.
    let (days, answer) = (rollups(&h, target).await, summary(&h, target, None).await);
    let replayed = stride_analytics::rebuild::rebuild(&h.db)
        .await
        .expect("rebuild");
    assert_eq!(replayed, 7, "every logged event, the guest's included");
    assert_eq!(rollups(&h, target).await, days);
    assert_eq!(summary(&h, target, None).await, answer);
    assert!(gone(&user_rows(&h.db, source).await));

    // A re-publication under a new id finds no guest row and adds nothing (a redelivery of
    // the same id is the contract's).
    let before = rollups(&h, target).await;
    let again = auth.publish(&merge).await;
    h.consumed(again).await;
    assert_eq!(rollups(&h, target).await, before);
    assert!(gone(&user_rows(&h.db, source).await));
    assert_eq!(summary(&h, target, None).await.current_streak, 3);
    h.stop().await;
}

#[tokio::test]
async fn a_target_without_a_timezone_takes_the_guests_until_its_profile_arrives() {
    let (h, p) = start(datetime!(2026-03-06 12:00 UTC)).await;
    let now = h.clock.now();
    let (source, target) = (Uuid::now_v7(), Uuid::now_v7());
    h.consumed(p.publish(&profile(source, "Asia/Tokyo", 5, now)).await)
        .await;

    let auth = Publisher::start(&h.amqp, "auth").await;
    let merge = fixtures::user_merged(&source.to_string(), &target.to_string(), now);
    h.consumed(auth.publish(&merge).await).await;
    assert!(gone(&user_rows(&h.db, source).await));
    // A hint, not the guest's profile revision: any profile revision of the target replaces it.
    assert_eq!(profile_zone(&h, target).await, None);
    assert_eq!(hinted_zone(&h, target).await.as_deref(), Some("Asia/Tokyo"));
    assert_eq!(summary(&h, target, None).await.timezone, "Asia/Tokyo");

    h.consumed(p.publish(&profile(target, "Europe/Paris", 1, now)).await)
        .await;
    assert_eq!(
        profile_zone(&h, target).await,
        Some(("Europe/Paris".to_owned(), 1))
    );
    assert_eq!(summary(&h, target, None).await.timezone, "Europe/Paris");
    h.stop().await;
}

#[tokio::test]
async fn the_latest_sessions_zone_stands_in_until_a_profile_arrives() {
    let (h, p) = start(datetime!(2026-03-06 12:00 UTC)).await;
    let ada = Uuid::now_v7();
    // Delivered out of order: the later session's zone wins.
    for id in [
        p.publish(&session(
            ada,
            "focus",
            datetime!(2026-03-05 09:00 UTC),
            25,
            "Asia/Tokyo",
        ))
        .await,
        p.publish(&session(
            ada,
            "focus",
            datetime!(2026-03-04 09:00 UTC),
            25,
            "Asia/Kolkata",
        ))
        .await,
    ] {
        h.consumed(id).await;
    }
    assert_eq!(summary(&h, ada, None).await.timezone, "Asia/Tokyo");
    h.consumed(
        p.publish(&profile(ada, "Europe/Paris", 1, h.clock.now()))
            .await,
    )
    .await;
    // A profile zone always wins over a later session's.
    h.consumed(
        p.publish(&session(
            ada,
            "focus",
            datetime!(2026-03-06 09:00 UTC),
            25,
            "Asia/Tokyo",
        ))
        .await,
    )
    .await;
    assert_eq!(summary(&h, ada, None).await.timezone, "Europe/Paris");
    h.stop().await;
}
