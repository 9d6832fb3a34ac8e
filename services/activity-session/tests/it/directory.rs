//! `profile.updated.v1` keeps each user's timezone in the user directory, and CompleteSession
//! dates the session (and its `session.completed.v1`) in that zone.

use stride_kit::convert;
use stride_proto::{Event as _, events};
use stride_testkit::{authed, bus::Publisher, fixtures};
use time::macros::{date, datetime};
use uuid::Uuid;

use crate::support::{FOCUS_25, complete_req, directory_timezone, start, start_req};

#[tokio::test]
async fn profile_timezone_sets_the_local_date_of_the_session_and_its_event() {
    let now = datetime!(2026-11-22 16:05 UTC);
    let (mut h, mut probe) = start(now).await;
    let user = Uuid::now_v7();
    let token = h.token(user);
    let profile_service = Publisher::start(&h.amqp, "profile").await;

    let id = profile_service
        .publish(&fixtures::profile_updated(
            user,
            "Ada",
            "Asia/Tokyo",
            1,
            now,
        ))
        .await;
    h.consumed(id).await;

    let s = h
        .client
        .start_session(authed(start_req(FOCUS_25), &token))
        .await
        .expect("start")
        .into_inner()
        .session
        .expect("s");
    h.clock.advance(time::Duration::minutes(25));
    let done = h
        .client
        .complete_session(authed(complete_req(&s.id), &token))
        .await
        .expect("complete")
        .into_inner()
        .session
        .expect("s");
    // 16:30 UTC is 01:30 the next day in Tokyo.
    assert_eq!(
        done.local_date.as_ref().and_then(convert::from_date),
        Some(date!(2026 - 11 - 23))
    );
    assert_eq!(done.timezone, "Asia/Tokyo");

    let (event_id, event_type, producer, e) = probe.next::<events::SessionCompleted>().await;
    assert_eq!(event_type, events::SessionCompleted::TYPE);
    assert_eq!(producer, "activity-session");
    assert_eq!(event_id.get_version_num(), 7);
    assert_eq!(e.user_id, user.to_string());
    assert_eq!(e.session_id, s.id);
    assert_eq!(e.activity_id, FOCUS_25);
    assert_eq!(e.activity_kind, "focus");
    assert_eq!(
        e.start_time.as_ref().and_then(convert::from_timestamp),
        Some(datetime!(2026-11-22 16:05 UTC))
    );
    assert_eq!(
        e.end_time.as_ref().and_then(convert::from_timestamp),
        Some(datetime!(2026-11-22 16:30 UTC))
    );
    assert_eq!(
        e.duration.as_ref().map(convert::from_duration),
        Some(time::Duration::minutes(25))
    );
    assert_eq!(
        e.local_date.as_ref().and_then(convert::from_date),
        Some(date!(2026 - 11 - 23))
    );
    assert_eq!(e.timezone, "Asia/Tokyo");
    // One completion, one event.
    assert!(probe.quiet_for(std::time::Duration::from_millis(500)).await);
    h.stop().await;
}

#[tokio::test]
async fn a_stale_profile_revision_does_not_overwrite_a_newer_one() {
    let now = datetime!(2026-11-22 16:05 UTC);
    let (h, _probe) = start(now).await;
    let user = Uuid::now_v7();
    let profile_service = Publisher::start(&h.amqp, "profile").await;
    let profile = |tz, revision| fixtures::profile_updated(user, "Ada", tz, revision, now);

    let newer = profile_service.publish(&profile("Asia/Tokyo", 5)).await;
    h.consumed(newer).await;
    let stale = profile_service.publish(&profile("Europe/Paris", 3)).await;
    h.consumed(stale).await;
    assert_eq!(
        directory_timezone(&h, user).await.as_deref(),
        Some("Asia/Tokyo")
    );

    let newest = profile_service.publish(&profile("Europe/Paris", 6)).await;
    h.consumed(newest).await;
    assert_eq!(
        directory_timezone(&h, user).await.as_deref(),
        Some("Europe/Paris")
    );
    h.stop().await;
}

#[tokio::test]
async fn a_start_after_the_zone_changed_is_dated_in_the_new_zone() {
    // A start is dated in the zone the service kept from the user's previous start; the
    // statement that stores it checks that zone is still the user's, so a change in between
    // (here, from the profile's event) is never missed.
    let now = datetime!(2026-11-22 23:30 UTC);
    let (h, _probe) = start(now).await;
    let user = Uuid::now_v7();
    let profile_service = Publisher::start(&h.amqp, "profile").await;
    let first = crate::support::session(&h, user, FOCUS_25, true).await;
    assert_eq!(
        first.start_local_date.as_ref().and_then(convert::from_date),
        Some(date!(2026 - 11 - 22)),
        "23:30 UTC, no zone known: UTC"
    );

    let id = profile_service
        .publish(&fixtures::profile_updated(
            user,
            "Ada",
            "Asia/Tokyo",
            1,
            now,
        ))
        .await;
    h.consumed(id).await;
    let second = crate::support::session(&h, user, FOCUS_25, false).await;
    // 23:55 UTC is 08:55 the next day in Tokyo.
    assert_eq!(
        second
            .start_local_date
            .as_ref()
            .and_then(convert::from_date),
        Some(date!(2026 - 11 - 23))
    );
    let in_tokyo: bool = sqlx::query_scalar(
        "SELECT position('Asia/Tokyo'::bytea IN payload) > 0 FROM outbox
         WHERE event_type = 'session.started.v1' ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(&h.db)
    .await
    .expect("the second start's event");
    assert!(in_tokyo, "session.started.v1 carries the new zone");
    h.stop().await;
}

#[tokio::test]
async fn a_completion_after_the_zone_changed_is_dated_in_the_new_zone() {
    // The service completes a session from its kept copy, computed in the zone of the start;
    // the statement checks that zone is still the user's, so a change since is never missed.
    let now = datetime!(2026-11-22 16:05 UTC);
    let (h, mut probe) = start(now).await;
    let user = Uuid::now_v7();
    let profile_service = Publisher::start(&h.amqp, "profile").await;
    let s = crate::support::session(&h, user, FOCUS_25, false).await;
    let id = profile_service
        .publish(&fixtures::profile_updated(
            user,
            "Ada",
            "Asia/Tokyo",
            1,
            now,
        ))
        .await;
    h.consumed(id).await;
    h.clock.advance(time::Duration::minutes(25));
    let done = crate::support::act(
        &h,
        user,
        &s.id,
        stride_proto::activity_session::SessionAction::Complete,
    )
    .await
    .expect("complete");
    // 16:30 UTC is 01:30 the next day in Tokyo.
    assert_eq!(
        (
            done.timezone.as_str(),
            done.local_date.as_ref().and_then(convert::from_date)
        ),
        ("Asia/Tokyo", Some(date!(2026 - 11 - 23)))
    );
    let (_, _, _, e) = probe.next::<events::SessionCompleted>().await;
    assert_eq!(e.timezone, "Asia/Tokyo");
    h.stop().await;
}
