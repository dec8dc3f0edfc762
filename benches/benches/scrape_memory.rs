//! Memory of a scrape and of a series (issue 20, targets 3 and 5), counted by divan's
//! allocation profiler: `cargo bench -p benches --bench scrape_memory`.
//!
//! - `scrape_peak`: one scrape of the 100,000-series registry (`benches::scale`) and of the
//!   demo's (`benches::demo`) into a new buffer, as the metrics endpoint does (after one
//!   scrape, as a served registry always has one behind it); divan's `max alloc` is the
//!   peak of live bytes above those live before the scrape. The output is returned, so it
//!   is counted in that peak. `fiko_100k_text_gzip` also compresses the text as the
//!   endpoint does, and keeps only the compressed body.
//! - `open_counter_series_10k`: a counter family given 10,000 distinct `user_id` values;
//!   the family is returned, so what stays allocated (alloc + grow − dealloc − shrink) is
//!   its memory: per series, key included.
//! - `closed_counter_18_series`: the same for 2 closed labels (18 series).
//!
//! Before the benchmarks run, `size <registry> <format> fiko=N prometheus_client=N` lines
//! give each scrape's length.

// Benchmark setup: a failed setup stops the run.
#![allow(clippy::panic)]

use std::hint::black_box;
use std::sync::OnceLock;

use benches::mirror::{encode_prometheus_client, mirror};
use divan::{AllocProfiler, Bencher};
use fiko_metrics::{Format, Registry};

#[global_allocator]
static ALLOC: AllocProfiler = AllocProfiler::system();

/// Both crates' registries holding the same series.
struct Pair {
    fiko: Registry,
    prometheus_client: prometheus_client::registry::Registry,
}

fn scale() -> &'static Pair {
    static SCALE: OnceLock<Pair> = OnceLock::new();
    SCALE.get_or_init(|| {
        let (fiko, _) = benches::scale::build();
        let prometheus_client = mirror(&fiko);
        Pair {
            fiko,
            prometheus_client,
        }
    })
}

fn demo() -> &'static Pair {
    static DEMO: OnceLock<Pair> = OnceLock::new();
    DEMO.get_or_init(|| {
        let fiko = match benches::demo::build(20) {
            Ok(fiko) => fiko,
            Err(error) => panic!("demo registry: {error}"),
        };
        let prometheus_client = mirror(&fiko);
        Pair {
            fiko,
            prometheus_client,
        }
    })
}

fn main() {
    for (name, pair) in [("scale", scale()), ("demo", demo())] {
        for (format, format_name) in [
            (Format::Prometheus, "text"),
            (Format::OpenMetrics, "openmetrics"),
        ] {
            let ours = pair.fiko.encode(format).len();
            let mut theirs = String::new();
            encode_prometheus_client(&pair.prometheus_client, format, &mut theirs);
            println!(
                "size {name} {format_name} fiko={ours} prometheus_client={}",
                theirs.len()
            );
        }
    }
    divan::Divan::from_args()
        .sample_count(5)
        .sample_size(1)
        .run_benches();
}

/// One scrape into a new buffer; the output counts in the peak.
mod scrape_peak {
    use super::*;

    fn fiko_scrape(bencher: Bencher, pair: &'static Pair, format: Format) {
        // A served registry has scraped before: its buffer is sized from that scrape.
        black_box(pair.fiko.encode(format));
        bencher.bench_local(|| pair.fiko.encode(format));
    }

    fn prometheus_client_scrape(bencher: Bencher, pair: &'static Pair, format: Format) {
        bencher.bench_local(|| {
            let mut out = String::new();
            encode_prometheus_client(&pair.prometheus_client, format, &mut out);
            out
        });
    }

    #[divan::bench]
    fn fiko_100k_text(bencher: Bencher) {
        fiko_scrape(bencher, scale(), Format::Prometheus);
    }

    #[divan::bench]
    fn fiko_100k_openmetrics(bencher: Bencher) {
        fiko_scrape(bencher, scale(), Format::OpenMetrics);
    }

