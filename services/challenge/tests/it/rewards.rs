//! RewardService and the rewards pipeline: sessions earn XP, unlock achievements (points and XP
//! once, announced), cross levels (announced); a cause counts once however often it is
//! delivered; history pages; boards per local period.

use prost::Message as _;
use stride_proto::{
    Event as _,
    challenge::{self as pb, LeaderboardMetric, LeaderboardPeriod},
    events,
};
use stride_testkit::{
    authed,
    bus::{Probe, Publisher, assert_invalid, publish_raw},
    fixtures,
};
use time::macros::datetime;
use tonic::Code;
use uuid::Uuid;

use crate::support::{board, deliver, profile, rewards, session, start};

async fn mine(h: &crate::support::Harness, user: Uuid) -> pb::GetMyRewardsResponse {
    rewards(h)
        .get_my_rewards(authed(pb::GetMyRewardsRequest {}, &h.token(user)))
        .await
        .expect("rewards")
        .into_inner()
}

#[tokio::test]
async fn sessions_earn_xp_achievements_and_levels_once() {
    let (h, _probe) = start(datetime!(2026-11-18 20:00 UTC)).await;
    let mut unlocked = Probe::bind(&h.amqp, events::AchievementUnlocked::TYPE).await;
    let mut levels = Probe::bind(&h.amqp, events::LevelReached::TYPE).await;
    let activity = Publisher::start(&h.amqp, "activity-session").await;
    let profiles = Publisher::start(&h.amqp, "profile").await;
    let user = Uuid::now_v7();
    deliver(&h, &profiles, &profile(user, "Ann", "UTC")).await;

    // A 25-minute focus session on three days in a row (Monday to Wednesday).
    let mut first = None;
    for end in [
        datetime!(2026-11-16 10:00 UTC),
        datetime!(2026-11-17 10:00 UTC),
        datetime!(2026-11-18 10:00 UTC),
    ] {
        let e = session(user, "focus", end, "UTC");
        let id = deliver(&h, &activity, &e).await;
        first.get_or_insert((id, e));
    }

    // 75 XP of sessions + first_session (20) + streak_3 (30) = 125: level 2 (from 100), 25 into
    // a level that takes 200. Points: 10 + 15.
    let r = mine(&h, user).await;
    assert_eq!(
        (r.xp, r.level, r.xp_into_level, r.xp_for_next_level),
        (125, 2, 25, 200)
    );
    assert_eq!((r.points, r.points_this_week), (25, 25));
    assert_eq!(
        (r.current_streak, r.best_streak, r.achievements_unlocked),
        (3, 3, 2)
    );

    let (_, kind, producer, a) = unlocked.next::<events::AchievementUnlocked>().await;
    assert_eq!(
        (kind.as_str(), producer.as_str()),
        ("achievement.unlocked.v1", "challenge")
    );
    // Dated by the session that unlocked it.
    assert_eq!(
        a,
        fixtures::achievement_unlocked(user, datetime!(2026-11-16 10:00 UTC))
    );
    let (_, _, _, a) = unlocked.next::<events::AchievementUnlocked>().await;
    assert_eq!(a.achievement_id, "streak_3");
    let (_, _, _, l) = levels.next::<events::LevelReached>().await;
    assert_eq!(
        l,
        fixtures::level_reached(user, 2, 125, datetime!(2026-11-18 10:00 UTC))
    );

    // The same message again, and the same session under a new message id: nothing changes.
    let (id, e) = first.expect("first session");
    publish_raw(
        &h.amqp,
        id,
        events::SessionCompleted::TYPE,
        "activity-session",
        &e.encode_to_vec(),
    )
    .await;
    h.deliveries("duplicate", 1).await;
    deliver(&h, &activity, &e).await;
    assert_eq!(mine(&h, user).await, r);
    assert!(
        unlocked
            .quiet_for(std::time::Duration::from_millis(500))
            .await
    );

    // History: newest first, in pages.
    let page = |token: String| {
        let mut c = rewards(&h);
        let tok = h.token(user);
        async move {
            c.list_points_history(authed(
                pb::ListPointsHistoryRequest {
                    page_size: 1,
                    page_token: token,
                },
                &tok,
            ))
            .await
            .expect("history")
            .into_inner()
        }
    };
    let p1 = page(String::new()).await;
    assert_eq!(p1.entries.len(), 1);
    assert_eq!(
        (
            p1.entries[0].reason.as_str(),
            p1.entries[0].source_id.as_str(),
            p1.entries[0].points
        ),
        ("achievement", "streak_3", 15)
    );
    let p2 = page(p1.next_page_token.clone()).await;
    assert_eq!(p2.entries[0].source_id, "first_session");
    assert!(
        page(p2.next_page_token.clone()).await.entries.is_empty() || p2.next_page_token.is_empty()
    );

    // The catalogue with progress.
    let all = rewards(&h)
        .list_achievements(authed(pb::ListAchievementsRequest {}, &h.token(user)))
        .await
        .expect("achievements")
        .into_inner()
        .achievements;
    let get = |id: &str| all.iter().find(|a| a.id == id).expect(id).clone();
    assert!(get("first_session").earned && get("first_session").unlock_time.is_some());
    let focus = get("focus_10");
    assert_eq!((focus.earned, focus.current, focus.target), (false, 3, 10));
    assert!(!get("streak_7").earned);
    assert_eq!(get("streak_7").current, 3);

    // Bad input is named; no token is refused.
    let err = rewards(&h)
        .list_points_history(authed(
            pb::ListPointsHistoryRequest {
                page_size: 500,
                page_token: "@@".into(),
            },
            &h.token(user),
        ))
        .await
        .expect_err("bad page");
    assert_invalid(&err, &["page_size", "page_token"]);
    let err = rewards(&h)
        .get_my_rewards(tonic::Request::new(pb::GetMyRewardsRequest {}))
        .await
        .expect_err("no token");
    assert_eq!(err.code(), Code::Unauthenticated);
    // Another user sees their own (empty) rewards, never Ann's.
    let r = mine(&h, Uuid::now_v7()).await;
    assert_eq!((r.xp, r.points, r.level), (0, 0, 1));
    h.stop().await;
}

