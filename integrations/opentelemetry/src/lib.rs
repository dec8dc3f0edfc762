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

use std::cell::RefCell;

use fiko_metrics::exemplar::{self, ExemplarLabels, SourceAlreadySet};
use opentelemetry::trace::{SpanId, TraceContextExt, TraceId};
use tracing_opentelemetry::OpenTelemetrySpanExt;

thread_local! {
    /// The labels this thread made last, with the ids they hold. A span records several
    /// times (a request's queries, cache operations and `#[timed]` calls), and ids are
    /// random, so equal ids are the same span: its labels are shared, not formatted again.
    static LAST: RefCell<Option<(TraceId, SpanId, ExemplarLabels)>> = const { RefCell::new(None) };
}

/// The current `tracing` span's OpenTelemetry trace as exemplar labels: `trace_id` (32
/// lowercase hex digits) and `span_id` (16), as W3C Trace Context writes them; `None`
/// outside a valid, sampled trace. The span's context is the one tracing-opentelemetry
/// attached when the span was entered (its context activation, on by default), else the
/// span's own.
///
/// The labels of the span that recorded last on a thread are kept and shared, so a span
/// recording many times costs one context read and a reference count each time.
pub fn current() -> Option<ExemplarLabels> {
    // Entering a span attaches its OpenTelemetry context (tracing-opentelemetry's context
    // activation, on by default): reading that is a thread-local lookup. Without one, the
    // current span's context is looked up through the subscriber.
    let (trace_id, span_id) = match opentelemetry::Context::map_current(valid) {
        Some(attached) => attached,
        None => valid(&tracing::Span::current().context())?,
    }?;
    let cached = LAST.try_with(|last| {
        let mut last = last.try_borrow_mut().ok()?;
        match &*last {
            Some((trace, span, labels)) if (*trace, *span) == (trace_id, span_id) => {
                Some(labels.clone())
            }
            _ => {
                let labels = labels(trace_id, span_id);
                *last = Some((trace_id, span_id, labels.clone()));
                Some(labels)
            }
        }
    });
    // Without the thread's cache (while the thread exits): made afresh.
    Some(
        cached
            .ok()
            .flatten()
            .unwrap_or_else(|| labels(trace_id, span_id)),
    )
}

/// `None` if `context` has no valid span; else `Some` of its trace and span ids, if it is
/// sampled (an unsampled trace has no exemplar).
fn valid(context: &opentelemetry::Context) -> Option<Option<(TraceId, SpanId)>> {
    let span = context.span();
    let span = span.span_context();
    span.is_valid()
        .then(|| span.is_sampled().then(|| (span.trace_id(), span.span_id())))
}

/// `trace_id` and `span_id` in lowercase hex, as `TraceId`'s `Display` writes them.
fn labels(trace_id: TraceId, span_id: SpanId) -> ExemplarLabels {
    ExemplarLabels::trace(trace_id.to_bytes(), span_id.to_bytes())
}

/// Installs [`current`] as the process's exemplar source; once per process (a second
/// source, this one or another, is refused).
pub fn install() -> Result<(), SourceAlreadySet> {
    exemplar::set_source(current)
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{SpanContext, TraceFlags, TraceState, TracerProvider as _};
    use tracing_subscriber::layer::SubscriberExt;

    fn pairs(labels: Option<ExemplarLabels>) -> Vec<(String, String)> {
        labels
            .expect("a sampled trace")
            .pairs()
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect()
    }

    #[test]
    fn ids_are_written_as_w3c_trace_context_writes_them() {
        for (trace, span) in [
            (
                0x0af7651916cd43dd8448eb211c80319c_u128,
                0x00f067aa0ba902b7_u64,
            ),
            (1, 1),
            (u128::MAX, u64::MAX),
        ] {
            let (trace, span) = (TraceId::from(trace), SpanId::from(span));
            assert_eq!(
                pairs(Some(labels(trace, span))),
                [
                    ("trace_id".to_owned(), trace.to_string()),
                    ("span_id".to_owned(), span.to_string())
                ]
            );
        }
    }

    #[test]
    fn each_span_gets_its_own_ids_when_spans_take_turns_on_a_thread() {
        // With the span's context attached as it is entered (the default), and without.
        for activation in [true, false] {
            spans_take_turns(activation);
        }
    }

    fn spans_take_turns(activation: bool) {
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
        let layer = tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("cache-test"))
            .with_context_activation(activation);
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            let ids = |span: &tracing::Span| {
                let context = span.context();
                let otel = context.span();
                let otel = otel.span_context();
                [
                    ("trace_id".to_owned(), otel.trace_id().to_string()),
                    ("span_id".to_owned(), otel.span_id().to_string()),
                ]
            };
            let (first, second) = (tracing::info_span!("first"), tracing::info_span!("second"));
            let child = first.in_scope(|| tracing::info_span!("child"));
            for span in [&first, &first, &second, &first, &child, &second, &child] {
                assert_eq!(pairs(span.in_scope(current)), ids(span));
            }
            assert_eq!(current(), None, "outside every span");
            let unsampled = tracing::info_span!("unsampled");
            let parent = opentelemetry::Context::new().with_remote_span_context(SpanContext::new(
                TraceId::from(7),
                SpanId::from(7),
                TraceFlags::default(),
                true,
                TraceState::default(),
            ));
            unsampled
                .set_parent(parent)
                .expect("a fresh span takes a parent");
            assert_eq!(unsampled.in_scope(current), None, "in an unsampled trace");
        });
    }
}
