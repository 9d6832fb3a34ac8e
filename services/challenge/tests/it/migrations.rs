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

#[tokio::test]
async fn typed_challenges_keep_the_counts_made_before_them() {
    let pool = PgPool::connect(&stride_testkit::database().await)
        .await
        .expect("database");
    let before = Migrator::with_migrations(
        stride_challenge::MIGRATOR
            .iter()
            .filter(|m| m.version < 3000)
            .cloned()
            .collect(),
    );
    stride_kit::db::migrate(
        &pool,
        &[
            &stride_bus::MIGRATOR,
            &stride_bus::directory::MIGRATOR,
            &before,
        ],
    )
    .await
    .expect("the schema before 3000");
    let user = Uuid::now_v7();
    let focus_three = Uuid::parse_str(crate::support::FOCUS_THREE).expect("uuid");
    sqlx::query(
        "INSERT INTO participants (challenge_id, user_id, joined_at) VALUES ($1, $2, now())",
    )
    .bind(focus_three)
    .bind(user)
    .execute(&pool)
    .await
    .expect("member");
    sqlx::query(
        "INSERT INTO progress (challenge_id, user_id, window_start, current)
         VALUES ($1, $2, '2026-11-16', 2)",
    )
    .bind(focus_three)
    .bind(user)
    .execute(&pool)
    .await
    .expect("old progress");

    stride_kit::db::migrate(&pool, stride_challenge::MIGRATIONS)
        .await
        .expect("today's schema");
    let count: i32 = sqlx::query_scalar("SELECT participant_count FROM challenges WHERE id = $1")
        .bind(focus_three)
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(count, 1);
    let standing: Vec<(String, i32)> = sqlx::query_as(
        "SELECT cause_id, amount FROM contributions WHERE user_id = $1 AND NOT reversed",
    )
    .bind(user)
    .fetch_all(&pool)
    .await
    .expect("contributions");
    assert_eq!(standing, [("legacy:2026-11-16".to_owned(), 2)]);
    let window: (time::Date, Option<time::OffsetDateTime>) = sqlx::query_as(
        "SELECT window_end, settled_at FROM challenge_periods
         WHERE challenge_id = $1 AND window_start = '2026-11-16'",
    )
    .bind(focus_three)
    .fetch_one(&pool)
    .await
    .expect("window");
    assert_eq!(window, (time::macros::date!(2026 - 11 - 22), None));
    let systems: i64 = sqlx::query_scalar("SELECT count(*) FROM challenges WHERE is_system")
        .fetch_one(&pool)
        .await
        .expect("systems");
    assert_eq!(systems, 4);
}
