//! The data export every service answers (`UserDataService.ExportUserData`, service-only): each
//! service names its collections as SQL returning one JSON object per row for user `$1`, with
//! secrets left out in the query itself (`to_jsonb(t) - 'password_hash'`). PostgreSQL does the
//! serialisation, so a column added later is exported without code changes.

use sqlx::PgPool;
use stride_proto::stride::export::v1::Collection;
use uuid::Uuid;

use crate::AppResult;

/// One collection: its name in the archive and a query of `(text)` rows for user `$1`.
#[derive(Clone, Copy, Debug)]
pub struct Source {
    pub name: &'static str,
    pub sql: &'static str,
}

/// Runs every source for `user` in one read-only snapshot, so the collections agree.
pub async fn collect(pool: &PgPool, user: Uuid, sources: &[Source]) -> AppResult<Vec<Collection>> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    let mut out = Vec::with_capacity(sources.len());
    for s in sources {
        let json_rows: Vec<String> = sqlx::query_scalar(s.sql)
            .bind(user)
            .fetch_all(&mut *tx)
            .await?;
        out.push(Collection {
            name: s.name.to_owned(),
            json_rows,
        });
    }
    tx.commit().await?;
    Ok(out)
}