#[tokio::test]
async fn week_boards_follow_each_users_local_week() {
    // Sunday 22 November 20:00 UTC is already Monday the 23rd in Tokyo.
    let (h, _probe) = start(datetime!(2026-11-23 01:00 UTC)).await;
    let activity = Publisher::start(&h.amqp, "activity-session").await;
    let profiles = Publisher::start(&h.amqp, "profile").await;
    let (tokyo, london) = (Uuid::now_v7(), Uuid::now_v7());
    deliver(&h, &profiles, &profile(tokyo, "Aki", "Asia/Tokyo")).await;
    deliver(&h, &profiles, &profile(london, "Lou", "UTC")).await;
    let end = datetime!(2026-11-22 20:00 UTC);
    deliver(&h, &activity, &session(tokyo, "study", end, "Asia/Tokyo")).await;
    deliver(&h, &activity, &session(london, "study", end, "UTC")).await;

    let xp = |period: LeaderboardPeriod| pb::GetLeaderboardRequest {
        period: period as i32,
        metric: LeaderboardMetric::Xp as i32,
        around: 1,
        ..Default::default()
    };
    // Now (Monday in both zones), this week holds Aki's session only: Lou's was last week.
    let week = board(&h, london, xp(LeaderboardPeriod::Week))
        .await
        .expect("week");
    let names: Vec<&str> = week
        .entries
        .iter()
        .map(|e| e.display_name.as_str())
        .collect();
    assert_eq!(names, ["Aki"]);
    assert_eq!(week.entries[0].points, 45); // 25 minutes + first_session's 20
    assert_eq!(week.participant_count, 1);
    assert_eq!(week.me.expect("me").rank, 0);
    assert_eq!(week.period_start.map(|d| (d.month, d.day)), Some((11, 23)));
    let all = board(&h, london, xp(LeaderboardPeriod::AllTime))
        .await
        .expect("all");
    assert_eq!(all.participant_count, 2);
    // Equal XP: both rank 1, Aki first (user id order: reached at the same instant).
    assert!(all.entries.iter().all(|e| e.rank == 1 && e.points == 45));
    let me = all.me.expect("me");
    assert!(me.is_me && me.rank == 1);
    assert_eq!(all.around_me.len(), 2);

    // Bad input is named.
    let err = board(
        &h,
        london,
        pb::GetLeaderboardRequest {
            around: 11,
            period: 9,
            metric: -1,
            scope: 7,
            challenge_id: "x".into(),
            ..Default::default()
        },
    )
    .await
    .expect_err("bad");
    assert_invalid(
        &err,
        &["around", "period", "metric", "scope", "challenge_id"],
    );
    let err = board(
        &h,
        london,
        pb::GetLeaderboardRequest {
            challenge_id: Uuid::now_v7().to_string(),
            ..Default::default()
        },
    )
    .await
    .expect_err("no such challenge");
    assert_eq!(err.code(), Code::NotFound);
    h.stop().await;
}
