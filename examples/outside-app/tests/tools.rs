//! The shop's generator binary, built on the public API only, writes artefacts that the
//! real tools accept: `promtool check rules`, `promtool test rules`, `promtool check
//! config` (Debian `prometheus`) and `amtool check-config` (Debian
//! `prometheus-alertmanager`).

// The helpers fail the test by panicking (they are not `#[test]` fns: rust-clippy#13981).
#![allow(clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;

use fiko_testkit::Report;

/// `tool` (name, Debian package) run with `args` in `dir`.
fn run(tool: (&str, &str), args: &[&str], dir: &Path) -> Report {
    fiko_testkit::run_tool(tool.0, tool.1, dir, args).unwrap_or_else(|error| panic!("{error}"))
}

fn generated() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = Command::new(env!("CARGO_BIN_EXE_monitoring"))
        .args([
            "--out",
            &dir.path().display().to_string(),
            "--interval",
            "5",
        ])
        .output()
        .expect("run monitoring");
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    dir
}

#[test]
fn the_generated_artefacts_pass_promtool_and_amtool() {
    let dir = generated();
    let prometheus_dir = dir.path().join("prometheus");
    let promtool = ("promtool", "prometheus");

    let rules = run(
        promtool,
        &["check", "rules", "alerts.yml", "recording.yml"],
        &prometheus_dir,
    );
    assert!(rules.success, "{}", rules.text());
    assert!(
        // The shop's 4 alerts, TargetDown, TargetMissing and the Watchdog; 2 shared rates.
        rules.text().contains("SUCCESS: 7 rules found")
            && rules.text().contains("SUCCESS: 2 rules found"),
        "{}",
        rules.text()
    );

    let tests = run(
        promtool,
        &["test", "rules", "alerts.test.yml"],
        &prometheus_dir,
    );
    assert!(tests.success, "{}", tests.text());
    assert!(tests.text().contains("SUCCESS"), "{}", tests.text());

    let config = run(
        promtool,
        &["check", "config", "prometheus.yml"],
        &prometheus_dir,
    );
    assert!(config.success, "{}", config.text());
    assert!(
        config.text().contains("2 rule files found"),
        "{}",
        config.text()
    );

    let amtool = ("amtool", "prometheus-alertmanager");
    let alertmanager = run(
        amtool,
        &["check-config", "alertmanager.yml"],
        &dir.path().join("alertmanager"),
    );
    assert!(alertmanager.success, "{}", alertmanager.text());
    assert!(
        alertmanager.text().contains("4 receivers") && alertmanager.text().contains("1 templates"),
        "{}",
        alertmanager.text()
    );
}

#[test]
fn the_shop_gets_its_own_sets_custom_alert_overrides_and_names() {
    let dir = generated();
    let read = |path: &str| std::fs::read_to_string(dir.path().join(path)).expect(path);
    let alerts = read("prometheus/alerts.yml");
    // Its own alert, the HTTP integration's (read from the registry) with the shop's
    // threshold, and `up`'s.
    for alert in [
        "CheckoutFailures",
        "HighErrorRate",
        "HighRequestRate",
        "HighResponseTime",
    ] {
        assert!(
            alerts.contains(&format!("- alert: \"{alert}\"")),
            "{alerts}"
        );
    }
    assert!(alerts.contains("[5m])) > 0) > 0.1\""), "{alerts}");
    assert!(alerts.contains("- name: \"shop.shop@"), "{alerts}");
    assert!(alerts.contains("- name: \"shop.app@"), "{alerts}");
    let dashboard = read("grafana/dashboards/shop-overview.json");
    for row in [
        "\"Shop\"",
        "\"Payments\"",
        "\"HTTP\"",
        "\"Functions\"",
        "\"Targets\"",
    ] {
        assert!(dashboard.contains(&format!("\"title\": {row}")), "{row}");
    }
    assert!(dashboard.contains("\"title\": \"Shop overview\""));
    assert!(dashboard.contains("\"unit\": \"currencyUSD\""));
    // The `#[timed]` function's series are what the Functions row charts.
    assert!(dashboard.contains("function_calls_total"), "{dashboard}");
    assert!(!dashboard.contains("Response body size p95 by route"));
    let provider = read("grafana/provisioning/dashboards/shop.yml");
    assert!(provider.contains("folder: \"Shop\""), "{provider}");
    let config = read("prometheus/prometheus.yml");
    assert!(config.contains("job_name: \"shop-web\""), "{config}");
    assert!(config.contains("scrape_interval: \"5s\""), "{config}");
}

/// The application serves what was generated for it: its scrape shows every metric the
/// dashboard queries name.
#[test]
fn the_dashboard_names_only_metrics_the_application_exposes() {
    use tower::ServiceExt as _;

    let router = outside_app::router();
    assert_eq!(outside_app::charge(250), Ok(250));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let body = runtime.block_on(async {
        let request = axum::http::Request::get("/api/v1/metrics")
            .body(axum::body::Body::empty())
            .expect("request");
        let response = router.oneshot(request).await.expect("response");
        assert_eq!(response.status(), 200);
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 24)
            .await
            .expect("body");
        String::from_utf8(bytes.to_vec()).expect("utf-8")
    });
    let dir = generated();
    let dashboard =
        std::fs::read_to_string(dir.path().join("grafana/dashboards/shop-overview.json"))
            .expect("dashboard");
    let dashboard: serde_json::Value = serde_json::from_str(&dashboard).expect("json");
    let mut named = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"].as_str().expect("expr");
            named.extend(fiko_dashboards_gen::promql::metric_names(expr).expect("parses"));
        }
    }
    assert!(named.len() > 10, "{named:?}");
    for name in named {
        if name == "up" || name == "ALERTS" {
            continue; // Prometheus' own series (the firing-alerts panel reads `ALERTS`)
        }
        if name.contains(':') {
            continue; // a recording rule's output (`recording.yml` names its sources)
        }
        let family = name.trim_end_matches("_bucket").trim_end_matches("_total");
        assert!(body.contains(family), "{name} not in the scrape:\n{body}");
    }
    assert!(
        body.contains("shop_payments_revenue_dollars_total 2"),
        "{body}"
    );
    assert!(
        body.contains("function_calls_total{function=\"charge\""),
        "{body}"
    ); // And nothing else: every registered metric is there with its declared HELP and
    // TYPE, closed labels take only declared values, nothing undeclared appears.
    fiko_metrics::testing::DriftCheck::new(fiko_metrics::default_registry().sets()).assert(&body);
}
