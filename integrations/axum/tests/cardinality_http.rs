//! Cardinality over real HTTP: 10⁵ distinct raw paths and query strings make a fixed,
//! small number of series, counted exactly, with resident memory flat; and an open label
//! driven past its series limit over HTTP (6,000 distinct route templates against a limit
//! of 5,000) folds into the `other` series, with every fold counted.
//!
//! One test in two steps, in this order: the first measures the process' resident memory,
//! which must not include memory another test (such as the second step, whose exposition
//! of 5,000 series is large) allocated and freed before, nor run at the same time.

// The helpers fail the test by panicking (they are not `#[test]` fns: rust-clippy#13981).
#![allow(clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use common::{Sample, Server, bounded, client, find, parse, sum};
use fiko_metrics::{Format, MetricSet, Registry};
use fiko_metrics_axum::{HttpMetricsLayer, HttpServerMetrics, UNMATCHED_ROUTE};

const REQUESTS: &str = "http_server_requests_total";
const DURATION_COUNT: &str = "http_server_request_duration_seconds_count";
const ACTIVE: &str = "http_server_active_requests";
const OVERFLOW: &str = "fiko_metrics_label_overflow_total";

/// Raw paths sent in all.
const RAW_PATHS: u64 = 100_000;
/// Requests sent before the first memory reading.
const WARM_UP: u64 = 10_000;
/// Concurrent client tasks, sharing one keep-alive client.
const CLIENT_TASKS: usize = 4;
/// How much resident memory may grow over the last 90,000 requests.
///
/// Nothing in the layer or the registry may keep anything per request or per raw path:
/// the families hold three series whatever the traffic. What may still move is allocator
/// and runtime noise (malloc arenas of the runtime's worker threads, hyper's and reqwest's
/// buffers, the client's connection pool): 40–100 KiB measured here. 2 MiB over 90,000
/// requests is 23 bytes per request, so keeping anything per request shows: keeping just
/// the URIs of the `/users/{id}` requests (half of them, ~41 bytes each) in the handler
/// grew it by 4.6 MB when tried, and one series per raw path would cost far more (a map
/// entry, an `Arc<str>` key and a counter or a 16-bucket histogram, in five families).
const RSS_GROWTH_BOUND: u64 = 2 << 20;

/// Distinct literal routes: more than the series limit of the layer's families (5,000).
const LITERAL_ROUTES: usize = 6000;

/// The declared series limit of `http_server_requests` (`#[metric(max_series = ...)]`).
fn max_series() -> usize {
    HttpServerMetrics::DESCRIPTOR
        .metric("http_server_requests")
        .expect("the http_server_requests field")
        .max_series
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn setup() -> (Arc<Registry>, HttpMetricsLayer) {
    let registry = Arc::new(Registry::new());
    let metrics = HttpServerMetrics::register(&registry).expect("register");
    (registry, HttpMetricsLayer::new(metrics))
}

/// splitmix64: the `salt`-th random token of request `i`. Recomputable, so the test
/// checks all 10⁵ paths against the exposition afterwards without keeping them alive.
fn token(i: u64, salt: u64) -> u64 {
    let mut z = i
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(salt.wrapping_mul(0xD1B5_4A32_D192_ED03));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// What request `i` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    User,
    Reviews,
    Unmatched,
}

fn kind(i: u64) -> Kind {
    match i % 4 {
        0 | 1 => Kind::User,
        2 => Kind::Reviews,
        _ => Kind::Unmatched,
    }
}

/// Request `i`'s raw path and query string: every one distinct.
fn raw_path(i: u64) -> String {
    let (a, b, q) = (token(i, 1), token(i, 2), token(i, 3));
    match kind(i) {
        Kind::User => format!("/users/{a:016x}?q={q:016x}"),
        Kind::Reviews => format!("/items/{a:016x}/reviews?page={q:016x}&sort={b:016x}"),
        Kind::Unmatched => format!("/{a:016x}/{b:016x}?token={q:016x}"),
    }
}

/// The random tokens request `i` carried, as they appear in its URL.
fn tokens(i: u64) -> [String; 3] {
    [1, 2, 3].map(|salt| format!("{:016x}", token(i, salt)))
}

/// The process' resident set size, from `/proc/self/status`.
fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    let line = status
        .lines()
        .find(|line| line.starts_with("VmRSS:"))
        .expect("a VmRSS line");
    let kib: u64 = line
        .trim_start_matches("VmRSS:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .expect("VmRSS in kB");
    kib * 1024
}

/// Sends the requests `range` with `CLIENT_TASKS` concurrent tasks over one keep-alive
/// client; `path(i)` is request `i`'s path, `status(i)` its expected status. Responses are
/// read and dropped, never collected.
async fn drive(
    server: &Server,
    http: &reqwest::Client,
    range: std::ops::Range<u64>,
    path: fn(u64) -> String,
    status: fn(u64) -> StatusCode,
) {
    let next = Arc::new(AtomicU64::new(range.start));
    let mut tasks = Vec::with_capacity(CLIENT_TASKS);
    for _ in 0..CLIENT_TASKS {
        let (http, next, base) = (http.clone(), next.clone(), server.url(""));
        let end = range.end;
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= end {
                    break;
                }
                let response = http
                    .get(format!("{base}{}", path(i)))
                    .send()
                    .await
                    .expect("request");
                assert_eq!(response.status(), status(i), "request {i}: {}", path(i));
                response.bytes().await.expect("response body");
            }
        }));
    }
    for task in tasks {
        task.await.expect("client task");
    }
}

