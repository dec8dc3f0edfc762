//! The `metrics` facade: fiko-metrics-facade and metrics-exporter-prometheus behind the
//! same macro calls. Run with `cargo bench -p benches --bench facade`.

// A benchmark's setup and checks stop the run when they fail.
#![allow(clippy::expect_used, clippy::indexing_slicing)]

use std::hint::black_box;

use benches::{BUCKETS, KINDS, ROUTES, latency, next_input};
use divan::Bencher;
use fiko_metrics::Registry;
use fiko_metrics::histogram::Buckets;
use metrics::Recorder;

fn main() {
    // Sample settings are per benchmark: recording takes nanoseconds, a scrape hundreds of
    // microseconds.
    divan::Divan::from_args().run_benches();
}

fn fiko() -> (
    std::sync::Arc<Registry>,
    fiko_metrics_facade::FacadeRecorder,
) {
    let registry = std::sync::Arc::new(Registry::new());
    let recorder = fiko_metrics_facade::FacadeRecorder::builder()
        .default_buckets(Buckets::new(BUCKETS.to_vec()).expect("buckets"))
        .build(registry.clone())
        .expect("builds");
    (registry, recorder)
}

fn exporter() -> metrics_exporter_prometheus::PrometheusRecorder {
    // Real histograms on both sides (the exporter's default is a summary).
    metrics_exporter_prometheus::PrometheusBuilder::new()
        .set_buckets(&BUCKETS)
        .expect("buckets")
        .build_recorder()
}

/// Runs `bencher` with `recorder` as this thread's `metrics` recorder.
fn with(recorder: &dyn Recorder, bencher: Bencher, mut f: impl FnMut()) {
    metrics::with_local_recorder(recorder, || bencher.bench_local(&mut f));
}

fn count_by_route_and_kind() {
    let (route, kind) = black_box(next_input());
    metrics::counter!("errors", "route" => ROUTES[route], "kind" => KINDS[kind]).increment(1);
}

fn observe_by_route() {
    let (route, kind) = black_box(next_input());
    metrics::histogram!("latency_seconds", "route" => ROUTES[route]).record(latency(route, kind));
}

/// `counter!` with 2 labels (18 series), looked up at every call.
mod facade_counter_macro_2_labels {
    use super::*;

    #[divan::bench(sample_count = 200, sample_size = 10_000)]
    fn fiko_metrics(bencher: Bencher) {
        let (_registry, recorder) = fiko();
        with(&recorder, bencher, count_by_route_and_kind);
    }

    #[divan::bench(sample_count = 200, sample_size = 10_000)]
    fn metrics_exporter_prometheus(bencher: Bencher) {
        let recorder = exporter();
        with(&recorder, bencher, count_by_route_and_kind);
    }
}

/// A `metrics::Counter` handle kept by the caller: the increment alone.
mod facade_counter_handle {
    use super::*;

    #[divan::bench(sample_count = 200, sample_size = 10_000)]
    fn fiko_metrics(bencher: Bencher) {
        let (_registry, recorder) = fiko();
        let counter = metrics::with_local_recorder(&recorder, || metrics::counter!("jobs"));
        bencher.bench_local(|| black_box(&counter).increment(1));
    }

    #[divan::bench(sample_count = 200, sample_size = 10_000)]
    fn metrics_exporter_prometheus(bencher: Bencher) {
        let recorder = exporter();
        let counter = metrics::with_local_recorder(&recorder, || metrics::counter!("jobs"));
        bencher.bench_local(|| black_box(&counter).increment(1));
    }
}

/// `histogram!` with 1 label (6 series, 11 buckets), looked up at every call.
mod facade_histogram_macro_1_label {
    use super::*;

    #[divan::bench(sample_count = 200, sample_size = 10_000)]
    fn fiko_metrics(bencher: Bencher) {
        let (_registry, recorder) = fiko();
        with(&recorder, bencher, observe_by_route);
    }

    #[divan::bench(sample_count = 200, sample_size = 10_000)]
    fn metrics_exporter_prometheus(bencher: Bencher) {
        let recorder = exporter();
        with(&recorder, bencher, observe_by_route);
    }
}

/// Rendering a scrape of 1,000 counter series recorded through the facade.
mod facade_encode_1000_series {
    use super::*;

    fn record(recorder: &dyn Recorder) {
        metrics::with_local_recorder(recorder, || {
            for user in 0..1000 {
                metrics::counter!("logins", "user" => user.to_string()).increment(user);
            }
        });
    }

    #[divan::bench(sample_count = 50, sample_size = 10)]
    fn fiko_metrics(bencher: Bencher) {
        let (registry, recorder) = fiko();
        record(&recorder);
        bencher.bench_local(|| registry.encode(fiko_metrics::Format::Prometheus));
    }

    #[divan::bench(sample_count = 50, sample_size = 10)]
    fn metrics_exporter_prometheus(bencher: Bencher) {
        let recorder = exporter();
        record(&recorder);
        let handle = recorder.handle();
        bencher.bench_local(|| handle.render());
    }
}
