//! Upgrading a deployed database: migration 1001 moves `user_timezones` into the shared
//! `user_directory`.

use sqlx::{PgPool, migrate::Migrator};
use uuid::Uuid;

#[tokio::test]
async fn migration_1001_moves_each_users_timezone_and_revision_into_the_user_directory() {
    let db = PgPool::connect(&stride_testkit::database().await)
        .await
        .expect("database");
    // A database as deployed before 1001: the bus tables and 1000_init, with replica rows.
    let deployed = Migrator::with_migrations(
        stride_activity_session::MIGRATOR
            .iter()
            .filter(|m| m.version < 1001)
            .cloned()
            .collect(),
    );
    stride_kit::db::migrate(&db, &[&stride_bus::MIGRATOR, &deployed])
        .await
        .expect("the deployed migrations");
    let (tokyo, paris) = (Uuid::now_v7(), Uuid::now_v7());
    sqlx::query(
        "INSERT INTO user_timezones (user_id, timezone, revision)
         VALUES ($1, 'Asia/Tokyo', 3), ($2, 'Europe/Paris', 1)",
    )
    .bind(tokyo)
    .bind(paris)
    .execute(&db)
    .await
    .expect("replica rows");

    stride_kit::db::migrate(&db, stride_activity_session::MIGRATIONS)
        .await
        .expect("the upgrade");
    let mut want = vec![
        (tokyo, "Asia/Tokyo".to_owned(), 3_i64),
        (paris, "Europe/Paris".to_owned(), 1),
    ];
    want.sort();
    let got: Vec<(Uuid, String, i64)> =
        sqlx::query_as("SELECT user_id, timezone, revision FROM user_directory ORDER BY user_id")
            .fetch_all(&db)
            .await
            .expect("user directory");
    assert_eq!(got, want);
    let mut conn = db.acquire().await.expect("connection");
    assert_eq!(
        stride_bus::directory::timezone(&mut conn, tokyo)
            .await
            .expect("timezone"),
        "Asia/Tokyo"
    );
    let old: Option<String> = sqlx::query_scalar("SELECT to_regclass('user_timezones')::text")
        .fetch_one(&db)
        .await
        .expect("regclass");
    assert_eq!(old, None, "user_timezones is dropped");
}
