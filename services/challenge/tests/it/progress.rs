//! `session.completed.v1` advances the progress of the challenges the user joined: counted in
//! the window of the session's local date, completed and paid once, announced as
//! `challenge.completed.v1`; a redelivery counts once.

use prost::Message as _;
use stride_kit::convert;
use stride_proto::{Event as _, events};
use stride_testkit::bus::{Publisher, consumed_count, publish_raw};
use time::macros::{date, datetime};
use uuid::Uuid;

use crate::support::{
    FOCUS_THREE, deliver, join, leaderboard, next_completion, profile, progress, session, start,
};

#[tokio::test]
async fn three_focus_sessions_complete_the_weekly_challenge_and_award_points_once() {
    // Wednesday 2026-11-18; the ISO week runs from Monday the 16th to Sunday the 22nd.
    let (h, mut probe) = start(datetime!(2026-11-18 09:00 UTC)).await;
    let user = Uuid::now_v7();
    let activity = Publisher::start(&h.amqp, "activity-session").await;

    // Before joining: the session does not count.
    let early = session(user, "focus", datetime!(2026-11-18 08:30 UTC), "UTC");
    deliver(&h, &activity, &early).await;
    join(&h, user).await;
    assert_eq!(progress(&h, user).await.current, 0);

    // Other kinds do not count either.
    let other = session(user, "workout", datetime!(2026-11-18 10:00 UTC), "UTC");
    deliver(&h, &activity, &other).await;
    for hour in [10, 12, 14] {
        let end = datetime!(2026-11-18 00:00 UTC) + time::Duration::hours(hour);
        deliver(&h, &activity, &session(user, "focus", end, "UTC")).await;
    }

    let res = crate::support::get(&h, user).await;
    let c = res.challenge.expect("challenge");
    assert!(c.joined);
    assert_eq!(c.participant_count, 1);
    let p = res.my_progress.expect("progress");
    assert_eq!((p.current, p.target, p.completed), (3, 3, true));
    assert_eq!(
        p.window_start.as_ref().and_then(convert::from_date),
        Some(date!(2026 - 11 - 16))
    );
    assert_eq!(
        p.window_end.as_ref().and_then(convert::from_date),
        Some(date!(2026 - 11 - 22))
    );
    assert_eq!(
        p.complete_time.as_ref().and_then(convert::from_timestamp),
        Some(datetime!(2026-11-18 14:00 UTC))
    );
    assert_eq!(
        p.join_time.as_ref().and_then(convert::from_timestamp),
        Some(datetime!(2026-11-18 09:00 UTC))
    );

    let (event_id, e) = next_completion(&mut probe).await;
    assert_eq!(event_id.get_version_num(), 7);
    assert_eq!(e.user_id, user.to_string());
    assert_eq!(e.challenge_id, FOCUS_THREE);
    assert_eq!(e.title, "Focus Three");
    assert_eq!(e.points_awarded, 50);
    assert_eq!(
        e.window_start.as_ref().and_then(convert::from_date),
        Some(date!(2026 - 11 - 16))
    );
    assert_eq!(
        e.occur_time.as_ref().and_then(convert::from_timestamp),
        Some(datetime!(2026-11-18 14:00 UTC))
    );
    assert_eq!(
        e.local_date.as_ref().and_then(convert::from_date),
        Some(date!(2026 - 11 - 18))
    );
    assert_eq!(e.timezone, "UTC");

    // A fourth session keeps counting but never pays again.
    let fourth = session(user, "focus", datetime!(2026-11-18 16:00 UTC), "UTC");
    deliver(&h, &activity, &fourth).await;
    let p = progress(&h, user).await;
    assert_eq!((p.current, p.completed), (4, true));
    assert!(
        probe.quiet_for(std::time::Duration::from_secs(1)).await,
        "no second challenge.completed.v1"
    );
    // 50 for the week, 10 each for first_session, first_workout and first_challenge.
    let me = leaderboard(&h, user, 0).await.me.expect("me");
    assert_eq!((me.rank, me.points), (1, 80));
    h.stop().await;
}

