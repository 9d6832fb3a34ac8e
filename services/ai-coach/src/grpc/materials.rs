//! `stride.ai_coach.v1.MaterialService`: study materials (seed 003, ADR 0030). An upload
//! commits the material and `material.uploaded.v1` in one transaction; the job on ai-coach's
//! work queue (events/on_material_uploaded.rs) processes it while List/Get show the progress.
//! A query searches the caller's ready chunks — cosine similarity fused with full text when
//! the question can be embedded, full text otherwise — and answers with citations: the model
//! (its citations checked against the passages it was given) or the rules quoting the passages.

use std::sync::Arc;

use async_openai::types::chat::{
    ChatCompletionRequestSystemMessage, ChatCompletionRequestUserMessage,
};
use sqlx::PgPool;
use stride_bus::Outbox;
use stride_kit::{
    AppError, AppResult, Call, Violations, clock::SharedClock, convert, pagination::Page,
};
use stride_proto::ai_coach::{self as pb, material_service_server::MaterialService};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{
    answers::{self, Provenance},
    domain::{
        doubt,
        material::{
            self, CANDIDATES, DEFAULT_CITATIONS, Hit, MAX_CITATIONS, MAX_QUERY_MATERIALS,
            ModelAnswer, Passage, Status,
        },
    },
    events::publish,
    llm::{Llm, NOT_CONFIGURED, Usage},
    prompts, quota,
    store::materials::{self as store, MaterialRow},
};

pub struct Materials {
    pub pool: PgPool,
    pub clock: SharedClock,
    pub outbox: Outbox,
    /// None: rules and full text only.
    pub llm: Option<Arc<Llm>>,
}

stride_kit::grpc_handlers! {
    impl MaterialService for Materials {
        fn upload_material(pb::UploadMaterialRequest) -> pb::UploadMaterialResponse => upload;
        fn list_materials(pb::ListMaterialsRequest) -> pb::ListMaterialsResponse => list;
        fn get_material(pb::GetMaterialRequest) -> pb::GetMaterialResponse => get;
        fn delete_material(pb::DeleteMaterialRequest) -> pb::DeleteMaterialResponse => delete;
        fn query_materials(pb::QueryMaterialsRequest) -> pb::QueryMaterialsResponse => query;
    }
}

const MATERIAL: &str = "material";
const ANSWER_KIND: &str = "material.answer";
const ANSWER_TOKENS: u32 = 1500;

async fn upload(
    s: &Materials,
    call: Call<pb::UploadMaterialRequest>,
) -> AppResult<pb::UploadMaterialResponse> {
    let caller = call.caller()?;
    let m = &call.message;
    let u =
        material::upload(&m.title, &m.filename, &m.content_type, &m.content).map_err(|bad| {
            AppError::InvalidArgument(
                bad.into_iter()
                    .map(|(f, why)| (f.to_owned(), why))
                    .collect(),
            )
        })?;
    if s.llm.is_some() {
        // Its embeddings are model calls.
        let mut conn = s.pool.acquire().await?;
        quota::charge(&mut conn, caller.user_id, &s.clock).await?;
    }
    let at = s.clock.now_db();
    let row = MaterialRow {
        id: Uuid::now_v7(),
        user_id: caller.user_id,
        title: u.title,
        filename: u.filename,
        content_type: u.kind.as_str().to_owned(),
        size_bytes: i64::try_from(m.content.len()).unwrap_or(i64::MAX),
        status: Status::Pending.as_str().to_owned(),
        error: String::new(),
        text_chars: 0,
        chunks_done: 0,
        chunks_total: 0,
        embedding_model: String::new(),
        created_at: at,
        updated_at: at,
    };
    let mut tx = s.outbox.begin().await?;
    store::insert(&mut tx, &row, &m.content).await?;
    tx.publish(&publish::material_uploaded(
        caller.user_id,
        row.id,
        &row.content_type,
        row.size_bytes,
        at,
    ))
    .await?;
    tx.commit().await?;
    Ok(pb::UploadMaterialResponse {
        material: Some(to_proto(&row)),
    })
}

async fn list(
    s: &Materials,
    call: Call<pb::ListMaterialsRequest>,
) -> AppResult<pb::ListMaterialsResponse> {
    let caller = call.caller()?;
    let m = &call.message;
    let mut v = Violations::new();
    let page: Page<(i64, Uuid)> = Page::request(&mut v, m.page_size, &m.page_token, 20);
    v.check()?;
    let after = page.after().and_then(|(nanos, id)| {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(*nanos))
            .ok()
            .map(|t| (t, *id))
    });
    let mut conn = s.pool.acquire().await?;
    let rows = store::list(&mut conn, caller.user_id, after, page.fetch_limit()).await?;
    let (rows, next_page_token) = page.finish(rows, |r| {
        (
            i64::try_from(r.created_at.unix_timestamp_nanos()).unwrap_or(i64::MAX),
            r.id,
        )
    });
    Ok(pb::ListMaterialsResponse {
        materials: rows.iter().map(to_proto).collect(),
        next_page_token,
    })
}

