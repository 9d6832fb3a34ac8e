//! Challenge-ending and plan-day reminders scheduled from the challenge and plan events, across
//! the Paris fall-back (2026-10-25): armed once, cancelled by leaving, completing the window, an
//! early end, a reschedule and the plan's completion; a weekly challenge's reminder comes back
//! every week until the participant leaves.

use stride_proto::profile as pb;
use stride_testkit::{bus::Publisher, fixtures};
use time::macros::{date, datetime};
use uuid::Uuid;

use crate::reminders::{at, fast, inbox};
use crate::support::{start_notify, user_in};

const PARIS: &str = "Europe/Paris";

#[tokio::test]
async fn challenge_ending_fires_once_the_evening_before_the_last_day_unless_cancelled() {
    let (h, _probe) = start_notify(fast()).await;
    let now = datetime!(2026-10-26 12:00 UTC); // Monday, after the fall-back
    h.clock.set(now);
    let (ann, bob, cat, dan) = (
        user_in(&h, "ann", PARIS).await,
        user_in(&h, "bob", PARIS).await,
        user_in(&h, "cat", PARIS).await,
        user_in(&h, "dan", PARIS).await,
    );
    let challenge = Publisher::start(&h.amqp, "challenge").await;
    let (c1, c2, c3) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    // This week's window: Monday 26 Oct .. Sunday 1 Nov.
    let (start, end) = (date!(2026 - 10 - 26), Some(date!(2026 - 11 - 01)));
    let join = |u, c| fixtures::challenge_joined(u, c, start, end, true, now, PARIS);
    for (u, c) in [
        (ann, c1),
        (bob, c1),
        (cat, c2),
        (dan, c1),
        (ann, c3),
        (ann, c1),
    ] {
        h.consumed(challenge.publish(&join(u, c)).await).await;
    }
    // cat leaves c2; dan completes c1 this week; c3's owner ends it early.
    let left = fixtures::challenge_left(cat, c2, now, PARIS);
    h.consumed(challenge.publish(&left).await).await;
    let done = fixtures::challenge_completed(dan, c1, 10, now, PARIS);
    h.consumed(challenge.publish(&done).await).await;
    let mut ended = fixtures::challenge_settled(c3, bob, now);
    ended.ended_early = true;
    h.consumed(challenge.publish(&ended).await).await;

    // Saturday 31 Oct at 18:00 Paris is 17:00 UTC (UTC+1 since the 25th).
    at(&h, datetime!(2026-10-31 16:59 UTC)).await;
    assert!(inbox(&h, ann).await.is_empty());
    at(&h, datetime!(2026-10-31 17:00 UTC)).await;
    for u in [ann, bob] {
        let got = inbox(&h, u).await;
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].kind, pb::NotificationKind::ChallengeEnding as i32);
        assert_eq!(got[0].title, "Focus Three");
    }
    at(&h, datetime!(2026-11-03 12:00 UTC)).await;
    assert_eq!(inbox(&h, ann).await.len(), 1, "once, and c3 never");
    assert_eq!(inbox(&h, bob).await.len(), 1);
    assert!(inbox(&h, cat).await.is_empty(), "left");
    assert!(inbox(&h, dan).await.is_empty(), "completed the window");

    // The challenge is weekly: next week's window (2..8 Nov) is reminded on Saturday the 7th,
    // dan's too (he completed last week's, not this one); ann then leaves and hears no more.
    at(&h, datetime!(2026-11-07 16:59 UTC)).await;
    assert_eq!(inbox(&h, bob).await.len(), 1);
    at(&h, datetime!(2026-11-07 17:00 UTC)).await;
    for (u, n) in [(ann, 2), (bob, 2), (dan, 1), (cat, 0)] {
        assert_eq!(inbox(&h, u).await.len(), n, "week 2");
    }
    let left = fixtures::challenge_left(ann, c1, datetime!(2026-11-08 09:00 UTC), PARIS);
    h.consumed(challenge.publish(&left).await).await;
    at(&h, datetime!(2026-11-14 17:00 UTC)).await;
    for (u, n) in [(ann, 2), (bob, 3), (dan, 2), (cat, 0)] {
        assert_eq!(inbox(&h, u).await.len(), n, "week 3");
    }
    h.stop().await;
}

#[tokio::test]
async fn plan_days_follow_the_schedule_and_stop_when_the_plan_completes() {
    let (h, _probe) = start_notify(fast()).await;
    let now = datetime!(2026-10-26 12:00 UTC);
    h.clock.set(now);
    let ann = user_in(&h, "ann", PARIS).await;
    let activity = Publisher::start(&h.amqp, "activity-session").await;
    let mut assigned = fixtures::plan_assigned(ann, 3, now, PARIS);
    let plan = assigned.user_plan_id.clone();
    // The 26th's 08:00 is already past: no reminder for it.
    assigned.training_dates = [
        date!(2026 - 10 - 26),
        date!(2026 - 10 - 27),
        date!(2026 - 10 - 29),
        date!(2026 - 10 - 31),
    ]
    .into_iter()
    .map(stride_kit::convert::date)
    .collect();
    h.consumed(activity.publish(&assigned).await).await;
    // Paused then resumed: the 27th and 31st drop out, the 29th stays, 2 Nov joins.
    let paused = fixtures::plan_rescheduled(ann, &plan, "paused", &[], now, PARIS);
    h.consumed(activity.publish(&paused).await).await;
    let dates = [date!(2026 - 10 - 29), date!(2026 - 11 - 02)];
    let resumed = fixtures::plan_rescheduled(ann, &plan, "active", &dates, now, PARIS);
    h.consumed(activity.publish(&resumed).await).await;

    at(&h, datetime!(2026-10-28 12:00 UTC)).await;
    assert!(inbox(&h, ann).await.is_empty(), "the 27th was taken off");
    // 08:00 Paris on the 29th is 07:00 UTC.
    at(&h, datetime!(2026-10-29 06:59 UTC)).await;
    assert!(inbox(&h, ann).await.is_empty());
    at(&h, datetime!(2026-10-29 07:00 UTC)).await;
    let got = inbox(&h, ann).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].kind, pb::NotificationKind::PlanDayDue as i32);
    // Completing the plan cancels 2 Nov.
    let mut completed = fixtures::plan_completed(ann, 2, 3, now, PARIS);
    completed.user_plan_id = plan.clone();
    h.consumed(activity.publish(&completed).await).await;
    at(&h, datetime!(2026-11-03 12:00 UTC)).await;
    assert_eq!(
        inbox(&h, ann).await.len(),
        1,
        "once, and nothing after completion"
    );
    h.stop().await;
}
