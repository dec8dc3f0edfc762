//! Recording: counter increments and histogram observations, and open-label lookups. Run
//! with `cargo bench -p benches --bench record`.

// A benchmark's setup and checks stop the run when they fail.
#![allow(clippy::indexing_slicing)]

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};

use benches::{KINDS, ROUTES, latency, next_input};
use divan::Bencher;

fn main() {
    divan::Divan::from_args()
        .sample_count(200)
        .sample_size(10_000)
        .run_benches();
}

/// Increment a counter with 2 closed labels (6 routes × 3 kinds = 18 series).
mod counter_inc_2_labels {
    use super::*;

    #[divan::bench]
    fn bare_atomic(bencher: Bencher) {
        let cell = AtomicU64::new(0);
        bencher.bench(|| {
            black_box(next_input());
            cell.fetch_add(1, Ordering::Relaxed);
        });
    }

    /// The floor for the same work: the same enum inputs, indexing 18 plain atomics.
    #[divan::bench]
    fn bare_atomic_array(bencher: Bencher) {
        use benches::fiko::{KINDS, ROUTES};
        let cells: [AtomicU64; 18] = std::array::from_fn(|_| AtomicU64::new(0));
        bencher.bench(|| {
            let (route, kind) = black_box(next_input());
            let (route, kind) = (ROUTES[route], KINDS[kind]);
            if let Some(cell) = cells.get(route as usize * 3 + kind as usize) {
                cell.fetch_add(1, Ordering::Relaxed);
            }
        });
    }

    #[divan::bench]
    fn fiko_metrics(bencher: Bencher) {
        use benches::fiko::{ErrorLabels, KINDS, Metrics, ROUTES};
        use fiko_metrics::MetricSet;
        let metrics = Metrics::new();
        bencher.bench(|| {
            let (route, kind) = black_box(next_input());
            metrics
                .errors
                .get_or_create(&ErrorLabels {
                    route: ROUTES[route],
                    kind: KINDS[kind],
                })
                .inc();
        });
    }

    #[divan::bench]
    fn measured(bencher: Bencher) {
        use benches::measured_crate::{ErrorLabels, KINDS, ROUTES, errors};
        let counters = errors();
        bencher.bench(|| {
            let (route, kind) = black_box(next_input());
            counters.inc(ErrorLabels {
                route: ROUTES[route],
                kind: KINDS[kind],
            });
        });
    }

    #[divan::bench]
    fn prometheus_client(bencher: Bencher) {
        use benches::prometheus_client_crate::{ErrorLabels, KINDS, ROUTES};
        use prometheus_client::metrics::{counter::Counter, family::Family};
        let family = Family::<ErrorLabels, Counter>::default();
        bencher.bench(|| {
            let (route, kind) = black_box(next_input());
            family
                .get_or_create(&ErrorLabels {
                    route: ROUTES[route],
                    kind: KINDS[kind],
                })
                .inc();
        });
    }

    #[divan::bench]
    fn prometheus(bencher: Bencher) {
        let vec = benches::prometheus_errors();
        bencher.bench(|| {
            let (route, kind) = black_box(next_input());
            vec.with_label_values(&[ROUTES[route], KINDS[kind]]).inc();
        });
    }

    #[divan::bench]
    fn metrics(bencher: Bencher) {
        benches::metrics_recorder();
        bencher.bench(|| {
            let (route, kind) = black_box(next_input());
            metrics::counter!("errors", "route" => ROUTES[route], "kind" => KINDS[kind])
                .increment(1);
        });
    }
}

/// Observe a value into a histogram with 1 closed label (6 series) and 11 buckets.
mod histogram_observe_1_label {
    use super::*;

    #[divan::bench]
    fn fiko_metrics(bencher: Bencher) {
        use benches::fiko::{Metrics, ROUTES, RouteLabel};
        use fiko_metrics::MetricSet;
        let metrics = Metrics::new();
        bencher.bench(|| {
            let (route, kind) = black_box(next_input());
            metrics
                .latency_seconds
                .get_or_create(&RouteLabel {
                    route: ROUTES[route],
                })
                .observe(latency(route, kind));
        });
    }

