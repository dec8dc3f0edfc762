//! A store without native histograms: VictoriaMetrics 1.79 (Debian's), started by the
//! test kit, scrapes an application whose latency histogram is declared native and
//! classic. With `Settings::native_histograms` off, the generator reads it from its
//! classic `_bucket` series by `le`, and that query, run by VictoriaMetrics, returns the
//! quantile the recorded buckets give; the native query finds nothing there. A histogram
//! declared native only has just `_count`, `_sum` and the `+Inf` bucket in such a store:
//! its count is read, and a quantile of it is refused by the generator.

// The helpers fail the test by panicking (they are not `#[test]` fns: rust-clippy#13981).
#![allow(clippy::indexing_slicing)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::serve;
use fiko_dashboards::prelude::*;
use fiko_dashboards_gen::{Generator, ObservedSet};
use fiko_metrics::{Histogram, MetricSet, Registry};
use fiko_testkit::VictoriaMetrics;
use serde_json::Value;

#[derive(MetricSet)]
#[metric_set(namespace = "vm")]
struct Migrating {
    /// Request latency, native and classic buckets (migrating to native).
    #[metric(native, buckets = [0.1, 0.2, 0.4, 0.8, 1.6])]
    request_duration_seconds: Histogram,
    /// Job latency, native buckets only.
    #[metric(native)]
    job_duration_seconds: Histogram,
}

