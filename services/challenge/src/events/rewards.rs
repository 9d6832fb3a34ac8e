//! The rewards pipeline every consumer feeds: an [`Activity`] in, XP, counters, achievements
//! (with their points and XP) and levels out, each award announced in the same transaction
//! (`achievement.unlocked.v1`, `level.reached.v1`). Wiring a new event is a mapping to an
//! `Activity` and one call to [`apply`] (see `events::record`).

use stride_bus::{HandlerError, Tx};
use stride_kit::convert::{date, timestamp};
use stride_proto::events;
use time::Date;
use uuid::Uuid;

use crate::{
    domain::{
        achievements::{self, Achievement},
        award::Occasion,
        rewards::{Activity, Kind, levels_reached, xp_for},
    },
    store::{self, ledger::PointsAward, rewards::Recorded},
};

/// A window of a challenge completed (and paid) as an activity.
pub fn challenge_activity(challenge: Uuid, window_start: Date, local_date: Date) -> Activity {
    Activity {
        kind: Kind::ChallengeCompleted,
        local_date,
        amount: 0,
        cause: format!("challenge:{challenge}:{window_start}"),
        reversal: false,
    }
}

/// Applies `a` for `user`, which happened on `occasion`.
pub async fn apply(
    tx: &mut Tx,
    user: Uuid,
    a: &Activity,
    occasion: &Occasion,
) -> Result<(), HandlerError> {
    let xp_before = store::rewards::xp_total(tx, user).await?;
    match store::rewards::record(tx, user, a).await? {
        Recorded::Unchanged => return Ok(()),
        Recorded::Counted => {
            let xp = xp_for(a.kind, a.amount);
            if xp > 0 {
                store::rewards::award_xp(
                    tx,
                    user,
                    &a.cause,
                    a.kind.as_str(),
                    xp,
                    a.local_date,
                    occasion.at,
                )
                .await?;
            }
        }
        Recorded::Reversed { .. } => {
            store::rewards::undo_xp(tx, user, &a.cause, occasion.at).await?;
        }
    }
    settle(tx, user, xp_before, occasion).await
}

/// Unlocks what the user's counters now earn (paying its points and XP) and announces the
/// levels their XP crossed since `xp_before`. Also run after a merge.
pub async fn settle(
    tx: &mut Tx,
    user: Uuid,
    xp_before: i64,
    occasion: &Occasion,
) -> Result<(), HandlerError> {
    let counters = store::rewards::counters(tx, user).await?;
    let unlocked: Vec<String> = store::rewards::unlocked(tx, user)
        .await?
        .into_keys()
        .collect();
    for a in achievements::newly_earned(&counters, &unlocked) {
        unlock(tx, user, a, occasion).await?;
    }
    let xp_after = store::rewards::xp_total(tx, user).await?;
    for level in levels_reached(xp_before, xp_after) {
        tx.publish(&events::LevelReached {
            user_id: user.to_string(),
            level: i32::try_from(level).unwrap_or(i32::MAX),
            xp_total: xp_after,
            occur_time: Some(timestamp(occasion.at)),
            local_date: Some(date(occasion.local_date)),
            timezone: occasion.timezone.clone(),
        })
        .await?;
        tracing::info!(user_id = %user, level, "level reached");
    }
    Ok(())
}

async fn unlock(
    tx: &mut Tx,
    user: Uuid,
    a: &Achievement,
    occasion: &Occasion,
) -> Result<(), HandlerError> {
    if !store::rewards::unlock(tx, user, a.id, occasion.at, occasion.local_date).await? {
        return Ok(());
    }
    let cause = format!("achievement:{}", a.id);
    store::ledger::award(
        tx,
        &PointsAward {
            user,
            cause: &cause,
            reason: "achievement",
            challenge: None,
            window_start: None,
            points: a.points,
            local_date: occasion.local_date,
            at: occasion.at,
        },
    )
    .await?;
    store::rewards::award_xp(
        tx,
        user,
        &cause,
        "achievement",
        i64::from(a.xp),
        occasion.local_date,
        occasion.at,
    )
    .await?;
    tx.publish(&events::AchievementUnlocked {
        user_id: user.to_string(),
        achievement_id: a.id.to_owned(),
        title: a.title.to_owned(),
        points_awarded: a.points,
        xp_awarded: a.xp,
        occur_time: Some(timestamp(occasion.at)),
        local_date: Some(date(occasion.local_date)),
        timezone: occasion.timezone.clone(),
    })
    .await?;
    tracing::info!(user_id = %user, achievement = a.id, "achievement unlocked");
    Ok(())
}

/// A guest's rewards and friends move to the target: nothing counted twice (causes are unique
/// per user), then the target's boards are rebuilt from what it now owns and whatever the
/// combined counters earn is unlocked now, on the merge's occasion.
pub async fn merge(
    tx: &mut Tx,
    source: Uuid,
    target: Uuid,
    occasion: &Occasion,
) -> Result<(), HandlerError> {
    let xp_before = store::rewards::xp_total(tx, target).await?;
    store::rewards::merge(tx, source, target).await?;
    store::friends::merge(tx, source, target).await?;
    store::leaderboard::rebuild_user(tx, target).await?;
    settle(tx, target, xp_before, occasion).await
}
