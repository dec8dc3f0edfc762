//! Function instrumentation overhead: `#[timed]` against autometrics' `#[autometrics]` on
//! an empty function. Run with `cargo bench -p benches --bench functions`.

use std::hint::black_box;

fn main() {
    divan::Divan::from_args()
        .sample_count(200)
        .sample_size(10_000)
        .run_benches();
}

#[inline(never)]
fn bare(x: u64) -> u64 {
    black_box(x)
}

#[fiko_metrics::timed]
#[inline(never)]
fn fiko_timed(x: u64) -> u64 {
    black_box(x)
}

#[fiko_metrics::counted]
#[inline(never)]
fn fiko_counted(x: u64) -> u64 {
    black_box(x)
}

#[autometrics::autometrics]
#[inline(never)]
fn autometrics_fn(x: u64) -> u64 {
    black_box(x)
}

mod empty_function {
    use super::*;

    #[divan::bench]
    fn bare_call() -> u64 {
        bare(black_box(1))
    }

    #[divan::bench]
    fn fiko_metrics_timed() -> u64 {
        fiko_timed(black_box(1))
    }

    #[divan::bench]
    fn fiko_metrics_counted() -> u64 {
        fiko_counted(black_box(1))
    }

    #[divan::bench]
    fn autometrics() -> u64 {
        autometrics_fn(black_box(1))
    }
}
