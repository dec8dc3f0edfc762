//! The default panels and alerts the HTTP, WebSocket and process sets contribute to the
//! dashboards generator, checked as PromQL and run through `promtool test rules`.

use fiko_dashboards::prelude::*;
use fiko_metrics_axum::{EndpointMetrics, HttpServerMetrics, WebSocketMetrics};
use fiko_metrics_process::ProcessMetrics;
use fiko_testkit::TestkitError;
use fiko_testkit::promtool::{self, AlertRule};

/// The alert's condition as a rule file has it (without its volume guard).
fn rule_expr(alert: &Alert) -> String {
    alert.condition.render(&Context::rules(minutes(5)))
}

/// The rule file of one group holding `alerts`, each rule as the generator writes it.
fn rules_file(group: &str, alerts: &[Alert]) -> String {
    let rules: Vec<AlertRule> = alerts
        .iter()
        .map(|alert| {
            let expr = alert.render(&Context::rules(minutes(5)));
            AlertRule::new(&alert.name, expr, alert.for_, alert.severity.as_str())
        })
        .collect();
    promtool::rules_file(group, &rules)
}

fn all_alerts() -> Vec<Alert> {
    HttpServerMetrics::alerts()
        .into_iter()
        .chain(ProcessMetrics::alerts())
        .collect()
}

#[test]
fn the_seed_alerts_are_declared_without_problems() {
    let alerts = all_alerts();
    let names: Vec<(&str, Severity)> = alerts
        .iter()
        .map(|alert| (alert.name.as_str(), alert.severity))
        .collect();
    assert_eq!(
        names,
        [
            ("HighErrorRate", Severity::Critical),
            ("HighResponseTime", Severity::Warning),
            ("HighRequestRate", Severity::Warning),
            ("HighCPUUsage", Severity::Warning),
            ("HighMemoryUsage", Severity::Warning),
        ]
    );
    for alert in &alerts {
        assert!(
            alert.problems().is_empty(),
            "{}: {:?}",
            alert.name,
            alert.problems()
        );
        assert!(!alert.summary.is_empty() && !alert.description.is_empty());
    }
    assert_eq!(
        rule_expr(&alerts[0]),
        r#"(sum by (job, instance) (rate(http_server_requests_total{http_response_status_class="5xx"}[5m]))) / (sum by (job, instance) (rate(http_server_requests_total[5m])) > 0) > 0.05"#
    );
    assert_eq!(
        rule_expr(&alerts[1]),
        "histogram_quantile(0.95, sum by (le, job, instance) (rate(http_server_request_duration_seconds_bucket[5m]))) > 2"
    );
    assert_eq!(alerts[4].fill("{threshold}"), "1500 MiB");
}

#[test]
fn the_overview_panels_are_declared() {
    let titles: Vec<String> = HttpServerMetrics::rows()
        .iter()
        .chain(ProcessMetrics::rows().iter())
        .chain(WebSocketMetrics::rows().iter())
        .flat_map(|row| row.panels.iter().map(|panel| panel.title.clone()))
        .collect();
    for wanted in [
        "Request rate",
        "HTTP request rate by route",
        "Responses by status class",
        "Request latency",
        "Process memory",
        "Active WebSocket connections",
    ] {
        assert!(
            titles.iter().any(|title| title == wanted),
            "{wanted} in {titles:?}"
        );
    }
    let rows = HttpServerMetrics::rows();
    let latency = rows[0]
        .panels
        .iter()
        .find(|panel| panel.title == "Request latency")
        .expect("latency panel");
    let legends: Vec<Option<&str>> = latency
        .targets
        .iter()
        .map(|t| t.legend.as_deref())
        .collect();
    assert_eq!(legends, [Some("p50"), Some("p95"), Some("p99")]);
    assert_eq!(latency.unit, "s");
    let classes = rows[0]
        .panels
        .iter()
        .find(|panel| panel.title == "Responses by status class")
        .expect("status class panel");
    assert_eq!(
        classes.targets[0].expr.render(&Context::dashboard()),
        r#"sum by (http_response_status_class) (rate(http_server_requests_total{job=~"$job", instance=~"$instance"}[$__rate_interval]))"#
    );
}

