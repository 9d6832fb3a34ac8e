//! Events: the subscriptions, one typed handler per consumed event.
//!
//! - `user.deleted.v1` purges the user's rows (materials included).
//! - `user.merged.v1` moves a guest's rows to the target account.
//! - `material.uploaded.v1`, on a work queue of its own ([`material_jobs`]): processes the
//!   material ([`on_material_uploaded`]).

use stride_bus::{Envelope, HandlerError, Merged as _, On, Subject as _, Subscriptions, Tx};
use stride_proto::events;

use crate::store;

pub mod on_material_uploaded;

/// The "service" name of the materials work queue: `ai-coach.materials.events` (and its
/// `.dlq`), apart from `ai-coach.events` so a long job never holds up the user events.
pub const MATERIALS_QUEUE: &str = "ai-coach.materials";

/// The work queue's subscriptions: material.uploaded.v1 only.
pub fn material_jobs(jobs: on_material_uploaded::MaterialJobs) -> Subscriptions {
    Subscriptions::new().on::<events::MaterialUploaded, _>(jobs)
}

/// material.uploaded.v1, built in the upload's transaction.
pub mod publish {
    use stride_kit::convert;
    use stride_proto::events;
    use time::OffsetDateTime;
    use uuid::Uuid;

    pub fn material_uploaded(
        user: Uuid,
        material: Uuid,
        content_type: &str,
        size_bytes: i64,
        at: OffsetDateTime,
    ) -> events::MaterialUploaded {
        events::MaterialUploaded {
            user_id: user.to_string(),
            material_id: material.to_string(),
            content_type: content_type.to_owned(),
            size_bytes,
            upload_time: Some(convert::timestamp(at)),
            local_date: Some(convert::date(at.date())),
            timezone: "UTC".into(),
        }
    }
}

pub fn subscriptions() -> Subscriptions {
    Subscriptions::new()
        .on::<events::UserDeleted, _>(Handlers)
        .on::<events::UserMerged, _>(Handlers)
}

#[derive(Clone, Copy)]
pub struct Handlers;

impl On<events::UserDeleted> for Handlers {
    async fn on(
        &self,
        tx: &mut Tx,
        e: events::UserDeleted,
        _: &Envelope,
    ) -> Result<(), HandlerError> {
        let user = e.user()?;
        // Idempotent. A recommendation answered concurrently with the deletion may still record
        // a row afterwards (usage accounting only): accepted.
        let purged = store::purge_user(tx, user).await?
            + crate::answers::purge_user(tx, user).await?
            + store::practice::purge_user(tx, user).await?
            + crate::conversations::purge_user(tx, user).await?
            + store::quiz::purge_user(tx, user).await?
            + store::agents::purge_user(tx, user).await?
            + store::doubt::purge_user(tx, user).await?
            + store::materials::purge_user(tx, user).await?;
        tracing::info!(%user, purged, "user deleted: recommendations purged");
        Ok(())
    }
}

impl On<events::UserMerged> for Handlers {
    async fn on(
        &self,
        tx: &mut Tx,
        e: events::UserMerged,
        _: &Envelope,
    ) -> Result<(), HandlerError> {
        let m = e.merge()?;
        // The guest's answers are the target's usage now (one row per answer, no key to
        // combine). Idempotent: a replay finds no row of the source.
        let moved = store::move_user(tx, m.source, m.target).await?
            + crate::answers::move_user(tx, m.source, m.target).await?
            + store::practice::move_user(tx, m.source, m.target).await?
            + crate::conversations::move_user(tx, m.source, m.target).await?
            + store::quiz::move_user(tx, m.source, m.target).await?
            + store::agents::move_user(tx, m.source, m.target).await?
            + store::doubt::move_user(tx, m.source, m.target).await?
            + store::materials::move_user(tx, m.source, m.target).await?;
        tracing::info!(source = %m.source, target = %m.target, moved, "user merged: recommendations moved");
        Ok(())
    }
}
