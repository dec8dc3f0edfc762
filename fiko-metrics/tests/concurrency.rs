//! Exactness under concurrency and for known inputs.

use std::sync::Arc;

use fiko_metrics::histogram::Buckets;
use fiko_metrics::{Counter, Family, Histogram, LabelSet, LabelValue};

#[derive(LabelValue, Clone, Copy)]
enum Method {
    Get,
    Post,
}

#[derive(LabelValue, Clone, Copy)]
enum Status {
    Ok,
    Error,
}

#[derive(LabelSet)]
struct Labels {
    method: Method,
    status: Status,
}

#[derive(LabelSet)]
struct Open {
    tenant: String,
}

const PER_THREAD: u64 = 1_000_000;

#[test]
fn two_threads_a_million_increments_each_on_closed_labels_are_exact() {
    let family: Arc<Family<Labels, Counter>> = Arc::default();
    let threads: Vec<_> = [Method::Get, Method::Post]
        .into_iter()
        .map(|method| {
            let family = family.clone();
            std::thread::spawn(move || {
                for i in 0..PER_THREAD {
                    // Both threads hit the shared series and one of their own.
                    let status = if i % 2 == 0 {
                        Status::Ok
                    } else {
                        Status::Error
                    };
                    family
                        .get_or_create(&Labels {
                            method: Method::Get,
                            status,
                        })
                        .inc();
                    family
                        .get_or_create(&Labels {
                            method,
                            status: Status::Ok,
                        })
                        .inc_by(2);
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("no panic");
    }
    let get = |method, status| family.get_or_create(&Labels { method, status }).get();
    assert_eq!(get(Method::Get, Status::Ok), PER_THREAD + 2 * PER_THREAD);
    assert_eq!(get(Method::Get, Status::Error), PER_THREAD);
    assert_eq!(get(Method::Post, Status::Ok), 2 * PER_THREAD);
    assert_eq!(get(Method::Post, Status::Error), 0);
}

#[test]
fn two_threads_on_open_labels_are_exact() {
    let family: Arc<Family<Open, Counter>> = Arc::default();
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let family = family.clone();
            std::thread::spawn(move || {
                for i in 0..200_000u64 {
                    family
                        .get_or_create(&Open {
                            tenant: format!("t{}", i % 10),
                        })
                        .inc();
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("no panic");
    }
    for t in 0..10 {
        assert_eq!(
            family
                .get_or_create(&Open {
                    tenant: format!("t{t}")
                })
                .get(),
            40_000
        );
    }
    assert_eq!(family.len(), 10);
}

#[test]
fn histogram_counts_sum_and_buckets_are_exact() {
    let histogram = Histogram::new(Buckets::new(vec![1.0, 2.0, 5.0]).expect("valid"));
    // Bounds are inclusive: 1.0 lands in le="1.0".
    for value in [0.5, 1.0, 1.5, 2.0, 4.0, 5.0, 6.0, 100.0] {
        histogram.observe(value);
    }
    let mut cumulative = Vec::new();
    let sum = histogram.snapshot(&mut cumulative);
    assert_eq!(cumulative, [2, 4, 6, 8]);
    assert_eq!(sum, 120.0);
    assert_eq!(histogram.count(), 8);
}

#[test]
fn histogram_is_exact_under_two_threads() {
    let histogram = Arc::new(Histogram::new(Buckets::new(vec![0.5, 1.0]).expect("valid")));
    let threads: Vec<_> = [0.25, 0.75]
        .into_iter()
        .map(|value| {
            let histogram = histogram.clone();
            std::thread::spawn(move || {
                for _ in 0..PER_THREAD {
                    histogram.observe(value);
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("no panic");
    }
    let mut cumulative = Vec::new();
    let sum = histogram.snapshot(&mut cumulative);
    assert_eq!(cumulative, [PER_THREAD, 2 * PER_THREAD, 2 * PER_THREAD]);
    // 0.25 and 0.75 are exact in binary, so the float sum is exact too.
    assert_eq!(sum, PER_THREAD as f64);
}

#[test]
fn nan_and_infinities_never_panic() {
    let histogram = Histogram::new(Buckets::new(vec![1.0]).expect("valid"));
    histogram.observe(f64::NAN);
    histogram.observe(f64::INFINITY);
    histogram.observe(f64::NEG_INFINITY);
    let mut cumulative = Vec::new();
    let sum = histogram.snapshot(&mut cumulative);
    assert_eq!(
        cumulative,
        [1, 3],
        "-Inf is <= 1.0; NaN and +Inf go to +Inf"
    );
    assert!(sum.is_nan());

    let counter = Counter::<f64>::default();
    counter.inc_by(f64::NAN);
    counter.inc_by(-1.0);
    counter.inc_by(f64::INFINITY);
    counter.inc_by(1.5);
    assert_eq!(
        counter.get(),
        1.5,
        "a counter ignores amounts that would break it"
    );

    assert!(Buckets::new(vec![]).is_err());
    assert!(Buckets::new(vec![f64::NAN]).is_err());
    assert!(Buckets::new(vec![2.0, 1.0]).is_err());
}
