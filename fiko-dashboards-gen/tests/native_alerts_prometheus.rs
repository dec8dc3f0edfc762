//! The generated alert on a native histogram, which promtool 2.42 cannot test (its test
//! series are floats), proven in a real Prometheus 2.42 with native histograms enabled:
//! it scrapes an application's native histogram as protobuf, evaluates the generated
//! `alerts.yml`, and activates the latency alert (pending: its `for` is longer than a
//! test) for the slow route only.

// The helpers fail the test by panicking (they are not `#[test]` fns: rust-clippy#13981).
#![allow(clippy::indexing_slicing)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::serve;
use fiko_dashboards::prelude::*;
use fiko_dashboards_gen::Generator;
use fiko_metrics::{Family, Histogram, LabelSet, MetricSet, Registry};
use fiko_testkit::Prometheus;
use serde_json::Value;

#[derive(LabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(MetricSet)]
#[metric_set(namespace = "native")]
struct NativeMetrics {
    /// Request latency, native buckets, by route.
    #[metric(native)]
    request_duration_seconds: Family<RouteLabels, Histogram>,
}

/// The `route` labels of `ALERTS{alertname=...}`: the alert's condition holds for them
/// (pending until its `for` has passed, 5 minutes by default, then firing).
fn active(prometheus: &Prometheus, alert: &str) -> Vec<String> {
    let json = prometheus
        .query(&format!(r#"ALERTS{{alertname="{alert}"}}"#))
        .unwrap_or_default();
    let json: Value = serde_json::from_str(&json).unwrap_or_default();
    let mut routes: Vec<String> = json["data"]["result"]
        .as_array()
        .map(|results| {
            results
                .iter()
                .filter_map(|r| r["metric"]["route"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    routes.sort();
    routes
}

#[test]
fn the_generated_native_latency_alert_activates_in_a_real_prometheus() {
    let slow = Alert::warning(
        "NativeSlow",
        NativeMetrics::REQUEST_DURATION_SECONDS
            .quantile(0.95)
            .by([RouteLabels::ROUTE])
            .above(Seconds(1.7)),
    )
    .summary("slow")
    .description("p95 above {threshold}.");
    let artefacts = Generator::new("shop")
        .runbook_base("https://runbooks.example/")
        .observe_set(fiko_dashboards_gen::ObservedSet {
            descriptor: NativeMetrics::DESCRIPTOR,
            service: "shop".to_owned(),
            rows: Vec::new(),
            alerts: vec![slow],
        })
        .generate()
        .expect("generate");
    let alerts = artefacts.get("prometheus/alerts.yml").expect("alerts.yml");
    assert!(
        alerts.contains("rate(native_request_duration_seconds[5m])"),
        "{alerts}"
    );

    let registry = Arc::new(Registry::new());
    let metrics = NativeMetrics::register(&registry).expect("register");
    let stop = Arc::new(AtomicBool::new(false));
    let target = serve(registry.clone());
    let addr = target.address();
    // Observations keep arriving, so the 5-minute rate has something to show: the slow
    // route's p95 is about 2.4 s (above 1.7), the fast route's about 20 ms.
    let recorder = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let slow = metrics
                .request_duration_seconds
                .get_or_create(&RouteLabels {
                    route: "/report".to_owned(),
                });
            let fast = metrics
                .request_duration_seconds
                .get_or_create(&RouteLabels {
                    route: "/health".to_owned(),
                });
            let mut i = 0u32;
            while !stop.load(Ordering::Relaxed) {
                slow.observe(1.0 + f64::from(i % 30) * 0.05);
                fast.observe(0.005 + f64::from(i % 30) * 0.0005);
                i += 1;
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };

    let config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\nrule_files: [alerts.yml]\nscrape_configs:\n- job_name: shop\n  static_configs:\n  - targets: ['{addr}']\n"
    );
    let prometheus = Prometheus::start_with_flags(
        &config,
        &[("alerts.yml", alerts)],
        &["--enable-feature=native-histograms"],
    )
    .expect("start prometheus");

    // The rule group is evaluated every 15 s.
    let deadline = Instant::now() + Duration::from_secs(45);
    let mut routes = Vec::new();
    while Instant::now() < deadline {
        routes = active(&prometheus, "NativeSlow");
        if !routes.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    // A few evaluations more: the fast route stays quiet.
    std::thread::sleep(Duration::from_secs(3));
    let later = active(&prometheus, "NativeSlow");
    stop.store(true, Ordering::Relaxed);
    let _ = recorder.join();
    let debug = [
        "up",
        "histogram_count(native_request_duration_seconds)",
        "histogram_quantile(0.95, sum by (job, instance, route) (rate(native_request_duration_seconds[5m])))",
        "ALERTS",
    ]
    .map(|q| format!("{q}: {}", prometheus.query(q).unwrap_or_default()))
    .join("\n");
    assert_eq!(
        routes,
        ["/report"],
        "{debug}\n{alerts}\n{}",
        prometheus.log_tail()
    );
    assert_eq!(later, ["/report"]);
    // And the quantile it alerts on is what the observations say, within schema 3's width.
    let p95 = prometheus
        .query(
            r#"histogram_quantile(0.95, sum by (route) (rate(native_request_duration_seconds{route="/report"}[5m])))"#,
        )
        .expect("query");
    let json: Value = serde_json::from_str(&p95).expect("json");
    let p95: f64 = json["data"]["result"][0]["value"][1]
        .as_str()
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN);
    // The values cycle evenly through 1.00, 1.05, ..., 2.45: the 95th percent is 2.40.
    let width = 2f64.powf(1.0 / 8.0) - 1.0;
    assert!((p95 - 2.4).abs() / 2.4 <= width, "p95 {p95}");
}
