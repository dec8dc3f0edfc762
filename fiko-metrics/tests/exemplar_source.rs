//! The application's exemplar source: a closure installed once per process, read by the
//! `_with_source` recording calls and by `#[timed]` as a call starts, and nothing else.

use std::sync::atomic::{AtomicU64, Ordering};

use fiko_metrics::calls::{CallLabels, FunctionLabels};
use fiko_metrics::exemplar::{self, ExemplarLabels, SourceAlreadySet};
use fiko_metrics::{CounterWithExemplar, Family, Format, Histogram, MetricSet, Registry};

#[derive(MetricSet)]
struct Work {
    /// Jobs done.
    jobs: CounterWithExemplar,
    /// Job latency.
    #[metric(exemplars, buckets = [0.1, 1.0])]
    job_duration_seconds: Histogram,
}

#[derive(MetricSet)]
struct Calls {
    /// Calls, by function and outcome.
    #[metric(calls)]
    runs: Family<CallLabels, CounterWithExemplar>,
    /// Call time.
    #[metric(durations, exemplars, buckets = [0.1, 1.0])]
    run_duration_seconds: Family<FunctionLabels, Histogram>,
}

#[fiko_metrics::timed(metrics = Calls::global())]
fn send_digest() {}

/// The "current trace": odd calls are in a sampled trace, even ones are not.
static CALLS: AtomicU64 = AtomicU64::new(0);

#[test]
fn the_installed_source_gives_the_exemplars_of_with_source_calls_only() {
    assert!(!exemplar::has_source());
    exemplar::set_source(|| {
        let call = CALLS.fetch_add(1, Ordering::Relaxed);
        (call % 2 == 1)
            .then(|| ExemplarLabels::new(&[("trace_id", &format!("trace-{call}"))]).ok())
            .flatten()
    })
    .expect("first source");
    assert!(exemplar::has_source());
    assert_eq!(
        exemplar::set_source(|| None),
        Err(SourceAlreadySet),
        "a second source is refused"
    );

    let registry = Registry::new();
    let work = Work::register(&registry).expect("register");
    // Plain calls never ask the source.
    work.jobs.inc();
    work.job_duration_seconds.observe(0.5);
    assert_eq!(CALLS.load(Ordering::Relaxed), 0);
    assert!(work.jobs.exemplar().is_none());

    work.jobs.inc_with_source(); // call 0: no trace
    assert!(work.jobs.exemplar().is_none());
    work.jobs.inc_with_source(); // call 1: trace-1
    work.job_duration_seconds.observe_with_source(0.05); // call 2: no trace
    work.job_duration_seconds.observe_with_source(0.07); // call 3: trace-3
    work.job_duration_seconds.observe_with_source(0.5); // call 4: no trace
    assert_eq!(CALLS.load(Ordering::Relaxed), 5);
    assert_eq!(work.jobs.get(), 3);
    assert_eq!(work.job_duration_seconds.count(), 4);

    let text = registry.encode(Format::OpenMetrics);
    assert!(
        text.contains(r#"jobs_total 3 # {trace_id="trace-1"} 1.0 "#),
        "{text}"
    );
    assert!(
        text.contains(r#"job_duration_seconds_bucket{le="0.1"} 2 # {trace_id="trace-3"} 0.07 "#),
        "{text}"
    );
    assert!(
        text.contains("job_duration_seconds_bucket{le=\"1.0\"} 4\n"),
        "{text}"
    );

    // `#[timed]` reads the source once as the call starts (call 5: trace-5) and keeps it
    // as the exemplar of the call's count and duration.
    send_digest();
    assert_eq!(CALLS.load(Ordering::Relaxed), 6);
    let labels = FunctionLabels::of("send_digest", module_path!());
    let duration = Calls::global().run_duration_seconds.get_or_create(&labels);
    let exemplar = duration
        .exemplar(0)
        .expect("an exemplar in the le=0.1 bucket");
    assert_eq!(
        exemplar.labels.pairs().next(),
        Some(("trace_id", "trace-5"))
    );
    assert_eq!(duration.count(), 1);
    let text = fiko_metrics::default_registry().encode(Format::OpenMetrics);
    assert!(text.contains(r#"# {trace_id="trace-5"} 1.0 "#), "{text}");
}
