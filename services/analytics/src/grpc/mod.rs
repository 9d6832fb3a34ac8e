//! analytics' gRPC services, one module per service.

mod progress;

pub use progress::Summaries;
