//! analytics' tables, one module per group. Functions run on the caller's connection or
//! transaction and never begin or commit.

pub mod log;
pub mod rollups;
pub mod settings;
pub mod tasks;
// H (issue 15): trends, mastery, share cards, figures for the CSV export and the dashboard.
pub mod evaluations;
pub mod figures;
pub mod mastery;
pub mod share;

pub use rollups::*;
