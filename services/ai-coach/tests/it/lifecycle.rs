//! The user lifecycle: the shared contract (`stride_testkit::conformance`) and what ai-coach
//! does on a merge (the guest's answers become the target's usage), with the upstream the coach
//! reads following the same events on the shared broker.

use stride_kit::Clock as _;
use stride_testkit::{
    EVENT_DEADLINE,
    bus::{Publisher, user_rows},
    conformance, eventually, fixtures,
};
use time::macros::datetime;
use uuid::Uuid;

use crate::support::{Harness, Mesh, recommend, start};

/// Ids of `user`'s recommendation rows, oldest first.
async fn answers(h: &Harness, user: Uuid) -> Vec<Uuid> {
    sqlx::query_scalar("SELECT id FROM recommendations WHERE user_id = $1 ORDER BY id")
        .bind(user)
        .fetch_all(&h.db)
        .await
        .expect("recommendations")
}

/// Gives `user` an answered recommendation (a usage row), an evaluated practice session (a
/// row in every practice table), a conversation with a reply (an answer row, messages) rated
/// by the user, a generated plan (an execution), and a day of quota use.
async fn seed(h: &Harness, user: Uuid) {
    use futures::StreamExt as _;
    use stride_proto::ai_coach::{
        Rating, SendMessageRequest, StartConversationRequest, SubmitFeedbackRequest,
        conversation_service_client::ConversationServiceClient,
        feedback_service_client::FeedbackServiceClient, send_message_response::Event,
    };
    use stride_testkit::authed;
    recommend(h, user, "").await.expect("recommendation");
    stride_proto::ai_coach::agent_service_client::AgentServiceClient::new(h.channel.clone())
        .generate_plan(authed(
            stride_proto::ai_coach::GeneratePlanRequest::default(),
            &h.token(user),
        ))
        .await
        .expect("a generated plan");
    let mut c = crate::practice::client(h);
    crate::practice::practised(&mut c, &h.token(user), 1).await;
    let addr = format!("http://{}", h.running.grpc_addr);
    let mut c = ConversationServiceClient::connect(addr.clone())
        .await
        .expect("connect");
    let token = h.token(user);
    let id = c
        .start_conversation(authed(
            StartConversationRequest {
                title: String::new(),
            },
            &token,
        ))
        .await
        .expect("start")
        .into_inner()
        .conversation
        .expect("conversation")
        .id;
    let mut events = c
        .send_message(authed(
            SendMessageRequest {
                conversation_id: id,
                text: "my week?".into(),
            },
            &token,
        ))
        .await
        .expect("send")
        .into_inner();
    let mut answer_id = String::new();
    while let Some(e) = events.next().await {
        if let Some(Event::Done(d)) = e.expect("event").event {
            answer_id = d
                .message
                .and_then(|m| m.provenance)
                .expect("provenance")
                .answer_id;
        }
    }
    FeedbackServiceClient::connect(addr)
        .await
        .expect("connect")
        .submit_feedback(authed(
            SubmitFeedbackRequest {
                answer_id,
                rating: Rating::Positive as i32,
                comment: String::new(),
            },
            &token,
        ))
        .await
        .expect("feedback");
    // A study material, processed (its chunks go with it).
    let mut materials = stride_proto::ai_coach::material_service_client::MaterialServiceClient::new(
        h.channel.clone(),
    );
    let m = crate::materials::upload(
        &mut materials,
        &token,
        "Notes",
        "text/plain",
        b"Mitochondria release energy for the cell.".to_vec(),
    )
    .await;
    crate::materials::processed(&materials, &token, &m.id).await;
    let mut conn = h.db.acquire().await.expect("conn");
    sqlx::query(
        "INSERT INTO quota_days (user_id, day, calls) VALUES ($1, '2026-06-10', 1)
         ON CONFLICT DO NOTHING",
    )
    .bind(user)
    .execute(&mut *conn)
    .await
    .expect("quota row");
}