fn expected_status(i: u64) -> StatusCode {
    match kind(i) {
        Kind::User | Kind::Reviews => StatusCode::OK,
        Kind::Unmatched => StatusCode::NOT_FOUND,
    }
}

/// Every alphanumeric word of `text`.
fn words(text: &str) -> HashSet<&str> {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|word| !word.is_empty())
        .collect()
}

/// The distinct label sets of the samples named `name`.
fn series_count(samples: &[Sample], name: &str) -> usize {
    find(samples, name, &[])
        .iter()
        .map(|sample| sample.labels.clone())
        .collect::<HashSet<_>>()
        .len()
}

#[test]
fn cardinality_over_real_http() {
    let started = Instant::now();
    a_hundred_thousand_raw_paths_make_three_series_and_no_memory_growth();
    more_routes_than_the_series_limit_fold_into_other_and_count_the_folds();
    eprintln!(
        "cardinality over real HTTP: {:.1} s in all",
        started.elapsed().as_secs_f64()
    );
}

/// 10⁵ requests with distinct raw paths and query strings, matched and unmatched: three
/// series, exact counts, nothing of the URLs in the exposition, resident memory flat.
fn a_hundred_thousand_raw_paths_make_three_series_and_no_memory_growth() {
    let started = Instant::now();
    let (registry, layer) = setup();
    let app = Router::new()
        .route("/users/{id}", get(|| async { "user" }))
        .route("/items/{id}/reviews", get(|| async { "reviews" }))
        .fallback(|| async { (StatusCode::NOT_FOUND, "nothing here") })
        .layer(layer);

    let (before, after) = runtime().block_on(bounded(async {
        let server = Server::start(app).await;
        let http = client();
        drive(&server, &http, 0..WARM_UP, raw_path, expected_status).await;
        let before = resident_bytes();
        drive(
            &server,
            &http,
            WARM_UP..RAW_PATHS,
            raw_path,
            expected_status,
        )
        .await;
        let after = resident_bytes();
        (before, after)
    }));
    let growth = after.saturating_sub(before);
    eprintln!(
        "VmRSS after {WARM_UP} requests: {before} bytes ({:.1} MiB); after {RAW_PATHS}: \
         {after} bytes ({:.1} MiB); growth {growth} bytes ({:.1} bytes/request over the last \
         {} requests); {:.1} s",
        before as f64 / 1048576.0,
        after as f64 / 1048576.0,
        growth as f64 / (RAW_PATHS - WARM_UP) as f64,
        RAW_PATHS - WARM_UP,
        started.elapsed().as_secs_f64(),
    );

    let text = registry.encode(Format::Prometheus);
    let samples = parse(&text);

    // Exactly the two templates and `unmatched`, each with exactly its requests.
    let users = (0..RAW_PATHS).filter(|&i| kind(i) == Kind::User).count() as f64;
    let reviews = (0..RAW_PATHS).filter(|&i| kind(i) == Kind::Reviews).count() as f64;
    let unmatched = (0..RAW_PATHS)
        .filter(|&i| kind(i) == Kind::Unmatched)
        .count() as f64;
    let series: BTreeMap<(String, String), f64> = find(&samples, REQUESTS, &[])
        .iter()
        .map(|s| {
            let route = s.label("http_route").unwrap_or_default().to_owned();
            let status = s.label("http_response_status_code").unwrap_or_default();
            ((route, status.to_owned()), s.value)
        })
        .collect();
    let expected: BTreeMap<(String, String), f64> = [
        (("/items/{id}/reviews", "200"), reviews),
        (("/users/{id}", "200"), users),
        ((UNMATCHED_ROUTE, "404"), unmatched),
    ]
    .into_iter()
    .map(|((route, status), n)| ((route.to_owned(), status.to_owned()), n))
    .collect();
    assert_eq!(series, expected, "series of {REQUESTS}");
    assert_eq!(series_count(&samples, REQUESTS), 3);
    assert_eq!(sum(&samples, REQUESTS, &[]), RAW_PATHS as f64);
    assert_eq!(sum(&samples, DURATION_COUNT, &[]), RAW_PATHS as f64);
    assert_eq!(sum(&samples, ACTIVE, &[]), 0.0);
    // Nothing came near a limit: no label value was folded anywhere.
    assert_eq!(sum(&samples, OVERFLOW, &[]), 0.0, "{text}");

    // No raw path and no query string anywhere in the exposition, in any family.
    for sample in &samples {
        for (name, value) in &sample.labels {
            assert!(
                !value.contains('?') && !value.contains('='),
                "a query string in label {name}={value:?} of {sample:?}"
            );
            if name == "http_route" {
                assert!(
                    ["/users/{id}", "/items/{id}/reviews", UNMATCHED_ROUTE]
                        .contains(&value.as_str()),
                    "a raw path as a route: {sample:?}"
                );
            }
        }
    }
    let exposed = words(&text);
    for i in 0..RAW_PATHS {
        for token in tokens(i) {
            assert!(
                !exposed.contains(token.as_str()),
                "request {i}'s token {token} ({}) leaked into the exposition",
                raw_path(i)
            );
        }
    }

    assert!(
        growth < RSS_GROWTH_BOUND,
        "resident memory grew by {growth} bytes over {} requests (bound {RSS_GROWTH_BOUND})",
        RAW_PATHS - WARM_UP
    );
    eprintln!(
        "raw paths test: {:.1} s in all",
        started.elapsed().as_secs_f64()
    );
}

