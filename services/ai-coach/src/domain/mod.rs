//! ai-coach's rules, pure: no database, no transport, no LLM client.
//!
//! - [`rules`]: the advice and suggested activity, always computed (the answer without an LLM,
//!   and the suggestion an LLM answer reuses).
//! - [`prompt`]: what the LLM is told, and the bounds on the caller's goal.
//! - [`recommendation`]: the answer given and the usage recorded, from the advice and the LLM's
//!   outcome.

// Pure rules of the agents (ADR 0024); their gRPC handlers (AgentService) are not built yet,
// so only the unit tests use them today.
#[allow(dead_code)]
pub mod injury;
// Pure rules of the agents (ADR 0024); their gRPC handlers (AgentService) are not built yet,
// so only the unit tests use them today.
#[allow(dead_code)]
pub mod nutrition;
// Pure rules of the agents (ADR 0024); their gRPC handlers (AgentService) are not built yet,
// so only the unit tests use them today.
#[allow(dead_code)]
pub mod plan;
pub mod prompt;
pub mod recommendation;
pub mod rules;
// Pure rules of the agents (ADR 0024); their gRPC handlers (AgentService) are not built yet,
// so only the unit tests use them today.
#[allow(dead_code)]
pub mod safety;
