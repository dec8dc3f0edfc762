//! The generated artefacts pass the real tools: promtool (Debian `prometheus`) and amtool
//! (Debian `prometheus-alertmanager`).

use std::path::Path;
use std::process::{Command, Output};

use fiko_backend::deployment;
use fiko_dashboards::seconds;

fn tool(name: &str, package: &str) -> std::path::PathBuf {
    match fiko_testkit::binary(name, package) {
        Ok(path) => path,
        Err(error) => panic!("{error}"),
    }
}

fn run(binary: &Path, args: &[&str], dir: &Path) -> Output {
    Command::new(binary)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|error| panic!("cannot run {}: {error}", binary.display()))
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn generated() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    deployment::generator()
        .generate()
        .expect("the repository's declarations generate")
        .write_to(dir.path())
        .expect("write");
    dir
}

#[test]
fn promtool_accepts_the_alert_and_recording_rules() {
    let dir = generated();
    let promtool = tool("promtool", "prometheus");
    let output = run(
        &promtool,
        &["check", "rules", "alerts.yml", "recording.yml"],
        &dir.path().join("prometheus"),
    );
    let all = text(&output);
    assert!(output.status.success(), "{all}");
    assert!(all.contains("SUCCESS"), "{all}");
}

#[test]
fn promtool_unit_tests_of_every_alert_pass() {
    let dir = generated();
    let promtool = tool("promtool", "prometheus");
    let output = run(
        &promtool,
        &["test", "rules", "alerts.test.yml"],
        &dir.path().join("prometheus"),
    );
    assert!(output.status.success(), "{}", text(&output));
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
    // Spec §4: the seed's alerts, each generated from the set that owns its metrics.
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
    // Pages: outages (targets, servers, exporters, workers) and the monitoring failing
    // (rules not evaluated, notifications failing, no ingestion). The service's errors
    // page through its availability SLO (slo.yml), so HighErrorRate is a warning.
    let critical = alerts.matches("severity: \"critical\"").count();
    assert_eq!(critical, 10, "{alerts}");
    let high_error_rate = alerts
        .split("- alert: ")
        .find(|rule| rule.starts_with("\"HighErrorRate\""))
        .expect("HighErrorRate");
    assert!(
        high_error_rate.contains("severity: \"warning\""),
        "{high_error_rate}"
    );
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
    let promtool = tool("promtool", "prometheus");
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
            &promtool,
            &["test", "rules", "alerts.test.yml"],
            &prometheus_dir,
        );
        let all = text(&output);
        assert!(
            !output.status.success(),
            "{alert}: stale tests passed:\n{all}"
        );
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
    let promtool = tool("promtool", "prometheus");
    let output = run(
        &promtool,
        &["check", "config", "prometheus.yml"],
        &dir.path().join("prometheus"),
    );
    let all = text(&output);
    assert!(output.status.success(), "{all}");
    assert!(all.contains("3 rule files found"), "{all}");
}

#[test]
fn amtool_accepts_alertmanager_yml() {
    let dir = generated();
    let amtool = tool("amtool", "prometheus-alertmanager");
    let output = run(
        &amtool,
        &["check-config", "alertmanager.yml"],
        &dir.path().join("alertmanager"),
    );
    let all = text(&output);
    assert!(output.status.success(), "{all}");
    // TargetDown, RedisDown, PostgresDown, and critical over warning of the same alert.
    assert!(all.contains("4 inhibit rules"), "{all}");
    assert!(all.contains("4 receivers"), "{all}");
    assert!(all.contains("1 templates"), "{all}");
}

#[test]
fn amtool_routes_critical_and_warning_to_their_receivers() {
    let dir = generated();
    let amtool = tool("amtool", "prometheus-alertmanager");
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
        let output = run(&amtool, &args, &dir.path().join("alertmanager"));
        let all = text(&output);
        assert!(output.status.success(), "{labels:?}: {all}");
        assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), receiver);
    }
}

