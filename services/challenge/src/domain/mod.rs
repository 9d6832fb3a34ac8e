//! Challenge rules, pure: no database, no transport.
//!
//! - [`challenge`]: what a challenge counts (goal kind, recurrence), its windows and state.
//! - [`goal`]: what each goal type makes of an activity, and progress from contributions.
//! - [`spec`]: what a user may create or change, checked field by field.
//! - [`settlement`]: when a window settles, final ranks, the shutdown figures of the stats.
//! - [`award`]: when a window is completed and paid, and how an award is dated.
//! - [`leaderboard`]: how many entries a leaderboard shows.

pub mod award;
pub mod challenge;
pub mod goal;
pub mod leaderboard;
pub mod settlement;
pub mod spec;
