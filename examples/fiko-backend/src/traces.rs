//! Traces: each request runs in a `tracing` span that continues the caller's W3C trace
//! (its `traceparent` header), and the OpenTelemetry context of the current span is the
//! exemplar source, so a request's count and latency (and the queries, Redis commands
//! and `#[timed]` calls made for it) keep its trace id as their exemplar.
//!
//! [`install`] sets the process's `tracing` subscriber (tracing-opentelemetry's layer on
//! an OpenTelemetry SDK tracer) and the exemplar source; [`continue_trace`] is the
//! middleware that opens the request's span. The demo exports no spans: an application
//! adds its exporter (OTLP, ...) to the tracer provider, and the trace ids its metrics
//! carry are those its tracing backend shows.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;

/// Installs the process's `tracing` subscriber, which gives every span an OpenTelemetry
/// context (sampled unless its remote parent was not), and, with `exemplars`, makes the
/// current span's trace the exemplar source. Once per process; the returned provider must
/// live as long as spans are made.
pub fn install(exemplars: bool) -> Result<SdkTracerProvider, String> {
    let provider = SdkTracerProvider::builder().build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("fiko-backend")));
    tracing::subscriber::set_global_default(subscriber)
        .map_err(|error| format!("cannot install the tracing subscriber: {error}"))?;
    if exemplars {
        fiko_metrics_opentelemetry::install()
            .map_err(|error| format!("cannot install the exemplar source: {error}"))?;
    }
    Ok(provider)
}

/// Runs the request in a span that continues the trace of its `traceparent` header (a
/// new trace without one, or with one that does not parse).
pub async fn continue_trace(request: Request, next: Next) -> Response {
    let parent = TraceContextPropagator::new().extract(&Headers(request.headers()));
    let span = tracing::info_span!("request", method = %request.method());
    // A span that was never entered takes any parent; an error would only mean the
    // subscriber keeps no OpenTelemetry data (none installed), and then there is no trace.
    let _ = span.set_parent(parent);
    next.run(request).instrument(span).await
}

/// Request headers as the propagator reads them.
struct Headers<'a>(&'a http::HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}
