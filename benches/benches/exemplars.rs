//! Exemplars and native histograms: recording with exemplars off (what every `inc` and
//! `observe` is), with a trace id exemplar beside prometheus-client's exemplar API, and
//! native buckets beside classic ones. One series each, inputs cycling through the 18
//! latencies of the shared workload. Run with
//! `cargo bench -p benches --bench exemplars`.

// A benchmark's setup and checks stop the run when they fail.
#![allow(clippy::expect_used)]

use std::hint::black_box;
use std::time::SystemTime;

use benches::{BUCKETS, latency, next_input};
use divan::Bencher;
use fiko_metrics::exemplar::ExemplarLabels;
use fiko_metrics::histogram::{Buckets, HistogramConfig, NativeConfig};
use fiko_metrics::{Counter, CounterWithExemplar, Histogram};

fn main() {
    divan::Divan::from_args()
        .sample_count(200)
        .sample_size(10_000)
        .run_benches();
}

/// A W3C trace id, as a tracing source would hand it over.
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

fn classic() -> Histogram {
    Histogram::new(Buckets::new(BUCKETS.to_vec()).expect("buckets"))
}

/// No source installed (none is, in this binary): `inc` and `observe` never look at
/// exemplars; the `_with_source` forms ask for a source and find none.
mod exemplars_off {
    use super::*;

    #[divan::bench]
    fn counter_inc(bencher: Bencher) {
        let counter = Counter::<u64>::default();
        bencher.bench(|| {
            black_box(next_input());
            counter.inc();
        });
    }

    #[divan::bench]
    fn counter_inc_with_source_none_installed(bencher: Bencher) {
        let counter = CounterWithExemplar::<u64>::default();
        bencher.bench(|| {
            black_box(next_input());
            counter.inc_with_source();
        });
    }

    #[divan::bench]
    fn histogram_observe(bencher: Bencher) {
        let histogram = classic();
        bencher.bench(|| {
            let (route, kind) = black_box(next_input());
            histogram.observe(latency(route, kind));
        });
    }

    #[divan::bench]
    fn histogram_observe_with_source_none_installed(bencher: Bencher) {
        let histogram = classic();
        bencher.bench(|| {
            let (route, kind) = black_box(next_input());
            histogram.observe_with_source(latency(route, kind));
        });
    }
}

/// One exemplar per call, a trace id label with a timestamp, beside prometheus-client's
/// `CounterWithExemplar::inc_by(1, Some(labels), Some(now))`. Both copy the trace id into
/// the exemplar they keep.
mod counter_with_exemplar {
    use super::*;

    #[divan::bench]
    fn fiko_metrics(bencher: Bencher) {
        let counter = CounterWithExemplar::<u64>::default();
        let labels = ExemplarLabels::new(&[("trace_id", TRACE_ID)]).expect("labels");
        bencher.bench(|| {
            black_box(next_input());
            counter.inc_with_exemplar(black_box(&labels));
        });
    }

    #[divan::bench]
    fn prometheus_client(bencher: Bencher) {
        use prometheus_client::metrics::exemplar::CounterWithExemplar as Theirs;
        let counter = Theirs::<Vec<(String, String)>>::default();
        bencher.bench(|| {
            black_box(next_input());
            let labels = vec![("trace_id".to_owned(), black_box(TRACE_ID).to_owned())];
            counter.inc_by(1, Some(labels), Some(SystemTime::now()));
        });
    }
}

/// The same with an 11-bucket histogram (the exemplar kept per bucket).
mod histogram_with_exemplar {
    use super::*;

    #[divan::bench]
    fn fiko_metrics(bencher: Bencher) {
        let histogram = classic();
        let labels = ExemplarLabels::new(&[("trace_id", TRACE_ID)]).expect("labels");
        bencher.bench(|| {
            let (route, kind) = black_box(next_input());
            histogram.observe_with_exemplar(latency(route, kind), black_box(&labels));
        });
    }

    #[divan::bench]
    fn prometheus_client(bencher: Bencher) {
        use prometheus_client::metrics::exemplar::HistogramWithExemplars;
        let histogram = HistogramWithExemplars::<Vec<(String, String)>>::new(BUCKETS.into_iter());
        bencher.bench(|| {
            let (route, kind) = black_box(next_input());
            let labels = vec![("trace_id".to_owned(), black_box(TRACE_ID).to_owned())];
            histogram.observe(latency(route, kind), Some(labels), Some(SystemTime::now()));
        });
    }
}

/// Native buckets (schema 3) beside the 11 classic ones; prometheus-client has no native
/// histograms, its classic one is the reference.
mod histogram_native {
    use super::*;

    #[divan::bench]
    fn fiko_metrics_classic(bencher: Bencher) {
        let histogram = classic();
        bencher.bench(|| {
            let (route, kind) = black_box(next_input());
            histogram.observe(latency(route, kind));
        });
    }

    #[divan::bench]
    fn fiko_metrics_native(bencher: Bencher) {
        let histogram = Histogram::native(NativeConfig::DEFAULT);
        bencher.bench(|| {
            let (route, kind) = black_box(next_input());
            histogram.observe(latency(route, kind));
        });
    }

    #[divan::bench]
    fn fiko_metrics_native_and_classic(bencher: Bencher) {
        let histogram = Histogram::from_config(&HistogramConfig::native_and_classic(
            NativeConfig::DEFAULT,
            Buckets::new(BUCKETS.to_vec()).expect("buckets"),
        ));
        bencher.bench(|| {
            let (route, kind) = black_box(next_input());
            histogram.observe(latency(route, kind));
        });
    }

    #[divan::bench]
    fn prometheus_client_classic(bencher: Bencher) {
        use prometheus_client::metrics::histogram::Histogram;
        let histogram = Histogram::new(BUCKETS);
        bencher.bench(|| {
            let (route, kind) = black_box(next_input());
            histogram.observe(latency(route, kind));
        });
    }
}