    #[divan::bench]
    fn fiko_100k_text_gzip(bencher: Bencher) {
        let registry = &scale().fiko;
        black_box(registry.encode(Format::Prometheus));
        bencher.bench_local(|| {
            let text = registry.encode(Format::Prometheus);
            let mut encoder = flate2::write::GzEncoder::new(
                Vec::with_capacity(text.len() / 4),
                flate2::Compression::fast(),
            );
            match std::io::Write::write_all(&mut encoder, text.as_bytes())
                .and_then(|()| encoder.finish())
            {
                Ok(compressed) => compressed,
                Err(error) => panic!("gzip: {error}"),
            }
        });
    }

    #[divan::bench]
    fn prometheus_client_100k_text(bencher: Bencher) {
        prometheus_client_scrape(bencher, scale(), Format::Prometheus);
    }

    #[divan::bench]
    fn prometheus_client_100k_openmetrics(bencher: Bencher) {
        prometheus_client_scrape(bencher, scale(), Format::OpenMetrics);
    }

    #[divan::bench]
    fn fiko_demo_text(bencher: Bencher) {
        fiko_scrape(bencher, demo(), Format::Prometheus);
    }

    #[divan::bench]
    fn fiko_demo_openmetrics(bencher: Bencher) {
        fiko_scrape(bencher, demo(), Format::OpenMetrics);
    }

    #[divan::bench]
    fn prometheus_client_demo_text(bencher: Bencher) {
        prometheus_client_scrape(bencher, demo(), Format::Prometheus);
    }

    #[divan::bench]
    fn prometheus_client_demo_openmetrics(bencher: Bencher) {
        prometheus_client_scrape(bencher, demo(), Format::OpenMetrics);
    }
}

/// The `user_id` values of the open-label families.
fn user_ids() -> Vec<String> {
    (0..10_000).map(|i| format!("user-{i:06}")).collect()
}

/// 10,000 open-label counter series, kept: their memory.
mod open_counter_series_10k {
    use super::*;

    /// fiko-metrics' label set.
    #[derive(fiko_metrics::LabelSet)]
    struct UserId {
        user_id: String,
    }

    /// prometheus-client's label set.
    #[derive(Clone, Debug, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelSet)]
    struct PcUserId {
        user_id: String,
    }

    #[divan::bench]
    fn fiko_metrics(bencher: Bencher) {
        use fiko_metrics::{Counter, Family};
        let ids: Vec<UserId> = user_ids()
            .into_iter()
            .map(|user_id| UserId { user_id })
            .collect();
        bencher.bench_local(|| {
            let family = Family::<UserId, Counter>::new(Default::default(), 100_000);
            for id in &ids {
                family.get_or_create(id).inc();
            }
            family
        });
    }

    #[divan::bench]
    fn prometheus_client(bencher: Bencher) {
        use prometheus_client::metrics::{counter::Counter, family::Family};
        let ids: Vec<PcUserId> = user_ids()
            .into_iter()
            .map(|user_id| PcUserId { user_id })
            .collect();
        bencher.bench_local(|| {
            let family = Family::<PcUserId, Counter>::default();
            for id in &ids {
                family.get_or_create(id).inc();
            }
            family
        });
    }
}

/// 18 closed-label counter series, kept: their memory.
mod closed_counter_18_series {
    use super::*;

    #[divan::bench]
    fn fiko_metrics(bencher: Bencher) {
        use benches::fiko::{ErrorLabels, KINDS, ROUTES};
        use fiko_metrics::{Counter, Family};
        bencher.bench_local(|| {
            let family = Family::<ErrorLabels, Counter>::default();
            for route in ROUTES {
                for kind in KINDS {
                    family.get_or_create(&ErrorLabels { route, kind }).inc();
                }
            }
            family
        });
    }

    #[divan::bench]
    fn prometheus_client(bencher: Bencher) {
        use benches::prometheus_client_crate::{ErrorLabels, KINDS, ROUTES};
        use prometheus_client::metrics::{counter::Counter, family::Family};
        bencher.bench_local(|| {
            let family = Family::<ErrorLabels, Counter>::default();
            for route in ROUTES {
                for kind in KINDS {
                    family.get_or_create(&ErrorLabels { route, kind }).inc();
                }
            }
            family
        });
    }
}