#[tokio::test]
async fn the_same_event_delivered_twice_counts_once() {
    let (h, _probe) = start(datetime!(2026-11-18 09:00 UTC)).await;
    let user = Uuid::now_v7();
    join(&h, user).await;

    let event_id = Uuid::now_v7();
    let payload = session(user, "focus", datetime!(2026-11-18 10:00 UTC), "UTC").encode_to_vec();
    for _ in 0..2 {
        publish_raw(
            &h.amqp,
            event_id,
            events::SessionCompleted::TYPE,
            "activity-session",
            &payload,
        )
        .await;
    }
    h.consumed(event_id).await;
    h.deliveries("duplicate", 1).await;
    assert_eq!(consumed_count("challenge", "handled"), 1);
    let p = progress(&h, user).await;
    assert_eq!((p.current, p.completed), (1, false));
    h.stop().await;
}

#[tokio::test]
async fn sessions_count_in_the_iso_week_of_their_local_date() {
    // Monday 2026-11-02.
    let (h, _probe) = start(datetime!(2026-11-02 08:00 UTC)).await;
    let user = Uuid::now_v7();
    let activity = Publisher::start(&h.amqp, "activity-session").await;
    let profiles = Publisher::start(&h.amqp, "profile").await;
    join(&h, user).await;

    let ends = [
        (datetime!(2026-11-04 12:00 UTC), "UTC"),
        // Sunday 23:30 UTC is already Monday the 9th in Tokyo: the next week's window.
        (datetime!(2026-11-08 23:30 UTC), "Asia/Tokyo"),
        (datetime!(2026-11-11 12:00 UTC), "Asia/Tokyo"),
    ];
    for (end, tz) in ends {
        deliver(&h, &activity, &session(user, "focus", end, tz)).await;
    }

    h.clock.set(datetime!(2026-11-05 12:00 UTC));
    let p = progress(&h, user).await;
    assert_eq!(
        p.window_start.as_ref().and_then(convert::from_date),
        Some(date!(2026 - 11 - 02))
    );
    assert_eq!(p.current, 1);

    h.clock.set(datetime!(2026-11-12 12:00 UTC));
    let p = progress(&h, user).await;
    assert_eq!(
        p.window_start.as_ref().and_then(convert::from_date),
        Some(date!(2026 - 11 - 09))
    );
    assert_eq!(
        p.window_end.as_ref().and_then(convert::from_date),
        Some(date!(2026 - 11 - 15))
    );
    assert_eq!(p.current, 2);

    // "Now" is read in the caller's stored timezone: Sunday 20:00 UTC is Monday in Tokyo.
    h.clock.set(datetime!(2026-11-08 20:00 UTC));
    assert_eq!(
        progress(&h, user)
            .await
            .window_start
            .as_ref()
            .and_then(convert::from_date),
        Some(date!(2026 - 11 - 02))
    );
    deliver(&h, &profiles, &profile(user, "Ada", "Asia/Tokyo")).await;
    let p = progress(&h, user).await;
    assert_eq!(
        p.window_start.as_ref().and_then(convert::from_date),
        Some(date!(2026 - 11 - 09))
    );
    assert_eq!(p.current, 2);
    h.stop().await;
}

#[tokio::test]
async fn a_session_that_does_not_count_earns_no_progress() {
    // The seed's exploit: three start/complete pairs within a second. activity-session marks
    // them `counts = false`; challenge must not count them.
    let (h, _probe) = start(datetime!(2026-11-18 09:00 UTC)).await;
    let user = Uuid::now_v7();
    let activity = Publisher::start(&h.amqp, "activity-session").await;
    join(&h, user).await;
    for minute in [1, 2, 3] {
        let end = datetime!(2026-11-18 10:00 UTC) + time::Duration::minutes(minute);
        let e = stride_testkit::fixtures::session_completed_uncounted(
            user,
            "focus",
            end,
            time::Duration::seconds(1),
            "UTC",
        );
        deliver(&h, &activity, &e).await;
    }
    assert_eq!(progress(&h, user).await.current, 0);
    // A session that counts still does; one without the field (an older producer) too.
    deliver(
        &h,
        &activity,
        &session(user, "focus", datetime!(2026-11-18 11:00 UTC), "UTC"),
    )
    .await;
    let legacy = events::SessionCompleted {
        counts: None,
        ..session(user, "focus", datetime!(2026-11-18 12:00 UTC), "UTC")
    };
    deliver(&h, &activity, &legacy).await;
    assert_eq!(progress(&h, user).await.current, 2);
    h.stop().await;
}