#[tokio::test]
async fn a_merge_moves_the_guests_practice_and_rebuilds_both_plans() {
    use stride_proto::ai_coach::GetImprovementsRequest;
    use stride_testkit::authed;
    let (h, mesh) = start(datetime!(2026-06-10 08:00 UTC), None).await;
    let (guest, target) = (Uuid::now_v7(), Uuid::now_v7());
    let mut c = crate::practice::client(&h);
    crate::practice::practised(&mut c, &h.token(guest), 1).await;
    crate::practice::practised(&mut c, &h.token(target), 4).await;
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
    let plan = |user: Uuid| {
        let mut c = c.clone();
        let token = h.token(user);
        async move {
            c.get_improvements(authed(GetImprovementsRequest {}, &token))
                .await
                .unwrap()
                .into_inner()
        }
    };
    let merged = plan(target).await;
    assert_eq!(merged.evaluated_sessions, 2);
    assert!(merged.focus_areas.iter().any(|f| f.occurrences == 2) || merged.focus_areas.len() > 2);
    assert_eq!(plan(guest).await.evaluated_sessions, 0);
    assert!(user_rows(&h.db, guest).await.iter().all(|(_, n)| *n == 0));
    h.stop().await;
    mesh.stop().await;
}

#[tokio::test]
async fn user_deleted_keeps_the_contract() {
    let (h, mesh) = start(datetime!(2026-06-10 08:00 UTC), None).await;
    let hr = &h;
    conformance::user_deleted(&h, move |u| seed(hr, u)).await;
    h.stop().await;
    mesh.stop().await;
}

#[tokio::test]
async fn user_merged_keeps_the_contract() {
    let (h, mesh) = start(datetime!(2026-06-10 08:00 UTC), None).await;
    let hr = &h;
    conformance::user_merged(&h, move |u| seed(hr, u)).await;
    h.stop().await;
    mesh.stop().await;
}

/// Waits until analytics shows `user` `n` sessions this week.
async fn progress_shows(h: &Harness, mesh: &Mesh, user: Uuid, n: i32, what: &str) {
    eventually(EVENT_DEADLINE, what, || async move {
        (mesh.sessions_this_week(h, user).await == n).then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_deleted_users_progress_goes_with_their_answers() {
    let (h, mesh) = start(datetime!(2026-06-10 08:00 UTC), None).await;
    let user = Uuid::now_v7();
    mesh.complete_sessions(&h, user, &mesh.focus_id, 1).await;
    seed(&h, user).await;

    let auth = Publisher::start(&h.amqp, "auth").await;
    h.consumed(
        auth.publish(&fixtures::user_deleted(user, h.clock.now()))
            .await,
    )
    .await;
    assert!(answers(&h, user).await.is_empty());
    // The same event reached analytics on the shared broker: the progress the coach reads for
    // the user is gone too.
    progress_shows(&h, &mesh, user, 0, "analytics forgets the user").await;
    h.stop().await;
    mesh.stop().await;
}

#[tokio::test]
async fn user_merged_moves_the_guests_recommendations_to_the_target() {
    let (h, mesh) = start(datetime!(2026-06-10 08:00 UTC), None).await;
    let (source, target, bystander) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    for (u, asks) in [(source, 2), (target, 1), (bystander, 1)] {
        mesh.complete_sessions(&h, u, &mesh.focus_id, 1).await;
        for _ in 0..asks {
            seed(&h, u).await;
        }
    }
    let guest = answers(&h, source).await;
    let own = answers(&h, target).await;
    assert_eq!((guest.len(), own.len()), (2, 1));
    let bystander_rows = user_rows(&h.db, bystander).await;
    let bystander_answers = answers(&h, bystander).await;

    let auth = Publisher::start(&h.amqp, "auth").await;
    let merge = fixtures::user_merged(&source.to_string(), &target.to_string(), h.clock.now());
    h.consumed(auth.publish(&merge).await).await;

    assert!(
        user_rows(&h.db, source).await.iter().all(|(_, n)| *n == 0),
        "no row of the guest"
    );
    let mut want = [own, guest].concat();
    want.sort();
    assert_eq!(answers(&h, target).await, want);
    assert_eq!(user_rows(&h.db, bystander).await, bystander_rows);
    assert_eq!(answers(&h, bystander).await, bystander_answers);
    // The same event reached analytics on the shared broker: the target's progress holds both
    // users' sessions, which is what the coach reads next.
    progress_shows(&h, &mesh, target, 2, "analytics merges the user").await;
    seed(&h, target).await;
    assert_eq!(answers(&h, target).await.len(), 4);

    // A re-publication under a new id finds no guest row and moves nothing (a redelivery of the
    // same id is the contract's).
    h.consumed(auth.publish(&merge).await).await;
    assert_eq!(answers(&h, target).await.len(), 4);
    assert!(answers(&h, source).await.is_empty());
    assert_eq!(answers(&h, bystander).await, bystander_answers);
    h.stop().await;
    mesh.stop().await;
}
