//! The native histogram's bucket limit, kept as Prometheus' Go client keeps it: reset when
//! the minimum reset duration has passed, else widen the zero bucket within the maximum
//! zero threshold, else halve the resolution; and the reset that follows a reduction.
//!
//! The known values are the Go client's (`client_golang`, `prometheus/histogram_test.go`,
//! `TestNativeHistogram`, the "limited" scenarios), whose clock advances a minute before
//! each observation; its expected spans and deltas are written here as they are there.

// The helpers fail the test by panicking (they are not `#[test]` fns: rust-clippy#13981).
#![allow(clippy::expect_used, clippy::indexing_slicing)]

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use fiko_metrics::histogram::{Buckets, HistogramConfig, NativeConfig, NativeSnapshot};
use fiko_metrics::{Histogram, MetricSet, Registry};

const GO_ZERO: f64 = 2.938_735_877_055_719e-39;

static START: LazyLock<Instant> = LazyLock::new(Instant::now);

thread_local! {
    // The test clock: minutes since `START`, per test thread.
    static MINUTES: Cell<u64> = const { Cell::new(0) };
}

fn test_clock() -> Instant {
    *START + Duration::from_secs(60 * MINUTES.with(Cell::get))
}

/// One Go scenario: its options, its observations and the histogram it writes.
struct Scenario {
    name: &'static str,
    max_zero_threshold: f64,
    min_reset_minutes: u64,
    observations: &'static [f64],
    count: u64,
    sum: f64,
    schema: i8,
    zero_threshold: f64,
    zero_count: u64,
    // Go's spans `(offset, length)` and deltas, for the positive or the negative side.
    spans: &'static [(i32, u32)],
    deltas: &'static [i64],
    negative: bool,
}

const HALVING: &[f64] = &[0.0, 1.0, 1.1, 1.2, 1.4, 1.8, 2.0, 3.0];
const TWICE: &[f64] = &[0.0, 1.0, 1.1, 1.2, 1.4, 1.8, 2.0, 3.0, 4.0];
const THEN_RESET: &[f64] = &[0.0, 1.0, 1.1, 1.2, 1.4, 1.8, 2.0, 5.0, 5.1, 3.0, 4.0];
const NEG_HALVING: &[f64] = &[0.0, -1.0, -1.1, -1.2, -1.4, -1.8, -2.0, -3.0];
const NEG_TWICE: &[f64] = &[0.0, -1.0, -1.1, -1.2, -1.4, -1.8, -2.0, -3.0, -4.0];

