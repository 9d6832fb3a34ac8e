//! Membership events for profile's challenge-ending reminders: creating a challenge (the owner
//! is auto-joined), joining and leaving publish `challenge.joined.v1` / `challenge.left.v1`
//! with the participant's current window; joining twice or leaving when out publishes nothing.

use stride_proto::{Event, challenge::GoalKind, events};
use stride_testkit::bus::Probe;
use time::macros::{date, datetime};
use uuid::Uuid;

use crate::support::{FOCUS_THREE, join, start};
use crate::user_challenges::{create, leave, spec};

#[tokio::test]
async fn create_join_and_leave_publish_membership_events() {
    // Wednesday 18 November 2026.
    let (h, _probe) = start(datetime!(2026-11-18 09:00 UTC)).await;
    let mut joined = Probe::bind(&h.amqp, events::ChallengeJoined::TYPE).await;
    let mut left = Probe::bind(&h.amqp, events::ChallengeLeft::TYPE).await;
    let (owner, ann) = (Uuid::now_v7(), Uuid::now_v7());

    let c = create(
        &h,
        owner,
        spec("Ten focus", GoalKind::SessionsCompleted, 10),
    )
    .await;
    let (_, kind, producer, e) = joined.next::<events::ChallengeJoined>().await;
    assert_eq!(
        (kind.as_str(), producer.as_str()),
        ("challenge.joined.v1", "challenge")
    );
    assert_eq!(e.user_id, owner.to_string());
    assert_eq!(e.challenge_id, c.id);
    assert_eq!(e.title, "Ten focus");
    assert!(!e.weekly);
    assert_eq!(e.window_start, c.start_date);
    assert_eq!(e.window_end, c.end_date);
    assert!(e.window_end.is_some());

    join(&h, ann).await;
    join(&h, ann).await; // already in: nothing more
    let (_, _, _, e) = joined.next::<events::ChallengeJoined>().await;
    assert_eq!(
        (e.user_id.as_str(), e.challenge_id.as_str()),
        (ann.to_string().as_str(), FOCUS_THREE)
    );
    assert!(e.weekly);
    assert_eq!(
        e.window_start,
        Some(stride_kit::convert::date(date!(2026 - 11 - 16)))
    );
    assert_eq!(
        e.window_end,
        Some(stride_kit::convert::date(date!(2026 - 11 - 22)))
    );
    assert_eq!(e.timezone, "UTC");

    leave(&h, ann, FOCUS_THREE).await.expect("leave");
    let (_, kind, _, e) = left.next::<events::ChallengeLeft>().await;
    assert_eq!(kind, "challenge.left.v1");
    assert_eq!(
        (e.user_id.as_str(), e.challenge_id.as_str()),
        (ann.to_string().as_str(), FOCUS_THREE)
    );
    // Joining again an hour later is a new membership: announced again, and the next event is
    // this one (the second join above published nothing).
    let later = datetime!(2026-11-18 10:00 UTC);
    h.clock.set(later);
    join(&h, ann).await;
    let (_, _, _, e) = joined.next::<events::ChallengeJoined>().await;
    assert_eq!(e.user_id, ann.to_string());
    assert_eq!(e.challenge_id, FOCUS_THREE);
    assert_eq!(e.occur_time, Some(stride_kit::convert::timestamp(later)));
    h.stop().await;
}
