//! analytics' gRPC services. `AnalyticsService` (one handler table, in `progress`) answers
//! from `progress`, `feed` and `focus`.

mod feed;
mod focus;
mod progress;
// H (issue 15): one module per gRPC service, wired by `serve_views`.
mod caller;
mod dashboard;
mod figures;
mod mastery;
mod share;
mod trends;

pub use progress::Summaries;

use stride_kit::clock::SharedClock;

/// Adds H's gRPC services (trends, mastery, dashboard, figures, share cards) to `service`.
pub fn serve_views(
    service: &mut stride_kit::service::Builder,
    config: &crate::Config,
    clock: &SharedClock,
) -> anyhow::Result<()> {
    use stride_kit::grpc::lazy_channel;
    use stride_proto::analytics::{
        dashboard_service_server::DashboardServiceServer,
        figures_service_server::FiguresServiceServer, mastery_service_server::MasteryServiceServer,
        share_service_server::ShareServiceServer, trends_service_server::TrendsServiceServer,
    };
    let pool = service.pool().clone();
    service.grpc(TrendsServiceServer::new(trends::Trends {
        pool: pool.clone(),
        clock: clock.clone(),
    }));
    service.grpc(MasteryServiceServer::new(mastery::Masteries {
        pool: pool.clone(),
    }));
    service.grpc(DashboardServiceServer::new(dashboard::Dashboard {
        pool: pool.clone(),
        clock: clock.clone(),
        ai_coach: lazy_channel(&config.ai_coach_url)?,
        challenge: lazy_channel(&config.challenge_url)?,
        deadline: config.dashboard_peer_timeout,
    }));
    service.grpc(FiguresServiceServer::new(figures::Figures {
        pool: pool.clone(),
    }));
    service.grpc(ShareServiceServer::new(share::Shares {
        pool,
        clock: clock.clone(),
    }));
    Ok(())
}
