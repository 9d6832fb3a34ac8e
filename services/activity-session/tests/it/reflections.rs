//! ReflectionService: submit (dated on the user's local date, announced), history newest first
//! with the seed's default of 30, a linked focus session must be the caller's, other users'
//! reflections NOT_FOUND, bad values named.

use stride_kit::convert;
use stride_proto::{
    Event as _,
    activity_session::{
        self as pb, ProductivityRating, reflection_service_client::ReflectionServiceClient,
    },
    events,
};
use stride_testkit::{
    authed,
    bus::{Probe, Publisher, assert_invalid},
};
use time::{
    Duration,
    macros::{date, datetime},
};
use tonic::{Code, transport::Channel};
use uuid::Uuid;

use crate::support::{FOCUS_25, Harness, PUSHUPS, session, start};

fn client(h: &Harness) -> ReflectionServiceClient<Channel> {
    ReflectionServiceClient::new(h.channel.clone())
}

fn reflection(rating: ProductivityRating, note: &str) -> pb::ShutdownReflection {
    pb::ShutdownReflection {
        productivity_rating: rating as i32,
        note: note.into(),
        mindful_disconnect_completed: vec![true, false, true],
        ..Default::default()
    }
}

async fn submit_req(
    h: &Harness,
    user: Uuid,
    r: Option<pb::ShutdownReflection>,
) -> Result<pb::ShutdownReflection, tonic::Status> {
    client(h)
        .submit_shutdown_reflection(authed(
            pb::SubmitShutdownReflectionRequest { reflection: r },
            &h.token(user),
        ))
        .await
        .map(|r| r.into_inner().reflection.expect("reflection"))
}

pub async fn submit(
    h: &Harness,
    user: Uuid,
    rating: ProductivityRating,
    note: &str,
) -> pb::ShutdownReflection {
    submit_req(h, user, Some(reflection(rating, note)))
        .await
        .expect("submit")
}

#[tokio::test]
async fn a_reflection_is_dated_on_the_local_day_announced_and_listed_newest_first() {
    // 23:30 UTC on the 22nd is already the 23rd in Tokyo.
    let (h, _probe) = start(datetime!(2026-11-22 23:30 UTC)).await;
    let mut submitted = Probe::bind(&h.amqp, events::ReflectionSubmitted::TYPE).await;
    let profile = Publisher::start(&h.amqp, "profile").await;
    let user = Uuid::now_v7();
    crate::tasks::set_timezone(&h, &profile, user, "Asia/Tokyo", 1).await;
    let focus = session(&h, user, FOCUS_25, true).await;

    let r = submit_req(
        &h,
        user,
        Some(pb::ShutdownReflection {
            focus_session_id: focus.id.clone(),
            ..reflection(ProductivityRating::Great, "Shipped the report")
        }),
    )
    .await
    .expect("submit");
    assert_eq!(r.productivity_rating, ProductivityRating::Great as i32);
    assert_eq!(r.note, "Shipped the report");
    assert_eq!(r.mindful_disconnect_completed, [true, false, true]);
    assert_eq!(r.focus_session_id, focus.id);
    assert_eq!(r.timezone, "Asia/Tokyo");
    assert_eq!(
        r.local_date.as_ref().and_then(convert::from_date),
        Some(date!(2026 - 11 - 23))
    );

    let (_, _, app, e) = submitted.next::<events::ReflectionSubmitted>().await;
    assert_eq!(app, "activity-session");
    assert_eq!(e.reflection_id, r.id);
    assert_eq!(e.productivity_rating, "great");
    assert!(e.has_note);
    assert_eq!(e.focus_session_id, focus.id);
    assert_eq!(
        e.local_date.as_ref().and_then(convert::from_date),
        Some(date!(2026 - 11 - 23))
    );

    // 34 more, one a day: the history's first page is the 30 newest.
    for _ in 0..34 {
        h.clock.advance(Duration::days(1));
        submit(&h, user, ProductivityRating::Okay, "").await;
    }
    let page = client(&h)
        .list_shutdown_reflections(authed(
            pb::ListShutdownReflectionsRequest::default(),
            &h.token(user),
        ))
        .await
        .expect("history")
        .into_inner();
    assert_eq!(page.reflections.len(), 30);
    let dates: Vec<_> = page
        .reflections
        .iter()
        .filter_map(|r| r.local_date.as_ref().and_then(convert::from_date))
        .collect();
    assert!(
        dates.windows(2).all(|w| w[0] > w[1]),
        "newest first: {dates:?}"
    );
    let rest = client(&h)
        .list_shutdown_reflections(authed(
            pb::ListShutdownReflectionsRequest {
                page_token: page.next_page_token,
                ..Default::default()
            },
            &h.token(user),
        ))
        .await
        .expect("next page")
        .into_inner();
    assert_eq!(rest.reflections.len(), 5);
    assert_eq!(
        rest.reflections.last().map(|r| r.id.clone()),
        Some(r.id.clone())
    );
    assert!(rest.next_page_token.is_empty());
    h.stop().await;
}