    #[divan::bench]
    fn measured(bencher: Bencher) {
        use benches::measured_crate::{ROUTES, RouteLabel, RouteLabelSet};
        use measured::label::StaticLabelSet;
        use measured::metric::histogram::Thresholds;
        let thresholds = Thresholds::<11>::with_buckets(benches::BUCKETS);
        let vec = measured::HistogramVec::with_label_set_and_metadata(
            RouteLabelSet {
                route: StaticLabelSet::new(),
            },
            thresholds,
        );
        bencher.bench(|| {
            let (route, kind) = black_box(next_input());
            vec.observe(
                RouteLabel {
                    route: ROUTES[route],
                },
                latency(route, kind),
            );
        });
    }

    #[divan::bench]
    fn prometheus_client(bencher: Bencher) {
        use benches::prometheus_client_crate::{ROUTES, RouteLabel};
        use prometheus_client::metrics::{family::Family, histogram::Histogram};
        let family = Family::<RouteLabel, Histogram>::new_with_constructor(|| {
            Histogram::new(benches::BUCKETS)
        });
        bencher.bench(|| {
            let (route, kind) = black_box(next_input());
            family
                .get_or_create(&RouteLabel {
                    route: ROUTES[route],
                })
                .observe(latency(route, kind));
        });
    }

    #[divan::bench]
    fn prometheus(bencher: Bencher) {
        let opts = prometheus::HistogramOpts::new("latency_seconds", "Request latency.")
            .buckets(benches::BUCKETS.to_vec());
        let Ok(vec) = prometheus::HistogramVec::new(opts, &["route"]) else {
            return;
        };
        bencher.bench(|| {
            let (route, kind) = black_box(next_input());
            vec.with_label_values(&[ROUTES[route]])
                .observe(latency(route, kind));
        });
    }

    #[divan::bench]
    fn metrics(bencher: Bencher) {
        benches::metrics_recorder();
        bencher.bench(|| {
            let (route, kind) = black_box(next_input());
            metrics::histogram!("latency_seconds", "route" => ROUTES[route])
                .record(latency(route, kind));
        });
    }
}

/// Look up an open-label series that exists (one label, a 11-byte value), in a fresh family
/// and in one full to its limit (1,000 series, folding new values), and a value folded into
/// the overflow series: the limit costs existing series nothing.
mod open_label_lookup {
    use super::*;
    use benches::fiko::Id;
    use fiko_metrics::{Counter, Family};

    fn family(full: bool) -> Family<Id, Counter> {
        let family = Family::<Id, Counter>::new(Default::default(), 1_000);
        let existing = if full { 1_000 } else { 1 };
        for i in 0..existing {
            family.get_or_create(&Id {
                id: format!("customer-{i}"),
            });
        }
        if full {
            family.get_or_create(&Id {
                id: "past-the-limit".to_owned(),
            });
            assert!(family.folded() > 0, "the family is full");
        }
        family
    }

    /// Times looking up (and incrementing) the series of `id`.
    fn lookup(bencher: Bencher, family: Family<Id, Counter>, id: &str) {
        let id = Id { id: id.to_owned() };
        bencher.bench(|| family.get_or_create(black_box(&id)).inc());
    }

    #[divan::bench]
    fn existing_value(bencher: Bencher) {
        lookup(bencher, family(false), "customer-0");
    }

    #[divan::bench]
    fn existing_value_at_limit(bencher: Bencher) {
        lookup(bencher, family(true), "customer-42");
    }

    #[divan::bench]
    fn folded_value_at_limit(bencher: Bencher) {
        lookup(bencher, family(true), "customer-x1");
    }

    /// Times recording through a cached `SeriesId` (what the integrations do): no lookup.
    #[divan::bench]
    fn cached_id(bencher: Bencher) {
        let family = family(false);
        let id = family.series_id(&Id {
            id: "customer-0".to_owned(),
        });
        bencher.bench(|| family.series(black_box(id)).inc());
    }

    /// A family whose series expire (15 minutes): the lookup also marks the series
    /// written.
    fn expiring() -> Family<Id, Counter> {
        family(false).expire_after(std::time::Duration::from_secs(15 * 60))
    }

    #[divan::bench]
    fn existing_value_expiring(bencher: Bencher) {
        lookup(bencher, expiring(), "customer-0");
    }

    #[divan::bench]
    fn cached_id_expiring(bencher: Bencher) {
        let family = expiring();
        let id = family.series_id(&Id {
            id: "customer-0".to_owned(),
        });
        bencher.bench(|| family.series(black_box(id)).inc());
    }
}
