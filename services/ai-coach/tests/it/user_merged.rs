//! `user.merged.v1` moves the guest's usage rows to the target account and leaves none of the
//! guest's.

use stride_bus::Event;
use stride_kit::{clock::Clock as _, convert};
use stride_proto::{
    ai_coach::GetRecommendationRequest, analytics::GetProgressSummaryRequest, events::UserMerged,
};
use stride_testkit::{
    EVENT_DEADLINE, authed,
    bus::{Publisher, consumed_count, publish_raw},
    eventually,
};
use time::{OffsetDateTime, macros::datetime};
use uuid::Uuid;

use crate::support::{Coach, Mesh, user_rows};

/// `user.merged.v1` as auth publishes it.
fn merged(source: &str, target: &str, at: OffsetDateTime) -> UserMerged {
    UserMerged {
        source_user_id: source.into(),
        target_user_id: target.into(),
        occur_time: Some(convert::timestamp(at)),
        timezone: "UTC".into(),
        local_date: Some(convert::date(at.date())),
    }
}

/// The payload bytes the relay sends (prost's encoding, through the `Event` bound).
fn encode<E: Event>(event: &E) -> Vec<u8> {
    event.encode_to_vec()
}

/// Ids of `user`'s recommendation rows, oldest first.
async fn answers(coach: &Coach, user: Uuid) -> Vec<Uuid> {
    sqlx::query_scalar("SELECT id FROM recommendations WHERE user_id = $1 ORDER BY id")
        .bind(user)
        .fetch_all(&coach.db)
        .await
        .expect("recommendations")
}

async fn recommend(mesh: &Mesh, coach: &mut Coach, user: Uuid) {
    coach
        .client
        .get_recommendation(authed(
            GetRecommendationRequest { goal: "".into() },
            &mesh.issuer.token(user),
        ))
        .await
        .expect("recommendation");
}

async fn consumed(coach: &Coach, event_id: Uuid) {
    eventually(EVENT_DEADLINE, "event consumed", || {
        let db = coach.db.clone();
        async move {
            let n: i64 = sqlx::query_scalar("SELECT count(*) FROM inbox WHERE event_id = $1")
                .bind(event_id)
                .fetch_one(&db)
                .await
                .ok()?;
            (n == 1).then_some(())
        }
    })
    .await;
}

#[tokio::test]
async fn user_merged_moves_the_guests_recommendations_to_the_target() {
    let mut mesh = Mesh::start(datetime!(2026-06-10 08:00 UTC)).await;
    let mut coach = mesh.coach(None).await;
    let (source, target, bystander) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let focus = mesh.focus_id.clone();
    for (u, asks) in [(source, 2), (target, 1), (bystander, 1)] {
        mesh.complete_sessions(u, &focus, 1).await;
        for _ in 0..asks {
            recommend(&mesh, &mut coach, u).await;
        }
    }
    let guest = answers(&coach, source).await;
    let own = answers(&coach, target).await;
    assert_eq!((guest.len(), own.len()), (2, 1));
    let bystander_rows = user_rows(&coach.db, bystander).await;
    let bystander_answers = answers(&coach, bystander).await;

    let auth = Publisher::start(&mesh.amqp, "auth").await;
    let merge = merged(&source.to_string(), &target.to_string(), mesh.clock.now());
    let event_id = auth.publish(&merge).await;
    consumed(&coach, event_id).await;

    assert!(
        user_rows(&coach.db, source)
            .await
            .iter()
            .all(|(_, n)| *n == 0),
        "no row of the guest"
    );
    let mut want = [own.clone(), guest.clone()].concat();
    want.sort();
    assert_eq!(answers(&coach, target).await, want);
    assert_eq!(user_rows(&coach.db, bystander).await, bystander_rows);
    assert_eq!(answers(&coach, bystander).await, bystander_answers);
    // The same event reached analytics on the shared broker: the target's progress holds both
    // users' sessions, which is what the coach reads next.
    let token = mesh.issuer.token(target);
    eventually(EVENT_DEADLINE, "analytics merges the user", || {
        let mut progress = mesh.progress.clone();
        let token = token.clone();
        async move {
            let s = progress
                .get_progress_summary(authed(GetProgressSummaryRequest::default(), &token))
                .await
                .ok()?;
            (s.into_inner().sessions_completed == 2).then_some(())
        }
    })
    .await;
    recommend(&mesh, &mut coach, target).await;
    assert_eq!(answers(&coach, target).await.len(), 4);

    // A redelivery of the same message is absorbed; a re-publication under a new id finds no
    // guest row and moves nothing.
    publish_raw(
        &mesh.amqp,
        event_id,
        UserMerged::TYPE,
        "auth",
        &encode(&merge),
    )
    .await;
    eventually(EVENT_DEADLINE, "the redelivery is absorbed", || async {
        (consumed_count("ai-coach", "duplicate") == 1).then_some(())
    })
    .await;
    let again = auth.publish(&merge).await;
    consumed(&coach, again).await;
    assert_eq!(answers(&coach, target).await.len(), 4);
    assert!(answers(&coach, source).await.is_empty());
    assert_eq!(answers(&coach, bystander).await, bystander_answers);
    drop(auth);
    coach.stop().await;
    mesh.stop().await;
}

#[tokio::test]
async fn user_merged_with_an_invalid_payload_is_dead_lettered() {
    let mesh = Mesh::start(datetime!(2026-06-10 08:00 UTC)).await;
    let mut coach = mesh.coach(None).await;
    let source = Uuid::now_v7();
    recommend(&mesh, &mut coach, source).await;
    let before = answers(&coach, source).await;

    let auth = Publisher::start(&mesh.amqp, "auth").await;
    let (s, now) = (source.to_string(), mesh.clock.now());
    for bad in [
        merged("not-a-uuid", &Uuid::now_v7().to_string(), now),
        merged(&s, "", now),
        merged(&s, &s, now),
    ] {
        auth.publish(&bad).await;
    }
    publish_raw(
        &mesh.amqp,
        Uuid::now_v7(),
        UserMerged::TYPE,
        "auth",
        b"\xff\xff\xff",
    )
    .await;
    eventually(
        EVENT_DEADLINE,
        "every bad event is dead-lettered",
        || async { (consumed_count("ai-coach", "dead_lettered") == 4).then_some(()) },
    )
    .await;
    assert_eq!(consumed_count("ai-coach", "handled"), 0);
    assert_eq!(answers(&coach, source).await, before);
    drop(auth);
    coach.stop().await;
    mesh.stop().await;
}
