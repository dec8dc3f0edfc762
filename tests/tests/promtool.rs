//! The exposition of declared sets passes the real `promtool check metrics`
//! (Debian package `prometheus`; `scripts/test` installs it).

// The helpers fail the test by panicking (they are not `#[test]` fns: rust-clippy#13981).
#![allow(clippy::panic)]

use fiko_metrics::calls::FunctionMetrics;
use fiko_metrics::{
    Counter, Family, Format, Gauge, Histogram, LabelSet, LabelValue, MetricSet, Registry, timed,
};

#[derive(MetricSet)]
#[metric_set(namespace = "fiko", subsystem = "http")]
struct Http {
    /// HTTP requests, by method, route and status class.
    requests: Family<RequestLabels, Counter>,
    /// HTTP request latency.
    #[metric(buckets = exponential(0.005, 2, 12))]
    request_duration_seconds: Family<RequestLabels, Histogram>,
    /// Requests being served.
    in_flight_requests: Gauge,
    /// Response bytes.
    #[metric(unit = "bytes")]
    response_size: Histogram,
    /// Help with "quotes", a back\slash and unicode: ünïcödé ✓.
    odd_values: Family<Free, Gauge<f64>>,
}

#[derive(LabelValue)]
#[label_value(rename_all = "UPPERCASE")]
enum Method {
    Get,
    Post,
}

#[derive(LabelValue)]
enum StatusClass {
    #[label_value(rename = "2xx")]
    Success,
    #[label_value(rename = "5xx")]
    ServerError,
}

#[derive(LabelSet)]
struct RequestLabels {
    method: Method,
    route: &'static str,
    status: StatusClass,
}

#[derive(LabelSet)]
struct Free {
    value: String,
}

#[timed]
fn handled() -> Result<(), String> {
    Err("nope".into())
}

/// Runs the real `promtool check metrics` on `text`: (passed, everything it said).
fn promtool_check(text: &str) -> (bool, String) {
    let report =
        fiko_testkit::promtool::check_metrics(text).unwrap_or_else(|error| panic!("{error}"));
    (report.success, report.text())
}

#[test]
fn exposition_passes_promtool_check_metrics() {
    let registry = Registry::new();
    let http = Http::register(&registry).expect("registers");
    registry
        .register_shared(std::sync::Arc::new(FunctionMetrics::new()))
        .expect("registers");
    let labels = RequestLabels {
        method: Method::Get,
        route: "/api/v1/users/{id}",
        status: StatusClass::Success,
    };
    http.requests.get_or_create(&labels).inc();
    http.request_duration_seconds
        .get_or_create(&labels)
        .observe(0.012);
    http.in_flight_requests.inc();
    http.response_size.observe(512.0);
    for (value, number) in [
        ("quote \" backslash \\ newline \n end", 1.0),
        ("ünïcödé ✓", f64::NAN),
        ("", f64::INFINITY),
        ("tab\tand\u{1}control", f64::NEG_INFINITY),
        (&"x".repeat(10_000), -0.0),
    ] {
        http.odd_values
            .get_or_create(&Free {
                value: value.to_owned(),
            })
            .set(number);
    }
    let _ = handled();

    let text = registry.encode(Format::Prometheus);
    let (ok, report) = promtool_check(&text);
    assert!(
        ok,
        "promtool check metrics failed:\n{report}\n--- exposition ---\n{text}"
    );
}

#[test]
fn promtool_rejects_a_broken_exposition() {
    // The check above can fail: promtool really parses what it is given.
    let (ok, _) = promtool_check("# TYPE broken counter\nbroken_total{a=\"unterminated} 1\n");
    assert!(!ok);
}
