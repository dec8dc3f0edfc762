//! A million distinct open-label values through the API: series stay bounded by the
//! configured limit, every fold is counted, no count is lost, and resident memory stays
//! flat once the limit is reached (measured with `fiko-metrics-process`).

// The helpers fail the test by panicking (they are not `#[test]` fns: rust-clippy#13981).
#![allow(clippy::expect_used)]

use std::sync::Arc;

use fiko_metrics::{Counter, Family, LabelSet, LabelValue, MetricSet};
use fiko_metrics_process::ProcessMetrics;

#[derive(LabelValue)]
enum Plan {
    Free,
    Pro,
}

#[derive(LabelSet)]
struct Tenant {
    tenant: String,
    plan: Plan,
}

fn resident_bytes(process: &ProcessMetrics) -> i64 {
    process.refresh().expect("reads /proc/self");
    process.process_resident_memory_bytes.get()
}

#[test]
fn a_million_values_keep_series_and_memory_bounded() {
    const LIMIT: usize = 1_000;
    const PER_THREAD: u64 = 500_000;
    let family = Arc::new(Family::<Tenant, Counter>::new(Default::default(), LIMIT));
    let process = ProcessMetrics::new();

    // Fill the family up to its limit, then measure.
    for i in 0..LIMIT as u64 {
        family
            .get_or_create(&Tenant {
                tenant: format!("warm-{i}"),
                plan: Plan::Free,
            })
            .inc();
    }
    let before = resident_bytes(&process);

    let threads: Vec<_> = (0..2u64)
        .map(|thread| {
            let family = family.clone();
            std::thread::spawn(move || {
                let mut tenant = String::new();
                for i in 0..PER_THREAD {
                    use std::fmt::Write;
                    tenant.clear();
                    let _ = write!(tenant, "tenant-{thread}-{i}");
                    let plan = if i % 2 == 0 { Plan::Free } else { Plan::Pro };
                    family
                        .get_or_create(&Tenant {
                            tenant: std::mem::take(&mut tenant),
                            plan,
                        })
                        .inc();
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("no panic");
    }
    let after = resident_bytes(&process);

    // The limit, plus one overflow series per closed combination (free, pro).
    assert_eq!(family.len(), LIMIT + 2);
    assert_eq!(family.folded(), 2 * PER_THREAD);
    let overflow = |plan| {
        family
            .get_or_create(&Tenant {
                tenant: "other".into(),
                plan,
            })
            .get()
    };
    assert_eq!(overflow(Plan::Free) + overflow(Plan::Pro), 2 * PER_THREAD);
    let growth = after - before;
    assert!(
        growth < 4 * 1024 * 1024,
        "resident memory grew by {growth} bytes over a million folded values (before {before}, after {after})"
    );
    eprintln!("resident memory: before {before} B, after {after} B, growth {growth} B");
}
