//! Challenge rules, pure: no database, no transport.
//!
//! - [`challenge`]: what a challenge counts (goal kind, recurrence) and its windows.
//! - [`award`]: when a window is completed and paid, and how an award is dated.
//! - [`leaderboard`]: boards, periods, answer sizes and the tie rule.
//! - [`rewards`]: the activity input of reward rules, XP, levels and streaks.
//! - [`achievements`]: the achievement catalogue and its rules.
//! - [`friends`]: what a friend request does.

pub mod achievements;
pub mod award;
pub mod challenge;
pub mod friends;
pub mod leaderboard;
pub mod rewards;
