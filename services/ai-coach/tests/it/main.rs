//! ai-coach in-process with the real analytics and activity-session services (shared token
//! issuer, one broker vhost), and a local stand-in for an OpenAI-compatible LLM.

mod recommendation;
mod support;
mod user_deleted;
mod user_merged;
