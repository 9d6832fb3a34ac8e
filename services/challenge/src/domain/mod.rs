//! Challenge rules, pure: no database, no transport.
//!
//! - [`challenge`]: what a challenge counts (goal kind, recurrence), its windows and state.
//! - [`goal`]: what each goal type makes of an activity, and progress from contributions.
//! - [`spec`]: what a user may create or change, checked field by field.
//! - [`settlement`]: when a window settles, final ranks, the shutdown figures of the stats.
//! - [`award`]: when a window is completed and paid, and how an award is dated.
//! - [`leaderboard`]: boards, periods, answer sizes and the tie rule.
//! - [`rewards`]: the activity input of reward rules, XP, levels and streaks.
//! - [`achievements`]: the achievement catalogue and its rules.
//! - [`friends`]: what a friend request does.

pub mod achievements;
pub mod award;
pub mod challenge;
pub mod friends;
pub mod goal;
pub mod leaderboard;
pub mod rewards;
pub mod settlement;
pub mod spec;
