//! analytics' tables, one module per group. Functions run on the caller's connection or
//! transaction and never begin or commit.

pub mod log;
pub mod rollups;
pub mod settings;
pub mod tasks;

pub use rollups::*;
