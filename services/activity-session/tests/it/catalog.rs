//! ListActivities: the preset catalog, paged by slug and filtered by kind.

use std::collections::HashSet;

use stride_kit::convert;
use stride_proto::activity_session::{ActivityKind, ListActivitiesRequest};
use stride_testkit::{authed, bus::assert_invalid};
use time::macros::datetime;
use uuid::Uuid;

use crate::support::{FOCUS_25, catalog, start};

#[tokio::test]
async fn list_activities_pages_cover_every_activity_exactly_once() {
    let (h, _probe) = start(datetime!(2026-11-22 10:00 UTC)).await;
    let token = h.token(Uuid::now_v7());
    let mut seen = Vec::new();
    let mut page_token = String::new();
    let mut pages = 0;
    loop {
        let res = catalog(&h)
            .list_activities(authed(
                ListActivitiesRequest {
                    page_size: 3,
                    page_token: page_token.clone(),
                    kind: 0,
                },
                &token,
            ))
            .await
            .expect("list")
            .into_inner();
        assert!(res.activities.len() <= 3);
        seen.extend(res.activities.into_iter().map(|a| a.slug));
        pages += 1;
        if res.next_page_token.is_empty() {
            break;
        }
        page_token = res.next_page_token;
    }
    assert_eq!(pages, 4);
    assert_eq!(seen.len(), 11, "{seen:?}");
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 11, "{seen:?}");
    for slug in [
        "focus-25",
        "break-5",
        "break-15",
        "study-45",
        "pushups",
        "squats",
        "plank",
        "jumping-jacks",
        "meditation-10",
        "breathing-5",
        "custom-20",
    ] {
        assert!(seen.iter().any(|s| s == slug), "{slug} missing");
    }

    let all = catalog(&h)
        .list_activities(authed(ListActivitiesRequest::default(), &token))
        .await
        .expect("default page")
        .into_inner();
    assert_eq!(all.activities.len(), 11);
    assert!(all.next_page_token.is_empty());
    let focus = all
        .activities
        .iter()
        .find(|a| a.slug == "focus-25")
        .expect("focus-25");
    assert_eq!(focus.id, FOCUS_25);
    assert_eq!(focus.name, "Focus");
    assert_eq!(focus.kind, ActivityKind::Focus as i32);
    assert_eq!(
        focus.default_duration.as_ref().map(convert::from_duration),
        Some(time::Duration::minutes(25))
    );

    let workouts = catalog(&h)
        .list_activities(authed(
            ListActivitiesRequest {
                kind: ActivityKind::Workout as i32,
                ..Default::default()
            },
            &token,
        ))
        .await
        .expect("workouts")
        .into_inner();
    assert_eq!(workouts.activities.len(), 4);
    assert!(
        workouts
            .activities
            .iter()
            .all(|a| a.kind == ActivityKind::Workout as i32)
    );

    // Garbage, and a token in the format of the service's hand-written codec before
    // stride_kit::pagination (base64url of "s:<slug>"): refused, naming the field.
    for garbage in ["garbage!", "czpmb2N1cy0yNQ"] {
        let err = catalog(&h)
            .list_activities(authed(
                ListActivitiesRequest {
                    page_token: garbage.into(),
                    ..Default::default()
                },
                &token,
            ))
            .await
            .expect_err("garbage token");
        assert_invalid(&err, &["page_token"]);
    }
    let err = catalog(&h)
        .list_activities(authed(
            ListActivitiesRequest {
                page_size: 101,
                kind: 42,
                ..Default::default()
            },
            &token,
        ))
        .await
        .expect_err("too big");
    assert_invalid(&err, &["page_size", "kind"]);
    h.stop().await;
}
