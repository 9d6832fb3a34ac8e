//! Challenge rules, pure: no database, no transport.
//!
//! - [`challenge`]: what a challenge counts (goal kind, recurrence) and its windows.
//! - [`award`]: when a window is completed and paid, and how an award is dated.
//! - [`leaderboard`]: how many entries a leaderboard shows.

pub mod award;
pub mod challenge;
pub mod leaderboard;