fn scenarios() -> Vec<Scenario> {
    let base = Scenario {
        name: "",
        max_zero_threshold: 0.0,
        min_reset_minutes: 0,
        observations: &[],
        count: 0,
        sum: 0.0,
        schema: 2,
        zero_threshold: GO_ZERO,
        zero_count: 0,
        spans: &[],
        deltas: &[],
        negative: false,
    };
    vec![
        Scenario {
            name: "limited buckets but nothing triggered",
            observations: &[0.0, 1.0, 1.2, 1.4, 1.8, 2.0],
            count: 6,
            sum: 7.4,
            zero_count: 1,
            spans: &[(0, 5)],
            deltas: &[1, -1, 2, -2, 2],
            ..base
        },
        Scenario {
            name: "buckets limited by halving resolution",
            observations: HALVING,
            count: 8,
            sum: 11.5,
            schema: 1,
            zero_count: 1,
            spans: &[(0, 5)],
            deltas: &[1, 2, -1, -2, 1],
            ..base
        },
        Scenario {
            name: "buckets limited by widening the zero bucket",
            max_zero_threshold: 1.2,
            observations: HALVING,
            count: 8,
            sum: 11.5,
            zero_threshold: 1.0,
            zero_count: 2,
            spans: &[(1, 7)],
            deltas: &[1, 1, -2, 2, -2, 0, 1],
            ..base
        },
        Scenario {
            name: "buckets limited by widening the zero bucket twice",
            max_zero_threshold: 1.2,
            observations: TWICE,
            count: 9,
            sum: 15.5,
            zero_threshold: 1.189_207_115_002_721,
            zero_count: 3,
            spans: &[(2, 7)],
            deltas: &[2, -2, 2, -2, 0, 1, 0],
            ..base
        },
        Scenario {
            name: "buckets limited by reset",
            max_zero_threshold: 1.2,
            min_reset_minutes: 5,
            observations: TWICE,
            count: 2,
            sum: 7.0,
            spans: &[(7, 2)],
            deltas: &[1, 0],
            ..base
        },
        Scenario {
            name: "limited buckets but nothing triggered, negative observations",
            observations: &[0.0, -1.0, -1.2, -1.4, -1.8, -2.0],
            count: 6,
            sum: -7.4,
            zero_count: 1,
            spans: &[(0, 5)],
            deltas: &[1, -1, 2, -2, 2],
            negative: true,
            ..base
        },
        Scenario {
            name: "buckets limited by halving resolution, negative observations",
            observations: NEG_HALVING,
            count: 8,
            sum: -11.5,
            schema: 1,
            zero_count: 1,
            spans: &[(0, 5)],
            deltas: &[1, 2, -1, -2, 1],
            negative: true,
            ..base
        },
        Scenario {
            name: "buckets limited by widening the zero bucket, negative observations",
            max_zero_threshold: 1.2,
            observations: NEG_HALVING,
            count: 8,
            sum: -11.5,
            zero_threshold: 1.0,
            zero_count: 2,
            spans: &[(1, 7)],
            deltas: &[1, 1, -2, 2, -2, 0, 1],
            negative: true,
            ..base
        },
        Scenario {
            name: "buckets limited by widening the zero bucket twice, negative observations",
            max_zero_threshold: 1.2,
            observations: NEG_TWICE,
            count: 9,
            sum: -15.5,
            zero_threshold: 1.189_207_115_002_721,
            zero_count: 3,
            spans: &[(2, 7)],
            deltas: &[2, -2, 2, -2, 0, 1, 0],
            negative: true,
            ..base
        },
        Scenario {
            name: "buckets limited by reset, negative observations",
            max_zero_threshold: 1.2,
            min_reset_minutes: 5,
            observations: NEG_TWICE,
            count: 2,
            sum: -7.0,
            spans: &[(7, 2)],
            deltas: &[1, 0],
            negative: true,
            ..base
        },
        Scenario {
            name: "buckets limited by halving resolution, then reset",
            min_reset_minutes: 9,
            observations: THEN_RESET,
            count: 3,
            sum: 12.1,
            spans: &[(7, 4)],
            deltas: &[1, 0, -1, 1],
            ..base
        },
        Scenario {
            name: "buckets limited by widening the zero bucket, then reset",
            max_zero_threshold: 1.2,
            min_reset_minutes: 9,
            observations: THEN_RESET,
            count: 3,
            sum: 12.1,
            spans: &[(7, 4)],
            deltas: &[1, 0, -1, 1],
            ..base
        },
    ]
}

/// Go's spans and deltas as the `(key, count)` list of the buckets that hold something.
fn buckets(spans: &[(i32, u32)], deltas: &[i64]) -> Vec<(i32, u64)> {
    let mut out = Vec::new();
    let mut deltas = deltas.iter();
    let (mut key, mut count) = (0i32, 0i64);
    for (index, &(offset, length)) in spans.iter().enumerate() {
        key = if index == 0 { offset } else { key + offset };
        for _ in 0..length {
            count += deltas.next().expect("as many deltas as bucket positions");
            if count > 0 {
                out.push((key, u64::try_from(count).expect("positive")));
            }
            key += 1;
        }
    }
    out
}

fn config(schema: i32, max_buckets: u32, max_zero: f64, min_reset: Duration) -> HistogramConfig {
    let native = NativeConfig::new(schema, GO_ZERO, max_buckets)
        .and_then(|native| native.with_max_zero_threshold(max_zero))
        .expect("valid")
        .with_min_reset_duration(min_reset);
    HistogramConfig::native(native)
}

#[test]
fn the_go_clients_limit_scenarios_give_its_buckets() {
    for scenario in scenarios() {
        let name = scenario.name;
        MINUTES.with(|minutes| minutes.set(0));
        // Go: factor 1.2 gives schema 2; at most 4 buckets.
        let histogram = Histogram::from_config_with_clock(
            &config(
                2,
                4,
                scenario.max_zero_threshold,
                Duration::from_secs(60 * scenario.min_reset_minutes),
            ),
            test_clock,
        );
        for value in scenario.observations {
            MINUTES.with(|minutes| minutes.set(minutes.get() + 1));
            histogram.observe(*value);
        }
        MINUTES.with(|minutes| minutes.set(minutes.get() + 1));
        let native = histogram.native_snapshot().expect("native");
        let expected_buckets = buckets(scenario.spans, scenario.deltas);
        let (positive, negative) = if scenario.negative {
            (vec![], expected_buckets)
        } else {
            (expected_buckets, vec![])
        };
        let expected = NativeSnapshot {
            schema: scenario.schema,
            zero_threshold: scenario.zero_threshold,
            zero_count: scenario.zero_count,
            positive,
            negative,
        };
        assert_eq!(native, expected, "{name}");
        assert_eq!(histogram.count(), scenario.count, "{name}");
        assert!(
            (histogram.sum() - scenario.sum).abs() < 1e-9,
            "{name}: sum {}",
            histogram.sum()
        );
    }
}

