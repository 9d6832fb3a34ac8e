//! analytics' rules, pure: no database, no transport. Local dates are the producers' (a session
//! counts on the date activity-session computed in the user's zone at its end); analytics only
//! decides which date is "today", and that in the user's current zone.
//!
//! - [`rollup`]: what one event adds to a day.
//! - [`summary`]: which week a summary shows and its seven days.
//! - [`streak`]: current and longest streak from runs of active days.
//! - [`period`]: the day/week/month/year/custom period of a summary and the one before.
//! - [`shutdown`]: seed 001's shutdown summary rules and daily points.
//! - [`timezone`]: which zone "today" is computed in.

pub mod period;
pub mod rollup;
pub mod shutdown;
pub mod streak;
pub mod summary;
pub mod timezone;
// H (issue 15): trends, mastery, dashboard, CSV export, share cards.
pub mod csv;
pub mod dashboard;
pub mod mastery;
pub mod share;
pub mod trends;
pub mod window;
