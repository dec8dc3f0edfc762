//! A scrape's buffer: sized from the last scrape of the same exposition, so a big
//! registry's output is written into one allocation instead of a doubling one (issue 20:
//! peak memory during a scrape ≤ 2× the output), and histogram bucket bounds written once
//! per family, not once per series.

use fiko_metrics::{Counter, Family, Format, Histogram, LabelSet, LabelValue, MetricSet, Registry};

#[derive(LabelValue, Clone, Copy)]
enum Outcome {
    Ok,
    Error,
}

#[derive(LabelSet)]
struct Tenant {
    tenant: String,
    outcome: Outcome,
}

#[derive(LabelSet)]
struct Route {
    route: String,
}

#[derive(MetricSet)]
#[metric_set(namespace = "usage")]
struct Usage {
    /// Requests, by tenant and outcome.
    #[metric(max_series = 100000)]
    requests: Family<Tenant, Counter>,
    /// Request latency, by route.
    #[metric(max_series = 100000, buckets = [0.01, 0.1, 1.0])]
    latency_seconds: Family<Route, Histogram>,
}

fn grow(usage: &Usage, from: usize, to: usize) {
    for i in from..to {
        for outcome in [Outcome::Ok, Outcome::Error] {
            let labels = Tenant {
                tenant: format!("tenant-{i}"),
                outcome,
            };
            usage.requests.get_or_create(&labels).inc_by(i as u64);
        }
        let route = Route {
            route: format!("/route/{i}"),
        };
        usage.latency_seconds.get_or_create(&route).observe(0.05);
    }
}

/// The most a scrape may reserve: the last output of its exposition and an eighth more.
fn within_hint(len: usize, capacity: usize) -> bool {
    capacity >= len && capacity <= len + len / 8
}

#[test]
fn later_scrapes_are_written_into_one_buffer_of_the_last_scrapes_size() {
    // Sizes from 20 KB to 2 MB: a buffer doubling from 4 KB would overshoot most of them
    // by far more than an eighth.
    for series in [100, 700, 3_000, 10_000] {
        let registry = Registry::new();
        let usage = Usage::register(&registry).expect("register");
        grow(&usage, 0, series);
        for format in [Format::Prometheus, Format::OpenMetrics] {
            let first = registry.encode(format);
            let second = registry.encode(format);
            assert_eq!(first, second);
            assert!(
                within_hint(second.len(), second.capacity()),
                "{series} series, {format:?}: {} bytes in a buffer of {}",
                second.len(),
                second.capacity()
            );
        }
        let first = registry.encode_protobuf();
        let second = registry.encode_protobuf();
        assert_eq!(first, second);
        assert!(
            within_hint(second.len(), second.capacity()),
            "{series} series, protobuf: {} bytes in a buffer of {}",
            second.len(),
            second.capacity()
        );
    }
}

#[test]
fn a_registry_that_grew_still_fits_in_twice_its_output() {
    let registry = Registry::new();
    let usage = Usage::register(&registry).expect("register");
    grow(&usage, 0, 2_000);
    let before = registry.encode(Format::Prometheus);
    // Half as many series again: the hint is too small, the buffer grows once.
    grow(&usage, 2_000, 3_000);
    let after = registry.encode(Format::Prometheus);
    assert!(after.len() > before.len() + before.len() / 8);
    assert!(
        after.capacity() <= 2 * after.len(),
        "{} bytes in a buffer of {}",
        after.len(),
        after.capacity()
    );
    // And the next scrape is sized from this one.
    let again = registry.encode(Format::Prometheus);
    assert!(within_hint(again.len(), again.capacity()));
}

#[test]
fn encode_into_remembers_only_what_it_appended() {
    let registry = Registry::new();
    let usage = Usage::register(&registry).expect("register");
    grow(&usage, 0, 500);
    let alone = registry.encode(Format::Prometheus);
    // A caller's buffer that already holds 1 MB: the scrape is appended after it, and the
    // next scrape is sized from the scrape alone.
    let mut out = "#".repeat(1 << 20);
    registry.encode_into(&mut out, Format::Prometheus);
    assert_eq!(out.get(1 << 20..), Some(alone.as_str()));
    assert!(
        out.get(..1 << 20)
            .is_some_and(|head| head.bytes().all(|b| b == b'#'))
    );
    let next = registry.encode(Format::Prometheus);
    assert_eq!(next, alone);
    assert!(within_hint(next.len(), next.capacity()));
}

#[derive(MetricSet)]
#[metric_set(namespace = "mixed")]
struct MixedBuckets {
    /// Fine buckets.
    #[metric(buckets = [0.5, 1.0])]
    fine_seconds: Family<Route, Histogram>,
    /// Coarse buckets.
    #[metric(buckets = [2.0, 4.0, 8.0])]
    coarse_seconds: Family<Route, Histogram>,
    /// Fine buckets again, after the coarse ones.
    #[metric(buckets = [0.5, 1.0])]
    again_seconds: Family<Route, Histogram>,
}

#[test]
fn each_histogram_family_shows_its_own_bounds() {
    let registry = Registry::new();
    let set = MixedBuckets::register(&registry).expect("register");
    for route in ["/a", "/b"] {
        let labels = Route {
            route: route.to_owned(),
        };
        set.fine_seconds.get_or_create(&labels).observe(0.7);
        set.coarse_seconds.get_or_create(&labels).observe(3.0);
        set.again_seconds.get_or_create(&labels).observe(0.2);
    }
    for format in [Format::Prometheus, Format::OpenMetrics] {
        let text = registry.encode(format);
        let les = |name: &str, route: &str| -> Vec<String> {
            let prefix = format!("{name}_bucket{{route=\"{route}\",le=\"");
            text.lines()
                .filter_map(|line| line.strip_prefix(prefix.as_str()))
                .map(|rest| rest.replace("\"}", ""))
                .collect()
        };
        for route in ["/a", "/b"] {
            assert_eq!(
                les("mixed_fine_seconds", route),
                ["0.5 0", "1.0 1", "+Inf 1"],
                "{format:?}"
            );
            assert_eq!(
                les("mixed_coarse_seconds", route),
                ["2.0 0", "4.0 1", "8.0 1", "+Inf 1"],
                "{format:?}"
            );
            assert_eq!(
                les("mixed_again_seconds", route),
                ["0.5 1", "1.0 1", "+Inf 1"],
                "{format:?}"
            );
        }
    }
}
