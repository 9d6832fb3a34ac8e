//! `stride.analytics.v1.FiguresService`: the caller's daily figures as CSV.

use sqlx::PgPool;
use stride_kit::{AppResult, Call, Violations};
use stride_proto::analytics::{self as pb, figures_service_server::FiguresService};

use super::caller;
use crate::{
    domain::{csv, window},
    store,
};

pub struct Figures {
    pub pool: PgPool,
}

stride_kit::grpc_handlers! {
    impl FiguresService for Figures {
        fn export_figures_csv(pb::ExportFiguresCsvRequest) -> pb::ExportFiguresCsvResponse => export_figures_csv;
    }
}

async fn export_figures_csv(
    s: &Figures,
    call: Call<pb::ExportFiguresCsvRequest>,
) -> AppResult<pb::ExportFiguresCsvResponse> {
    let user = call.caller()?.user_id;
    let req = &call.message;
    let mut v = Violations::new();
    let start = caller::date(&mut v, "start_date", req.start_date.as_ref());
    let end = caller::date(&mut v, "end_date", req.end_date.as_ref());
    v.when(req.start_date.is_none(), "start_date", "is required");
    v.when(req.end_date.is_none(), "end_date", "is required");
    if let (Some(start), Some(end)) = (start, end) {
        window::check(&mut v, start, end, "end_date");
    }
    v.check()?;
    let (Some(start), Some(end)) = (start, end) else {
        return Err(stride_kit::AppError::invalid("start_date", "is required"));
    };
    let mut conn = s.pool.acquire().await?;
    let rows = store::figures::rows(&mut conn, user, start, end).await?;
    let (csv, row_count) = csv::render(start, end, &rows);
    Ok(pb::ExportFiguresCsvResponse {
        content_type: csv::CONTENT_TYPE.to_owned(),
        filename: csv::filename(start, end),
        csv,
        row_count,
    })
}
