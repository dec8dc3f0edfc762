//! The demo binary continues its callers' W3C traces (`traceparent`) and records their
//! trace ids as exemplars; a real Prometheus (Debian's 2.42,
//! `--enable-feature=exemplar-storage`) scraping it returns from `/api/v1/query_exemplars`
//! only the trace ids the requests carried, on the request counter and on the classic
//! duration histogram, and each bucket's latest request's id is there.
//!
//! The requests' durations are set by the client: each sends its body (not JSON, so the
//! sign-in answers 400 once it has read it) a known time after its head, so its duration
//! lands in a known bucket.

// The helpers fail the test by panicking (they are not `#[test]` fns: rust-clippy#13981).
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{spawn_demo, wait_http_ok};
use fiko_testkit::Prometheus;
use serde_json::Value;

const LOGIN: &str = "/api/v1/auth/login";
const HEALTH: &str = "/api/v1/metrics/health";

/// The delays the requests wait before sending their bodies, and the `le` of the bucket
/// (of `http_server_request_duration_seconds`, bounds ... 1, 2, 2.5, 5, ...) each lands
/// in: 0.9 s and 2.4 s of margin for a loaded machine.
const DELAYS: [(Duration, &str); 2] = [
    (Duration::from_millis(1100), "2.0"),
    (Duration::from_millis(2600), "5.0"),
];

