//! An exemplar source for fiko-metrics: the current `tracing` span's OpenTelemetry trace.
//!
//! [`install`] makes [`current`] the process's exemplar source
//! ([`fiko_metrics::exemplar::set_source`]): from then on, `#[timed]`, the axum layer, the
//! sqlx and redis wrappers, the jobs layer and the `_with_source` recording calls keep
//! `trace_id` and `span_id` of the span they run in as the exemplar of the metrics declared
//! with `#[metric(exemplars)]`. The span's OpenTelemetry context comes from
//! [`tracing-opentelemetry`](tracing_opentelemetry)'s layer, so the application's
//! subscriber needs that layer and an SDK tracer; a span outside any trace, or in an
//! unsampled one, gives no exemplar.
//!
//! fiko-metrics itself does not depend on OpenTelemetry: this crate is the only one that
//! brings it in, with `opentelemetry`'s `trace` feature only and `tracing-opentelemetry`
//! without its default features.
//!
//! ```
//! use opentelemetry::trace::TracerProvider as _;
//! use tracing_subscriber::layer::SubscriberExt;
//!
//! let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
//! let subscriber = tracing_subscriber::registry()
//!     .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("shop")));
//! tracing::subscriber::with_default(subscriber, || {
//!     assert!(fiko_metrics_opentelemetry::current().is_none(), "no span, no trace");
//!     let span = tracing::info_span!("checkout");
//!     let _entered = span.enter();
//!     let labels = fiko_metrics_opentelemetry::current().expect("a sampled trace");
//!     let names: Vec<_> = labels.pairs().map(|(name, _)| name).collect();
//!     assert_eq!(names, ["trace_id", "span_id"]);
//! });
//! // In an application, once at start-up: fiko_metrics_opentelemetry::install()?;
//! ```

use fiko_metrics::exemplar::{self, ExemplarLabels, SourceAlreadySet};
use opentelemetry::trace::TraceContextExt;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The current `tracing` span's OpenTelemetry trace as exemplar labels: `trace_id` (32
/// lowercase hex digits) and `span_id` (16), as W3C Trace Context writes them; `None`
/// outside a valid, sampled trace.
pub fn current() -> Option<ExemplarLabels> {
    let context = tracing::Span::current().context();
    let span = context.span();
    let span = span.span_context();
    if !span.is_valid() || !span.is_sampled() {
        return None;
    }
    let trace_id = span.trace_id().to_string();
    let span_id = span.span_id().to_string();
    // 8 + 32 + 7 + 16 characters: always within OpenMetrics' 128.
    ExemplarLabels::new(&[("trace_id", &trace_id), ("span_id", &span_id)]).ok()
}

/// Installs [`current`] as the process's exemplar source; once per process (a second
/// source, this one or another, is refused).
pub fn install() -> Result<(), SourceAlreadySet> {
    exemplar::set_source(current)
}
