//! With a real `tracing` subscriber, tracing-opentelemetry's layer and an SDK tracer, a
//! `#[timed]` function called inside a span records that span's trace and span ids as the
//! exemplar of its call count and duration; a span continuing a remote trace (as a
//! `traceparent` header gives) carries the remote trace id; no span, or an unsampled
//! trace, gives none.

// The helpers fail the test by panicking (they are not `#[test]` fns: rust-clippy#13981).
#![allow(clippy::expect_used)]

use fiko_metrics::calls::{CallLabels, FunctionLabels, Outcome};
use fiko_metrics::exemplar::Exemplar;
use fiko_metrics::{CounterWithExemplar, Family, Format, Histogram, MetricSet};
use opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState, TracerProvider as _,
};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;

#[derive(MetricSet)]
struct Work {
    /// Calls.
    #[metric(calls)]
    work_calls: Family<CallLabels, CounterWithExemplar>,
    /// Call time.
    #[metric(durations, exemplars, buckets = [0.5, 1.0])]
    work_call_seconds: Family<FunctionLabels, Histogram>,
}

#[fiko_metrics::timed(metrics = Work::global())]
fn in_local_span() {}

#[fiko_metrics::timed(metrics = Work::global())]
fn in_remote_trace() {}

#[fiko_metrics::timed(metrics = Work::global())]
fn outside_any_span() {}

#[fiko_metrics::timed(metrics = Work::global())]
fn in_unsampled_trace() {}

/// The duration exemplar (all calls take well under 0.5 s) and the `ok` count's.
fn exemplars(function: &'static str) -> (Option<Exemplar>, Option<Exemplar>) {
    let duration = Work::global()
        .work_call_seconds
        .get_or_create(&FunctionLabels::of(function, module_path!()));
    assert_eq!(duration.count(), 1, "{function} was timed once");
    let labels = FunctionLabels::of(function, module_path!());
    let calls = Work::global().work_calls.get_or_create(&CallLabels {
        function: labels.function,
        module: labels.module,
        outcome: Outcome::Ok,
        error: "",
    });
    (duration.exemplar(0), calls.exemplar())
}

fn ids(exemplar: Option<Exemplar>) -> Vec<(String, String)> {
    exemplar
        .expect("an exemplar")
        .labels
        .pairs()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect()
}

fn expected(trace: TraceId, span: SpanId) -> Vec<(String, String)> {
    vec![
        ("trace_id".to_owned(), trace.to_string()),
        ("span_id".to_owned(), span.to_string()),
    ]
}

#[test]
fn timed_calls_carry_the_current_spans_trace() {
    fiko_metrics_opentelemetry::install().expect("first source");
    assert!(
        fiko_metrics_opentelemetry::install().is_err(),
        "a second source is refused"
    );
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("exemplar-test")));

    tracing::subscriber::with_default(subscriber, || {
        // A local root span: its own new trace.
        let span = tracing::info_span!("request");
        let (trace, span_id) = {
            let context = span.context();
            let otel = context.span();
            let otel = otel.span_context();
            assert!(otel.is_valid() && otel.is_sampled());
            (otel.trace_id(), otel.span_id())
        };
        span.in_scope(in_local_span);
        let (duration, count) = exemplars("in_local_span");
        assert_eq!(ids(duration), expected(trace, span_id));
        assert_eq!(ids(count), expected(trace, span_id));

        // A span continuing a remote, sampled trace.
        let remote_trace = TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").expect("trace id");
        let remote_parent = SpanId::from_hex("00f067aa0ba902b7").expect("span id");
        let parent = opentelemetry::Context::new().with_remote_span_context(SpanContext::new(
            remote_trace,
            remote_parent,
            TraceFlags::SAMPLED,
            true,
            TraceState::default(),
        ));
        let span = tracing::info_span!("remote request");
        span.set_parent(parent)
            .expect("a fresh span takes a parent");
        let child = span.context().span().span_context().span_id();
        assert_ne!(
            child, remote_parent,
            "the span is a child of the remote one"
        );
        span.in_scope(in_remote_trace);
        let (duration, count) = exemplars("in_remote_trace");
        assert_eq!(ids(duration), expected(remote_trace, child));
        assert_eq!(ids(count), expected(remote_trace, child));

        // No span: no exemplar.
        outside_any_span();
        assert_eq!(exemplars("outside_any_span"), (None, None));

        // An unsampled remote trace (the default sampler follows its parent): none either.
        let unsampled = opentelemetry::Context::new().with_remote_span_context(SpanContext::new(
            TraceId::from_hex("0af7651916cd43dd8448eb211c80319c").expect("trace id"),
            SpanId::from_hex("b7ad6b7169203331").expect("span id"),
            TraceFlags::default(),
            true,
            TraceState::default(),
        ));
        let span = tracing::info_span!("unsampled request");
        span.set_parent(unsampled)
            .expect("a fresh span takes a parent");
        span.in_scope(in_unsampled_trace);
        assert_eq!(exemplars("in_unsampled_trace"), (None, None));
    });

    let text = fiko_metrics::default_registry().encode(Format::OpenMetrics);
    assert!(
        text.contains(r#"# {trace_id="4bf92f3577b34da6a3ce929d0e0e4736",span_id=""#),
        "{text}"
    );
}
