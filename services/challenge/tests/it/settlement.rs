//! Windows settle by themselves once their last local day is over everywhere (final ranks,
//! `challenge.settled.v1`), or when their owner ends them; a settled window counts nothing
//! more; weekly windows come from a scheduler that replicas may race; stats add up.

use stride_kit::convert::from_date;
use stride_proto::{
    Event as _,
    challenge::{self as pb, GoalKind, ParticipantStatus, Visibility},
    events,
};
use stride_testkit::{
    EVENT_DEADLINE, authed,
    bus::{Probe, Publisher},
    eventually,
};
use time::macros::{date, datetime};
use uuid::Uuid;

use crate::{
    goals::focus,
    support::{FOCUS_THREE, Harness, deliver, start},
    user_challenges::{create, end, get, join, spec},
};

/// Wednesday 18 November 2026, 09:00 UTC.
const NOW: time::OffsetDateTime = datetime!(2026-11-18 09:00 UTC);

async fn periods(
    h: &Harness,
    user: Uuid,
    id: &str,
    page_size: i32,
    token: &str,
) -> pb::ListChallengePeriodsResponse {
    h.client
        .clone()
        .list_challenge_periods(authed(
            pb::ListChallengePeriodsRequest {
                challenge_id: id.into(),
                page_size,
                page_token: token.into(),
            },
            &h.token(user),
        ))
        .await
        .expect("periods")
        .into_inner()
}

async fn next_settled(probe: &mut Probe) -> events::ChallengeSettled {
    let (_, kind, producer, e) = probe.next::<events::ChallengeSettled>().await;
    assert_eq!(
        (kind.as_str(), producer.as_str()),
        (events::ChallengeSettled::TYPE, "challenge")
    );
    e
}

#[tokio::test]
async fn a_window_settles_by_itself_with_final_ranks_and_counts_nothing_after() {
    let (h, _completions) = start(NOW).await;
    let mut settled = Probe::bind(&h.amqp, events::ChallengeSettled::TYPE).await;
    let activity = Publisher::start(&h.amqp, "activity-session").await;
    let (ann, bob, cat, dan) = (
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
    );
    // Wednesday to Thursday.
    let c = create(
        &h,
        ann,
        pb::ChallengeSpec {
            visibility: Visibility::Public as i32,
            duration_days: 2,
            ..spec("Two days", GoalKind::SessionsCompleted, 2)
        },
    )
    .await;
    for u in [bob, cat, dan] {
        join(&h, u, &c.id).await.expect("join");
    }
    let t = |h: i64| NOW + time::Duration::hours(h);
    // Bob completes first (2 sessions by hour 2), Ann second (hour 5); Cat and Dan tie on 1;
    // Ann's third session keeps counting.
    for (user, hour) in [
        (bob, 1),
        (bob, 2),
        (ann, 3),
        (ann, 5),
        (cat, 6),
        (dan, 7),
        (ann, 8),
    ] {
        deliver(&h, &activity, &focus(user, t(hour))).await;
    }

    // Thursday ends in UTC−12 on Friday 12:00 UTC; the window settles an hour later.
    h.clock.set(datetime!(2026-11-20 12:59 UTC));
    assert!(
        settled
            .quiet_for(std::time::Duration::from_millis(1500))
            .await,
        "not yet due"
    );
    h.clock.set(datetime!(2026-11-20 13:00 UTC));
    let e = next_settled(&mut settled).await;
    assert_eq!(e.challenge_id, c.id);
    assert_eq!(e.owner_id, ann.to_string());
    assert!(!e.ended_early);
    assert_eq!(
        (
            e.window_start.as_ref().and_then(from_date),
            e.window_end.as_ref().and_then(from_date)
        ),
        (Some(date!(2026 - 11 - 18)), Some(date!(2026 - 11 - 19)))
    );
    assert_eq!((e.participant_count, e.completed_count), (4, 2));
    // Ann has the most (3); among the rest Bob completed; Cat and Dan tie, and share rank 3.
    let mut top: Vec<(String, i32, i32, bool)> = e
        .top
        .iter()
        .map(|p| (p.user_id.clone(), p.rank, p.current, p.completed))
        .collect();
    top.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
    let mut tied = [cat.to_string(), dan.to_string()];
    tied.sort();
    assert_eq!(
        top,
        [
            (ann.to_string(), 1, 3, true),
            (bob.to_string(), 2, 2, true),
            (tied[0].clone(), 3, 1, false),
            (tied[1].clone(), 3, 1, false),
        ]
    );
    // Settled once, however many ticks pass.
    assert!(
        settled
            .quiet_for(std::time::Duration::from_millis(2500))
            .await
    );

    // The caller's final rank shows on the window; a late session for it counts no more.
    let p = periods(&h, cat, &c.id, 0, "").await;
    assert_eq!(p.periods.len(), 1);
    let w = &p.periods[0];
    assert!(w.settle_time.is_some());
    assert_eq!((w.participant_count, w.completed_count), (4, 2));
    let mine = w.my_progress.as_ref().expect("cat's");
    assert_eq!(
        (mine.current, mine.final_rank, mine.status),
        (1, 3, ParticipantStatus::InProgress as i32)
    );
    deliver(&h, &activity, &focus(cat, datetime!(2026-11-19 23:00 UTC))).await;
    let got = get(&h, cat, &c.id).await.expect("get");
    assert_eq!(got.my_progress.expect("joined").current, 1);
    assert_eq!(got.state, pb::ChallengeState::Ended as i32);
    h.stop().await;
}

