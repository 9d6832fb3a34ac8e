//! MaterialService: uploads processed by the job on ai-coach's work queue (text, Markdown and
//! PDF; a broken PDF FAILED with its reason), progress visible, embeddings through the OpenAI
//! stand-in's /v1/embeddings with the production client, queries answered with citations by the
//! model (checked) or by rules over PostgreSQL full text, another user's materials NOT_FOUND,
//! bad input named, deletion, export and purge.

use serde_json::json;
use stride_kit::Clock as _;
use stride_proto::ai_coach::{
    AnswerPath, DeleteMaterialRequest, ExportUserDataRequest, GetMaterialRequest,
    ListMaterialsRequest, Material, MaterialSearchMode, MaterialStatus, QueryMaterialsRequest,
    QueryMaterialsResponse, UploadMaterialRequest, material_service_client::MaterialServiceClient,
    user_data_service_client::UserDataServiceClient,
};
use stride_testkit::{
    EVENT_DEADLINE, authed,
    bus::{Publisher, assert_invalid},
    eventually, fixtures,
    openai::{EMBEDDINGS, Reply},
};
use time::macros::datetime;
use tonic::{Code, transport::Channel};
use uuid::Uuid;

use crate::support::{Harness, MODEL, stand_in, start};

type Client = MaterialServiceClient<Channel>;

fn client(h: &Harness) -> Client {
    MaterialServiceClient::new(h.channel.clone())
}

/// Three paragraphs on different subjects, long enough for several chunks.
fn biology_notes() -> String {
    let cell = "Mitochondria are the organelles that release energy for the cell by respiration. \
                They turn glucose and oxygen into ATP, the cell's energy currency. "
        .repeat(6);
    let plants = "Photosynthesis happens in chloroplasts: plants capture light and make sugar \
                  from carbon dioxide and water, giving off oxygen. "
        .repeat(6);
    let history = "The printing press of Gutenberg spread books across Europe in the fifteenth \
                   century and changed how people learned. "
        .repeat(6);
    format!("# Biology notes\n\n{cell}\n\n{plants}\n\n{history}\n")
}

pub async fn upload(
    c: &mut Client,
    token: &str,
    title: &str,
    content_type: &str,
    content: Vec<u8>,
) -> Material {
    c.upload_material(authed(
        UploadMaterialRequest {
            title: title.into(),
            filename: format!("{}.bin", title.to_lowercase().replace(' ', "-")),
            content_type: content_type.into(),
            content,
        },
        token,
    ))
    .await
    .unwrap()
    .into_inner()
    .material
    .unwrap()
}

async fn get(c: &Client, token: &str, id: &str) -> Result<Material, tonic::Status> {
    c.clone()
        .get_material(authed(
            GetMaterialRequest {
                material_id: id.into(),
            },
            token,
        ))
        .await
        .map(|r| r.into_inner().material.unwrap())
}

/// Waits until the material's job has finished (READY or FAILED).
pub async fn processed(c: &Client, token: &str, id: &str) -> Material {
    eventually(EVENT_DEADLINE, "the material is processed", || async move {
        let m = get(c, token, id).await.ok()?;
        (m.status() == MaterialStatus::Ready || m.status() == MaterialStatus::Failed).then_some(m)
    })
    .await
}

async fn ask(
    c: &mut Client,
    token: &str,
    question: &str,
    ids: &[&str],
) -> Result<QueryMaterialsResponse, tonic::Status> {
    c.query_materials(authed(
        QueryMaterialsRequest {
            question: question.into(),
            material_ids: ids.iter().map(|s| (*s).to_owned()).collect(),
            max_citations: 0,
        },
        token,
    ))
    .await
    .map(tonic::Response::into_inner)
}

