//! Two threads contending on one series. Run with
//! `cargo bench -p benches --bench contended`.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};

use benches::{KINDS, ROUTES};
use divan::Bencher;

fn main() {
    // One iteration is 2 × `PER_THREAD` increments, long enough to time on its own.
    divan::Divan::from_args()
        .sample_count(40)
        .sample_size(1)
        .run_benches();
}

/// Two threads incrementing the same labelled series: each iteration starts two threads
/// together (a barrier) and times them until both have done [`PER_THREAD`] increments, so
/// the increments really overlap. Starting and joining the threads takes about 0.1 ms for
/// every crate, against 7 ms or more of increments; `bare_atomic` is the floor.
mod contended_same_series {
    use super::*;
    use std::sync::Barrier;

    /// Increments per thread and iteration.
    const PER_THREAD: usize = 2_000_000;

    fn contend(increment: impl Fn() + Sync) {
        let start = Barrier::new(2);
        std::thread::scope(|scope| {
            for _ in 0..2 {
                scope.spawn(|| {
                    start.wait();
                    for _ in 0..PER_THREAD {
                        increment();
                    }
                });
            }
        });
    }

    /// A cache line of its own: in the crates' runs, too, nothing else is written beside the
    /// contended series.
    #[repr(align(128))]
    struct Padded(AtomicU64);

    #[divan::bench]
    fn bare_atomic(bencher: Bencher) {
        let cell = Padded(AtomicU64::new(0));
        bencher.bench(|| {
            contend(|| {
                cell.0.fetch_add(1, Ordering::Relaxed);
            })
        });
    }

    #[divan::bench]
    fn fiko_metrics(bencher: Bencher) {
        use benches::fiko::{ErrorLabels, Kind, Metrics, Route};
        use fiko_metrics::MetricSet;
        let metrics = Metrics::new();
        bencher.bench(|| {
            contend(|| {
                metrics
                    .errors
                    .get_or_create(black_box(&ErrorLabels {
                        route: Route::Users,
                        kind: Kind::User,
                    }))
                    .inc()
            })
        });
    }

    #[divan::bench]
    fn measured(bencher: Bencher) {
        use benches::measured_crate::{ErrorLabels, Kind, Route, errors};
        let counters = errors();
        bencher.bench(|| {
            contend(|| {
                counters.inc(black_box(ErrorLabels {
                    route: Route::Users,
                    kind: Kind::User,
                }))
            })
        });
    }

    #[divan::bench]
    fn prometheus_client(bencher: Bencher) {
        use benches::prometheus_client_crate::{ErrorLabels, Kind, Route};
        use prometheus_client::metrics::{counter::Counter, family::Family};
        let family = Family::<ErrorLabels, Counter>::default();
        bencher.bench(|| {
            contend(|| {
                family
                    .get_or_create(black_box(&ErrorLabels {
                        route: Route::Users,
                        kind: Kind::User,
                    }))
                    .inc();
            })
        });
    }

    #[divan::bench]
    fn prometheus(bencher: Bencher) {
        let vec = benches::prometheus_errors();
        bencher.bench(|| {
            contend(|| {
                vec.with_label_values(black_box(&[ROUTES[0], KINDS[0]]))
                    .inc()
            })
        });
    }
}