/// promtool input: series for three app instances, one over each threshold.
const TESTS: &str = r#"rule_files: [rules.yml]
evaluation_interval: 1m
tests:
- interval: 1m
  input_series:
  # a:1 — 10% of requests fail, every request takes 2-2.5 s, 0.9 CPU cores, 2 GB RSS.
  - series: 'http_server_requests_total{job="app",instance="a:1",http_response_status_class="5xx"}'
    values: '0+60x30'
  - series: 'http_server_requests_total{job="app",instance="a:1",http_response_status_class="2xx"}'
    values: '0+540x30'
  - series: 'http_server_request_duration_seconds_bucket{job="app",instance="a:1",le="1"}'
    values: '0x30'
  - series: 'http_server_request_duration_seconds_bucket{job="app",instance="a:1",le="2"}'
    values: '0x30'
  - series: 'http_server_request_duration_seconds_bucket{job="app",instance="a:1",le="2.5"}'
    values: '0+600x30'
  - series: 'http_server_request_duration_seconds_bucket{job="app",instance="a:1",le="+Inf"}'
    values: '0+600x30'
  - series: 'process_cpu_seconds_total{job="app",instance="a:1"}'
    values: '0+54x30'
  - series: 'process_resident_memory_bytes{job="app",instance="a:1"}'
    values: '2000000000x30'
  # b:1 — 1% fail, fast, half a core, 1 GB.
  - series: 'http_server_requests_total{job="app",instance="b:1",http_response_status_class="5xx"}'
    values: '0+6x30'
  - series: 'http_server_requests_total{job="app",instance="b:1",http_response_status_class="2xx"}'
    values: '0+594x30'
  - series: 'http_server_request_duration_seconds_bucket{job="app",instance="b:1",le="1"}'
    values: '0+600x30'
  - series: 'http_server_request_duration_seconds_bucket{job="app",instance="b:1",le="2"}'
    values: '0+600x30'
  - series: 'http_server_request_duration_seconds_bucket{job="app",instance="b:1",le="2.5"}'
    values: '0+600x30'
  - series: 'http_server_request_duration_seconds_bucket{job="app",instance="b:1",le="+Inf"}'
    values: '0+600x30'
  - series: 'process_cpu_seconds_total{job="app",instance="b:1"}'
    values: '0+30x30'
  - series: 'process_resident_memory_bytes{job="app",instance="b:1"}'
    values: '1000000000x30'
  # c:1 — 1100 requests per second, all fine.
  - series: 'http_server_requests_total{job="app",instance="c:1",http_response_status_class="2xx"}'
    values: '0+66000x30'
  alert_rule_test:
  - eval_time: 20m
    alertname: HighErrorRate
    exp_alerts:
    - exp_labels: {severity: critical, job: app, instance: "a:1"}
  - eval_time: 20m
    alertname: HighResponseTime
    exp_alerts:
    - exp_labels: {severity: warning, job: app, instance: "a:1"}
  - eval_time: 20m
    alertname: HighRequestRate
    exp_alerts:
    - exp_labels: {severity: warning, job: app, instance: "c:1"}
  - eval_time: 20m
    alertname: HighCPUUsage
    exp_alerts:
    - exp_labels: {severity: warning, job: app, instance: "a:1"}
  - eval_time: 20m
    alertname: HighMemoryUsage
    exp_alerts:
    - exp_labels: {severity: warning, job: app, instance: "a:1"}
  - eval_time: 3m
    alertname: HighErrorRate
"#;

#[test]
fn the_alerts_fire_on_the_right_instances_in_promtool() -> Result<(), TestkitError> {
    let rules = rules_file("fiko-axum", &all_alerts());
    let check = promtool::run(&["check", "rules", "rules.yml"], &[("rules.yml", &rules)])
        .expect("promtool");
    assert!(
        check.success,
        "promtool check rules:\n{}\n{rules}",
        check.text()
    );
    promtool::test_rules(&rules, TESTS)?;
    Ok(())
}

/// promtool input for `RefusedScrapes`: a burst of 40 wrong tokens on a:1 at minute 6, a
/// single refusal on b:1 at the same time.
const REFUSAL_TESTS: &str = r#"rule_files: [rules.yml]
evaluation_interval: 1m
tests:
- interval: 1m
  input_series:
  - series: 'fiko_metrics_scrape_refusals_total{job="app",instance="a:1",endpoint="metrics",reason="wrong_token"}'
    values: '0x5 40x30'
  - series: 'fiko_metrics_scrape_refusals_total{job="app",instance="a:1",endpoint="metrics",reason="missing_token"}'
    values: '0x36'
  - series: 'fiko_metrics_scrape_refusals_total{job="app",instance="b:1",endpoint="health",reason="address_not_allowed"}'
    values: '0x5 1x30'
  alert_rule_test:
  # Pending for its minute first.
  - eval_time: 6m
    alertname: RefusedScrapes
  - eval_time: 8m
    alertname: RefusedScrapes
    exp_alerts:
    - exp_labels: {severity: warning, job: app, instance: "a:1"}
  # Once the burst has left the 5-minute window it resolves.
  - eval_time: 20m
    alertname: RefusedScrapes
"#;

/// Regression: refused scrapes are counted, and a burst of them alerts; one stray refusal
/// does not.
#[test]
fn the_refusal_alert_fires_on_a_burst_and_stays_silent_on_one_refusal() -> Result<(), TestkitError>
{
    let alerts = EndpointMetrics::alerts();
    let names: Vec<(&str, Severity)> = alerts
        .iter()
        .map(|alert| (alert.name.as_str(), alert.severity))
        .collect();
    assert_eq!(names, [("RefusedScrapes", Severity::Warning)]);
    let alert = &alerts[0];
    assert!(alert.problems().is_empty(), "{:?}", alert.problems());
    assert_eq!(
        rule_expr(alert),
        "sum by (job, instance) (increase(fiko_metrics_scrape_refusals_total[5m])) > 10"
    );
    let panels: Vec<String> = EndpointMetrics::rows()
        .iter()
        .flat_map(|row| row.panels.iter())
        .map(|panel| panel.targets[0].expr.render(&Context::dashboard()))
        .collect();
    assert_eq!(
        panels,
        [
            r#"sum by (endpoint, reason) (rate(fiko_metrics_scrape_refusals_total{job=~"$job", instance=~"$instance"}[$__rate_interval]))"#
        ]
    );

    let rules = rules_file("fiko-axum-endpoints", &alerts);
    promtool::test_rules(&rules, REFUSAL_TESTS)?;
    Ok(())
}