/// The results of an instant query: each series' labels and value.
fn results(vm: &VictoriaMetrics, promql: &str) -> Vec<(Value, f64)> {
    let json = vm.query(promql).unwrap_or_default();
    let json: Value = serde_json::from_str(&json).unwrap_or_default();
    json["data"]["result"]
        .as_array()
        .map(|results| {
            results
                .iter()
                .filter_map(|r| {
                    let value = r["value"][1].as_str()?.parse().ok()?;
                    Some((r["metric"].clone(), value))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn values(vm: &VictoriaMetrics, promql: &str) -> Vec<f64> {
    results(vm, promql).into_iter().map(|(_, v)| v).collect()
}

/// Polls `promql` until `accept` holds, for 30 s.
fn wait_for(vm: &VictoriaMetrics, promql: &str, accept: impl Fn(&[f64]) -> bool) -> Vec<f64> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let found = values(vm, promql);
        if accept(&found) || Instant::now() >= deadline {
            return found;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// `(value, how many times)`: 1000 observations, 100 / 300 / 400 / 150 / 50 in the
/// buckets up to 0.1, 0.2, 0.4, 0.8 and 1.6.
const OBSERVATIONS: [(f64, u32); 5] = [(0.05, 100), (0.15, 300), (0.3, 400), (0.6, 150), (1.0, 50)];

/// What `histogram_quantile` computes from those buckets (linear inside the bucket that
/// holds rank `q * n`): 0.2 + 0.2 · 100/400 = 0.25, 0.4 + 0.4 · 100/150, 0.8 + 0.8 · 40/50.
const QUANTILES: [(f64, f64); 3] = [(0.5, 0.25), (0.9, 0.4 + 0.4 * 100.0 / 150.0), (0.99, 1.44)];

fn generator(alerts: Vec<Alert>) -> Generator {
    Generator::new("shop")
        .observe_set(ObservedSet {
            descriptor: Migrating::DESCRIPTOR,
            service: "shop".to_owned(),
            rows: Vec::new(),
            alerts,
        })
        .runbook_base("https://runbooks.example/")
}

fn slow_requests() -> Alert {
    Alert::warning(
        "SlowRequests",
        Migrating::REQUEST_DURATION_SECONDS
            .quantile(0.99)
            .above(Seconds(0.8)),
    )
    .summary("slow")
    .description("p99 above {threshold}.")
}

#[test]
fn without_native_histograms_the_generator_reads_classic_buckets_and_refuses_native_only_quantiles()
{
    // With native histograms (the default), the native series; without, `_bucket` by `le`.
    let native = generator(vec![slow_requests()])
        .generate()
        .expect("generate");
    let alerts = native.get("prometheus/alerts.yml").expect("alerts.yml");
    assert!(
        alerts.contains("rate(vm_request_duration_seconds[5m])"),
        "{alerts}"
    );
    let tests = native.get("prometheus/alerts.test.yml").expect("tests");
    assert!(tests.contains("promtool 2.42 cannot load"), "{tests}");

    let mut classic = generator(vec![slow_requests()]);
    classic.settings_mut().native_histograms = false;
    let artefacts = classic.generate().expect("generate");
    let alerts = artefacts.get("prometheus/alerts.yml").expect("alerts.yml");
    assert!(
        alerts.contains(
            "histogram_quantile(0.99, sum by (le, job, instance) (rate(vm_request_duration_seconds_bucket[5m])))"
        ),
        "{alerts}"
    );
    // Classic series are floats: promtool can test the alert again, and it passes.
    let tests = artefacts.get("prometheus/alerts.test.yml").expect("tests");
    assert!(!tests.contains("cannot load"), "{tests}");
    let dir = tempfile::tempdir().expect("tempdir");
    artefacts.write_to(dir.path()).expect("write");
    let promtool = std::process::Command::new("promtool")
        .args(["test", "rules", "alerts.test.yml"])
        .current_dir(dir.path().join("prometheus"))
        .output()
        .expect("run promtool");
    assert!(
        promtool.status.success(),
        "{}{}",
        String::from_utf8_lossy(&promtool.stdout),
        String::from_utf8_lossy(&promtool.stderr)
    );

    // Read from classic buckets, the threshold must be one of their boundaries again.
    let mut between = generator(vec![
        Alert::warning(
            "SlowRequests",
            Migrating::REQUEST_DURATION_SECONDS
                .quantile(0.99)
                .above(Seconds(0.5)),
        )
        .summary("slow")
        .description("p99 above {threshold}."),
    ]);
    assert!(between.generate().is_ok(), "native: any threshold");
    between.settings_mut().native_histograms = false;
    let error = between
        .generate()
        .expect_err("0.5 is no bucket boundary")
        .to_string();
    assert!(error.contains("is not a bucket boundary"), "{error}");

    // A native-only histogram has no buckets there: its quantile is refused, its rate is
    // read from `_count`.
    let mut native_only = generator(vec![
        Alert::warning(
            "SlowJobs",
            Migrating::JOB_DURATION_SECONDS
                .quantile(0.99)
                .above(Seconds(10.0)),
        )
        .summary("slow jobs")
        .description("p99 above {threshold}."),
    ]);
    native_only.settings_mut().native_histograms = false;
    let error = native_only
        .generate()
        .expect_err("no buckets to read")
        .to_string();
    assert!(
        error.contains("`vm_job_duration_seconds`, declared native only, cannot be read from a store without native histograms"),
        "{error}"
    );
    let rate = Migrating::JOB_DURATION_SECONDS.rate();
    assert_eq!(
        rate.expr()
            .render(&Context::rules(minutes(5)).without_native_histograms()),
        "sum by (job, instance) (rate(vm_job_duration_seconds_count[5m]))"
    );
}

#[test]
fn victoria_metrics_answers_the_classic_quantile_of_a_native_and_classic_histogram() {
    let registry = Arc::new(Registry::new());
    let metrics = Migrating::register(&registry).expect("register");
    let target = serve(registry.clone());
    let addr = target.address();
    let scrape = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n- job_name: shop\n  static_configs:\n  - targets: ['{addr}']\n"
    );
    let vm = VictoriaMetrics::start(&scrape).expect("start victoria-metrics");

    // A first scrape with no observations, so that the rate below sees them all arrive.
    let empty = wait_for(&vm, "vm_request_duration_seconds_count", |v| v == [0.0]);
    assert_eq!(empty, [0.0], "{}", vm.log_tail());
    let mut n = 0u32;
    for (value, times) in OBSERVATIONS {
        for _ in 0..times {
            metrics.request_duration_seconds.observe(value);
            metrics.job_duration_seconds.observe(value);
        }
        n += times;
    }
    let n = f64::from(n);
    let count = wait_for(&vm, "vm_request_duration_seconds_count", |v| v == [n]);
    assert_eq!(count, [n], "{}", vm.log_tail());
    let count = wait_for(&vm, "vm_job_duration_seconds_count", |v| v == [n]);
    assert_eq!(count, [n], "native only: `_count` is there");
    // Two samples more, so that the window holds the empty one and full ones.
    std::thread::sleep(Duration::from_secs(2));

    let window = seconds(60);
    let classic = Context::rules(window).without_native_histograms();
    for (q, expected) in QUANTILES {
        let query = Migrating::REQUEST_DURATION_SECONDS
            .quantile(q)
            .expr()
            .render(&classic);
        assert!(query.contains("_bucket") && query.contains("le"), "{query}");
        let got = values(&vm, &query);
        assert_eq!(got.len(), 1, "{query}: {got:?}\n{}", vm.log_tail());
        assert!(
            (got[0] - expected).abs() <= 1e-9 * expected,
            "{query}: VictoriaMetrics says {}, the buckets say {expected}",
            got[0]
        );
        // The native query reads a series VictoriaMetrics 1.79 never stores.
        let native = Migrating::REQUEST_DURATION_SECONDS
            .quantile(q)
            .expr()
            .render(&Context::rules(window));
        assert!(values(&vm, &native).is_empty(), "{native}");
    }

    // The native-only histogram: `_sum`, `_count` and a single `+Inf` bucket.
    let sum = values(&vm, "vm_job_duration_seconds_sum");
    let expected_sum: f64 = OBSERVATIONS.iter().map(|(v, t)| v * f64::from(*t)).sum();
    assert!(
        sum.len() == 1 && (sum[0] - expected_sum).abs() <= 1e-9 * expected_sum,
        "{sum:?} vs {expected_sum}"
    );
    let buckets = results(&vm, "vm_job_duration_seconds_bucket");
    let les: Vec<&str> = buckets
        .iter()
        .filter_map(|(labels, _)| labels["le"].as_str())
        .collect();
    assert_eq!(les, ["+Inf"], "{buckets:?}");
}
