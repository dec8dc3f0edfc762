//! Encoding of 10,000 series: counters as text beside the other crates, and native
//! histograms as protobuf beside their classic buckets as text. Run with
//! `cargo bench -p benches --bench encode`.

use std::hint::black_box;

use divan::Bencher;

const SERIES: usize = 10_000;

fn main() {
    divan::Divan::from_args()
        .sample_count(50)
        .sample_size(1)
        .run_benches();
}

fn ids() -> impl Iterator<Item = String> {
    let mut buffer = itoa::Buffer::new();
    (0..SERIES).map(move |i| buffer.format(i).to_owned())
}

mod text_encode_10k_series {
    use super::*;

    #[divan::bench]
    fn fiko_metrics(bencher: Bencher) {
        use benches::fiko::{Id, Metrics};
        use fiko_metrics::{Format, MetricSet, Registry};
        let registry = Registry::new();
        let Ok(metrics) = Metrics::register(&registry) else {
            return;
        };
        for id in ids() {
            metrics.counters.get_or_create(&Id { id }).inc();
        }
        let mut out = String::new();
        bencher.bench_local(|| {
            out.clear();
            registry.encode_into(&mut out, Format::Prometheus);
            black_box(out.len())
        });
    }

    #[divan::bench]
    fn measured(bencher: Bencher) {
        use benches::measured_crate::{Id, IdSet};
        use measured::MetricGroup;
        use measured::text::BufferedTextEncoder;
        #[derive(MetricGroup)]
        struct Group {
            /// Ten thousand series.
            counters: measured::CounterVec<IdSet>,
        }
        let group = Group {
            counters: measured::CounterVec::with_label_set(IdSet {
                id: Default::default(),
            }),
        };
        for id in ids() {
            group.counters.inc(Id { id: &id });
        }
        let mut encoder = BufferedTextEncoder::new();
        bencher.bench_local(|| {
            let _ = group.collect_group_into(&mut encoder);
            black_box(encoder.finish().len())
        });
    }

    #[divan::bench]
    fn prometheus_client(bencher: Bencher) {
        use benches::prometheus_client_crate::Id;
        use prometheus_client::metrics::{counter::Counter, family::Family};
        let mut registry = prometheus_client::registry::Registry::default();
        let family = Family::<Id, Counter>::default();
        registry.register("counters", "Ten thousand series.", family.clone());
        for id in ids() {
            family.get_or_create(&Id { id }).inc();
        }
        let mut out = String::new();
        bencher.bench_local(|| {
            out.clear();
            let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
            black_box(out.len())
        });
    }

    #[divan::bench]
    fn prometheus(bencher: Bencher) {
        let registry = prometheus::Registry::new();
        let opts = prometheus::Opts::new("counters", "Ten thousand series.");
        let Ok(vec) = prometheus::IntCounterVec::new(opts, &["id"]) else {
            return;
        };
        if registry.register(Box::new(vec.clone())).is_err() {
            return;
        }
        for id in ids() {
            vec.with_label_values(&[id.as_str()]).inc();
        }
        let mut out = String::new();
        bencher.bench_local(|| {
            out.clear();
            let _ = prometheus::TextEncoder::new().encode_utf8(&registry.gather(), &mut out);
            black_box(out.len())
        });
    }

    #[divan::bench]
    fn metrics(bencher: Bencher) {
        let handle = benches::metrics_recorder();
        for id in ids() {
            metrics::counter!("counters", "id" => id).increment(1);
        }
        bencher.bench_local(|| black_box(handle.render().len()));
    }
}

/// 10,000 histograms, each observed at 8 latencies from 1 ms to 2.2 s (8 native buckets
/// each): protobuf with native buckets only, protobuf with native and 11 classic buckets,
/// and the Prometheus text format, which has the classic buckets only. prometheus-client
/// has no native histograms.
mod native_encode_10k_series {
    use super::*;
    use benches::fiko::{Id, NativeAndClassic, NativeOnly};
    use fiko_metrics::{Format, Histogram, MetricSet, Registry};

    fn observe(histogram: &Histogram, i: usize) {
        for step in 0..8 {
            histogram.observe(0.001 * 3_f64.powi(step) * (1.0 + (i % 7) as f64 / 10.0));
        }
    }

    fn native_only() -> Registry {
        let registry = Registry::new();
        if let Ok(metrics) = NativeOnly::register(&registry) {
            for (i, id) in ids().enumerate() {
                observe(metrics.native_seconds.get_or_create(&Id { id }), i);
            }
        }
        registry
    }

    fn native_and_classic() -> Registry {
        let registry = Registry::new();
        if let Ok(metrics) = NativeAndClassic::register(&registry) {
            for (i, id) in ids().enumerate() {
                observe(metrics.mixed_seconds.get_or_create(&Id { id }), i);
            }
        }
        registry
    }

    #[divan::bench]
    fn protobuf_native(bencher: Bencher) {
        let registry = native_only();
        bencher.bench_local(|| black_box(registry.encode_protobuf().len()));
    }

    #[divan::bench]
    fn protobuf_native_and_classic(bencher: Bencher) {
        let registry = native_and_classic();
        bencher.bench_local(|| black_box(registry.encode_protobuf().len()));
    }

    #[divan::bench]
    fn text_classic(bencher: Bencher) {
        let registry = native_and_classic();
        let mut out = String::new();
        bencher.bench_local(|| {
            out.clear();
            registry.encode_into(&mut out, Format::Prometheus);
            black_box(out.len())
        });
    }
}
