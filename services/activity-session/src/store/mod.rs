//! SQL, one module per table: functions over the caller's connection or transaction that never
//! begin or commit. The user directory (each user's timezone) is `stride_bus::directory`.

pub mod activities;
pub mod routines;
pub mod sessions;