/// The same through the derive: the attribute keys reach the histogram.
#[derive(MetricSet)]
struct Declared {
    /// Go client: "buckets limited by widening the zero bucket twice".
    #[metric(native(schema = 2, max_buckets = 4, max_zero_threshold = 1.2))]
    widened: Histogram,
    /// A reset allowed once an hour (the first overflow comes sooner: no reset yet).
    #[metric(native(schema = 2, max_buckets = 4, min_reset_seconds = 3600))]
    hourly: Histogram,
}

#[test]
fn the_declared_limit_keys_reach_the_histogram() {
    let widened = Declared::WIDENED.descriptor.native.expect("native");
    assert_eq!(
        (widened.max_zero_threshold(), widened.min_reset_duration()),
        (1.2, Duration::ZERO)
    );
    let hourly = Declared::HOURLY.descriptor.native.expect("native");
    assert_eq!(hourly.min_reset_duration(), Duration::from_secs(3600));
    assert_eq!(hourly.max_zero_threshold(), 0.0);
    let registry = Registry::new();
    let set = Declared::register(&registry).expect("register");
    for value in TWICE {
        set.widened.observe(*value);
        set.hourly.observe(*value);
    }
    let widened = set.widened.native_snapshot().expect("native");
    assert_eq!(
        (widened.schema, widened.zero_threshold, widened.zero_count),
        (2, 1.189_207_115_002_721, 3)
    );
    // Not an hour yet: halving, counts kept.
    let hourly = set.hourly.native_snapshot().expect("native");
    assert_eq!((hourly.schema, set.hourly.count()), (1, 9));
}

#[test]
fn a_due_reset_happens_at_the_next_scrape_without_an_observation() {
    MINUTES.with(|minutes| minutes.set(0));
    let histogram = Histogram::from_config_with_clock(
        &HistogramConfig::native_and_classic(
            NativeConfig::new(2, GO_ZERO, 4)
                .expect("valid")
                .with_min_reset_duration(Duration::from_secs(600)),
            Buckets::new(vec![1.5]).expect("bounds"),
        ),
        test_clock,
    );
    for value in HALVING {
        histogram.observe(*value);
    }
    // Halved at minute 0 (a reset needs 10 minutes): due at minute 10.
    assert_eq!(histogram.native_snapshot().expect("native").schema, 1);
    MINUTES.with(|minutes| minutes.set(9));
    assert_eq!(histogram.native_snapshot().expect("native").schema, 1);
    assert_eq!(histogram.count(), 8);
    MINUTES.with(|minutes| minutes.set(10));
    let mut counts = Vec::new();
    let (sum, native) = histogram.snapshot_with_native(&mut counts);
    assert_eq!((sum, counts), (0.0, vec![0, 0]));
    assert_eq!(
        native.expect("native"),
        NativeSnapshot {
            schema: 2,
            zero_threshold: GO_ZERO,
            ..NativeSnapshot::default()
        }
    );
    // After the reset, the limit counts afresh from the configured schema.
    for value in [1.0, 1.1, 1.2] {
        histogram.observe(value);
    }
    let native = histogram.native_snapshot().expect("native");
    assert_eq!(
        (native.schema, native.positive),
        (2, vec![(0, 1), (1, 1), (2, 1)])
    );
    assert_eq!(histogram.count(), 3);
}

/// Dyadic values (k / 1024), exactly summable, over four powers of two and both signs.
fn value(i: u64) -> f64 {
    let magnitude = (i % 4096 + 1) as f64 / 1024.0;
    if i % 3 == 0 { -magnitude } else { magnitude }
}

const THREADS: u64 = 4;
const PER_THREAD: u64 = 50_000;

