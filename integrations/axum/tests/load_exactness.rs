//! Exactness under load: `wrk` drives a real axum server on loopback while a task scrapes
//! the metrics endpoint every 100 ms in the Prometheus text format. No request is lost or
//! counted twice, histogram counts agree with the request counter, and no scrape ever shows
//! a counter going backwards.
//!
//! # Knowing exactly how many requests wrk sent
//!
//! wrk reports completed requests only, and stops at `-d` with requests still in flight.
//! Here every wrk thread has one connection (`-t 8 -c 8`) and sends one request at a time
//! (no pipelining: the script's `request()` returns one request), and its Lua `response()`
//! stops the thread (`wrk.thread:stop()`) on its `REQUESTS_PER_THREAD`-th response, before
//! wrk writes the next request. So every request sent was completed, and the totals
//! `done()` prints are the requests sent. The test fails if any thread did not reach its
//! count.
//!
//! wrk's main thread sleeps for the whole `-d` even when every thread has stopped, and
//! runs `done()` after; SIGINT ends that sleep early. So each thread, as it stops, appends
//! a line to a file the test watches, and once all have, the test sends wrk SIGINT (through
//! `sh -c kill`, no extra dependency). `-d` remains a safety bound.

// The helpers fail the test by panicking (they are not `#[test]` fns: rust-clippy#13981).
#![allow(clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashMap;
use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use common::{Sample, Server, bounded, client, eventually, find, parse, sum};
use fiko_metrics::{Format, MetricSet, Registry};
use fiko_metrics_axum::{
    DEFAULT_METRICS_PATH, HttpMetricsLayer, HttpServerMetrics, MetricsEndpoints,
};

const REQUESTS: &str = "http_server_requests_total";
const DURATION_COUNT: &str = "http_server_request_duration_seconds_count";
const ACTIVE: &str = "http_server_active_requests";
const ERRORS: &str = "http_server_request_errors_total";

/// wrk threads, each with one connection.
const CONNECTIONS: u64 = 8;
/// Responses each wrk thread waits for before it stops (about 3 s of load here).
const REQUESTS_PER_THREAD: u64 = 10_000;
/// Every `FAIL_EVERY`-th request of a thread goes to `GET /fail` (a deliberate 500).
const FAIL_EVERY: u64 = 10;
/// How often the scraper scrapes.
const SCRAPE_INTERVAL: Duration = Duration::from_millis(100);

/// The wrk script: see the module docs. `done()` prints one line the test reads.
const WRK_SCRIPT: &str = r#"
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  target = tonumber(args[1])
  fail_every = tonumber(args[2])
  done_file = args[3]
  written = 0
  responses = 0
  ok = 0
  failed = 0
  unexpected = 0
end

-- One request per call (so no pipelining); wrk calls it once more than it sends, on its
-- first thread, to inspect the request, so the test counts responses, not these calls.
function request()
  written = written + 1
  if written % fail_every == 0 then
    return wrk.format("GET", "/fail")
  end
  return wrk.format("GET", "/users/" .. written)
end

function response(status, headers, body)
  responses = responses + 1
  if status == 200 then
    ok = ok + 1
  elseif status == 500 then
    failed = failed + 1
  else
    unexpected = unexpected + 1
  end
  if responses == target then
    wrk.thread:stop()
    local file = assert(io.open(done_file, "a"))
    file:write("stopped\n")
    file:close()
  end
end

function done(summary, latency, requests)
  local totals = { responses = 0, ok = 0, failed = 0, unexpected = 0, short = 0 }
  for _, thread in ipairs(threads) do
    local responses = thread:get("responses")
    totals.responses = totals.responses + responses
    totals.ok = totals.ok + thread:get("ok")
    totals.failed = totals.failed + thread:get("failed")
    totals.unexpected = totals.unexpected + thread:get("unexpected")
    if responses ~= thread:get("target") then
      totals.short = totals.short + 1
    end
  end
  io.write(string.format(
    "fiko-wrk responses=%d ok=%d failed=%d unexpected=%d short_threads=%d completed=%d "
      .. "connect=%d read=%d write=%d status=%d timeout=%d\n",
    totals.responses, totals.ok, totals.failed, totals.unexpected, totals.short,
    summary.requests, summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.status, summary.errors.timeout))
end
"#;

/// The wrk process, killed and reaped if the test ends early.
struct Wrk(Child);

