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