#[tokio::test]
async fn an_owner_ends_early_and_the_window_settles_at_once() {
    let (h, _completions) = start(NOW).await;
    let mut settled = Probe::bind(&h.amqp, events::ChallengeSettled::TYPE).await;
    let activity = Publisher::start(&h.amqp, "activity-session").await;
    let ann = Uuid::now_v7();
    let c = create(&h, ann, spec("Ten", GoalKind::SessionsCompleted, 10)).await;
    deliver(&h, &activity, &focus(ann, NOW + time::Duration::hours(1))).await;
    h.clock.advance(time::Duration::hours(2));
    end(&h, ann, &c.id).await.expect("end");
    let e = next_settled(&mut settled).await;
    assert!(e.ended_early);
    assert_eq!((e.participant_count, e.completed_count), (1, 0));
    assert_eq!(e.top.len(), 1);
    // Later sessions, even inside the dates, count no more; the settler does not settle again.
    deliver(&h, &activity, &focus(ann, NOW + time::Duration::hours(3))).await;
    let p = get(&h, ann, &c.id)
        .await
        .expect("get")
        .my_progress
        .expect("mine");
    assert_eq!((p.current, p.final_rank), (1, 1));
    // Past its last day: only the four weekly system windows of the week settle now.
    h.clock.set(datetime!(2026-11-26 00:00 UTC));
    for _ in 0..4 {
        let other = next_settled(&mut settled).await;
        assert_ne!(other.challenge_id, c.id);
        assert!(other.owner_id.is_empty(), "a system challenge");
    }
    assert!(
        settled
            .quiet_for(std::time::Duration::from_millis(2500))
            .await
    );
    h.stop().await;
}

#[tokio::test]
async fn schedulers_racing_create_each_weekly_window_once_and_past_weeks_stay_listed() {
    let (h, _probe) = start(NOW).await;
    let user = Uuid::now_v7();
    // Start-up scheduled this week for the four weekly challenges.
    let count = |h: &Harness| {
        let db = h.db.clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "SELECT count(*) FROM challenge_periods WHERE window_start = '2026-11-23'",
            )
            .fetch_one(&db)
            .await
            .expect("count")
        }
    };
    assert_eq!(count(&h).await, 0);
    // Sunday 11:00 UTC: Monday somewhere. Eight replicas race for next week's windows.
    let sunday = datetime!(2026-11-22 11:00 UTC);
    let racers: Vec<_> = (0..8)
        .map(|_| {
            let db = h.db.clone();
            tokio::spawn(async move { stride_challenge::jobs::schedule(&db, sunday).await })
        })
        .collect();
    let mut created = 0;
    for r in racers {
        created += r.await.expect("task").expect("schedule");
    }
    assert_eq!(created, 4, "one per weekly challenge, whoever won");
    assert_eq!(count(&h).await, 4);

    // Three weeks on, the past windows are listed newest first, settled, in pages.
    join(&h, user, FOCUS_THREE).await.expect("join");
    h.clock.set(datetime!(2026-12-09 09:00 UTC));
    let all = eventually(
        EVENT_DEADLINE,
        "the weeks are scheduled and settled",
        || {
            let h = &h;
            async move {
                let p = periods(h, user, FOCUS_THREE, 0, "").await;
                let starts: Vec<_> = p
                    .periods
                    .iter()
                    .map(|w| {
                        (
                            w.start_date.as_ref().and_then(from_date),
                            w.settle_time.is_some(),
                        )
                    })
                    .collect();
                (starts.len() >= 3 && starts.iter().skip(1).all(|(_, s)| *s)).then_some(starts)
            }
        },
    )
    .await;
    assert_eq!(all[0], (Some(date!(2026 - 12 - 07)), false));
    assert_eq!(
        all[1].0,
        Some(date!(2026 - 11 - 23)),
        "the week the racers made"
    );
    assert_eq!(all[2].0, Some(date!(2026 - 11 - 16)));
    let first = periods(&h, user, FOCUS_THREE, 1, "").await;
    assert_eq!(first.periods.len(), 1);
    let second = periods(&h, user, FOCUS_THREE, 1, &first.next_page_token).await;
    assert_eq!(
        second.periods[0].start_date.as_ref().and_then(from_date),
        Some(date!(2026 - 11 - 23))
    );
    h.stop().await;
}

#[tokio::test]
async fn stats_add_up_points_and_completed_windows() {
    let (h, _probe) = start(NOW).await;
    let activity = Publisher::start(&h.amqp, "activity-session").await;
    let user = Uuid::now_v7();
    join(&h, user, FOCUS_THREE).await.expect("join");
    let c = create(&h, user, spec("One", GoalKind::SessionsCompleted, 1)).await;
    for hour in 1..=3 {
        deliver(
            &h,
            &activity,
            &focus(user, NOW + time::Duration::hours(hour)),
        )
        .await;
    }
    let stats = h
        .client
        .clone()
        .get_challenge_stats(authed(pb::GetChallengeStatsRequest {}, &h.token(user)))
        .await
        .expect("stats")
        .into_inner();
    assert_eq!(stats.total_points, 50 + 20);
    assert_eq!(stats.challenges_completed, 2);
    // No reflection recorded on this branch's events: no streak, no average.
    assert_eq!(
        (
            stats.shutdown_streak_days,
            stats.average_shutdown_minute,
            stats.shutdown_count
        ),
        (0, -1, 0)
    );
    assert!(
        get(&h, user, &c.id)
            .await
            .expect("get")
            .my_progress
            .expect("p")
            .completed
    );
    let err = h
        .client
        .clone()
        .get_challenge_stats(tonic::Request::new(pb::GetChallengeStatsRequest {}))
        .await
        .expect_err("no token");
    assert_eq!(err.code(), tonic::Code::Unauthenticated);
    h.stop().await;
}
