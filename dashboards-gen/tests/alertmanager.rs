//! The generated `alertmanager.yml` in a real Alertmanager (Debian
//! `prometheus-alertmanager`): a critical alert inhibits a warning on the same target, and
//! only there.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The Alertmanager process, killed and reaped on drop.
struct Alertmanager {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn request(port: u16, method: &str, path: &str, body: &str) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

fn start(config: &str) -> Alertmanager {
    let binary = fiko_testkit::binary("prometheus-alertmanager", "prometheus-alertmanager")
        .unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(dir.path().join("alertmanager.yml"), config).expect("write config");
    let port = fiko_testkit::free_port();
    let child = Command::new(binary)
        .arg(format!(
            "--config.file={}",
            dir.path().join("alertmanager.yml").display()
        ))
        .arg(format!(
            "--storage.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--cluster.listen-address=")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn alertmanager");
    let alertmanager = Alertmanager {
        child,
        port,
        _dir: dir,
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while !matches!(request(port, "GET", "/-/ready", ""), Ok((200, _))) {
        assert!(Instant::now() < deadline, "alertmanager not ready");
        std::thread::sleep(Duration::from_millis(100));
    }
    alertmanager
}

fn alert(name: &str, severity: &str, instance: &str) -> Value {
    json!({
        "labels": {
            "alertname": name,
            "severity": severity,
            "service": "redis",
            "job": "redis",
            "instance": instance,
        },
        "annotations": { "summary": name },
    })
}

#[test]
fn critical_alert_inhibits_warnings_of_the_same_target() {
    let artefacts = fiko_backend::deployment::generator()
        .generate()
        .expect("generate");
    let alertmanager = start(
        artefacts
            .get("alertmanager/alertmanager.yml")
            .expect("config"),
    );
    let alerts = json!([
        alert("RedisDown", "critical", "redis-exporter:9121"),
        alert("RedisHighMemoryUsage", "warning", "redis-exporter:9121"),
        alert("RedisHighMemoryUsage", "warning", "other-exporter:9121"),
    ]);
    let (status, body) = request(
        alertmanager.port,
        "POST",
        "/api/v2/alerts",
        &alerts.to_string(),
    )
    .expect("post alerts");
    assert_eq!(status, 200, "{body}");

    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, body) =
            request(alertmanager.port, "GET", "/api/v2/alerts", "").expect("get alerts");
        let listed: Vec<Value> = serde_json::from_str(&body).unwrap_or_default();
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
            "inhibition not as configured: {states:?}\n{body}"
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
    let artefacts = fiko_backend::deployment::generator()
        .generate()
        .expect("generate");
    let alertmanager = start(
        artefacts
            .get("alertmanager/alertmanager.yml")
            .expect("config"),
    );
    let app = ("fiko-app", "app:8000");
    let worker = ("fiko-worker", "worker:9100");
    let alerts = json!([
        // The worker's target is down: its other alerts are explained.
        labelled("TargetDown", "critical", "prometheus", worker.0, worker.1),
        labelled("HighMemoryUsage", "warning", "app", worker.0, worker.1),
        labelled("WorkerDown", "critical", "jobs", worker.0, worker.1),
        // On the app: a critical alert does not hide a different warning...
        labelled("HighErrorRate", "critical", "app", app.0, app.1),
        labelled("HighCPUUsage", "warning", "app", app.0, app.1),
        // ...but the critical level of an alert hides its own warning level.
        labelled("HighMemoryUsage", "critical", "app", app.0, app.1),
        labelled("HighMemoryUsage", "warning", "app", app.0, app.1),
    ]);
    let (status, body) = request(
        alertmanager.port,
        "POST",
        "/api/v2/alerts",
        &alerts.to_string(),
    )
    .expect("post alerts");
    assert_eq!(status, 200, "{body}");
    let expected = [
        ("TargetDown", "critical", worker.1, false),
        ("HighMemoryUsage", "warning", worker.1, true),
        ("WorkerDown", "critical", worker.1, true),
        ("HighErrorRate", "critical", app.1, false),
        ("HighCPUUsage", "warning", app.1, false),
        ("HighMemoryUsage", "critical", app.1, false),
        ("HighMemoryUsage", "warning", app.1, true),
    ];
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, body) =
            request(alertmanager.port, "GET", "/api/v2/alerts", "").expect("get alerts");
        let listed: Vec<Value> = serde_json::from_str(&body).unwrap_or_default();
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
            "inhibition not as configured: {states:?}, wanted {wanted:?}\n{body}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
