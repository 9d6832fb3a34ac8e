//! SQL, one module per table: functions over the caller's connection or transaction that never
//! begin or commit. The user directory (each user's timezone) is `stride_bus::directory`.

pub mod activities;
pub mod exercises;
pub mod plan_templates;
pub mod routines;
pub mod sessions;
// Tasks, shutdown reflections, learning (issue 13, part C).
pub mod learning;
pub mod plans;
pub mod reflections;
pub mod tasks;
pub mod workouts;