fn literal_route(i: u64) -> String {
    format!("/r/{i}")
}

fn ok_status(_: u64) -> StatusCode {
    StatusCode::OK
}

/// One request to each of 6,000 literal routes: the first 5,000 route templates (the
/// declared limit) get a series, the other 1,000 requests fold into `other`, and the folds
/// are counted by `fiko_metrics_label_overflow_total`.
fn more_routes_than_the_series_limit_fold_into_other_and_count_the_folds() {
    let max_series = max_series();
    assert!(
        LITERAL_ROUTES > max_series,
        "{LITERAL_ROUTES} routes no longer exceed the series limit {max_series}"
    );
    let started = Instant::now();
    let (registry, layer) = setup();
    let mut app = Router::new();
    for i in 0..LITERAL_ROUTES as u64 {
        app = app.route(&literal_route(i), get(|| async { "ok" }));
    }
    let app = app.layer(layer);
    let built = started.elapsed();

    runtime().block_on(bounded(async {
        let server = Server::start(app).await;
        drive(
            &server,
            &client(),
            0..LITERAL_ROUTES as u64,
            literal_route,
            ok_status,
        )
        .await;
    }));
    let driven = started.elapsed();

    let samples = parse(&registry.encode(Format::Prometheus));
    let folded = (LITERAL_ROUTES - max_series) as f64;

    // Every request counted once: 5,000 templates with their own series, the rest in one
    // `other` series (open labels — route and status code — read `other`; the closed ones
    // keep their values).
    assert_eq!(sum(&samples, REQUESTS, &[]), LITERAL_ROUTES as f64);
    assert_eq!(sum(&samples, DURATION_COUNT, &[]), LITERAL_ROUTES as f64);
    let other = find(&samples, REQUESTS, &[("http_route", "other")]);
    assert_eq!(other.len(), 1, "{other:?}");
    assert_eq!(other[0].label("http_request_method"), Some("GET"));
    assert_eq!(other[0].label("http_response_status_code"), Some("other"));
    assert_eq!(other[0].label("http_response_status_class"), Some("2xx"));
    assert_eq!(other[0].value, folded);
    let own: Vec<&Sample> = find(&samples, REQUESTS, &[])
        .into_iter()
        .filter(|s| s.label("http_route") != Some("other"))
        .collect();
    assert_eq!(own.len(), max_series);
    assert!(own.iter().all(|s| s.value == 1.0
        && s.label("http_route").is_some_and(|r| r.starts_with("/r/"))
        && s.label("http_response_status_code") == Some("200")));

    // The folds are counted, once per folded request, for each family.
    assert_eq!(
        sum(&samples, OVERFLOW, &[("metric", "http_server_requests")]),
        folded
    );
    assert_eq!(
        sum(
            &samples,
            OVERFLOW,
            &[("metric", "http_server_request_duration_seconds")]
        ),
        folded
    );
    assert!(
        sum(
            &samples,
            OVERFLOW,
            &[("metric", "http_server_active_requests")]
        ) >= folded
    );

    // No family of the set holds more than its limit plus the overflow series.
    for name in [
        REQUESTS,
        DURATION_COUNT,
        "http_server_request_body_size_bytes_count",
        "http_server_response_body_size_bytes_count",
        ACTIVE,
    ] {
        let count = series_count(&samples, name);
        assert!(
            count <= max_series + 1,
            "{name} has {count} series, over the limit {max_series} + other"
        );
    }
    assert_eq!(series_count(&samples, REQUESTS), max_series + 1);
    assert_eq!(
        sum(&samples, ACTIVE, &[]),
        0.0,
        "in flight, overflow included"
    );

    eprintln!(
        "literal routes test: router with {LITERAL_ROUTES} routes built in {:.2} s, \
         {LITERAL_ROUTES} requests done at {:.2} s, checked at {:.2} s",
        built.as_secs_f64(),
        driven.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
}
