//! The standings read model at scale: 50,000 users on one board, loaded in one statement, and
//! the answers checked against arithmetic — ranks with ties, around-me at and inside a run of
//! equal scores, opt-outs and blocks taken out of lists and counts.

use stride_proto::challenge::{self as pb, LeaderboardPeriod};
use stride_testkit::{bus::Publisher, fixtures};
use time::macros::datetime;
use uuid::Uuid;

use crate::support::{Harness, board, deliver, start};

/// User `i` of the load (1..=50,000).
fn user(i: u32) -> Uuid {
    Uuid::parse_str(&format!("00000000-0000-4000-8000-{i:012x}")).expect("uuid")
}

/// Users 1..=50,000: user `i` scores `7 × (i mod 1000)` (50 users per score, scores spread over
/// 7 bands), reached at `i` seconds past a fixed instant (so within a score, lower `i` first).
async fn load(h: &Harness) {
    sqlx::query(
        "INSERT INTO standings (board, user_id, score, reached_at, visible)
         SELECT 'points:all', ('00000000-0000-4000-8000-' || lpad(to_hex(i), 12, '0'))::uuid,
                7 * (i % 1000), timestamptz '2026-01-01 00:00Z' + i * interval '1 second', true
         FROM generate_series(1, 50000) AS i",
    )
    .execute(&h.db)
    .await
    .expect("standings");
    sqlx::query(
        "INSERT INTO standing_counts (board, score, n)
         SELECT board, score, count(*) FROM standings GROUP BY board, score",
    )
    .execute(&h.db)
    .await
    .expect("counts");
    sqlx::query(
        "INSERT INTO standing_bands (board, band, n)
         SELECT board, score >> 10, count(*) FROM standings GROUP BY board, score >> 10",
    )
    .execute(&h.db)
    .await
    .expect("bands");
    sqlx::query(
        "INSERT INTO standing_subbands (board, sub, n)
         SELECT board, score >> 5, count(*) FROM standings GROUP BY board, score >> 5",
    )
    .execute(&h.db)
    .await
    .expect("sub-bands");
}

/// (rank, user index, score) of entries.
fn lines(entries: &[pb::LeaderboardEntry]) -> Vec<(i32, u32, i64)> {
    entries
        .iter()
        .map(|e| {
            let id = Uuid::parse_str(&e.user_id).expect("id");
            let i = u32::try_from(id.as_u128() & 0xffff_ffff_ffff).expect("index");
            (e.rank, i, e.points)
        })
        .collect()
}

async fn all_time(h: &Harness, i: u32, around: i32) -> pb::GetLeaderboardResponse {
    board(
        h,
        user(i),
        pb::GetLeaderboardRequest {
            period: LeaderboardPeriod::AllTime as i32,
            around,
            ..Default::default()
        },
    )
    .await
    .expect("board")
}

#[tokio::test]
async fn fifty_thousand_users_rank_by_counts_with_ties_around_me_optouts_and_blocks() {
    let (h, _probe) = start(datetime!(2026-11-18 09:00 UTC)).await;
    load(&h).await;

    // Top 10: the best score (6,993) is shared by users 999, 1999, …: all rank 1, earliest first.
    let b = all_time(&h, 12_345, 2).await;
    let expected_top: Vec<(i32, u32, i64)> = (0..10).map(|k| (1, 999 + 1000 * k, 6_993)).collect();
    assert_eq!(lines(&b.entries), expected_top);
    assert_eq!(b.participant_count, 50_000);

    // User 12,345 scores 7 × 345: 654 higher scores × 50 users ahead, so rank 32,701; around
    // them the users of the same score reached just before and after.
    let me = b.me.expect("me");
    assert_eq!((me.rank, me.points, me.is_me), (32_701, 2_415, true));
    assert_eq!(
        lines(&b.around_me),
        [10_345, 11_345, 12_345, 13_345, 14_345].map(|i| (32_701, i, 2_415))
    );

    // The first of a score: before them, the last two of the score above (rank 32,651).
    let b = all_time(&h, 345, 2).await;
    assert_eq!(
        lines(&b.around_me),
        [
            (32_651, 48_346, 2_422),
            (32_651, 49_346, 2_422),
            (32_701, 345, 2_415),
            (32_701, 1_345, 2_415),
            (32_701, 2_345, 2_415),
        ]
    );
    // The very last line: nothing after it.
    let b = all_time(&h, 50_000, 1).await;
    assert_eq!(b.me.as_ref().map(|m| (m.rank, m.points)), Some((49_951, 0)));
    assert_eq!(
        lines(&b.around_me),
        [(49_951, 49_000, 0), (49_951, 50_000, 0)]
    );

    // User 999 opts out of public boards (profile), and 12,345 blocks user 1,999: both leave the
    // list, the count and the ranks below them — for 12,345; others still see 1,999.
    let profiles = Publisher::start(&h.amqp, "profile").await;
    let hidden = stride_proto::events::ProfileUpdated {
        show_on_leaderboards: false,
        ..fixtures::profile_updated(user(999), "Nine", "UTC", 1, datetime!(2026-11-01 00:00 UTC))
    };
    deliver(&h, &profiles, &hidden).await;
    sqlx::query("INSERT INTO blocks (blocker, blocked, created_at) VALUES ($1, $2, now())")
        .bind(user(12_345))
        .bind(user(1_999))
        .execute(&h.db)
        .await
        .expect("block");
    let b = all_time(&h, 12_345, 1).await;
    let top: Vec<u32> = lines(&b.entries).iter().map(|l| l.1).collect();
    assert_eq!(top, (2..12).map(|k| 999 + 1000 * k).collect::<Vec<_>>());
    assert_eq!(b.me.expect("me").rank, 32_699);
    assert_eq!(b.participant_count, 49_998);
    let b = all_time(&h, 5, 0).await;
    assert_eq!(lines(&b.entries).first(), Some(&(1, 1_999, 6_993)));
    assert_eq!(b.participant_count, 49_999);
    assert!(b.around_me.is_empty());
    // The one who opted out still sees their own rank (among the visible users).
    let b = all_time(&h, 999, 1).await;
    assert_eq!(b.me.expect("me").rank, 1);
    assert!(lines(&b.entries).iter().all(|l| l.1 != 999));

    // Opting back in (a newer revision) restores the line; a stale revision changes nothing.
    let back = stride_proto::events::ProfileUpdated {
        revision: 3,
        ..fixtures::profile_updated(user(999), "Nine", "UTC", 3, datetime!(2026-11-02 00:00 UTC))
    };
    deliver(&h, &profiles, &back).await;
    let stale = stride_proto::events::ProfileUpdated {
        revision: 2,
        ..hidden.clone()
    };
    deliver(&h, &profiles, &stale).await;
    let b = all_time(&h, 5, 0).await;
    assert_eq!(lines(&b.entries).first(), Some(&(1, 999, 6_993)));
    assert_eq!(b.participant_count, 50_000);
    h.stop().await;
}
