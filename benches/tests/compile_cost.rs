//! The compile-cost benchmark compares like with like: its three crates (fiko-metrics'
//! derive, measured's derive, prometheus-client by hand; written by
//! `benches::compile_cost`) register and expose the same metric families, each with a
//! sample. `build.rs` writes a 2-set instance; the benchmark's 50-set crates are the same
//! templates repeated, and `scripts/bench-parts/compile-cost` checks their 500 families
//! the same way before timing them.

use benches::compile_cost::{METRICS_PER_SET, families, families_without_samples};

// Generated code: its label enums' unrecorded variants and the sets' `pub` items are
// not used by this test.
#[allow(unreachable_pub, dead_code)]
mod ours {
    include!(concat!(env!("OUT_DIR"), "/cc_fiko.rs"));
}

#[allow(unreachable_pub, dead_code)]
mod measured_derive {
    include!(concat!(env!("OUT_DIR"), "/cc_measured.rs"));
}

#[allow(unreachable_pub, dead_code)]
mod by_hand {
    include!(concat!(env!("OUT_DIR"), "/cc_by_hand.rs"));
}

#[test]
fn the_three_declarations_expose_the_same_families_each_with_a_sample() {
    let ours = ours::exposition().unwrap();
    let measured = measured_derive::exposition().unwrap();
    let by_hand = by_hand::exposition().unwrap();

    let expected = families(&ours);
    assert_eq!(expected.len(), 2 * METRICS_PER_SET, "{expected:?}");
    for set in 0..2 {
        let kinds = |kind: &str| {
            expected
                .iter()
                .filter(|(name, k)| name.starts_with(&format!("app_set{set}_")) && k == kind)
                .count()
        };
        assert_eq!(
            (kinds("counter"), kinds("gauge"), kinds("histogram")),
            (4, 3, 3)
        );
    }
    assert!(expected.contains(&(
        "app_set1_latency_seconds".to_owned(),
        "histogram".to_owned()
    )));
    assert!(expected.contains(&("app_set0_sent_bytes".to_owned(), "counter".to_owned())));
    assert_eq!(families(&measured), expected, "measured:\n{measured}");
    assert_eq!(
        families(&by_hand),
        expected,
        "prometheus-client:\n{by_hand}"
    );
    for (side, text) in [
        ("fiko-metrics", &ours),
        ("measured", &measured),
        ("prometheus-client", &by_hand),
    ] {
        assert_eq!(
            families_without_samples(text),
            Vec::<String>::new(),
            "{side}:\n{text}"
        );
    }
}

#[test]
fn families_are_the_workloads_type_lines_with_a_counters_total_dropped() {
    let text = "# HELP app_a_total A.\n# TYPE app_a_total counter\napp_a_total 1\n\
                # TYPE app_b counter\napp_b_total 2\n# TYPE app_c_seconds histogram\n\
                # TYPE app_d gauge\napp_d 1\n# TYPE fiko_metrics_label_overflow_total counter\n";
    let counter = |name: &str| (name.to_owned(), "counter".to_owned());
    assert_eq!(
        families(text),
        vec![
            counter("app_a"),
            counter("app_b"),
            ("app_c_seconds".to_owned(), "histogram".to_owned()),
            ("app_d".to_owned(), "gauge".to_owned()),
        ]
    );
    assert_eq!(
        families_without_samples(text),
        vec!["app_c_seconds".to_owned()]
    );
}
