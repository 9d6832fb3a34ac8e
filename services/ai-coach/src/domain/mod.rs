//! ai-coach's rules, pure: no database, no transport, no LLM client.
//!
//! - [`rules`]: the advice and suggested activity, always computed (the answer without an LLM,
//!   and the suggestion an LLM answer reuses).
//! - [`prompt`]: what the LLM is told, and the bounds on the caller's goal.
//! - [`recommendation`]: the answer given and the usage recorded, from the advice and the LLM's
//!   outcome.

// Study materials (ADR 0030): the chunker and the upload, ranking and citation rules.
pub mod chunk;
pub mod doubt;
pub mod evaluation;
// The agents' pure rules (ADR 0024), used by grpc/agents.rs (AgentService).
pub mod injury;
pub mod material;
pub mod nutrition;
pub mod optimize;
pub mod plan;
pub mod practice;
// The fitness agents' rules (ADR 0029): logs, adherence, recovery; one workout, suggestions.
pub mod progress;
pub mod prompt;
pub mod quiz;
pub mod recommendation;
pub mod rules;
pub mod safety;
pub mod workout;
