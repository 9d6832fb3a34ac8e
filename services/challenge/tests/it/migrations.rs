//! Schema changes on a database deployed before them.

use sqlx::{PgPool, migrate::Migrator};
use uuid::Uuid;

#[tokio::test]
async fn the_user_directory_takes_over_the_old_replicas_rows() {
    let pool = PgPool::connect(&stride_testkit::database().await)
        .await
        .expect("database");
    // As deployed before the user directory: the bus tables and 1000_init (its `users` table).
    let before = Migrator::with_migrations(
        stride_challenge::MIGRATOR
            .iter()
            .filter(|m| m.version < 1001)
            .cloned()
            .collect(),
    );
    stride_kit::db::migrate(&pool, &[&stride_bus::MIGRATOR, &before])
        .await
        .expect("the old schema");
    let (ann, bob) = (Uuid::now_v7(), Uuid::now_v7());
    sqlx::query(
        "INSERT INTO users (user_id, display_name, timezone, revision)
         VALUES ($1, 'Ann', 'Asia/Tokyo', 3), ($2, '', 'UTC', 1)",
    )
    .bind(ann)
    .bind(bob)
    .execute(&pool)
    .await
    .expect("old replica rows");

    stride_kit::db::migrate(&pool, stride_challenge::MIGRATIONS)
        .await
        .expect("today's schema");
    let rows: Vec<(Uuid, String, String, String, i64)> = sqlx::query_as(
        "SELECT user_id, display_name, timezone, locale, revision FROM user_directory
         ORDER BY user_id",
    )
    .fetch_all(&pool)
    .await
    .expect("directory");
    assert_eq!(
        rows,
        [
            (ann, "Ann".into(), "Asia/Tokyo".into(), String::new(), 3),
            (bob, String::new(), "UTC".into(), String::new(), 1),
        ]
    );
    let old: Option<String> = sqlx::query_scalar("SELECT to_regclass('users')::text")
        .fetch_one(&pool)
        .await
        .expect("lookup");
    assert_eq!(old, None, "the old replica is dropped");
}