#[test]
fn the_notification_text_shows_the_value_when_the_alert_has_one() {
    let dir = generated();
    let amtool = tool("amtool", "prometheus-alertmanager");
    let alert = |name: &str, annotations: serde_json::Value| {
        serde_json::json!({
            "status": "firing",
            "labels": { "alertname": name, "severity": "warning" },
            "annotations": annotations,
        })
    };
    let data = serde_json::json!({
        "receiver": "warning",
        "status": "firing",
        "alerts": [
            alert("HighErrorRate", serde_json::json!({
                "summary": "errors", "description": "many errors", "value": "12.5%",
                "runbook_url": "https://wiki/runbooks#higherrorrate",
                "dashboard_url": "https://grafana/d/x",
            })),
            alert("TargetDown", serde_json::json!({
                "summary": "down", "description": "no scrape",
                "runbook_url": "https://wiki/runbooks#targetdown",
                "dashboard_url": "https://grafana/d/y",
            })),
        ],
    });
    let data_file = dir.path().join("alert-data.json");
    std::fs::write(&data_file, data.to_string()).expect("write data");
    let output = run(
        &amtool,
        &[
            "template",
            "render",
            "--template.glob=templates/*.tmpl",
            "--template.text={{ template \"fiko.text\" . }}",
            &format!("--template.data={}", data_file.display()),
        ],
        &dir.path().join("alertmanager"),
    );
    let all = text(&output);
    assert!(output.status.success(), "{all}");
    assert!(
        all.contains("FIRING: errors\nmany errors\nValue: 12.5%\nRunbook: https://wiki/runbooks#higherrorrate\n"),
        "{all}"
    );
    assert!(
        all.contains("FIRING: down\nno scrape\nRunbook: https://wiki/runbooks#targetdown\n"),
        "{all}"
    );
}

/// The generator writes the text promtool must see for each alert's `value` annotation
/// with its own copy of Prometheus' formatting; Prometheus renders these values the same.
#[test]
fn prometheus_renders_values_as_the_generator_formats_them() {
    use fiko_dashboards::humanize::{Humanize, ValueFormat};
    use std::fmt::Write as _;

    let values = [
        0.5,
        1500.0,
        12345.0,
        0.00001234,
        0.000123,
        999.96,
        1024.0,
        1_048_576.0,
        1_572_864_000.0,
        59.99,
        3600.0,
        90_061.0,
        0.25,
        7.5e-7,
        123_456_789.0,
        -2.5,
        0.1234567,
        1.0 / 3.0,
        2.475,
        0.0005,
    ];
    let functions = [
        Humanize::Plain,
        Humanize::Binary,
        Humanize::Duration,
        Humanize::Percentage,
    ];
    let mut rules = String::from("groups:\n  - name: values\n    rules:\n");
    let mut tests = String::from(
        "rule_files: [values.yml]\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series: []\n    alert_rule_test:\n",
    );
    for (i, value) in values.iter().enumerate() {
        for (j, function) in functions.iter().enumerate() {
            let format = ValueFormat {
                function: *function,
                suffix: "",
            };
            let name = format!("Case{i}x{j}");
            let _ = write!(
                rules,
                "      - alert: {name}\n        expr: vector({value})\n        annotations:\n          value: {:?}\n",
                format.template()
            );
            let _ = write!(
                tests,
                "      - eval_time: 0m\n        alertname: {name}\n        exp_alerts:\n          - exp_annotations:\n              value: {:?}\n",
                format.format(*value)
            );
        }
    }
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("values.yml"), rules).expect("write rules");
    std::fs::write(dir.path().join("values.test.yml"), tests).expect("write tests");
    let promtool = tool("promtool", "prometheus");
    let output = run(&promtool, &["test", "rules", "values.test.yml"], dir.path());
    let all = text(&output);
    assert!(output.status.success(), "{all}");
    assert!(all.contains("SUCCESS"), "{all}");
}
