//! The generated `alertmanager.yml` in a real Alertmanager (Debian
//! `prometheus-alertmanager`): a critical alert inhibits a warning on the same target, and
//! only there.

// The helpers fail the test by panicking (they are not `#[test]` fns: rust-clippy#13981).
#![allow(clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use fiko_testkit::Alertmanager;
use serde_json::{Value, json};

/// A real Alertmanager on the demo's generated `alertmanager.yml`.
fn start() -> Alertmanager {
    let artefacts = fiko_backend::deployment::generator()
        .generate()
        .expect("generate");
    let config = artefacts
        .get("alertmanager/alertmanager.yml")
        .expect("config");
    Alertmanager::start(config, &[]).unwrap_or_else(|e| panic!("{e}"))
}

/// `POST`s `alerts` to the Alertmanager's API.
fn post(alertmanager: &Alertmanager, alerts: &Value) {
    let response = alertmanager
        .post_json("/api/v2/alerts", &alerts.to_string())
        .expect("post alerts");
    assert_eq!(response.status, 200, "{}", response.body);
}

/// The alerts the Alertmanager lists.
fn listed(alertmanager: &Alertmanager) -> Vec<Value> {
    let response = alertmanager.get("/api/v2/alerts").expect("get alerts");
    serde_json::from_str(&response.body).unwrap_or_default()
}

/// A redis alert of `instance`.
fn alert(name: &str, severity: &str, instance: &str) -> Value {
    labelled(name, severity, "redis", "redis", instance)
}

#[test]
fn critical_alert_inhibits_warnings_of_the_same_target() {
    let alertmanager = start();
    let alerts = json!([
        alert("RedisDown", "critical", "redis-exporter:9121"),
        alert("RedisHighMemoryUsage", "warning", "redis-exporter:9121"),
        alert("RedisHighMemoryUsage", "warning", "other-exporter:9121"),
    ]);
    post(&alertmanager, &alerts);

    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let listed = listed(&alertmanager);
        let inhibited = |name: &str, instance: &str| {
            listed
                .iter()
                .find(|a| a["labels"]["alertname"] == name && a["labels"]["instance"] == instance)
                .map(|a| {
                    !a["status"]["inhibitedBy"]
                        .as_array()
                        .is_none_or(|by| by.is_empty())
                })
        };
        let states = (
            inhibited("RedisDown", "redis-exporter:9121"),
            inhibited("RedisHighMemoryUsage", "redis-exporter:9121"),
            inhibited("RedisHighMemoryUsage", "other-exporter:9121"),
        );
        if states == (Some(false), Some(true), Some(false)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "inhibition not as configured: {states:?}\n{listed:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn labelled(name: &str, severity: &str, service: &str, job: &str, instance: &str) -> Value {
    json!({
        "labels": {
            "alertname": name,
            "severity": severity,
            "service": service,
            "job": job,
            "instance": instance,
        },
        "annotations": { "summary": name },
    })
}

/// Inhibition hides only what the inhibiting alert explains: a target that is down hides
/// that target's other alerts; the critical level of an alert hides its warning level; an
/// unrelated critical alert on the same target hides nothing.
#[test]
fn inhibition_hides_only_what_the_inhibitor_explains() {
    let alertmanager = start();
    let app = ("fiko-app", "app:8000");
    let worker = ("fiko-worker", "worker:9100");
    let alerts = json!([
        // The worker's target is down: its other alerts are explained.
        labelled("TargetDown", "critical", "prometheus", worker.0, worker.1),
        labelled("HighMemoryUsage", "warning", "app", worker.0, worker.1),
        labelled("WorkerDown", "critical", "jobs", worker.0, worker.1),
        // On the app: a critical alert does not hide a different warning...
        labelled(
            "HttpAvailabilityBurnRate1h",
            "critical",
            "app",
            app.0,
            app.1
        ),
        labelled("HighCPUUsage", "warning", "app", app.0, app.1),
        // ...but the critical level of an alert hides its own warning level.
        labelled("HighMemoryUsage", "critical", "app", app.0, app.1),
        labelled("HighMemoryUsage", "warning", "app", app.0, app.1),
    ]);
    post(&alertmanager, &alerts);
    let expected = [
        ("TargetDown", "critical", worker.1, false),
        ("HighMemoryUsage", "warning", worker.1, true),
        ("WorkerDown", "critical", worker.1, true),
        ("HttpAvailabilityBurnRate1h", "critical", app.1, false),
        ("HighCPUUsage", "warning", app.1, false),
        ("HighMemoryUsage", "critical", app.1, false),
        ("HighMemoryUsage", "warning", app.1, true),
    ];
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let listed = listed(&alertmanager);
        let states: Vec<Option<bool>> = expected
            .iter()
            .map(|(name, severity, instance, _)| {
                listed
                    .iter()
                    .find(|a| {
                        a["labels"]["alertname"] == *name
                            && a["labels"]["severity"] == *severity
                            && a["labels"]["instance"] == *instance
                    })
                    .map(|a| {
                        !a["status"]["inhibitedBy"]
                            .as_array()
                            .is_none_or(|by| by.is_empty())
                    })
            })
            .collect();
        let wanted: Vec<Option<bool>> = expected.iter().map(|e| Some(e.3)).collect();
        if states == wanted {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "inhibition not as configured: {states:?}, wanted {wanted:?}\n{listed:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
