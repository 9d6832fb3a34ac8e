//! `material.uploaded.v1` on ai-coach's work queue (`ai-coach.materials.events`, one job at a
//! time per replica, the replicas competing for the queue): extract the text, chunk it, embed
//! the chunks in batches when a model is configured, then mark the material READY — or FAILED
//! with a clear error for an unreadable PDF or a file without text (ADR 0030).
//!
//! Progress is committed per step on connections of its own, so the owner sees it while the job
//! runs; the final status commits with the delivery's inbox row. A redelivery (a crash, a lost
//! ack) resumes: chunks already stored are kept, chunks already embedded are skipped, and a
//! material already final — or deleted meanwhile — is left alone.

use std::{sync::Arc, time::Duration};

use sqlx::PgPool;
use stride_bus::{Envelope, HandlerError, On, Tx};
use stride_kit::clock::SharedClock;
use stride_proto::events;
use uuid::Uuid;

use crate::{
    domain::{
        chunk,
        material::{self, EMBED_BATCH, Kind, MAX_CHUNKS},
    },
    llm::Llm,
    store::materials as store,
};

/// The longest a PDF's text extraction may take.
const EXTRACT_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Clone)]
pub struct MaterialJobs {
    pub pool: PgPool,
    pub clock: SharedClock,
    /// None: no embeddings (the chunks are searched by full text).
    pub llm: Option<Arc<Llm>>,
}

impl On<events::MaterialUploaded> for MaterialJobs {
    async fn on(
        &self,
        tx: &mut Tx,
        e: events::MaterialUploaded,
        _: &Envelope,
    ) -> Result<(), HandlerError> {
        let id = Uuid::parse_str(&e.material_id).map_err(|_| {
            HandlerError::Permanent(anyhow::anyhow!("bad material_id {:?}", e.material_id))
        })?;
        let user = Uuid::parse_str(&e.user_id).unwrap_or_default();
        let mut conn = self.pool.acquire().await?;
        let Some(m) = store::for_job(&mut conn, id).await? else {
            tracing::info!(material = %id, "material deleted before its job ran");
            return Ok(());
        };
        if m.status().is_final() {
            return Ok(());
        }
        store::start(&mut conn, id, self.clock.now_db()).await?;
        if m.chunks_total == 0 {
            let Some(bytes) = store::content(&mut conn, id).await? else {
                return Ok(());
            };
            let kind = Kind::from_content_type(&m.content_type).unwrap_or(Kind::Text);
            let text = match extract(kind, bytes).await {
                Ok(t) => t,
                Err(why) => return self.failed(tx, id, &why).await,
            };
            let chunks = chunk::split(&text, chunk::DEFAULT_SIZE, chunk::DEFAULT_OVERLAP);
            if chunks.is_empty() {
                let why = match kind {
                    Kind::Pdf => {
                        "the PDF has no extractable text (a scanned image needs OCR first)"
                    }
                    _ => "the file has no text",
                };
                return self.failed(tx, id, why).await;
            }
            if chunks.len() > MAX_CHUNKS {
                let why = format!(
                    "the text is too long: {} chunks of about {} characters; at most {MAX_CHUNKS}",
                    chunks.len(),
                    chunk::DEFAULT_SIZE
                );
                return self.failed(tx, id, &why).await;
            }
            let chars = i64::try_from(text.chars().count()).unwrap_or(i64::MAX);
            let mut t = self.pool.begin().await?;
            store::store_chunks(
                &mut t,
                id,
                &chunks,
                chars,
                self.llm.is_none(),
                self.clock.now_db(),
            )
            .await?;
            t.commit().await?;
        }
        let (model, note) = match &self.llm {
            None => (String::new(), String::new()),
            Some(llm) => self.embed(&llm.for_user(user), id).await?,
        };
        store::finish(tx, id, &model, &note, self.clock.now_db()).await?;
        tracing::info!(material = %id, embedded = !model.is_empty(), "material ready");
        Ok(())
    }
}

impl MaterialJobs {
    async fn failed(&self, tx: &mut Tx, id: Uuid, why: &str) -> Result<(), HandlerError> {
        tracing::info!(material = %id, reason = why, "material failed");
        store::fail(tx, id, why, self.clock.now_db()).await?;
        Ok(())
    }

    /// Embeds the chunks not embedded yet, a batch at a time, committing each batch with the
    /// progress. Returns (the model when any chunk carries its embedding, a note when not all
    /// do). A model failure is not the job's failure: the material is searched by full text.
    async fn embed(&self, llm: &Llm, id: Uuid) -> Result<(String, String), HandlerError> {
        let model = llm.embedding_model().to_owned();
        let mut note = String::new();
        loop {
            let mut conn = self.pool.acquire().await?;
            let batch = store::unembedded(&mut conn, id, &model, EMBED_BATCH as i64).await?;
            drop(conn);
            if batch.is_empty() {
                break;
            }
            let texts = batch.iter().map(|(_, t)| t.clone()).collect();
            let vectors = match llm.embed("materials.embed", texts).await {
                Ok(v) => v,
                Err(e) => {
                    note = format!(
                        "the embeddings failed ({}); the material is searched by full text",
                        e.reason
                    );
                    break;
                }
            };
            let mut embedded = Vec::with_capacity(batch.len());
            for ((idx, _), v) in batch.iter().zip(vectors) {
                match material::normalize(&v) {
                    Some(v) => embedded.push((*idx, v)),
                    None => {
                        note = "the model returned an unusable embedding; the material is \
                                searched by full text"
                            .into();
                    }
                }
            }
            if !note.is_empty() {
                break;
            }
            let mut t = self.pool.begin().await?;
            store::store_embeddings(&mut t, id, &model, &embedded, self.clock.now_db()).await?;
            t.commit().await?;
        }
        let mut conn = self.pool.acquire().await?;
        let some_embedded = store::for_job(&mut conn, id)
            .await?
            .is_some_and(|m| m.chunks_done > 0);
        Ok((if some_embedded { model } else { String::new() }, note))
    }
}

/// The material's text; Err is the caller-facing reason it has none.
async fn extract(kind: Kind, bytes: Vec<u8>) -> Result<String, String> {
    match kind {
        Kind::Text | Kind::Markdown => material::text_of(&bytes),
        Kind::Pdf => {
            // CPU-bound and able to panic on a hostile file: on the blocking pool, bounded.
            let job =
                tokio::task::spawn_blocking(move || pdf_extract::extract_text_from_mem(&bytes));
            match tokio::time::timeout(EXTRACT_TIMEOUT, job).await {
                Err(_) => Err(format!(
                    "the PDF could not be read within {}s",
                    EXTRACT_TIMEOUT.as_secs()
                )),
                Ok(Err(_panicked)) => Err("the PDF could not be read (it is malformed)".into()),
                Ok(Ok(Err(e))) => {
                    tracing::info!(error = %e, "PDF extraction failed");
                    Err("the PDF could not be read (it is damaged or not a PDF)".into())
                }
                Ok(Ok(Ok(text))) => Ok(text),
            }
        }
    }
}