/// A one-page PDF showing `lines` in Helvetica, written by hand (objects, xref, trailer).
fn pdf(lines: &[&str]) -> Vec<u8> {
    let mut content = String::from("BT /F1 12 Tf 72 720 Td 16 TL\n");
    for l in lines {
        let l = l
            .replace('\\', "\\\\")
            .replace('(', "\\(")
            .replace(')', "\\)");
        content.push_str(&format!("({l}) Tj T*\n"));
    }
    content.push_str("ET");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] \
         /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>"
            .to_owned(),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
            .to_owned(),
        format!(
            "<< /Length {} >>\nstream\n{content}\nendstream",
            content.len()
        ),
    ];
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for off in offsets {
        out.extend(format!("{off:010} 00000 n \n").as_bytes());
    }
    out.extend(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

async fn chunk_count(h: &Harness, material: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM material_chunks WHERE material_id = $1::uuid")
        .bind(material)
        .fetch_one(&h.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_text_upload_becomes_ready_and_is_answered_by_rules_over_full_text() {
    let (h, mesh) = start(datetime!(2026-11-20 09:00 UTC), None).await;
    let mut c = client(&h);
    let token = h.token(Uuid::now_v7());

    let m = upload(
        &mut c,
        &token,
        "Biology",
        "text/markdown",
        biology_notes().into_bytes(),
    )
    .await;
    assert_eq!(m.status(), MaterialStatus::Pending);
    assert_eq!((m.chunks_done, m.chunks_total), (0, 0));
    assert_eq!(m.content_type, "text/markdown");
    let ready = processed(&c, &token, &m.id).await;
    assert_eq!(ready.status(), MaterialStatus::Ready, "{ready:?}");
    assert!(ready.chunks_total > 1, "{ready:?}");
    assert_eq!(ready.chunks_done, ready.chunks_total);
    assert!(!ready.embedded && ready.error.is_empty(), "{ready:?}");
    assert!(ready.text_chars > 1000);
    assert_eq!(chunk_count(&h, &m.id).await, i64::from(ready.chunks_total));

    let listed = c
        .list_materials(authed(ListMaterialsRequest::default(), &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.materials.len(), 1);
    assert_eq!(listed.materials[0].chunks_done, ready.chunks_total);

    let r = ask(&mut c, &token, "What do mitochondria do for the cell?", &[])
        .await
        .unwrap();
    assert_eq!(r.search_mode(), MaterialSearchMode::FullText);
    assert_eq!(r.search_reason, "no model is configured");
    let p = r.provenance.clone().unwrap();
    assert_eq!(p.path(), AnswerPath::Rules);
    assert_eq!(p.reason, "no model is configured");
    assert!(!p.answer_id.is_empty());
    assert!(!r.citations.is_empty());
    let best = &r.citations[0];
    assert_eq!(best.material_id, m.id);
    assert_eq!(best.material_title, "Biology");
    assert!(best.excerpt.contains("Mitochondria"), "{best:?}");
    assert!(best.score > 0.0 && best.score <= 1.0, "{best:?}");
    assert!(r.answer.contains("no model is configured"), "{}", r.answer);
    assert!(r.answer.contains("[1] Biology, part"), "{}", r.answer);

    // Nothing matches: said plainly, no citation.
    let none = ask(&mut c, &token, "quaternions rotation", &[])
        .await
        .unwrap();
    assert!(none.citations.is_empty());
    assert!(
        none.answer.contains("Nothing in your materials matches"),
        "{}",
        none.answer
    );

    // Only the named material is searched (and it must be ready and the caller's).
    let r = ask(&mut c, &token, "printing press", &[&m.id])
        .await
        .unwrap();
    assert!(r.citations[0].excerpt.contains("Gutenberg"), "{r:?}");
    h.stop().await;
    mesh.stop().await;
}

#[tokio::test]
async fn a_pdf_is_extracted_and_a_broken_one_fails_with_its_reason() {
    let (h, mesh) = start(datetime!(2026-11-20 09:00 UTC), None).await;
    let mut c = client(&h);
    let token = h.token(Uuid::now_v7());

    let doc = pdf(&[
        "Chapter 3: Photosynthesis",
        "Chlorophyll absorbs light in the chloroplasts of leaves.",
        "The Calvin cycle fixes carbon dioxide into sugar.",
    ]);
    let m = upload(&mut c, &token, "Plants", "application/pdf", doc).await;
    let ready = processed(&c, &token, &m.id).await;
    assert_eq!(ready.status(), MaterialStatus::Ready, "{ready:?}");
    assert!(ready.text_chars > 50, "{ready:?}");
    let r = ask(&mut c, &token, "What does chlorophyll absorb?", &[])
        .await
        .unwrap();
    let best = &r.citations[0];
    assert_eq!(best.material_id, m.id);
    assert!(
        best.excerpt.contains("Chlorophyll absorbs light"),
        "{best:?}"
    );
    assert!(best.excerpt.contains("Calvin cycle"), "{best:?}");

    // A PDF header and then garbage: the job fails it with a clear reason, no chunk kept.
    let mut broken = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R".to_vec();
    broken.extend(std::iter::repeat_n(0x9c_u8, 300));
    let b = upload(&mut c, &token, "Broken", "application/pdf", broken).await;
    let failed = processed(&c, &token, &b.id).await;
    assert_eq!(failed.status(), MaterialStatus::Failed, "{failed:?}");
    assert!(failed.error.contains("PDF"), "{failed:?}");
    assert_eq!((failed.chunks_done, failed.chunks_total), (0, 0));
    assert_eq!(chunk_count(&h, &b.id).await, 0);
    // A failed material cannot be searched.
    let e = ask(&mut c, &token, "anything", &[&b.id]).await.unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition, "{e:?}");

    // A text file with only whitespace: FAILED, no text.
    let blank = upload(&mut c, &token, "Blank", "text/plain", b" \n\t\n ".to_vec()).await;
    let failed = processed(&c, &token, &blank.id).await;
    assert_eq!(failed.status(), MaterialStatus::Failed);
    assert_eq!(failed.error, "the file has no text");
    h.stop().await;
    mesh.stop().await;
}

#[tokio::test]
async fn with_a_model_chunks_are_embedded_and_the_answer_cites_the_chunks_it_used() {
    let (ai, cfg) = stand_in().await;
    let (h, mesh) = start(datetime!(2026-11-20 09:00 UTC), Some(cfg)).await;
    let mut c = client(&h);
    let token = h.token(Uuid::now_v7());

    let m = upload(
        &mut c,
        &token,
        "Biology",
        "text/markdown",
        biology_notes().into_bytes(),
    )
    .await;
    let ready = processed(&c, &token, &m.id).await;
    assert_eq!(ready.status(), MaterialStatus::Ready, "{ready:?}");
    assert!(ready.embedded, "{ready:?}");
    assert_eq!(
        ready.embedding_model,
        stride_ai_coach::DEFAULT_EMBEDDING_MODEL
    );
    assert_eq!(ready.chunks_done, ready.chunks_total);
    // The production client asked /v1/embeddings for every chunk, with the embedding model.
    let asked = ai.requests(EMBEDDINGS);
    let inputs: usize = asked
        .iter()
        .map(|b| b["input"].as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(inputs, usize::try_from(ready.chunks_total).unwrap());
    assert_eq!(asked[0]["model"], stride_ai_coach::DEFAULT_EMBEDDING_MODEL);
    let embedded: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM material_chunks WHERE material_id = $1::uuid
           AND cardinality(embedding) = 256",
    )
    .bind(&m.id)
    .fetch_one(&h.db)
    .await
    .unwrap();
    assert_eq!(embedded, i64::from(ready.chunks_total));

    // The model answers citing passage 1 and a passage it was never given (dropped).
    ai.script(
        "materials.answer",
        Reply::Json(
            json!({"answer": "Photosynthesis makes sugar from light [1].", "citations": [1, 9]}),
        ),
    );
    let r = ask(&mut c, &token, "How do plants make sugar from light?", &[])
        .await
        .unwrap();
    assert_eq!(r.search_mode(), MaterialSearchMode::Vector, "{r:?}");
    assert!(r.search_reason.is_empty());
    let p = r.provenance.clone().unwrap();
    assert_eq!((p.path(), p.model.as_str()), (AnswerPath::Model, MODEL));
    assert_eq!(r.answer, "Photosynthesis makes sugar from light [1].");
    assert_eq!(r.citations.len(), 1, "{r:?}");
    assert!(r.citations[0].excerpt.contains("Photosynthesis"), "{r:?}");
    assert_eq!(r.citations[0].material_id, m.id);
    // The question was embedded too, and the model was given numbered passages.
    let prompt = ai.requests("materials.answer")[0]["messages"][1]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        prompt.starts_with("Question: How do plants make sugar"),
        "{prompt}"
    );
    assert!(prompt.contains("[1] (Biology, part"), "{prompt}");

    // A model citing nothing it was given is not trusted: the rules quote the passages.
    ai.script(
        "materials.answer",
        Reply::Json(json!({"answer": "Trust me.", "citations": [42]})),
    );
    let r = ask(&mut c, &token, "What do mitochondria release?", &[])
        .await
        .unwrap();
    let p = r.provenance.clone().unwrap();
    assert_eq!(p.path(), AnswerPath::RulesFallback);
    assert!(p.reason.contains("cites none of the passages"), "{p:?}");
    assert!(r.citations[0].excerpt.contains("Mitochondria"), "{r:?}");
    h.stop().await;
    mesh.stop().await;
}

#[tokio::test]
async fn failed_embeddings_leave_the_material_searchable_by_full_text() {
    let (ai, cfg) = stand_in().await;
    let (h, mesh) = start(datetime!(2026-11-20 09:00 UTC), Some(cfg)).await;
    let mut c = client(&h);
    let token = h.token(Uuid::now_v7());
    // 400 is not retried: the first batch fails at once.
    ai.script(EMBEDDINGS, Reply::Status(400));
    let m = upload(
        &mut c,
        &token,
        "Biology",
        "text/markdown",
        biology_notes().into_bytes(),
    )
    .await;
    let ready = processed(&c, &token, &m.id).await;
    assert_eq!(ready.status(), MaterialStatus::Ready, "{ready:?}");
    assert!(!ready.embedded, "{ready:?}");
    assert_eq!(ready.chunks_done, 0);
    assert!(ready.error.contains("embeddings failed"), "{ready:?}");

    ai.script(
        "materials.answer",
        Reply::Json(json!({"answer": "Gutenberg's press did [1].", "citations": [1]})),
    );
    let r = ask(&mut c, &token, "Who spread books across Europe?", &[])
        .await
        .unwrap();
    assert_eq!(r.search_mode(), MaterialSearchMode::FullText);
    assert!(
        r.search_reason
            .contains("no searched material has embeddings"),
        "{r:?}"
    );
    assert!(r.citations[0].excerpt.contains("Gutenberg"), "{r:?}");
    assert_eq!(r.provenance.unwrap().path(), AnswerPath::Model);
    h.stop().await;
    mesh.stop().await;
}

#[tokio::test]
async fn another_users_materials_are_not_found_and_never_cited() {
    let (h, mesh) = start(datetime!(2026-11-20 09:00 UTC), None).await;
    let mut c = client(&h);
    let (ann, bob) = (h.token(Uuid::now_v7()), h.token(Uuid::now_v7()));
    let m = upload(
        &mut c,
        &ann,
        "Biology",
        "text/plain",
        biology_notes().into_bytes(),
    )
    .await;
    processed(&c, &ann, &m.id).await;

    assert_eq!(
        get(&c, &bob, &m.id).await.unwrap_err().code(),
        Code::NotFound
    );
    let e = c
        .delete_material(authed(
            DeleteMaterialRequest {
                material_id: m.id.clone(),
            },
            &bob,
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    let e = ask(&mut c, &bob, "mitochondria", &[&m.id])
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound, "{e:?}");
    // Bob has nothing to search; Ann's chunks are never his.
    let e = ask(&mut c, &bob, "mitochondria", &[]).await.unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition, "{e:?}");
    let bobs = upload(
        &mut c,
        &bob,
        "Cooking",
        "text/plain",
        b"Banana bread needs ripe bananas.".to_vec(),
    )
    .await;
    processed(&c, &bob, &bobs.id).await;
    let r = ask(&mut c, &bob, "mitochondria energy bananas", &[])
        .await
        .unwrap();
    assert!(
        r.citations.iter().all(|x| x.material_id == bobs.id),
        "{r:?}"
    );
    let listed = c
        .list_materials(authed(ListMaterialsRequest::default(), &bob))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.materials.len(), 1);
    // Ann's is still there.
    assert_eq!(
        get(&c, &ann, &m.id).await.unwrap().status(),
        MaterialStatus::Ready
    );
    h.stop().await;
    mesh.stop().await;
}

#[tokio::test]
async fn bad_input_is_named_and_no_token_is_refused() {
    let (h, mesh) = start(datetime!(2026-11-20 09:00 UTC), None).await;
    let mut c = client(&h);
    let token = h.token(Uuid::now_v7());
    let up =
        |title: &str, filename: &str, content_type: &str, content: Vec<u8>| UploadMaterialRequest {
            title: title.into(),
            filename: filename.into(),
            content_type: content_type.into(),
            content,
        };
    let e = c
        .upload_material(authed(
            up(
                "Big",
                "big.txt",
                "text/plain",
                vec![b'a'; 2 * 1024 * 1024 + 1],
            ),
            &token,
        ))
        .await
        .unwrap_err();
    assert_invalid(&e, &["content"]);
    assert!(
        e.message().contains("at most 2097152 bytes (2 MiB)"),
        "{e:?}"
    );
    let e = c
        .upload_material(authed(
            up("Pic", "a.png", "image/png", b"x".to_vec()),
            &token,
        ))
        .await
        .unwrap_err();
    assert_invalid(&e, &["content_type"]);
    let e = c
        .upload_material(authed(up("", "a/b", "text/plain", Vec::new()), &token))
        .await
        .unwrap_err();
    assert_invalid(&e, &["title", "filename", "content"]);
    let e = c
        .upload_material(authed(
            up("Fake", "a.pdf", "application/pdf", b"hello".to_vec()),
            &token,
        ))
        .await
        .unwrap_err();
    assert_invalid(&e, &["content"]);

    let e = get(&c, &token, "nope").await.unwrap_err();
    assert_invalid(&e, &["material_id"]);
    let e = c
        .query_materials(authed(
            QueryMaterialsRequest {
                question: " ".into(),
                material_ids: vec!["x".into()],
                max_citations: 11,
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_invalid(&e, &["question", "material_ids", "max_citations"]);
    let e = c
        .query_materials(authed(
            QueryMaterialsRequest {
                question: "q".into(),
                material_ids: (0..21).map(|_| Uuid::now_v7().to_string()).collect(),
                max_citations: 0,
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_invalid(&e, &["material_ids"]);
    let e = c
        .list_materials(ListMaterialsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated);
    h.stop().await;
    mesh.stop().await;
}

#[tokio::test]
async fn delete_export_and_purge_cover_materials_and_their_chunks() {
    let (h, mesh) = start(datetime!(2026-11-20 09:00 UTC), None).await;
    let mut c = client(&h);
    let user = Uuid::now_v7();
    let token = h.token(user);
    let gone = upload(
        &mut c,
        &token,
        "Old notes",
        "text/plain",
        biology_notes().into_bytes(),
    )
    .await;
    processed(&c, &token, &gone.id).await;
    assert!(chunk_count(&h, &gone.id).await > 0);
    c.delete_material(authed(
        DeleteMaterialRequest {
            material_id: gone.id.clone(),
        },
        &token,
    ))
    .await
    .unwrap();
    assert_eq!(
        get(&c, &token, &gone.id).await.unwrap_err().code(),
        Code::NotFound
    );
    assert_eq!(chunk_count(&h, &gone.id).await, 0);

    let kept = upload(
        &mut c,
        &token,
        "Notes",
        "text/plain",
        biology_notes().into_bytes(),
    )
    .await;
    let kept = processed(&c, &token, &kept.id).await;
    let export = UserDataServiceClient::new(h.channel.clone())
        .export_user_data(authed(ExportUserDataRequest {}, &token))
        .await
        .unwrap()
        .into_inner();
    let rows = |name: &str| -> Vec<serde_json::Value> {
        export
            .collections
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("{name} exported"))
            .json_rows
            .iter()
            .map(|r| serde_json::from_str(r).unwrap())
            .collect()
    };
    let materials = rows("materials");
    assert_eq!(materials.len(), 1);
    assert_eq!(materials[0]["id"], kept.id.as_str());
    assert_eq!(materials[0]["title"], "Notes");
    assert!(
        materials[0]["content_base64"]
            .as_str()
            .is_some_and(|s| !s.is_empty())
    );
    assert!(materials[0].get("content").is_none());
    let chunks = rows("material_chunks");
    assert_eq!(chunks.len(), usize::try_from(kept.chunks_total).unwrap());
    assert!(
        chunks[0]["text"]
            .as_str()
            .unwrap()
            .contains("Biology notes")
    );

    let auth = Publisher::start(&h.amqp, "auth").await;
    h.consumed(
        auth.publish(&fixtures::user_deleted(user, h.clock.now()))
            .await,
    )
    .await;
    assert_eq!(
        get(&c, &token, &kept.id).await.unwrap_err().code(),
        Code::NotFound
    );
    assert_eq!(chunk_count(&h, &kept.id).await, 0);
    h.stop().await;
    mesh.stop().await;
}

#[tokio::test]
async fn a_merge_gives_the_guests_materials_to_the_target() {
    let (h, mesh) = start(datetime!(2026-11-20 09:00 UTC), None).await;
    let mut c = client(&h);
    let (guest, target) = (Uuid::now_v7(), Uuid::now_v7());
    let m = upload(
        &mut c,
        &h.token(guest),
        "Biology",
        "text/plain",
        biology_notes().into_bytes(),
    )
    .await;
    processed(&c, &h.token(guest), &m.id).await;
    let auth = Publisher::start(&h.amqp, "auth").await;
    h.consumed(
        auth.publish(&fixtures::user_merged(
            &guest.to_string(),
            &target.to_string(),
            h.clock.now(),
        ))
        .await,
    )
    .await;
    assert_eq!(
        get(&c, &h.token(guest), &m.id).await.unwrap_err().code(),
        Code::NotFound
    );
    assert_eq!(
        get(&c, &h.token(target), &m.id).await.unwrap().status(),
        MaterialStatus::Ready
    );
    let r = ask(&mut c, &h.token(target), "mitochondria", &[&m.id])
        .await
        .unwrap();
    assert_eq!(r.citations[0].material_id, m.id);
    h.stop().await;
    mesh.stop().await;
}

#[tokio::test]
async fn a_repeated_or_stale_job_changes_nothing() {
    let (h, mesh) = start(datetime!(2026-11-20 09:00 UTC), None).await;
    let mut c = client(&h);
    let user = Uuid::now_v7();
    let token = h.token(user);
    let m = upload(
        &mut c,
        &token,
        "Biology",
        "text/plain",
        biology_notes().into_bytes(),
    )
    .await;
    let ready = processed(&c, &token, &m.id).await;
    let id: Uuid = m.id.parse().unwrap();
    // The same job again (a re-publication under a new event id): the material is final.
    let ai_coach = Publisher::start(&h.amqp, "ai-coach").await;
    h.consumed(
        ai_coach
            .publish(&fixtures::material_uploaded(
                user,
                id,
                ready.size_bytes,
                h.clock.now(),
            ))
            .await,
    )
    .await;
    let again = get(&c, &token, &m.id).await.unwrap();
    assert_eq!(again, ready);
    assert_eq!(chunk_count(&h, &m.id).await, i64::from(ready.chunks_total));
    // A job for a material deleted meanwhile (or never stored) is consumed without effect.
    h.consumed(
        ai_coach
            .publish(&fixtures::material_uploaded(
                user,
                Uuid::now_v7(),
                10,
                h.clock.now(),
            ))
            .await,
    )
    .await;
    h.stop().await;
    mesh.stop().await;
}

#[tokio::test]
async fn progress_shows_while_the_job_embeds_and_a_stalled_model_leaves_full_text() {
    let (ai, cfg) = stand_in().await;
    // One attempt of 2 s: the stalled batch gives up quickly.
    let cfg = stride_ai_coach::LlmConfig {
        timeout: std::time::Duration::from_secs(2),
        max_retries: 0,
        ..cfg
    };
    let (h, mesh) = start(datetime!(2026-11-20 09:00 UTC), Some(cfg)).await;
    let mut c = client(&h);
    let token = h.token(Uuid::now_v7());
    // About 45 chunks: two batches of embeddings. The first is answered, the second stalls.
    let text: String = (0..45)
        .map(|i| {
            format!(
                "Section {i} introduces the codeword zeta{i}. {}\n\n",
                "Revision works best in short daily blocks with active recall. ".repeat(14)
            )
        })
        .collect();
    ai.script(EMBEDDINGS, Reply::text("answer as usual"));
    ai.script(EMBEDDINGS, Reply::Hang);
    let m = upload(
        &mut c,
        &token,
        "Study skills",
        "text/plain",
        text.into_bytes(),
    )
    .await;
    let during = eventually(EVENT_DEADLINE, "the first batch is counted", || {
        let c = c.clone();
        let token = token.clone();
        let id = m.id.clone();
        async move {
            let m = get(&c, &token, &id).await.ok()?;
            (m.chunks_done == 32).then_some(m)
        }
    })
    .await;
    assert_eq!(during.status(), MaterialStatus::Processing, "{during:?}");
    assert!(during.chunks_total > 32, "{during:?}");

    let ready = processed(&c, &token, &m.id).await;
    assert_eq!(ready.status(), MaterialStatus::Ready, "{ready:?}");
    assert_eq!(ready.chunks_done, 32);
    assert!(ready.embedded, "{ready:?}");
    assert!(ready.error.contains("embeddings failed"), "{ready:?}");

    // Vector search fused with full text: a chunk without an embedding is still found.
    ai.script(
        "materials.answer",
        Reply::Json(json!({"answer": "Section 40 [1].", "citations": [1]})),
    );
    let r = c
        .query_materials(authed(
            QueryMaterialsRequest {
                question: "Which section introduces zeta40?".into(),
                material_ids: vec![],
                max_citations: 10,
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.search_mode(), MaterialSearchMode::Vector, "{r:?}");
    // The passages the model was given include the unembedded chunk naming zeta40 (found by
    // the full-text side of the fusion).
    let prompt = ai.requests("materials.answer")[0]["messages"][1]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(prompt.contains("codeword zeta40"), "{prompt}");
    let with_zeta40: i32 = sqlx::query_scalar(
        "SELECT min(idx) FROM material_chunks WHERE material_id = $1::uuid AND text LIKE '%zeta40.%'",
    )
    .bind(&m.id)
    .fetch_one(&h.db)
    .await
    .unwrap();
    assert!(with_zeta40 >= 32, "{with_zeta40}");
    h.stop().await;
    mesh.stop().await;
}