/// Sends one sign-in whose body follows its head after `delay`, with
/// `traceparent: 00-{trace}-{parent}-01`; returns the status and how long it took.
fn slow_login(port: u16, trace: &str, parent: &str, delay: Duration) -> (u16, Duration) {
    let started = Instant::now();
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let body = "not json";
    let head = format!(
        "POST {LOGIN} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: {}\r\ntraceparent: 00-{trace}-{parent}-01\r\nconnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.flush().unwrap();
    std::thread::sleep(delay);
    stream.write_all(body.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    (status, started.elapsed())
}

/// Percent-encodes a query parameter.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|byte| {
            if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
                char::from(byte).to_string()
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect()
}

/// An exemplar Prometheus stored: the series' `le` (empty for the counter), the trace and
/// span ids, and the value.
#[derive(Debug)]
struct Stored {
    le: String,
    trace: String,
    span: String,
    value: f64,
}

fn query_exemplars(prometheus: &Prometheus, query: &str) -> Vec<Stored> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let url = format!(
        "{}/api/v1/query_exemplars?query={}&start={}&end={}",
        prometheus.url(),
        encode(query),
        now - 600,
        now + 60
    );
    let response = fiko_testkit::http_get(&url).unwrap();
    let json: Value = serde_json::from_str(&response.body).unwrap();
    assert_eq!(json["status"], "success", "{json}");
    let mut stored = Vec::new();
    for series in json["data"].as_array().unwrap() {
        let le = series["seriesLabels"]["le"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        for exemplar in series["exemplars"].as_array().unwrap() {
            stored.push(Stored {
                le: le.clone(),
                trace: exemplar["labels"]["trace_id"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned(),
                span: exemplar["labels"]["span_id"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned(),
                value: exemplar["value"].as_str().unwrap().parse().unwrap(),
            });
        }
    }
    stored
}

/// The instant value of `promql`, if it has one.
fn value(prometheus: &Prometheus, promql: &str) -> Option<f64> {
    let json: Value = serde_json::from_str(&prometheus.query(promql).ok()?).ok()?;
    json["data"]["result"][0]["value"][1].as_str()?.parse().ok()
}

#[test]
fn prometheus_stores_the_trace_ids_the_requests_carried() {
    let data = tempfile::tempdir().unwrap();
    let (mut app, port) = spawn_demo(data.path(), &[]);
    let bind = format!("127.0.0.1:{port}");
    wait_http_ok(
        &format!("http://{bind}{HEALTH}"),
        Duration::from_secs(30),
        &mut app,
    );
    let config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n- job_name: app\n  metrics_path: /api/v1/metrics\n  static_configs:\n  - targets: ['{bind}']\n"
    );
    let prometheus =
        Prometheus::start_with_flags(&config, &[], &["--enable-feature=exemplar-storage"]).unwrap();

    let route = format!(r#"http_route="{LOGIN}""#);
    let mut sent = BTreeMap::new(); // trace -> parent span id
    let mut latest_per_bucket = BTreeMap::new();
    let mut latest = String::new();
    for round in 0..2u32 {
        for i in 0..4u32 {
            let (delay, le) = DELAYS[(i % 2) as usize];
            let trace = format!("{:08x}{:024x}", round + 1, u64::from(i) * 7919 + 17);
            let parent = format!("{:016x}", 0xb7ad_6b71_6920_3331_u64 + u64::from(i));
            let (status, took) = slow_login(port, &trace, &parent, delay);
            assert_eq!(status, 400, "a body that is not JSON is refused");
            let bound: f64 = le.parse().unwrap();
            assert!(
                took.as_secs_f64() < bound,
                "a request delayed {delay:?} took {took:?}: the machine is too loaded for its bucket (le={le}) to be known"
            );
            sent.insert(trace.clone(), parent);
            latest_per_bucket.insert(le, trace.clone());
            latest = trace;
        }
        // Each round is scraped before the next: Prometheus keeps what each scrape saw.
        let total = f64::from(4 * (round + 1));
        let promql = format!("sum(http_server_requests_total{{{route}}})");
        let deadline = Instant::now() + Duration::from_secs(30);
        while value(&prometheus, &promql) != Some(total) {
            assert!(
                Instant::now() < deadline,
                "round {round} was not scraped\n{}\n{}",
                prometheus.log_tail(),
                app.log()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    let counter_query = format!("http_server_requests_total{{{route}}}");
    let buckets_query = format!("http_server_request_duration_seconds_bucket{{{route}}}");
    let deadline = Instant::now() + Duration::from_secs(30);
    let (counter, buckets) = loop {
        let counter = query_exemplars(&prometheus, &counter_query);
        let buckets = query_exemplars(&prometheus, &buckets_query);
        let complete = counter.iter().any(|e| e.trace == latest)
            && latest_per_bucket
                .iter()
                .all(|(le, id)| buckets.iter().any(|e| e.le == *le && e.trace == *id));
        if complete || Instant::now() >= deadline {
            break (counter, buckets);
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    assert!(
        counter.iter().any(|e| e.trace == latest),
        "the counter's latest trace {latest} is missing: {counter:?}\n{}",
        prometheus.log_tail()
    );
    for (le, id) in &latest_per_bucket {
        assert!(
            buckets.iter().any(|e| e.le == *le && e.trace == *id),
            "bucket le={le}: its latest trace {id} is missing: {buckets:?}"
        );
    }
    // Every stored id is one a request carried, with the span of the request (a child of
    // the caller's span, so not the parent id it sent), in the bucket its value falls in.
    let mut seen = BTreeSet::new();
    for exemplar in counter.iter().chain(&buckets) {
        let parent = sent
            .get(&exemplar.trace)
            .unwrap_or_else(|| panic!("unknown trace {exemplar:?}"));
        assert_eq!(exemplar.span.len(), 16, "{exemplar:?}");
        assert_ne!(&exemplar.span, parent, "{exemplar:?}");
        if !exemplar.le.is_empty() {
            let (delay, le) = DELAYS
                .iter()
                .find(|(_, le)| *le == exemplar.le)
                .unwrap_or_else(|| panic!("an exemplar in an unexpected bucket: {exemplar:?}"));
            // The server's clock starts once it has read the head, a little after the
            // client's delay began.
            assert!(
                exemplar.value > delay.as_secs_f64() * 0.9 && exemplar.value <= le.parse().unwrap(),
                "{exemplar:?}"
            );
        }
        seen.insert(exemplar.trace.clone());
    }
}
