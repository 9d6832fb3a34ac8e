//! Auth's rules as plain functions: no database, no gRPC, no broker. Every module here is
//! unit-tested in place; nothing in here imports the rest of the crate.

pub mod audit;
pub mod breached;
pub mod codes;
pub mod crypto;
pub mod identity;
pub mod limits;
pub mod notices;
pub mod refresh;
pub mod roles;
pub mod sessions;
pub mod throttle;
pub mod validate;
