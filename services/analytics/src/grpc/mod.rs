//! analytics' gRPC services. `AnalyticsService` (one handler table, in `progress`) answers
//! from `progress`, `feed` and `focus`.

mod feed;
mod focus;
mod progress;

pub use progress::Summaries;
