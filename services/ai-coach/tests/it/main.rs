//! ai-coach in-process with the real analytics and activity-session services (shared token
//! issuer, clock and broker vhost), and a local stand-in for an OpenAI-compatible LLM.

mod agents;
mod conversations;
mod doubts;
mod feedback;
mod fitness;
mod lifecycle;
mod llm;
mod materials;
mod practice;
mod quiz;
mod recommendation;
mod support;
