//! RoutineService: create, list, get, replace, delete; presets (public); fields named; another
//! user's routine NOT_FOUND.

use stride_proto::activity_session::{
    CreateRoutineRequest, DeleteRoutineRequest, GetRoutineRequest, ListRoutinePresetsRequest,
    ListRoutinesRequest, UpdateRoutineRequest,
};
use stride_testkit::{authed, bus::assert_invalid};
use time::macros::datetime;
use tonic::Code;
use uuid::Uuid;

use crate::support::{BREAK_5, FOCUS_25, PUSHUPS, routine, routines, start, step};

#[tokio::test]
async fn a_routine_is_created_listed_replaced_and_deleted_by_its_owner_only() {
    let (h, _p) = start(datetime!(2026-11-22 10:00 UTC)).await;
    let (alice, bob) = (Uuid::now_v7(), Uuid::now_v7());
    let (ta, tb) = (h.token(alice), h.token(bob));
    let mut c = routines(&h);
    let r = routine(
        &h,
        alice,
        "  Morning  ",
        vec![step(FOCUS_25, 600), step(BREAK_5, 120)],
    )
    .await;
    assert_eq!(r.name, "Morning");
    assert_eq!(r.total_duration.map(|d| d.seconds), Some(720));
    assert_eq!(r.steps.len(), 2);
    h.clock.advance(time::Duration::seconds(1));
    let r2 = routine(&h, alice, "Evening", vec![step(PUSHUPS, 60)]).await;
    routine(&h, bob, "Bob's", vec![step(PUSHUPS, 60)]).await;

    let page1 = c
        .list_routines(authed(
            ListRoutinesRequest {
                page_size: 1,
                page_token: String::new(),
            },
            &ta,
        ))
        .await
        .expect("list")
        .into_inner();
    assert_eq!(
        page1
            .routines
            .iter()
            .map(|r| r.id.clone())
            .collect::<Vec<_>>(),
        vec![r2.id.clone()]
    );
    let page2 = c
        .list_routines(authed(
            ListRoutinesRequest {
                page_size: 1,
                page_token: page1.next_page_token,
            },
            &ta,
        ))
        .await
        .expect("list")
        .into_inner();
    assert_eq!(
        page2
            .routines
            .iter()
            .map(|r| r.id.clone())
            .collect::<Vec<_>>(),
        vec![r.id.clone()]
    );
    assert!(page2.next_page_token.is_empty());

    let updated = c
        .update_routine(authed(
            UpdateRoutineRequest {
                routine_id: r.id.clone(),
                name: "Morning v2".into(),
                steps: vec![step(PUSHUPS, 30)],
            },
            &ta,
        ))
        .await
        .expect("update")
        .into_inner()
        .routine
        .expect("r");
    assert_eq!(
        (updated.name.as_str(), updated.steps.len()),
        ("Morning v2", 1)
    );
    let got = c
        .get_routine(authed(
            GetRoutineRequest {
                routine_id: r.id.clone(),
            },
            &ta,
        ))
        .await
        .expect("get")
        .into_inner()
        .routine
        .expect("r");
    assert_eq!(got.name, "Morning v2");

    // Bob sees none of it: get, update and delete are NOT_FOUND.
    let err = c
        .get_routine(authed(
            GetRoutineRequest {
                routine_id: r.id.clone(),
            },
            &tb,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = c
        .update_routine(authed(
            UpdateRoutineRequest {
                routine_id: r.id.clone(),
                name: "Mine".into(),
                steps: vec![step(PUSHUPS, 30)],
            },
            &tb,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = c
        .delete_routine(authed(
            DeleteRoutineRequest {
                routine_id: r.id.clone(),
            },
            &tb,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);

    c.delete_routine(authed(
        DeleteRoutineRequest {
            routine_id: r.id.clone(),
        },
        &ta,
    ))
    .await
    .expect("delete");
    let err = c
        .get_routine(authed(
            GetRoutineRequest {
                routine_id: r.id.clone(),
            },
            &ta,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = c
        .delete_routine(authed(DeleteRoutineRequest { routine_id: r.id }, &ta))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    h.stop().await;
}

#[tokio::test]
async fn malformed_routines_name_their_fields() {
    let (h, _p) = start(datetime!(2026-11-22 10:00 UTC)).await;
    let token = h.token(Uuid::now_v7());
    let mut c = routines(&h);
    let err = c
        .create_routine(authed(
            CreateRoutineRequest {
                name: " ".into(),
                steps: vec![],
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_invalid(&err, &["name", "steps"]);
    let mut no_duration = step(FOCUS_25, 60);
    no_duration.duration = None;
    let err = c
        .create_routine(authed(
            CreateRoutineRequest {
                name: "x".repeat(101),
                steps: vec![step("nope", 60), step(FOCUS_25, 5), no_duration],
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_invalid(
        &err,
        &[
            "name",
            "steps[0].activity_id",
            "steps[1].duration",
            "steps[2].duration",
        ],
    );
    let err = c
        .create_routine(authed(
            CreateRoutineRequest {
                name: "ok".into(),
                steps: vec![step(FOCUS_25, 60), step(&Uuid::now_v7().to_string(), 60)],
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_invalid(&err, &["steps[1].activity_id"]);
    let err = c
        .create_routine(authed(
            CreateRoutineRequest {
                name: "ok".into(),
                steps: (0..51).map(|_| step(FOCUS_25, 60)).collect(),
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_invalid(&err, &["steps"]);
    let err = c
        .update_routine(authed(
            UpdateRoutineRequest {
                routine_id: "1".into(),
                name: "ok".into(),
                steps: vec![step(FOCUS_25, 60)],
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_invalid(&err, &["routine_id"]);
    let err = c
        .list_routines(tonic::Request::new(ListRoutinesRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    h.stop().await;
}

#[tokio::test]
async fn presets_are_listed_without_a_token_and_read_only() {
    let (h, _p) = start(datetime!(2026-11-22 10:00 UTC)).await;
    let mut c = routines(&h);
    let presets = c
        .list_routine_presets(tonic::Request::new(ListRoutinePresetsRequest {}))
        .await
        .expect("public")
        .into_inner()
        .routines;
    assert!(presets.len() >= 3);
    assert!(presets.iter().all(|p| p.preset && !p.steps.is_empty()));
    let token = h.token(Uuid::now_v7());
    let got = c
        .get_routine(authed(
            GetRoutineRequest {
                routine_id: presets[0].id.clone(),
            },
            &token,
        ))
        .await
        .expect("a preset by id")
        .into_inner()
        .routine
        .expect("r");
    assert_eq!(got.name, presets[0].name);
    let err = c
        .delete_routine(authed(
            DeleteRoutineRequest {
                routine_id: presets[0].id.clone(),
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    h.stop().await;
}