/// Where `value` lands in a histogram at `schema` with zero threshold `threshold`: the
/// reference the concurrent result is checked against.
fn reference(schema: i32, threshold: f64, total: u64) -> NativeSnapshot {
    let mut zero_count = 0;
    let mut positive = std::collections::BTreeMap::new();
    let mut negative = std::collections::BTreeMap::new();
    let mut keys = std::collections::HashMap::new();
    for i in 0..total {
        let v = value(i);
        if v.abs() <= threshold {
            zero_count += 1;
            continue;
        }
        // The key from a one-value histogram at that schema (its own bucket rule).
        let key = *keys.entry(v.abs().to_bits()).or_insert_with(|| {
            let one = Histogram::native(NativeConfig::new(schema, 0.0, 1).expect("valid"));
            one.observe(v.abs());
            one.native_snapshot().expect("native").positive[0].0
        });
        *if v > 0.0 {
            &mut positive
        } else {
            &mut negative
        }
        .entry(key)
        .or_insert(0u64) += 1;
    }
    NativeSnapshot {
        schema: i8::try_from(schema).expect("small"),
        zero_threshold: threshold,
        zero_count,
        positive: positive.into_iter().collect(),
        negative: negative.into_iter().collect(),
    }
}

#[test]
fn widening_and_halving_under_four_threads_keep_every_count() {
    // Schema 8 over 4096 distinct magnitudes: far past 20 buckets, so the zero bucket
    // widens up to 1/64 and the resolution halves, while four threads record.
    let histogram = Arc::new(Histogram::from_config(&config(
        8,
        20,
        1.0 / 64.0,
        Duration::ZERO,
    )));
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let histogram = Arc::clone(&histogram);
            std::thread::spawn(move || {
                for i in 0..PER_THREAD {
                    histogram.observe(value(t * PER_THREAD + i));
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("no panic");
    }
    let total = THREADS * PER_THREAD;
    let expected_sum: f64 = (0..total).map(value).sum();
    assert_eq!(histogram.count(), total);
    assert_eq!(histogram.sum(), expected_sum);
    let native = histogram.native_snapshot().expect("native");
    assert!(
        native.positive.len() + native.negative.len() <= 20,
        "{native:?}"
    );
    assert!(
        native.zero_threshold > GO_ZERO && native.zero_threshold <= 1.0 / 64.0,
        "{native:?}"
    );
    assert!(native.schema < 8, "{native:?}");
    // Every observation is where its value belongs at the final schema and threshold.
    assert_eq!(
        native,
        reference(i32::from(native.schema), native.zero_threshold, total)
    );
}

static REAL_CLOCK_CALLS: AtomicU64 = AtomicU64::new(0);

fn counting_clock() -> Instant {
    REAL_CLOCK_CALLS.fetch_add(1, Ordering::Relaxed);
    Instant::now()
}

#[test]
fn resets_under_threads_never_split_an_observation() {
    // Resets allowed every millisecond: while four threads record and a fifth scrapes,
    // the histogram starts over many times; every scrape must still agree with itself
    // (the native buckets never hold more than the count: Prometheus would refuse it),
    // and at the end the native buckets hold exactly the count.
    let histogram = Arc::new(Histogram::from_config_with_clock(
        &HistogramConfig::native_and_classic(
            NativeConfig::new(8, GO_ZERO, 20)
                .expect("valid")
                .with_min_reset_duration(Duration::from_millis(1)),
            Buckets::new(vec![0.5, 2.0]).expect("bounds"),
        ),
        counting_clock,
    ));
    let done = Arc::new(AtomicBool::new(false));
    let scraper = {
        let histogram = Arc::clone(&histogram);
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            let mut scrapes = 0u64;
            let mut counts = Vec::new();
            while !done.load(Ordering::Relaxed) || scrapes == 0 {
                let (_, native) = histogram.snapshot_with_native(&mut counts);
                let native = native.expect("native");
                let count = *counts.last().expect("+Inf");
                let held: u64 = native.zero_count
                    + native
                        .positive
                        .iter()
                        .chain(&native.negative)
                        .map(|(_, c)| c)
                        .sum::<u64>();
                assert!(held <= count, "buckets {held} > count {count}");
                scrapes += 1;
            }
            scrapes
        })
    };
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let histogram = Arc::clone(&histogram);
            std::thread::spawn(move || {
                for i in 0..PER_THREAD {
                    histogram.observe(value(t * PER_THREAD + i));
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("no panic");
    }
    done.store(true, Ordering::Relaxed);
    assert!(scraper.join().expect("scrapes agree") > 0);
    let native = histogram.native_snapshot().expect("native");
    let held: u64 = native.zero_count
        + native
            .positive
            .iter()
            .chain(&native.negative)
            .map(|(_, c)| c)
            .sum::<u64>();
    let count = histogram.count();
    assert_eq!(held, count);
    assert!(count < THREADS * PER_THREAD, "no reset happened: {count}");
    assert!(native.positive.len() + native.negative.len() <= 20);
    assert!(REAL_CLOCK_CALLS.load(Ordering::Relaxed) > 0);
}
