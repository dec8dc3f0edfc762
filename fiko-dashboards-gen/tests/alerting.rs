//! Alerts a team can trust: each set's rules select its own jobs, target health over
//! every scrape job, volume guards and per-job aggregation, absolute runbook links, and an
//! Alertmanager that delivers with secrets read from files.

// The helpers fail the test by panicking (they are not `#[test]` fns: rust-clippy#13981).
#![allow(clippy::expect_used, clippy::panic)]

mod common;

use common::expr;

use fiko_dashboards::monitoring::{PrometheusServer, ScrapeTargets};
use fiko_dashboards_gen::{Error, Generator};
use fiko_metrics_axum::HttpServerMetrics;
use fiko_metrics_process::ProcessMetrics;
use fiko_metrics_redis::RedisExporter;

fn shop() -> Generator {
    Generator::new("shop")
        .runbook_base("https://wiki.example/runbooks")
        .observe::<HttpServerMetrics>()
        .observe::<ProcessMetrics>()
        .observe::<RedisExporter>()
        .observe::<PrometheusServer>()
        .observe::<ScrapeTargets>()
        .scrape_app("web", "/metrics", &["web:8080"])
        .scrape_app("worker", "/metrics", &["worker:9100"])
        .scrape("redis", "/metrics", &["redis-exporter:9121"])
        .scrape("prometheus", "/metrics", &["localhost:9090"])
        .serves::<RedisExporter>("redis")
        .serves::<PrometheusServer>("prometheus")
}

#[test]
fn each_sets_rules_select_its_own_jobs() {
    let artefacts = shop().generate().expect("generate");
    let alerts = artefacts.get("prometheus/alerts.yml").expect("alerts");
    // The application's sets: its own jobs, never Prometheus' process.
    assert_eq!(
        expr(alerts, "HighMemoryUsage"),
        "sum by (job, instance) (process_resident_memory_bytes{job=~\"shop-web|shop-worker\"}) > 1572864000"
    );
    assert!(expr(alerts, "HighCPUUsage").contains("{job=~\"shop-web|shop-worker\"}"));
    // An exporter's set: the job bound to it.
    assert_eq!(
        expr(alerts, "RedisDown"),
        "sum by (job, instance) (redis_up{job=~\"redis\"}) == 0"
    );
    assert!(expr(alerts, "PrometheusRuleEvaluationFailures").contains("{job=~\"prometheus\"}"));
}

#[test]
fn every_scrape_job_has_target_down_and_target_missing() {
    let artefacts = shop().generate().expect("generate");
    let alerts = artefacts.get("prometheus/alerts.yml").expect("alerts");
    assert_eq!(
        expr(alerts, "TargetDown"),
        "max by (job, instance) (up{job=~\"shop-web|shop-worker|redis|prometheus\"}) == 0"
    );
    assert_eq!(
        expr(alerts, "TargetMissing"),
        "absent(up{job=\"shop-web\"}) or absent(up{job=\"shop-worker\"}) or absent(up{job=\"redis\"}) or absent(up{job=\"prometheus\"})"
    );
    assert_eq!(expr(alerts, "Watchdog"), "vector(1)");
    // Even without ScrapeTargets observed, the health alerts are there.
    let bare = Generator::new("bare")
        .runbook_base("https://wiki.example/runbooks")
        .scrape_app("web", "/metrics", &["web:8080"])
        .generate()
        .expect("generate");
    let alerts = bare.get("prometheus/alerts.yml").expect("alerts");
    assert_eq!(
        expr(alerts, "TargetMissing"),
        "absent(up{job=\"bare-web\"})"
    );
}

#[test]
fn error_ratio_is_per_job_with_a_minimum_volume() {
    let artefacts = shop().generate().expect("generate");
    let alerts = artefacts.get("prometheus/alerts.yml").expect("alerts");
    let selector = "job=~\"shop-web|shop-worker\"";
    assert_eq!(
        expr(alerts, "HighErrorRate"),
        format!(
            "(sum by (job) (rate(http_server_requests_total{{http_response_status_class=\"5xx\", {selector}}}[5m]))) / (sum by (job) (rate(http_server_requests_total{{{selector}}}[5m])) > 0) > 0.05 and sum by (job) (rate(http_server_requests_total{{{selector}}}[5m])) > 1"
        )
    );
}

#[test]
fn runbook_links_must_be_absolute() {
    let problems = |generator: Generator| match generator.generate() {
        Err(Error::Invalid(problems)) => problems,
        other => panic!("expected problems, got {other:?}"),
    };
    let missing = problems(Generator::new("shop").scrape_app("web", "/m", &["web:1"]));
    assert!(
        missing
            .iter()
            .any(|p| p.starts_with("runbook base: not set")),
        "{missing:?}"
    );
    let relative = problems(
        Generator::new("shop")
            .runbook_base("RUNBOOKS.md")
            .scrape_app("web", "/m", &["web:1"]),
    );
    assert_eq!(
        relative,
        [
            "runbook base `RUNBOOKS.md`: not an absolute http(s) URL without `#`; a pager cannot open it"
        ]
    );
    let unbound = problems(
        Generator::new("shop")
            .runbook_base("https://wiki.example/runbooks")
            .observe::<RedisExporter>()
            .serves::<RedisExporter>("redis"),
    );
    assert_eq!(
        unbound,
        ["RedisExporter: served by job `redis`, which no `scrape` added before"]
    );
    let artefacts = shop().generate().expect("generate");
    let alerts = artefacts.get("prometheus/alerts.yml").expect("alerts");
    assert!(alerts.contains("runbook_url: \"https://wiki.example/runbooks#targetdown\""));
}

#[test]
fn alertmanager_reads_every_secret_from_a_file() {
    let artefacts = shop()
        .notify_webhook(
            "https://hooks.example/alerts",
            Some("/secrets/webhook-token"),
        )
        .notify_slack("/secrets/slack-url", "#alerts")
        .notify_pagerduty("/secrets/pagerduty-key")
        .notify_email(
            "oncall@example.org",
            "am@example.org",
            "smtp.example.org:587",
        )
        .dead_mans_switch("https://deadman.example/ping")
        .generate()
        .expect("generate");
    let config = artefacts
        .get("alertmanager/alertmanager.yml")
        .expect("alertmanager.yml");
    for wanted in [
        "credentials_file: \"/secrets/webhook-token\"",
        "api_url_file: \"/secrets/slack-url\"",
        "routing_key_file: \"/secrets/pagerduty-key\"",
        "to: \"oncall@example.org\"",
        "url: \"https://deadman.example/ping\"",
        "templates:\n  - \"templates/*.tmpl\"",
    ] {
        assert!(config.contains(wanted), "{wanted} not in\n{config}");
    }
    for secret_field in ["api_url:", "routing_key:", "credentials:", "auth_password:"] {
        assert!(
            !config.contains(secret_field),
            "{secret_field} in\n{config}"
        );
    }
    // Every integration but the dead-man's switch tells of resolutions.
    assert_eq!(config.matches("send_resolved: true").count(), 7, "{config}");
    let template = artefacts
        .get("alertmanager/templates/shop.tmpl")
        .expect("template");
    for field in ["summary", "description", "runbook_url", "dashboard_url"] {
        assert!(
            template.contains(&format!(".Annotations.{field}")),
            "{template}"
        );
    }
}
