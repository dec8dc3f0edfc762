//! A real Prometheus evaluates the demo's generated rules and sends to a real
//! Alertmanager running the generated `alertmanager.yml`, which delivers a firing and then
//! a resolved notification to a webhook this test runs on loopback; the payload carries
//! the runbook and dashboard links.

// The helpers fail the test by panicking (they are not `#[test]` fns: rust-clippy#13981).
#![allow(clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fiko_dashboards::seconds;
use fiko_dashboards_gen::Notifications;
use fiko_testkit::{Alertmanager, Prometheus};
use serde_json::Value;

/// Reads one HTTP/1.x request: its request line and body.
fn read_request(stream: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut length = 0;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((line, body))
}

fn respond(stream: &mut TcpStream, body: &str) {
    let _ = write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

/// A webhook receiver on loopback: every payload it is sent, parsed.
fn webhook() -> (String, Arc<Mutex<Vec<Value>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind webhook");
    let url = format!("http://{}/hook", listener.local_addr().expect("address"));
    let received = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&received);
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            if let Some((_, body)) = read_request(&mut stream) {
                if let Ok(payload) = serde_json::from_slice::<Value>(&body) {
                    sink.lock().expect("lock").push(payload);
                }
                respond(&mut stream, "");
            }
        }
    });
    (url, received)
}

/// A scrape target on loopback that answers while `serving` is set and drops the
/// connection otherwise (a dead process, as Prometheus sees it).
fn target(serving: Arc<AtomicBool>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind target");
    let address = listener.local_addr().expect("address").to_string();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            if serving.load(Ordering::SeqCst) && read_request(&mut stream).is_some() {
                respond(&mut stream, "fiko_demo_alive 1\n");
            }
        }
    });
    address
}

/// A real Alertmanager running the generated `alertmanager.yml` and its template.
fn alertmanager(artefacts: &fiko_dashboards_gen::Artefacts) -> Alertmanager {
    Alertmanager::start(
        artefacts
            .get("alertmanager/alertmanager.yml")
            .expect("alertmanager.yml"),
        &[(
            "templates/fiko.tmpl",
            artefacts
                .get("alertmanager/templates/fiko.tmpl")
                .expect("template"),
        )],
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

/// The TargetDown alerts of job `fiko-app` in the payloads received so far, with the
/// payload's status.
fn app_target_down(received: &Mutex<Vec<Value>>) -> Vec<(String, Value)> {
    let payloads = received.lock().expect("lock");
    payloads
        .iter()
        .flat_map(|payload| payload["alerts"].as_array().cloned().unwrap_or_default())
        .filter(|alert| {
            alert["labels"]["alertname"] == "TargetDown" && alert["labels"]["job"] == "fiko-app"
        })
        .map(|alert| {
            (
                alert["status"].as_str().unwrap_or_default().to_owned(),
                alert,
            )
        })
        .collect()
}

#[test]
fn a_dead_target_is_notified_firing_then_resolved_with_runbook_and_dashboard_links() {
    let (hook, received) = webhook();
    let serving = Arc::new(AtomicBool::new(true));
    let app = target(Arc::clone(&serving));
    let mut generator = fiko_backend::deployment::generator()
        .interval(seconds(1))
        .tune("TargetDown", |alert| {
            alert.set_for(seconds(2));
        });
    generator.settings_mut().notifications = Notifications::default();
    let artefacts = generator
        .notify_webhook(&hook, None)
        .generate()
        .expect("generate");
    let alertmanager = alertmanager(&artefacts);
    let am_address = alertmanager.address();
    // Only the app's job, scraped at the loopback target; the generated rules unchanged.
    let config = artefacts
        .get("prometheus/prometheus.yml")
        .expect("prometheus.yml");
    let scrape_start = config.find("scrape_configs:").expect("scrape configs");
    let app_job_end = config[scrape_start..]
        .find("  - job_name: \"fiko-worker\"")
        .map(|i| scrape_start + i)
        .expect("worker job follows the app's");
    let config = config[..app_job_end]
        .replace("\"app:8000\"", &format!("\"{app}\""))
        .replace("\"alertmanager:9093\"", &format!("\"{am_address}\""));
    let prometheus = Prometheus::start(
        &config,
        &[
            (
                "alerts.yml",
                artefacts.get("prometheus/alerts.yml").expect("alerts"),
            ),
            (
                "recording.yml",
                artefacts
                    .get("prometheus/recording.yml")
                    .expect("recording"),
            ),
        ],
    )
    .unwrap_or_else(|e| panic!("{e}"));

    // Up for a few scrapes, then dead.
    std::thread::sleep(Duration::from_secs(3));
    serving.store(false, Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(90);
    let firing = loop {
        if let Some((_, alert)) = app_target_down(&received)
            .into_iter()
            .find(|(status, _)| status == "firing")
        {
            break alert;
        }
        assert!(
            Instant::now() < deadline,
            "no firing TargetDown delivered; received {:?}\n{}",
            received.lock().expect("lock"),
            prometheus.log_tail()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(firing["labels"]["instance"], app.as_str());
    assert_eq!(firing["labels"]["severity"], "critical");
    let runbook = firing["annotations"]["runbook_url"]
        .as_str()
        .expect("runbook");
    assert_eq!(
        runbook,
        format!("{}#targetdown", fiko_backend::deployment::RUNBOOK_BASE)
    );
    assert!(runbook.starts_with("https://"), "{runbook}");
    let dashboard = firing["annotations"]["dashboard_url"]
        .as_str()
        .expect("dashboard");
    // The targets panel of the scrape-targets dashboard, alone, on the dead target.
    let (panel, variables) = dashboard
        .strip_prefix(&format!(
            "{}/d/fiko-scrape-targets-exporter?viewPanel=",
            fiko_backend::deployment::GRAFANA_URL
        ))
        .and_then(|rest| rest.split_once('&'))
        .unwrap_or_else(|| panic!("{dashboard}"));
    assert!(panel.parse::<u32>().is_ok(), "{dashboard}");
    assert_eq!(variables, format!("var-job=fiko-app&var-instance={app}"));

    // Back: the resolution is delivered too.
    serving.store(true, Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if app_target_down(&received)
            .iter()
            .any(|(status, _)| status == "resolved")
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no resolved TargetDown delivered; received {:?}",
            received.lock().expect("lock")
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