async fn get(
    s: &Materials,
    call: Call<pb::GetMaterialRequest>,
) -> AppResult<pb::GetMaterialResponse> {
    let caller = call.caller()?;
    let id = convert::require_id("material_id", &call.message.material_id)?;
    let mut conn = s.pool.acquire().await?;
    let row = store::get(&mut conn, caller.user_id, id)
        .await?
        .ok_or(AppError::not_found(MATERIAL))?;
    Ok(pb::GetMaterialResponse {
        material: Some(to_proto(&row)),
    })
}

async fn delete(
    s: &Materials,
    call: Call<pb::DeleteMaterialRequest>,
) -> AppResult<pb::DeleteMaterialResponse> {
    let caller = call.caller()?;
    let id = convert::require_id("material_id", &call.message.material_id)?;
    let mut conn = s.pool.acquire().await?;
    if !store::delete(&mut conn, caller.user_id, id).await? {
        return Err(AppError::not_found(MATERIAL));
    }
    Ok(pb::DeleteMaterialResponse {})
}

/// The question, the materials searched (None: all ready ones) and the citations wanted.
fn query_args(m: &pb::QueryMaterialsRequest) -> AppResult<(String, Option<Vec<Uuid>>, usize)> {
    let mut v = Violations::new();
    let question = doubt::question(&m.question).unwrap_or_else(|e| {
        v.add("question", e);
        String::new()
    });
    let mut ids = Vec::new();
    if m.material_ids.len() > MAX_QUERY_MATERIALS {
        v.add("material_ids", "must name at most 20 materials");
    } else {
        for raw in &m.material_ids {
            let id = convert::parse_id(&mut v, "material_ids", raw);
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
    }
    let k = match m.max_citations {
        0 => DEFAULT_CITATIONS,
        n => match usize::try_from(n) {
            Ok(n) if n <= MAX_CITATIONS => n,
            _ => {
                v.add("max_citations", "must be between 0 (5) and 10");
                DEFAULT_CITATIONS
            }
        },
    };
    v.check()?;
    Ok((question, (!ids.is_empty()).then_some(ids), k))
}

async fn query(
    s: &Materials,
    call: Call<pb::QueryMaterialsRequest>,
) -> AppResult<pb::QueryMaterialsResponse> {
    let caller = call.caller()?;
    let user = caller.user_id;
    let (question, scope, k) = query_args(&call.message)?;
    let mut conn = s.pool.acquire().await?;
    match &scope {
        Some(ids) => {
            let found = store::statuses(&mut conn, user, ids).await?;
            if found.len() != ids.len() {
                return Err(AppError::not_found(MATERIAL));
            }
            if let Some((id, status)) = found.iter().find(|(_, st)| st != "ready") {
                return Err(AppError::precondition(
                    "MATERIAL_NOT_READY",
                    format!(
                        "material {id} is {status}, not ready: wait for its processing or upload it again"
                    ),
                ));
            }
        }
        None => {
            if store::ready_count(&mut conn, user).await? == 0 {
                return Err(AppError::precondition(
                    "NO_READY_MATERIALS",
                    "you have no ready study material to search: upload one and wait until it is ready",
                ));
            }
        }
    }
    if s.llm.is_some() {
        quota::charge(&mut conn, user, &s.clock).await?;
    }
    let scope = scope.as_deref();
    let lexical_query = material::or_query(&question);
    let model = s
        .llm
        .as_ref()
        .map(|l| l.embedding_model().to_owned())
        .unwrap_or_default();
    let lexical = store::full_text(
        &mut conn,
        user,
        scope,
        &lexical_query,
        &model,
        CANDIDATES as i64,
    )
    .await?;
    // No connection held across the model call.
    drop(conn);
    let llm = s.llm.as_ref().map(|l| l.for_user(user));
    let question_vector = match &llm {
        None => None,
        Some(llm) => Some(llm.embed("materials.query", vec![question.clone()]).await),
    };
    let mut conn = s.pool.acquire().await?;
    let (mode, search_reason, hits): (pb::MaterialSearchMode, String, Vec<Hit>) = match &llm {
        None => (
            pb::MaterialSearchMode::FullText,
            NOT_CONFIGURED.to_owned(),
            lexical.into_iter().take(k).collect(),
        ),
        Some(llm) => match question_vector.unwrap_or_else(|| Ok(Vec::new())) {
            Err(e) => (
                pb::MaterialSearchMode::FullText,
                format!("the question could not be embedded: {}", e.reason),
                lexical.into_iter().take(k).collect(),
            ),
            Ok(v) => match v.first().and_then(|v| material::normalize(v)) {
                None => (
                    pb::MaterialSearchMode::FullText,
                    "the question's embedding was unusable".to_owned(),
                    lexical.into_iter().take(k).collect(),
                ),
                Some(q) => {
                    let model = llm.embedding_model();
                    let vector =
                        store::nearest(&mut conn, user, scope, model, &q, CANDIDATES as i64)
                            .await?;
                    if vector.is_empty() {
                        (
                            pb::MaterialSearchMode::FullText,
                            format!("no searched material has embeddings of {model}"),
                            lexical.into_iter().take(k).collect(),
                        )
                    } else {
                        (
                            pb::MaterialSearchMode::Vector,
                            String::new(),
                            material::fuse(&vector, &lexical, k),
                        )
                    }
                }
            },
        },
    };
    let passages = store::passages(&mut conn, user, &hits).await?;
    drop(conn);
    let (answer, cited, provenance, usage) = match &llm {
        None => (
            material::rules_answer(&passages, NOT_CONFIGURED),
            passages,
            Provenance::rules(NOT_CONFIGURED),
            Usage::default(),
        ),
        Some(_) if passages.is_empty() => {
            let why = "no passage of your materials matches the question";
            (
                material::rules_answer(&passages, why),
                passages,
                Provenance::fallback(why),
                Usage::default(),
            )
        }
        Some(llm) => match model_answer(llm, &question, &passages).await {
            (Ok((text, used, model)), usage) => (text, used, Provenance::model(model), usage),
            (Err(reason), usage) => (
                material::rules_answer(&passages, &reason),
                passages,
                Provenance::fallback(reason).with_model(llm.model()),
                usage,
            ),
        },
    };
    let mut tx = s.pool.begin().await?;
    let answer_id = answers::record_at(
        &mut tx,
        user,
        ANSWER_KIND,
        &provenance,
        usage,
        Some(s.clock.now_db()),
    )
    .await?;
    tx.commit().await?;
    Ok(pb::QueryMaterialsResponse {
        answer,
        citations: cited.iter().map(citation).collect(),
        search_mode: mode as i32,
        search_reason,
        provenance: Some(provenance.with_answer_id(answer_id).into_proto()),
    })
}

/// The model's answer over `passages`, its citations checked; Err is the fallback reason.
async fn model_answer(
    llm: &Llm,
    question: &str,
    passages: &[Passage],
) -> (Result<(String, Vec<Passage>, String), String>, Usage) {
    let messages = vec![
        ChatCompletionRequestSystemMessage::from(prompts::get("materials.answer").text).into(),
        ChatCompletionRequestUserMessage::from(material::passages_prompt(question, passages))
            .into(),
    ];
    match llm
        .structured::<ModelAnswer>(
            "materials.answer",
            messages,
            "materials_answer",
            &material::schema(),
            ANSWER_TOKENS,
        )
        .await
    {
        Ok((m, c)) => (
            material::accept(m, passages)
                .map(|(text, used)| (text, used, c.model))
                .map_err(|why| format!("the model's answer was unusable: {why}")),
            c.usage,
        ),
        Err(e) => (Err(e.reason), Usage::default()),
    }
}

fn citation(p: &Passage) -> pb::Citation {
    pb::Citation {
        material_id: p.material_id.to_string(),
        material_title: p.material_title.clone(),
        chunk_index: p.idx,
        excerpt: material::excerpt(&p.text),
        score: p.score,
    }
}

fn to_proto(r: &MaterialRow) -> pb::Material {
    let status = match r.status() {
        Status::Pending => pb::MaterialStatus::Pending,
        Status::Processing => pb::MaterialStatus::Processing,
        Status::Ready => pb::MaterialStatus::Ready,
        Status::Failed => pb::MaterialStatus::Failed,
    };
    pb::Material {
        id: r.id.to_string(),
        title: r.title.clone(),
        filename: r.filename.clone(),
        content_type: r.content_type.clone(),
        size_bytes: r.size_bytes,
        status: status as i32,
        error: r.error.clone(),
        chunks_done: r.chunks_done,
        chunks_total: r.chunks_total,
        text_chars: r.text_chars,
        embedded: !r.embedding_model.is_empty(),
        embedding_model: r.embedding_model.clone(),
        create_time: Some(convert::timestamp(r.created_at)),
        update_time: Some(convert::timestamp(r.updated_at)),
    }
}
