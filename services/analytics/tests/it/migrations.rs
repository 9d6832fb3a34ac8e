//! Migration 1001 on a database that ran the old schema: `user_timezones` rows move to the
//! user directory (profile zones) and to `timezone_hints` (session zones), and the table goes.

use sqlx::{PgPool, migrate::Migrator};
use time::macros::datetime;
use uuid::Uuid;

#[tokio::test]
async fn user_timezones_move_to_the_directory_and_the_hints() {
    let url = stride_testkit::database().await;
    let pool = PgPool::connect(&url).await.expect("database");
    // The schema as deployed before: the bus tables and analytics' 1000 only.
    let deployed: Vec<_> = stride_bus::MIGRATOR
        .iter()
        .chain(stride_analytics::MIGRATOR.iter())
        .filter(|m| m.version <= 1000)
        .cloned()
        .collect();
    Migrator::with_migrations(deployed)
        .run(&pool)
        .await
        .expect("the deployed schema");
    let (paris, blank, hinted) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let seen = datetime!(2026-03-05 09:00 UTC);
    sqlx::query(
        "INSERT INTO user_timezones (user_id, timezone, revision, observed_at) VALUES
         ($1, 'Europe/Paris', 3, now()), ($2, '', 1, now()), ($3, 'Asia/Tokyo', -1, $4)",
    )
    .bind(paris)
    .bind(blank)
    .bind(hinted)
    .bind(seen)
    .execute(&pool)
    .await
    .expect("old rows");

    // The directory's migration (50) comes after 1000 here, as on every deployed database.
    stride_kit::db::migrate(&pool, stride_analytics::MIGRATIONS)
        .await
        .expect("migrations up to date");

    let directory: Vec<(Uuid, String, i64)> =
        sqlx::query_as("SELECT user_id, timezone, revision FROM user_directory ORDER BY user_id")
            .fetch_all(&pool)
            .await
            .expect("directory");
    assert_eq!(
        directory,
        [
            (paris, "Europe/Paris".to_owned(), 3),
            (blank, "UTC".to_owned(), 1)
        ]
    );
    let hints: Vec<(Uuid, String, time::OffsetDateTime)> =
        sqlx::query_as("SELECT user_id, timezone, observed_at FROM timezone_hints")
            .fetch_all(&pool)
            .await
            .expect("hints");
    assert_eq!(hints, [(hinted, "Asia/Tokyo".to_owned(), seen)]);
    let old: Option<String> = sqlx::query_scalar("SELECT to_regclass('user_timezones')::text")
        .fetch_one(&pool)
        .await
        .expect("lookup");
    assert_eq!(old, None, "user_timezones is dropped");
}

/// Figures counted before the event log existed survive a rebuild: migration 4002 keeps them as
/// the baseline the rebuild starts from.
#[tokio::test]
async fn a_rebuild_keeps_the_figures_counted_before_the_log() {
    let url = stride_testkit::database().await;
    let pool = PgPool::connect(&url).await.expect("database");
    let mut deployed: Vec<_> = stride_bus::MIGRATOR
        .iter()
        .chain(stride_bus::directory::MIGRATOR.iter())
        .chain(
            stride_analytics::MIGRATOR
                .iter()
                .filter(|m| m.version < 4000),
        )
        .cloned()
        .collect();
    deployed.sort_by_key(|m| m.version);
    Migrator::with_migrations(deployed)
        .run(&pool)
        .await
        .expect("the schema before issue 15");
    let ada = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO daily_rollups (user_id, local_date, sessions_completed, focus_sessions, total_seconds, points)
         VALUES ($1, '2026-03-02', 2, 1, 1800, 50), ($1, '2026-03-03', 1, 0, 600, 0)",
    )
    .bind(ada)
    .execute(&pool)
    .await
    .expect("old figures");
    sqlx::query("INSERT INTO active_runs (user_id, first_date, last_date) VALUES ($1, '2026-03-02', '2026-03-03')")
        .bind(ada)
        .execute(&pool)
        .await
        .expect("old runs");
    stride_kit::db::migrate(&pool, stride_analytics::MIGRATIONS)
        .await
        .expect("migrations up to date");
    let figures = |pool: PgPool| async move {
        let days: Vec<(time::Date, i32, i32, i64, i32)> = sqlx::query_as(
            "SELECT local_date, sessions_completed, focus_sessions, total_seconds, points
             FROM daily_rollups WHERE user_id = $1 ORDER BY local_date",
        )
        .bind(ada)
        .fetch_all(&pool)
        .await
        .expect("days");
        let runs: Vec<(String, time::Date, time::Date)> = sqlx::query_as(
            "SELECT kind, first_date, last_date FROM active_runs WHERE user_id = $1 ORDER BY kind",
        )
        .bind(ada)
        .fetch_all(&pool)
        .await
        .expect("runs");
        (days, runs)
    };
    let before = figures(pool.clone()).await;
    assert_eq!(before.0.len(), 2);
    assert_eq!(
        stride_analytics::rebuild::rebuild(&pool)
            .await
            .expect("rebuild"),
        0
    );
    let after = figures(pool.clone()).await;
    assert_eq!(after.0, before.0);
    assert_eq!(
        after.1,
        [
            (
                "activity".to_owned(),
                time::macros::date!(2026 - 03 - 02),
                time::macros::date!(2026 - 03 - 03)
            ),
            (
                "focus".to_owned(),
                time::macros::date!(2026 - 03 - 02),
                time::macros::date!(2026 - 03 - 02)
            ),
        ]
    );
}