impl Drop for Wrk {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// A file removed when dropped.
struct TempFile(std::path::PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Runs wrk against `url` with the script, within `timeout`, and ends it once every
/// thread wrote to `done_file`; returns its stdout and how long the load lasted.
async fn run_wrk(
    url: &str,
    script: &std::path::Path,
    done_file: &std::path::Path,
    timeout: Duration,
) -> (String, Duration) {
    let started = Instant::now();
    let child = Command::new("wrk")
        .args([
            "-t",
            &CONNECTIONS.to_string(),
            "-c",
            &CONNECTIONS.to_string(),
        ])
        // A safety bound only: the script stops every thread long before.
        .args(["-d", "40s", "--timeout", "10s", "-s"])
        .arg(script)
        .arg(url)
        .args([
            "--",
            &REQUESTS_PER_THREAD.to_string(),
            &FAIL_EVERY.to_string(),
        ])
        .arg(done_file)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| {
            panic!("cannot run wrk ({error}): install the Debian package wrk (scripts/test does)")
        });
    let mut wrk = Wrk(child);
    let deadline = Instant::now() + timeout;
    let mut load_time = None;
    let status = loop {
        if let Some(status) = wrk.0.try_wait().expect("wait for wrk") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "wrk still running after {timeout:?}"
        );
        let stopped = std::fs::read_to_string(done_file).map_or(0, |text| text.lines().count());
        if load_time.is_none() && stopped as u64 == CONNECTIONS {
            load_time = Some(started.elapsed());
            let pid = wrk.0.id();
            let kill = Command::new("sh")
                .args(["-c", &format!("kill -INT {pid}")])
                .status()
                .expect("run sh -c kill");
            assert!(kill.success(), "kill -INT wrk: {kill}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let (mut stdout, mut stderr) = (String::new(), String::new());
    if let Some(mut out) = wrk.0.stdout.take() {
        out.read_to_string(&mut stdout).expect("wrk stdout");
    }
    if let Some(mut err) = wrk.0.stderr.take() {
        err.read_to_string(&mut stderr).expect("wrk stderr");
    }
    assert!(
        status.success(),
        "wrk failed ({status}): {stdout}\n{stderr}"
    );
    (stdout, load_time.unwrap_or_else(|| started.elapsed()))
}

/// The `key=value` numbers of wrk's `fiko-wrk` line.
fn wrk_totals(output: &str) -> HashMap<String, u64> {
    let line = output
        .lines()
        .find(|line| line.starts_with("fiko-wrk "))
        .unwrap_or_else(|| panic!("no totals line in wrk's output:\n{output}"));
    line.split_whitespace()
        .skip(1)
        .map(|pair| {
            let (key, value) = pair.split_once('=').expect("key=value");
            (key.to_owned(), value.parse().expect("a count"))
        })
        .collect()
}

/// A series: sample name and labels, sorted.
type SeriesKey = (String, Vec<(String, String)>);

fn key(sample: &Sample) -> SeriesKey {
    let mut labels = sample.labels.clone();
    labels.sort();
    (sample.name.clone(), labels)
}

/// Whether samples named so only ever grow: counters, histogram buckets, counts and sums
/// (every observation here is a duration or a size, never negative).
fn monotonic(name: &str) -> bool {
    ["_total", "_count", "_bucket", "_sum"]
        .iter()
        .any(|suffix| name.ends_with(suffix))
}

/// What the scraper saw.
#[derive(Default)]
struct Scrapes {
    /// Scrapes taken.
    taken: usize,
    /// Scrapes that saw some but not all of the load's requests: they raced with it.
    mid_load: usize,
    /// Broken invariants, described.
    violations: Vec<String>,
    /// The last scrape's monotonic samples.
    last: HashMap<SeriesKey, f64>,
}

impl Scrapes {
    fn violation(&mut self, violation: String) {
        if self.violations.len() < 50 {
            self.violations.push(violation);
        }
    }

    /// Checks one scrape against the invariants and the previous scrape.
    fn check(&mut self, samples: &[Sample], expected_requests: f64) {
        self.taken += 1;
        let scrape = self.taken;
        let requests = sum(samples, REQUESTS, &[]);
        if requests > 0.0 && requests < expected_requests {
            self.mid_load += 1;
        }
        // `+Inf` equals `_count` for every histogram series, in every scrape.
        let counts: HashMap<SeriesKey, f64> = samples
            .iter()
            .filter(|s| s.name.ends_with("_count"))
            .map(|s| (key(s), s.value))
            .collect();
        for bucket in samples
            .iter()
            .filter(|s| s.name.ends_with("_bucket") && s.label("le") == Some("+Inf"))
        {
            let mut count = key(bucket);
            count.0 = format!("{}_count", bucket.name.trim_end_matches("_bucket"));
            count.1.retain(|(name, _)| name != "le");
            match counts.get(&count) {
                Some(&value) if value == bucket.value => {}
                other => self.violation(format!(
                    "scrape {scrape}: +Inf bucket {bucket:?} but _count {other:?}"
                )),
            }
        }
        for gauge in find(samples, ACTIVE, &[]) {
            if gauge.value < 0.0 {
                self.violation(format!("scrape {scrape}: negative in-flight {gauge:?}"));
            }
        }
        // No monotonic series goes backwards or disappears.
        let current: HashMap<SeriesKey, f64> = samples
            .iter()
            .filter(|s| monotonic(&s.name))
            .map(|s| (key(s), s.value))
            .collect();
        let mut backwards = Vec::new();
        for (series, &before) in &self.last {
            match current.get(series) {
                Some(&now) if now >= before => {}
                now => backwards.push(format!(
                    "scrape {scrape}: {series:?} went from {before} to {now:?}"
                )),
            }
        }
        for violation in backwards {
            self.violation(violation);
        }
        self.last = current;
    }
}

/// Scrapes `url` every [`SCRAPE_INTERVAL`] until `stop`, checking each scrape.
async fn scrape_until(
    http: reqwest::Client,
    url: String,
    stop: Arc<AtomicBool>,
    expected_requests: f64,
) -> Scrapes {
    let mut scrapes = Scrapes::default();
    let mut interval = tokio::time::interval(SCRAPE_INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !stop.load(Ordering::Acquire) {
        interval.tick().await;
        scrape_once(&http, &url, &mut scrapes, expected_requests).await;
    }
    scrapes
}

/// One scrape over HTTP, in the Prometheus text format, checked.
async fn scrape_once(
    http: &reqwest::Client,
    url: &str,
    scrapes: &mut Scrapes,
    expected_requests: f64,
) -> Vec<Sample> {
    let response = match http.get(url).header("accept", "text/plain").send().await {
        Ok(response) => response,
        Err(error) => {
            scrapes.violation(format!("scrape {}: {error}", scrapes.taken + 1));
            return Vec::new();
        }
    };
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let text = response.text().await.unwrap_or_default();
    if status != StatusCode::OK || content_type != Format::Prometheus.content_type() {
        scrapes.violation(format!(
            "scrape {}: status {status}, content type {content_type:?}",
            scrapes.taken + 1
        ));
        return Vec::new();
    }
    // `parse` panics on a line that is not a sample: a malformed scrape fails the test.
    let samples = parse(&text);
    scrapes.check(&samples, expected_requests);
    samples
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrk_load_with_concurrent_scrapes_counts_every_request_exactly() {
    let started = Instant::now();
    let registry = Arc::new(Registry::new());
    let metrics = HttpServerMetrics::register(&registry).expect("register");
    let app = Router::new()
        .route("/users/{id}", get(|| async { "a user" }))
        .route(
            "/fail",
            get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "deliberate") }),
        )
        .merge(MetricsEndpoints::new(registry.clone()).into_router())
        .layer(HttpMetricsLayer::new(metrics).exclude(DEFAULT_METRICS_PATH));
    let server = Server::start(app).await;

    let tmp = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    let script = TempFile(tmp.join(format!("load_exactness-{}.lua", std::process::id())));
    std::fs::write(&script.0, WRK_SCRIPT).expect("write the wrk script");
    let done_file = TempFile(tmp.join(format!("load_exactness-{}.done", std::process::id())));
    let _ = std::fs::remove_file(&done_file.0);
    let sent = (CONNECTIONS * REQUESTS_PER_THREAD) as f64;

    let (output, scrapes, load_time) = bounded(async {
        let stop = Arc::new(AtomicBool::new(false));
        let scraper = tokio::spawn(scrape_until(
            client(),
            server.url(DEFAULT_METRICS_PATH),
            stop.clone(),
            sent,
        ));
        let (output, load_time) = run_wrk(
            &server.url("/"),
            &script.0,
            &done_file.0,
            Duration::from_secs(50),
        )
        .await;
        stop.store(true, Ordering::Release);
        let scrapes = scraper.await.expect("scraper task");
        (output, scrapes, load_time)
    })
    .await;
    eprintln!("wrk output:\n{output}");
    let wrk = wrk_totals(&output);
    let (ok, failed) = (wrk["ok"] as f64, wrk["failed"] as f64);

    // wrk: every thread got its responses, no socket error, no timeout, and the only
    // non-2xx responses are the deliberate 500s.
    assert_eq!(wrk["short_threads"], 0, "a thread stopped early: {output}");
    assert_eq!(wrk["responses"] as f64, sent, "{output}");
    assert_eq!(wrk["completed"], wrk["responses"], "{output}");
    for error in ["connect", "read", "write", "timeout", "unexpected"] {
        assert_eq!(wrk[error], 0, "wrk {error} errors: {output}");
    }
    assert_eq!(wrk["status"], wrk["failed"], "{output}");
    assert_eq!(ok + failed, sent);
    assert!(failed > 0.0 && ok > 0.0, "{output}");

    // The counts settle as soon as the last response body ended; then one more scrape
    // over HTTP, checked like the others, is the final one.
    let settled = eventually(Duration::from_secs(5), || {
        sum(&parse(&registry.encode(Format::Prometheus)), REQUESTS, &[]) >= sent
    })
    .await;
    let mut scrapes = scrapes;
    let samples = bounded(scrape_once(
        &client(),
        &server.url(DEFAULT_METRICS_PATH),
        &mut scrapes,
        sent,
    ))
    .await;
    eprintln!(
        "{} scrapes every {SCRAPE_INTERVAL:?}, {} of them mid-load; {sent} requests in \
         {:.2} s ({:.0} requests/s); test {:.2} s",
        scrapes.taken,
        scrapes.mid_load,
        load_time.as_secs_f64(),
        sent / load_time.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        scrapes.violations.is_empty(),
        "{} broken invariants, e.g.:\n{}",
        scrapes.violations.len(),
        scrapes.violations.join("\n")
    );
    assert!(settled, "the request counters never reached {sent}");
    assert!(
        scrapes.mid_load >= 3,
        "only {} scrapes raced with the load: make the load longer",
        scrapes.mid_load
    );

    // Exactness: the counters equal what wrk sent, route by route.
    let users = [
        ("http_request_method", "GET"),
        ("http_route", "/users/{id}"),
        ("http_response_status_code", "200"),
        ("http_response_status_class", "2xx"),
    ];
    let fail = [
        ("http_request_method", "GET"),
        ("http_route", "/fail"),
        ("http_response_status_code", "500"),
        ("http_response_status_class", "5xx"),
    ];
    assert_eq!(sum(&samples, REQUESTS, &users), ok);
    assert_eq!(sum(&samples, REQUESTS, &fail), failed);
    assert_eq!(sum(&samples, REQUESTS, &[]), sent, "no other series");
    assert_eq!(find(&samples, REQUESTS, &[]).len(), 2);
    assert_eq!(
        sum(
            &samples,
            ERRORS,
            &[("http_route", "/fail"), ("error_type", "server_error")]
        ),
        failed
    );
    assert_eq!(sum(&samples, ERRORS, &[]), failed, "no other errors");

    // Per series, the duration histogram counted the same requests as the counter.
    for counter in find(&samples, REQUESTS, &[]) {
        let labels: Vec<(&str, &str)> = counter
            .labels
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .collect();
        let counts = find(&samples, DURATION_COUNT, &labels);
        assert_eq!(counts.len(), 1, "{counter:?}");
        assert_eq!(counts[0].value, counter.value, "{counter:?}");
    }

    // Nothing left in flight.
    assert!(!find(&samples, ACTIVE, &[]).is_empty());
    assert_eq!(sum(&samples, ACTIVE, &[]), 0.0);
}

/// The scrape checks are not vacuous: a counter going backwards, a series vanishing, a
/// `+Inf` bucket that disagrees with `_count` and a negative in-flight gauge are caught.
#[test]
fn the_scrape_checks_catch_every_broken_invariant() {
    let first = parse(
        "http_server_requests_total{http_route=\"/a\"} 5\n\
         http_server_requests_total{http_route=\"/b\"} 1\n\
         d_bucket{http_route=\"/a\",le=\"0.1\"} 2\n\
         d_bucket{http_route=\"/a\",le=\"+Inf\"} 5\n\
         d_sum{http_route=\"/a\"} 0.5\n\
         d_count{http_route=\"/a\"} 5\n\
         http_server_active_requests{http_route=\"/a\"} 1\n",
    );
    let mut scrapes = Scrapes::default();
    scrapes.check(&first, 10.0);
    assert!(scrapes.violations.is_empty(), "{:?}", scrapes.violations);
    assert_eq!(scrapes.mid_load, 1);
    scrapes.check(&first, 10.0);
    assert!(scrapes.violations.is_empty(), "{:?}", scrapes.violations);

    let second = parse(
        "http_server_requests_total{http_route=\"/a\"} 4\n\
         d_bucket{http_route=\"/a\",le=\"0.1\"} 2\n\
         d_bucket{http_route=\"/a\",le=\"+Inf\"} 6\n\
         d_sum{http_route=\"/a\"} 0.6\n\
         d_count{http_route=\"/a\"} 5\n\
         http_server_active_requests{http_route=\"/a\"} -1\n",
    );
    scrapes.check(&second, 10.0);
    let violations = scrapes.violations.join("\n");
    assert_eq!(scrapes.violations.len(), 4, "{violations}");
    assert!(
        violations.contains("went from 5 to Some(4.0)"),
        "{violations}"
    );
    assert!(violations.contains("went from 1 to None"), "{violations}");
    assert!(violations.contains("+Inf bucket"), "{violations}");
    assert!(violations.contains("negative in-flight"), "{violations}");
}
