//! Memory: bytes per series, and allocations when recording into open labels.
//! Run with `cargo bench -p benches --bench memory`; divan's allocation profiler
//! counts every allocation each benchmark makes per iteration.

use std::hint::black_box;

use benches::{KINDS, ROUTES};
use divan::{AllocProfiler, Bencher};

#[global_allocator]
static ALLOC: AllocProfiler = AllocProfiler::system();

fn main() {
    divan::Divan::from_args()
        .sample_count(20)
        .sample_size(1)
        .run_benches();
}

/// Create a counter with 2 closed labels and touch all 18 series: allocated bytes / 18 is
/// the memory per series.
mod counter_18_series_create {
    use super::*;

    #[divan::bench]
    fn fiko_metrics() -> usize {
        use benches::fiko::{ErrorLabels, KINDS, ROUTES};
        use fiko_metrics::{Counter, Family};
        let family = Family::<ErrorLabels, Counter>::default();
        for route in ROUTES {
            for kind in KINDS {
                family.get_or_create(&ErrorLabels { route, kind }).inc();
            }
        }
        black_box(family.len())
    }

    #[divan::bench]
    fn measured() -> usize {
        use benches::measured_crate::{ErrorLabels, KINDS, ROUTES, errors};
        let counters = errors();
        for route in ROUTES {
            for kind in KINDS {
                counters.inc(ErrorLabels { route, kind });
            }
        }
        black_box(std::mem::size_of_val(&counters))
    }

    #[divan::bench]
    fn prometheus_client() -> usize {
        use benches::prometheus_client_crate::{ErrorLabels, KINDS, ROUTES};
        use prometheus_client::metrics::{counter::Counter, family::Family};
        let family = Family::<ErrorLabels, Counter>::default();
        for route in ROUTES {
            for kind in KINDS {
                family.get_or_create(&ErrorLabels { route, kind }).inc();
            }
        }
        black_box(std::mem::size_of_val(&family))
    }

    #[divan::bench]
    fn prometheus() -> usize {
        let vec = benches::prometheus_errors();
        for route in ROUTES {
            for kind in KINDS {
                vec.with_label_values(&[route, kind]).inc();
            }
        }
        black_box(std::mem::size_of_val(&vec))
    }
}

/// Record into an open label: a value seen before, and a value never seen.
mod open_label {
    use super::*;
    use benches::fiko::Id;
    use fiko_metrics::{Counter, Family};

    #[divan::bench]
    fn fiko_metrics_existing_value(bencher: Bencher) {
        let family = Family::<Id, Counter>::new(Default::default(), 1_000_000);
        let id = Id {
            id: "customer-42".to_owned(),
        };
        family.get_or_create(&id).inc();
        bencher.bench_local(|| family.get_or_create(black_box(&id)).inc());
    }

    #[divan::bench]
    fn fiko_metrics_new_value(bencher: Bencher) {
        let family = Family::<Id, Counter>::new(Default::default(), usize::MAX);
        let mut next = 0u64;
        bencher
            .with_inputs(|| {
                next += 1;
                Id {
                    id: format!("customer-{next}"),
                }
            })
            .bench_local_refs(|id| family.get_or_create(id).inc());
    }

    /// A new value past the series limit: folded into the overflow series without
    /// allocating and without the exclusive lock.
    #[divan::bench]
    fn fiko_metrics_overflowed_value(bencher: Bencher) {
        let family = Family::<Id, Counter>::new(Default::default(), 1);
        family
            .get_or_create(&Id {
                id: "first".to_owned(),
            })
            .inc();
        let mut next = 0u64;
        bencher
            .with_inputs(|| {
                next += 1;
                Id {
                    id: format!("customer-{next}"),
                }
            })
            .bench_local_refs(|id| family.get_or_create(id).inc());
    }

    #[divan::bench]
    fn prometheus_client_new_value(bencher: Bencher) {
        use benches::prometheus_client_crate::Id;
        use prometheus_client::metrics::{counter::Counter, family::Family};
        let family = Family::<Id, Counter>::default();
        let mut next = 0u64;
        bencher
            .with_inputs(|| {
                next += 1;
                Id {
                    id: format!("customer-{next}"),
                }
            })
            .bench_local_refs(|id| family.get_or_create(id).inc());
    }
}
