//! Logs and traces. `tracing` everywhere; when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, spans are
//! exported over OTLP/gRPC and W3C trace context crosses gRPC metadata (here) and AMQP headers
//! (in the bus crate).

use opentelemetry::{
    propagation::TextMapPropagator, trace::TraceContextExt, trace::TracerProvider as _,
};
use opentelemetry_http::{HeaderExtractor, HeaderInjector};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::{propagation::TraceContextPropagator, trace::SdkTracerProvider};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::{
    EnvFilter, Layer as _, filter::LevelFilter, layer::SubscriberExt, util::SubscriberInitExt,
};

/// Flushes spans on drop.
pub struct TelemetryGuard(Option<SdkTracerProvider>);

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = p.shutdown();
        }
    }
}

/// Installs the global subscriber. Must run inside the Tokio runtime (the OTLP exporter needs it).
/// The log filter when `RUST_LOG` is unset. Launchers leave `RUST_LOG` unset unless the operator
/// sets it: a blanket `RUST_LOG=info` would bring back lapin's per-message warnings and sqlx's
/// statement logs this filter keeps quiet.
pub const DEFAULT_LOG_FILTER: &str =
    "info,sqlx=warn,lapin=warn,lapin::returned_messages=error,h2=warn";

/// `STRIDE_LOG_FORMAT=json` switches to JSON lines; `RUST_LOG` filters (default
/// [`DEFAULT_LOG_FILTER`]).
pub fn init(service: &str) -> anyhow::Result<TelemetryGuard> {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    // lapin warns once per returned (unroutable) message with its whole payload; the outbox
    // already says the same in one line and retries, so that module is kept to errors.
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_LOG_FILTER));
    let json = std::env::var("STRIDE_LOG_FORMAT").is_ok_and(|v| v == "json");
    // Spans always get OpenTelemetry ids (W3C trace context), exported or not: an INTERNAL
    // answer names a trace id that finds its log line even with no collector configured.
    let mut builder = SdkTracerProvider::builder();
    if let Ok(ep) = std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT")
        && !ep.trim().is_empty()
    {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(ep)
            .build()?;
        let name =
            std::env::var("OTEL_SERVICE_NAME").unwrap_or_else(|_| format!("stride-{service}"));
        let resource = opentelemetry_sdk::Resource::builder()
            .with_service_name(name)
            .build();
        builder = builder
            .with_batch_exporter(exporter)
            .with_resource(resource);
    }
    let provider = builder.build();
    // `RUST_LOG` filters what is printed; spans get trace ids at info and above whatever it
    // says, so a quiet log level does not lose the id an error message names.
    let otel = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer("stride"))
        .with_filter(LevelFilter::INFO);
    let registry = tracing_subscriber::registry().with(otel);
    let result = if json {
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_current_span(true)
                    .with_filter(filter),
            )
            .try_init()
    } else {
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .compact()
                    .with_filter(filter),
            )
            .try_init()
    };
    // A second init in one process (tests start several services) keeps the first subscriber.
    drop(result);
    Ok(TelemetryGuard(Some(provider)))
}

/// Test-friendly init: a subscriber that writes through the test harness, once per process,
/// with trace ids as in production (nothing exported).
pub fn init_for_tests() {
    let tracer = SdkTracerProvider::builder().build().tracer("stride-test");
    let _ = tracing_subscriber::registry()
        .with(
            tracing_opentelemetry::layer()
                .with_tracer(tracer)
                .with_filter(LevelFilter::INFO),
        )
        .with(
            tracing_subscriber::fmt::layer()
                .with_test_writer()
                .compact()
                .with_filter(
                    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")),
                ),
        )
        .try_init();
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
}

/// The current span's trace id (all zeros outside any span).
pub fn current_trace_id() -> String {
    tracing::Span::current()
        .context()
        .span()
        .span_context()
        .trace_id()
        .to_string()
}

/// `Server::trace_fn` callback: a span per call, parented on the caller's `traceparent`.
pub fn server_span(req: &http::Request<()>) -> tracing::Span {
    // `user_id` is filled in by the authn layer once the token is verified.
    let span = tracing::info_span!(
        "grpc",
        rpc = %req.uri().path(),
        otel.kind = "server",
        user_id = tracing::field::Empty
    );
    let parent = TraceContextPropagator::new().extract(&HeaderExtractor(req.headers()));
    // Set the remote parent right after creating the span, before it is entered.
    let _ = span.set_parent(parent);
    span
}

/// Writes the current span's context into outgoing HTTP/gRPC headers.
pub fn inject_headers(headers: &mut http::HeaderMap) {
    let cx = tracing::Span::current().context();
    TraceContextPropagator::new().inject_context(&cx, &mut HeaderInjector(headers));
}

/// The current span's `traceparent` value, if any (for the outbox and AMQP headers).
pub fn current_traceparent() -> Option<String> {
    let mut headers = http::HeaderMap::new();
    inject_headers(&mut headers);
    headers
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Makes `span` a child of the context encoded in `traceparent` (AMQP consumers).
pub fn set_parent_from_traceparent(span: &tracing::Span, traceparent: &str) {
    let mut headers = http::HeaderMap::new();
    if let Ok(v) = http::HeaderValue::from_str(traceparent) {
        headers.insert("traceparent", v);
        let cx = TraceContextPropagator::new().extract(&HeaderExtractor(&headers));
        let _ = span.set_parent(cx);
    }
}
