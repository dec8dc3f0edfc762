//! The generated artefacts pass the real tools: promtool (Debian `prometheus`) and amtool
//! (Debian `prometheus-alertmanager`).

mod common;

use common::{generated, run};
use fiko_backend::deployment;
use fiko_dashboards::seconds;

#[test]
fn promtool_accepts_the_alert_and_recording_rules() {
    let dir = generated();
    let promtool = ("promtool", "prometheus");
    let output = run(
        promtool,
        &["check", "rules", "alerts.yml", "recording.yml"],
        &dir.path().join("prometheus"),
    );
    let all = output.text();
    assert!(output.success, "{all}");
    assert!(all.contains("SUCCESS"), "{all}");
}

#[test]
fn promtool_unit_tests_of_every_alert_pass() {
    let dir = generated();
    let promtool = ("promtool", "prometheus");
    let output = run(
        promtool,
        &["test", "rules", "alerts.test.yml"],
        &dir.path().join("prometheus"),
    );
    assert!(output.success, "{}", output.text());
}

#[test]
fn every_alert_has_a_firing_and_a_silent_case() {
    let dir = generated();
    let alerts = std::fs::read_to_string(dir.path().join("prometheus/alerts.yml")).expect("alerts");
    let tests =
        std::fs::read_to_string(dir.path().join("prometheus/alerts.test.yml")).expect("tests");
    let names: Vec<&str> = alerts
        .lines()
        .filter_map(|line| line.trim().strip_prefix("- alert: "))
        .map(|name| name.trim_matches('"'))
        .collect();
    // The original Fiko Backend's alerts, each generated from the set that owns its metrics.
    let seed = [
        "HighErrorRate",
        "PostgresDown",
        "RedisDown",
        "WorkerDown",
        "RedisRejectedConnections",
        "HighResponseTime",
        "HighRequestRate",
        "PostgresHighConnections",
        "PostgresDeadlocks",
        "RedisHighMemoryUsage",
        "TaskFailureRate",
        "QueueBacklog",
        "HighCPUUsage",
        "HighMemoryUsage",
    ];
    for alert in seed {
        assert!(names.contains(&alert), "{alert} missing from {names:?}");
    }
    // Pages: outages (targets, servers, exporters, workers), the service's errors, and
    // the monitoring failing (rules not evaluated, notifications failing, no ingestion).
    let critical = alerts.matches("severity: \"critical\"").count();
    assert_eq!(critical, 11, "{alerts}");
    for name in names {
        assert!(tests.contains(&format!("name: \"{name} fires\"")), "{name}");
        // The Watchdog always fires: it has no silent case.
        assert_eq!(
            tests.contains(&format!("name: \"{name} stays silent")),
            name != "Watchdog",
            "{name}"
        );
        assert!(tests.contains(&format!("alertname: \"{name}\"")), "{name}");
    }
}

/// The generated tests are not vacuous: rules whose threshold or `for` changed after the
/// tests were generated fail them.
#[test]
fn generated_tests_fail_against_changed_rules() {
    let dir = generated();
    let promtool = ("promtool", "prometheus");
    let prometheus_dir = dir.path().join("prometheus");
    for (alert, tuned) in [
        (
            "PostgresHighConnections",
            deployment::generator().tune("PostgresHighConnections", |a| {
                a.set_threshold(500.0);
            }),
        ),
        (
            "RedisHighMemoryUsage",
            deployment::generator().tune("RedisHighMemoryUsage", |a| {
                a.set_threshold(0.99);
            }),
        ),
        (
            "RedisDown",
            deployment::generator().tune("RedisDown", |a| {
                a.set_for(fiko_dashboards::minutes(30));
            }),
        ),
    ] {
        let artefacts = tuned.generate().expect("tuned generation");
        let alerts = artefacts.get("prometheus/alerts.yml").expect("alerts.yml");
        std::fs::write(prometheus_dir.join("alerts.yml"), alerts).expect("write");
        let output = run(
            promtool,
            &["test", "rules", "alerts.test.yml"],
            &prometheus_dir,
        );
        let all = output.text();
        assert!(!output.success, "{alert}: stale tests passed:\n{all}");
        assert!(all.contains(alert), "{alert} not named in:\n{all}");
    }
}

#[test]
fn promtool_accepts_prometheus_yml_with_short_intervals() {
    let dir = tempfile::tempdir().expect("temp dir");
    let artefacts = deployment::generator()
        .interval(seconds(1))
        .generate()
        .expect("generate");
    artefacts.write_to(dir.path()).expect("write");
    let config = artefacts.get("prometheus/prometheus.yml").expect("config");
    assert!(config.contains("scrape_interval: \"1s\""), "{config}");
    let promtool = ("promtool", "prometheus");
    let output = run(
        promtool,
        &["check", "config", "prometheus.yml"],
        &dir.path().join("prometheus"),
    );
    let all = output.text();
    assert!(output.success, "{all}");
    assert!(all.contains("3 rule files found"), "{all}");
}

#[test]
fn amtool_accepts_alertmanager_yml() {
    let dir = generated();
    let amtool = ("amtool", "prometheus-alertmanager");
    let output = run(
        amtool,
        &["check-config", "alertmanager.yml"],
        &dir.path().join("alertmanager"),
    );
    let all = output.text();
    assert!(output.success, "{all}");
    // TargetDown, RedisDown, PostgresDown, and critical over warning of the same alert.
    assert!(all.contains("4 inhibit rules"), "{all}");
    assert!(all.contains("4 receivers"), "{all}");
    assert!(all.contains("1 templates"), "{all}");
}

#[test]
fn amtool_routes_critical_and_warning_to_their_receivers() {
    let dir = generated();
    let amtool = ("amtool", "prometheus-alertmanager");
    for (labels, receiver) in [
        (
            &["severity=critical", "alertname=RedisDown", "service=redis"][..],
            "critical",
        ),
        (
            &["severity=warning", "alertname=QueueBacklog", "service=jobs"][..],
            "warning",
        ),
        (
            &["severity=none", "alertname=Watchdog", "service=prometheus"][..],
            "watchdog",
        ),
        (
            &["severity=critical", "alertname=TargetDown", "job=redis"][..],
            "critical",
        ),
    ] {
        let mut args = vec!["config", "routes", "test", "--config.file=alertmanager.yml"];
        let verify = format!("--verify.receivers={receiver}");
        args.push(&verify);
        args.extend_from_slice(labels);
        let output = run(amtool, &args, &dir.path().join("alertmanager"));
        let all = output.text();
        assert!(output.success, "{labels:?}: {all}");
        assert_eq!(output.stdout.trim(), receiver);
    }
}
