//! `identities`: the ways to sign in to an account, one row per (provider, subject).

use sqlx::{PgConnection, PgExecutor};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::identity::NewIdentity;

#[derive(sqlx::FromRow)]
pub struct IdentityRow {
    pub id: Uuid,
    pub provider: String,
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub is_primary: bool,
    pub created_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
}

const COLUMNS: &str =
    "id, provider, subject, email, email_verified, is_primary, created_at, last_used_at";

/// Stores `identity` for `user`; a unique violation when another account holds it.
pub async fn insert(
    conn: &mut PgConnection,
    user: Uuid,
    identity: &NewIdentity,
    primary: bool,
    now: OffsetDateTime,
) -> sqlx::Result<Uuid> {
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO identities (id, user_id, provider, subject, email, email_verified, is_primary,
                                 created_at, last_used_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
    )
    .bind(id)
    .bind(user)
    .bind(identity.provider)
    .bind(&identity.subject)
    .bind(&identity.email)
    .bind(identity.email_verified)
    .bind(primary)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(id)
}

/// The account an identity signs in to.
pub async fn owner(
    conn: &mut PgConnection,
    provider: &str,
    subject: &str,
) -> sqlx::Result<Option<Uuid>> {
    let row: Option<(Uuid,)> =
        sqlx::query_as("SELECT user_id FROM identities WHERE provider = $1 AND subject = $2")
            .bind(provider)
            .bind(subject)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(row.map(|(u,)| u))
}

/// Records a sign-in with the identity.
pub async fn touch(
    conn: &mut PgConnection,
    user: Uuid,
    provider: &str,
    subject: &str,
    now: OffsetDateTime,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE identities SET last_used_at = $4 WHERE user_id = $1 AND provider = $2 AND subject = $3",
    )
    .bind(user)
    .bind(provider)
    .bind(subject)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// `user`'s identities, oldest first.
pub async fn list(db: impl PgExecutor<'_>, user: Uuid) -> sqlx::Result<Vec<IdentityRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM identities WHERE user_id = $1 ORDER BY created_at, id"
    )))
    .bind(user)
    .fetch_all(db)
    .await
}

/// `user`'s identities, oldest first, locked until the transaction ends.
pub async fn lock_all(conn: &mut PgConnection, user: Uuid) -> sqlx::Result<Vec<IdentityRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM identities WHERE user_id = $1 ORDER BY created_at, id FOR UPDATE"
    )))
    .bind(user)
    .fetch_all(&mut *conn)
    .await
}

pub async fn get(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<IdentityRow> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM identities WHERE id = $1"
    )))
    .bind(id)
    .fetch_one(&mut *conn)
    .await
}

/// Whether `user` has no identity yet (the next one is then its primary).
pub async fn none_yet(conn: &mut PgConnection, user: Uuid) -> sqlx::Result<bool> {
    let (none,): (bool,) =
        sqlx::query_as("SELECT NOT EXISTS (SELECT 1 FROM identities WHERE user_id = $1)")
            .bind(user)
            .fetch_one(&mut *conn)
            .await?;
    Ok(none)
}

pub async fn belongs_to(conn: &mut PgConnection, id: Uuid, user: Uuid) -> sqlx::Result<bool> {
    let (exists,): (bool,) =
        sqlx::query_as("SELECT EXISTS (SELECT 1 FROM identities WHERE id = $1 AND user_id = $2)")
            .bind(id)
            .bind(user)
            .fetch_one(&mut *conn)
            .await?;
    Ok(exists)
}

/// The provider of `user`'s primary identity.
pub async fn primary_provider(db: impl PgExecutor<'_>, user: Uuid) -> sqlx::Result<Option<String>> {
    let (primary,): (Option<String>,) = sqlx::query_as(
        "SELECT (SELECT provider FROM identities WHERE user_id = $1 AND is_primary)",
    )
    .bind(user)
    .fetch_one(db)
    .await?;
    Ok(primary)
}

pub async fn delete(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM identities WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Makes `id` its account's primary identity (the previous one must be cleared first: the
/// one-primary index is checked row by row).
pub async fn set_primary(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<()> {
    sqlx::query("UPDATE identities SET is_primary = true WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn clear_primary(conn: &mut PgConnection, user: Uuid) -> sqlx::Result<()> {
    sqlx::query("UPDATE identities SET is_primary = false WHERE user_id = $1 AND is_primary")
        .bind(user)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Moves `user`'s email identity from `previous` to `new` (verified); rows changed (0: none).
pub async fn move_email(
    conn: &mut PgConnection,
    user: Uuid,
    previous: &str,
    new: &str,
) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "UPDATE identities SET subject = $3, email = $3, email_verified = true
         WHERE user_id = $1 AND provider = 'email' AND subject = $2",
    )
    .bind(user)
    .bind(previous)
    .bind(new)
    .execute(&mut *conn)
    .await?
    .rows_affected())
}

/// Deletes every identity of `user` except the email identity for `email` (what was attached
/// before that address was proved); the providers of the removed ones, oldest first. The kept
/// one becomes the primary.
pub async fn delete_all_but_email(
    conn: &mut PgConnection,
    user: Uuid,
    email: &str,
) -> sqlx::Result<Vec<String>> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "WITH gone AS (
             DELETE FROM identities
             WHERE user_id = $1 AND NOT (provider = 'email' AND subject = $2)
             RETURNING provider, created_at, id)
         SELECT provider FROM gone ORDER BY created_at, id",
    )
    .bind(user)
    .bind(email)
    .fetch_all(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE identities SET is_primary = true
         WHERE user_id = $1 AND provider = 'email' AND subject = $2
           AND NOT EXISTS (SELECT 1 FROM identities WHERE user_id = $1 AND is_primary)",
    )
    .bind(user)
    .bind(email)
    .execute(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(|(p,)| p).collect())
}

/// Email identities for `email` that other accounts hold without having proved it: removed
/// (a proof by someone else takes the address). The accounts that lost one.
pub async fn delete_unproved_email(
    conn: &mut PgConnection,
    email: &str,
    except: Uuid,
) -> sqlx::Result<Vec<Uuid>> {
    let rows: Vec<(Uuid,)> = sqlx::query_as(
        "DELETE FROM identities
         WHERE provider = 'email' AND subject = $1 AND NOT email_verified AND user_id <> $2
         RETURNING user_id",
    )
    .bind(email)
    .bind(except)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(|(u,)| u).collect())
}