#[tokio::test]
async fn bad_values_are_named_and_others_reflections_and_sessions_are_not_found() {
    let (h, _probe) = start(datetime!(2026-11-22 20:00 UTC)).await;
    let (owner, other) = (Uuid::now_v7(), Uuid::now_v7());
    let e = submit_req(
        &h,
        owner,
        Some(pb::ShutdownReflection {
            productivity_rating: 0,
            note: "x".repeat(2001),
            mindful_disconnect_completed: vec![true; 21],
            focus_session_id: "nope".into(),
            ..Default::default()
        }),
    )
    .await
    .expect_err("bad");
    assert_invalid(
        &e,
        &[
            "reflection.productivity_rating",
            "reflection.note",
            "reflection.mindful_disconnect_completed",
            "reflection.focus_session_id",
        ],
    );
    let e = submit_req(&h, owner, None).await.expect_err("none");
    assert_invalid(&e, &["reflection", "reflection.productivity_rating"]);

    // A focus session of someone else is not found; a workout session is not a focus session.
    let theirs = session(&h, other, FOCUS_25, true).await;
    let e = submit_req(
        &h,
        owner,
        Some(pb::ShutdownReflection {
            focus_session_id: theirs.id.clone(),
            ..reflection(ProductivityRating::Good, "")
        }),
    )
    .await
    .expect_err("their session");
    assert_eq!(e.code(), Code::NotFound);
    let workout = session(&h, owner, PUSHUPS, true).await;
    let e = submit_req(
        &h,
        owner,
        Some(pb::ShutdownReflection {
            focus_session_id: workout.id,
            ..reflection(ProductivityRating::Good, "")
        }),
    )
    .await
    .expect_err("workout");
    assert_invalid(&e, &["reflection.focus_session_id"]);

    let mine = submit(&h, owner, ProductivityRating::Tough, "long day").await;
    let e = client(&h)
        .get_shutdown_reflection(authed(
            pb::GetShutdownReflectionRequest {
                reflection_id: mine.id.clone(),
            },
            &h.token(other),
        ))
        .await
        .expect_err("not theirs");
    assert_eq!(e.code(), Code::NotFound);
    let got = client(&h)
        .get_shutdown_reflection(authed(
            pb::GetShutdownReflectionRequest {
                reflection_id: mine.id.clone(),
            },
            &h.token(owner),
        ))
        .await
        .expect("mine")
        .into_inner()
        .reflection
        .expect("reflection");
    assert_eq!(got.note, "long day");
    let theirs = client(&h)
        .list_shutdown_reflections(authed(
            pb::ListShutdownReflectionsRequest::default(),
            &h.token(other),
        ))
        .await
        .expect("list")
        .into_inner();
    assert!(theirs.reflections.is_empty());
    let e = client(&h)
        .list_shutdown_reflections(authed(
            pb::ListShutdownReflectionsRequest {
                page_size: -1,
                page_token: "x".into(),
            },
            &h.token(owner),
        ))
        .await
        .expect_err("bad page");
    assert_invalid(&e, &["page_size", "page_token"]);
    let e = client(&h)
        .list_shutdown_reflections(pb::ListShutdownReflectionsRequest::default())
        .await
        .expect_err("no token");
    assert_eq!(e.code(), Code::Unauthenticated);
    h.stop().await;
}
