//! The HTTP layer on a real axum server, driven by a real HTTP client.

// The helpers fail the test by panicking (they are not `#[test]` fns: rust-clippy#13981).
#![allow(clippy::expect_used)]

mod common;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use common::{Server, bounded, client, eventually, find, parse, sum};
use fiko_metrics::{Counter, Family, Format, LabelSet, LabelValue, MetricSet, Registry};
use fiko_metrics_axum::{
    CustomLabels, FinishedRequest, HttpMetricsLayer, HttpServerMetrics, MetricsEndpoints,
    RequestHead, UNMATCHED_ROUTE,
};
use futures_util::StreamExt;
use tower_http::catch_panic::CatchPanicLayer;

const REQUESTS: &str = "http_server_requests_total";
const DURATION_COUNT: &str = "http_server_request_duration_seconds_count";
const DURATION_SUM: &str = "http_server_request_duration_seconds_sum";
const ACTIVE: &str = "http_server_active_requests";
const ERRORS: &str = "http_server_request_errors_total";

fn setup() -> (Arc<Registry>, HttpMetricsLayer) {
    let registry = Arc::new(Registry::new());
    let metrics = HttpServerMetrics::register(&registry).expect("register");
    (registry, HttpMetricsLayer::new(metrics))
}

fn scrape(registry: &Registry) -> Vec<common::Sample> {
    parse(&registry.encode(Format::Prometheus))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route_templates_label_requests_including_nested_routers() {
    let (registry, layer) = setup();
    let api = Router::new().route("/items/{item_id}", get(|| async { "item" }));
    let app = Router::new()
        .route(
            "/users/{id}",
            get(|| async { "user" }).post(|| async { "created" }),
        )
        .nest("/api", api)
        .nest_service(
            "/assets",
            tower::service_fn(|_: Request| async {
                Ok::<_, Infallible>(Response::new(Body::from("asset")))
            }),
        )
        .layer(layer);
    let server = Server::start(app).await;
    let http = client();
    bounded(async {
        for path in [
            "/users/1",
            "/users/2",
            "/users/3",
            "/api/items/7",
            "/api/items/8",
            "/assets/a.css",
            "/assets/js/b.js",
        ] {
            let response = server.get(&http, path).await;
            assert_eq!(response.status(), 200);
            response.bytes().await.expect("body");
        }
        let response = http
            .post(server.url("/users/9"))
            .send()
            .await
            .expect("post");
        assert_eq!(response.status(), 200);
        response.bytes().await.expect("body");
        // A made-up method cannot create a series of its own.
        let purge = reqwest::Method::from_bytes(b"PURGE").expect("method");
        let response = http
            .request(purge, server.url("/users/9"))
            .send()
            .await
            .expect("purge");
        assert_eq!(response.status(), 405);
        response.bytes().await.expect("body");
    })
    .await;

    let samples = scrape(&registry);
    let get_user = [
        ("http_request_method", "GET"),
        ("http_route", "/users/{id}"),
        ("http_response_status_code", "200"),
        ("http_response_status_class", "2xx"),
    ];
    assert_eq!(sum(&samples, REQUESTS, &get_user), 3.0);
    assert_eq!(sum(&samples, DURATION_COUNT, &get_user), 3.0);
    assert_eq!(
        sum(
            &samples,
            REQUESTS,
            &[("http_route", "/api/items/{item_id}")]
        ),
        2.0,
        "nested routes keep their full template"
    );
    assert_eq!(
        sum(
            &samples,
            REQUESTS,
            &[
                ("http_request_method", "POST"),
                ("http_route", "/users/{id}")
            ]
        ),
        1.0
    );
    assert_eq!(
        sum(
            &samples,
            REQUESTS,
            &[
                ("http_request_method", "_OTHER"),
                ("http_response_status_code", "405")
            ]
        ),
        1.0
    );
    assert!(
        samples
            .iter()
            .all(|s| s.label("http_request_method") != Some("PURGE"))
    );
    // axum 0.8 gives services mounted with `nest_service` no `MatchedPath`: they count as
    // unmatched (bounded; `group` names them), never by raw path.
    assert_eq!(
        sum(&samples, REQUESTS, &[("http_route", UNMATCHED_ROUTE)]),
        2.0
    );
    // No raw path ever becomes a label value.
    assert!(
        samples
            .iter()
            .all(|s| s.label("http_route") != Some("/users/1"))
    );
    assert_eq!(sum(&samples, ACTIVE, &[]), 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_random_unmatched_paths_make_exactly_one_series() {
    let (registry, layer) = setup();
    let app = Router::new()
        .route("/known", get(|| async { "ok" }))
        .fallback(|| async { (StatusCode::NOT_FOUND, "nothing here") })
        .layer(layer);
    let server = Server::start(app).await;
    let http = client();
    // A cheap, deterministic pseudo-random generator: no extra dependency.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut paths = Vec::with_capacity(1000);
    for i in 0..1000 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        paths.push(format!("/scan/{i}/{state:x}/{}", state % 977));
    }
    bounded(async {
        // 4 concurrent clients.
        let chunks: Vec<Vec<String>> = paths.chunks(250).map(<[String]>::to_vec).collect();
        let mut tasks = Vec::new();
        for chunk in chunks {
            let http = http.clone();
            let base = server.url("");
            tasks.push(tokio::spawn(async move {
                for path in chunk {
                    let response = http.get(format!("{base}{path}")).send().await.expect("get");
                    assert_eq!(response.status(), 404);
                    response.bytes().await.expect("body");
                }
            }));
        }
        for task in tasks {
            task.await.expect("client task");
        }
    })
    .await;

    let samples = scrape(&registry);
    let series = find(&samples, REQUESTS, &[]);
    assert_eq!(
        series.len(),
        1,
        "one series for all unmatched requests: {series:?}"
    );
    assert_eq!(series[0].label("http_route"), Some(UNMATCHED_ROUTE));
    assert_eq!(series[0].label("http_response_status_code"), Some("404"));
    assert_eq!(series[0].value, 1000.0);
    assert_eq!(find(&samples, DURATION_COUNT, &[]).len(), 1);
    assert_eq!(find(&samples, ACTIVE, &[]).len(), 1);
    // Nothing was folded into an overflow series either: the cardinality never grew.
    assert!(
        find(&samples, "fiko_metrics_label_overflow_total", &[])
            .iter()
            .all(|s| s.value == 0.0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_codes_and_classes_and_server_errors() {
    let (registry, layer) = setup();
    let app = Router::new()
        .route("/ok", get(|| async { "ok" }))
        .route("/created", post(|| async { (StatusCode::CREATED, "made") }))
        .route(
            "/moved",
            get(|| async { (StatusCode::FOUND, [("location", "/ok")]) }),
        )
        .route("/teapot", get(|| async { StatusCode::IM_A_TEAPOT }))
        .route(
            "/broken",
            get(|| async { StatusCode::INTERNAL_SERVER_ERROR }),
        )
        .route("/busy", get(|| async { StatusCode::SERVICE_UNAVAILABLE }))
        .layer(layer);
    let server = Server::start(app).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client");
    bounded(async {
        for (method, path, times) in [
            ("GET", "/ok", 3),
            ("POST", "/created", 2),
            ("GET", "/moved", 1),
            ("GET", "/teapot", 1),
            ("GET", "/broken", 2),
            ("GET", "/busy", 1),
        ] {
            for _ in 0..times {
                let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
                http.request(method, server.url(path))
                    .send()
                    .await
                    .expect("send")
                    .bytes()
                    .await
                    .expect("body");
            }
        }
    })
    .await;

    let samples = scrape(&registry);
    for (class, count) in [("2xx", 5.0), ("3xx", 1.0), ("4xx", 1.0), ("5xx", 3.0)] {
        assert_eq!(
            sum(&samples, REQUESTS, &[("http_response_status_class", class)]),
            count,
            "{class}"
        );
    }
    for (code, count) in [
        ("200", 3.0),
        ("201", 2.0),
        ("302", 1.0),
        ("418", 1.0),
        ("500", 2.0),
        ("503", 1.0),
    ] {
        assert_eq!(
            sum(&samples, REQUESTS, &[("http_response_status_code", code)]),
            count,
            "{code}"
        );
    }
    assert_eq!(
        sum(&samples, ERRORS, &[("error_type", "server_error")]),
        3.0
    );
    assert_eq!(sum(&samples, ERRORS, &[("http_route", "/broken")]), 2.0);
    assert_eq!(sum(&samples, ERRORS, &[]), 3.0, "4xx are not server errors");
}

/// A body of `chunks` chunks of `size` bytes, `pause` apart, with no Content-Length.
fn streamed(chunks: usize, size: usize, pause: Duration) -> Body {
    let stream = futures_util::stream::iter(0..chunks).then(move |i| async move {
        if i > 0 {
            tokio::time::sleep(pause).await;
        }
        Ok::<_, Infallible>(Bytes::from(vec![b'x'; size]))
    });
    Body::from_stream(stream)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streamed_body_sizes_and_duration_until_the_body_ends() {
    let (registry, layer) = setup();
    let app = Router::new()
        .route(
            "/download",
            get(|| async { streamed(10, 1000, Duration::from_millis(30)) }),
        )
        .route(
            "/upload",
            post(|body: Body| async move {
                let bytes = axum::body::to_bytes(body, usize::MAX)
                    .await
                    .map_err(|_| StatusCode::BAD_REQUEST)?;
                Ok::<_, StatusCode>(bytes.len().to_string())
            }),
        )
        .layer(layer);
    let server = Server::start(app).await;
    let http = client();
    bounded(async {
        let response = server.get(&http, "/download").await;
        assert!(
            response.headers().get("content-length").is_none(),
            "streamed, no length"
        );
        // While the body streams, the request is still in flight.
        let mut stream = response.bytes_stream();
        let first = stream.next().await.expect("a chunk").expect("chunk");
        let samples = scrape(&registry);
        assert_eq!(sum(&samples, ACTIVE, &[("http_route", "/download")]), 1.0);
        let mut total = first.len();
        while let Some(chunk) = stream.next().await {
            total += chunk.expect("chunk").len();
        }
        assert_eq!(total, 10_000);

        let upload = futures_util::stream::iter(0..5)
            .map(|_| Ok::<_, Infallible>(Bytes::from(vec![b'y'; 1000])));
        let response = http
            .post(server.url("/upload"))
            .body(reqwest::Body::wrap_stream(upload))
            .send()
            .await
            .expect("post");
        assert_eq!(response.text().await.expect("text"), "5000");
    })
    .await;

    let ok = eventually(Duration::from_secs(5), || {
        sum(&scrape(&registry), ACTIVE, &[]) == 0.0
    })
    .await;
    assert!(ok, "in-flight back to 0");
    let samples = scrape(&registry);
    let download = [("http_route", "/download")];
    assert_eq!(
        sum(
            &samples,
            "http_server_response_body_size_bytes_sum",
            &download
        ),
        10_000.0
    );
    assert_eq!(
        sum(
            &samples,
            "http_server_response_body_size_bytes_count",
            &download
        ),
        1.0
    );
    // The handler returned at once; the duration covers the 9 × 30 ms of streaming.
    let duration = sum(&samples, DURATION_SUM, &download);
    assert!(duration >= 0.27, "duration ends with the body: {duration}");
    let upload = [("http_route", "/upload")];
    assert_eq!(
        sum(&samples, "http_server_request_body_size_bytes_sum", &upload),
        5000.0
    );
    assert_eq!(
        sum(
            &samples,
            "http_server_request_body_size_bytes_count",
            &upload
        ),
        1.0
    );
    assert_eq!(sum(&samples, ERRORS, &[]), 0.0);
}

/// The layer's clock (the TSC, calibrated against the monotonic clock) measures what the
/// wall clock does: each request takes at least the handler's sleep and at most what the
/// client waited for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durations_lie_between_the_handlers_sleep_and_the_clients_wait() {
    const SLEEP: Duration = Duration::from_millis(120);
    let (registry, layer) = setup();
    let app = Router::new()
        .route(
            "/sleepy",
            get(|| async {
                tokio::time::sleep(SLEEP).await;
                "rested"
            }),
        )
        .layer(layer);
    let server = Server::start(app).await;
    let http = client();
    let mut waited = Duration::ZERO;
    for _ in 0..3 {
        let start = std::time::Instant::now();
        let response = bounded(server.get(&http, "/sleepy")).await;
        assert_eq!(bounded(response.text()).await.expect("text"), "rested");
        waited += start.elapsed();
    }
    let ok = eventually(Duration::from_secs(5), || {
        sum(&scrape(&registry), DURATION_COUNT, &[]) == 3.0
    })
    .await;
    assert!(ok, "three durations recorded");
    let measured = sum(
        &scrape(&registry),
        DURATION_SUM,
        &[("http_route", "/sleepy")],
    );
    let slept = 3.0 * SLEEP.as_secs_f64();
    assert!(
        measured >= slept && measured <= waited.as_secs_f64(),
        "{measured} s measured for {slept} s of sleep and {} s of waiting",
        waited.as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_flight_returns_to_zero_after_a_client_disconnects_mid_body() {
    let (registry, layer) = setup();
    let app = Router::new()
        // 1000 chunks 20 ms apart: 20 s if the client stayed.
        .route(
            "/endless",
            get(|| async { streamed(1000, 512, Duration::from_millis(20)) }),
        )
        .layer(layer);
    let server = Server::start(app).await;
    let http = client();
    bounded(async {
        let response = server.get(&http, "/endless").await;
        let mut stream = response.bytes_stream();
        stream.next().await.expect("first chunk").expect("chunk");
        assert_eq!(sum(&scrape(&registry), ACTIVE, &[]), 1.0);
        // Drop the response mid-body: reqwest closes the connection.
        drop(stream);
    })
    .await;
    let ok = eventually(Duration::from_secs(5), || {
        sum(&scrape(&registry), ACTIVE, &[]) == 0.0
    })
    .await;
    assert!(ok, "in-flight back to 0 after the disconnect");
    let samples = scrape(&registry);
    let labels = [("http_route", "/endless"), ("error_type", "cancelled")];
    assert_eq!(sum(&samples, ERRORS, &labels), 1.0);
    assert_eq!(
        sum(&samples, DURATION_COUNT, &[("http_route", "/endless")]),
        1.0
    );
    let sent = sum(
        &samples,
        "http_server_response_body_size_bytes_sum",
        &[("http_route", "/endless")],
    );
    assert!(
        (512.0..1000.0 * 512.0).contains(&sent),
        "only what was sent: {sent}"
    );
}

/// A body that says it is empty by its size (`Content-Length: 0`) but not by
/// `is_end_stream`: hyper writes the head and drops it without polling it.
struct KnownEmpty;

impl http_body::Body for KnownEmpty {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
        std::task::Poll::Ready(None)
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(0)
    }
}

/// Regression: five HEAD requests answered 200 each added a `cancelled` error, because
/// axum swaps a HEAD answer's body for an empty one and the instrumented body was dropped
/// unpolled. Responses HTTP sends without a body (HEAD, 204, 304) and bodies known to be
/// empty are successes under their status; a streamed body the client abandons is still
/// a cancellation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_and_bodyless_responses_are_recorded_under_their_status_not_as_cancelled() {
    let (registry, layer) = setup();
    let app = Router::new()
        .route("/page", get(|| async { "a page of some length" }))
        .route(
            "/stream",
            get(|| async { streamed(3, 100, Duration::from_millis(5)) }),
        )
        .route("/nothing", get(|| async { StatusCode::NO_CONTENT }))
        .route("/cached", get(|| async { StatusCode::NOT_MODIFIED }))
        .route("/known-empty", get(|| async { Body::new(KnownEmpty) }))
        .route(
            "/endless",
            get(|| async { streamed(1000, 512, Duration::from_millis(20)) }),
        )
        .layer(layer);
    let server = Server::start(app).await;
    let http = client();
    bounded(async {
        for _ in 0..5 {
            let response = http.head(server.url("/page")).send().await.expect("head");
            assert_eq!(response.status(), 200);
            assert_eq!(response.headers()["content-length"], "21");
            response.bytes().await.expect("body");
        }
        let response = http.head(server.url("/stream")).send().await.expect("head");
        assert_eq!(response.status(), 200);
        response.bytes().await.expect("body");
        for (path, status) in [("/nothing", 204), ("/cached", 304), ("/known-empty", 200)] {
            for _ in 0..2 {
                let response = server.get(&http, path).await;
                assert_eq!(response.status(), status, "{path}");
                assert!(response.bytes().await.expect("body").is_empty());
            }
        }
        // A real cancellation, for contrast: the client leaves mid-body.
        let response = server.get(&http, "/endless").await;
        let mut stream = response.bytes_stream();
        stream.next().await.expect("first chunk").expect("chunk");
        drop(stream);
    })
    .await;
    let ok = eventually(Duration::from_secs(5), || {
        let samples = scrape(&registry);
        sum(&samples, ACTIVE, &[]) == 0.0 && sum(&samples, REQUESTS, &[]) == 13.0
    })
    .await;
    assert!(
        ok,
        "every request ended: {:?}",
        find(&scrape(&registry), REQUESTS, &[])
    );
    let samples = scrape(&registry);
    let head_page = [
        ("http_request_method", "HEAD"),
        ("http_route", "/page"),
        ("http_response_status_code", "200"),
        ("http_response_status_class", "2xx"),
    ];
    assert_eq!(sum(&samples, REQUESTS, &head_page), 5.0);
    assert_eq!(sum(&samples, DURATION_COUNT, &head_page), 5.0);
    assert_eq!(
        sum(
            &samples,
            "http_server_response_body_size_bytes_sum",
            &head_page
        ),
        0.0,
        "a HEAD answer sends no body bytes"
    );
    for (route, status, count) in [
        ("/stream", "200", 1.0),
        ("/nothing", "204", 2.0),
        ("/cached", "304", 2.0),
        ("/known-empty", "200", 2.0),
    ] {
        let labels = [("http_route", route), ("http_response_status_code", status)];
        assert_eq!(sum(&samples, REQUESTS, &labels), count, "{route}");
    }
    // The one error is the abandoned stream's.
    assert_eq!(
        sum(&samples, ERRORS, &[]),
        1.0,
        "{:?}",
        find(&samples, ERRORS, &[])
    );
    assert_eq!(
        sum(
            &samples,
            ERRORS,
            &[("http_route", "/endless"), ("error_type", "cancelled")]
        ),
        1.0
    );
}

/// Series of `name` in a scrape.
fn series_count(registry: &Registry, name: &str) -> usize {
    find(&scrape(registry), name, &[]).len()
}

/// How much sending every method to every route may grow the duration histogram: one
/// series per route, the 405 answers' (`_OTHER`, `405`). The same bound is in the crate
/// docs.
const NOT_ALLOWED_SERIES_PER_ROUTE: usize = 1;
/// And the in-flight gauge and request-size histogram: the first unrouted method's, sent
/// before the layer has seen the path's method fallback answer, and `_OTHER`.
const NOT_ALLOWED_ROUTE_SERIES_PER_ROUTE: usize = 2;

/// Regression: every 405 made a full series set for its (method, route), so all routes ×
/// 10 methods grew the exposition 5.5×. Methods a path does not route now collapse into
/// `_OTHER`, the way unmatched paths collapse into one route.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_method_to_every_route_adds_at_most_one_series_per_route() {
    let (registry, layer) = setup();
    let app = Router::new()
        .route("/a", get(|| async { "a" }))
        .route("/b", post(|| async { "b" }))
        .route(
            "/c/{id}",
            get(|| async { "c" })
                .put(|| async { "c" })
                .delete(|| async { "c" }),
        )
        .route("/d", axum::routing::patch(|| async { "d" }))
        .route("/e", get(|| async { "e" }).post(|| async { "e" }))
        .layer(layer);
    let routed: [(&str, &[&str]); 5] = [
        ("/a", &["GET", "HEAD"]),
        ("/b", &["POST"]),
        ("/c/1", &["GET", "HEAD", "PUT", "DELETE"]),
        ("/d", &["PATCH"]),
        ("/e", &["GET", "HEAD", "POST"]),
    ];
    // CONNECT is left out: its target is an authority (`host:port`), never a path, so it
    // reaches no route (404, `unmatched`). PURGE stands for every made-up method.
    let methods = [
        "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "TRACE", "PATCH", "PURGE",
    ];
    let server = Server::start(app).await;
    let http = client();
    let send = |method: &str, path: &str| {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let request = http.request(method, server.url(path)).send();
        async move {
            let response = request.await.expect("request");
            let status = response.status().as_u16();
            response.bytes().await.expect("body");
            status
        }
    };
    bounded(async {
        for (path, methods) in routed {
            for method in methods {
                assert_eq!(send(method, path).await, 200, "{method} {path}");
            }
        }
    })
    .await;
    let settled = |requests: f64| {
        let registry = registry.clone();
        eventually(Duration::from_secs(5), move || {
            let samples = scrape(&registry);
            sum(&samples, ACTIVE, &[]) == 0.0 && sum(&samples, REQUESTS, &[]) == requests
        })
    };
    let first: usize = routed.iter().map(|(_, allowed)| allowed.len()).sum();
    assert!(settled(first as f64).await);
    let duration_before = series_count(&registry, DURATION_COUNT);
    let sizes_before = series_count(&registry, "http_server_request_body_size_bytes_count");
    let lines_before = registry.encode(Format::Prometheus).lines().count();

    // Every method to every route, twice.
    let mut not_allowed = 0;
    bounded(async {
        for _ in 0..2 {
            for (path, allowed) in routed {
                for method in methods {
                    let status = send(method, path).await;
                    if allowed.contains(&method) {
                        assert_eq!(status, 200, "{method} {path}");
                    } else {
                        assert_eq!(status, 405, "{method} {path}");
                        not_allowed += 1;
                    }
                }
            }
        }
    })
    .await;
    let all = first + 2 * routed.len() * methods.len();
    assert!(settled(all as f64).await);
    let duration_after = series_count(&registry, DURATION_COUNT);
    let sizes_after = series_count(&registry, "http_server_request_body_size_bytes_count");
    let lines_after = registry.encode(Format::Prometheus).lines().count();
    eprintln!(
        "duration series {duration_before} -> {duration_after}; request-size series \
         {sizes_before} -> {sizes_after}; exposition lines {lines_before} -> {lines_after}"
    );
    let routes = routed.len();
    assert!(
        duration_after - duration_before <= NOT_ALLOWED_SERIES_PER_ROUTE * routes,
        "duration series {duration_before} -> {duration_after}"
    );
    assert!(
        sizes_after - sizes_before <= NOT_ALLOWED_ROUTE_SERIES_PER_ROUTE * routes,
        "request-size series {sizes_before} -> {sizes_after}"
    );
    let samples = scrape(&registry);
    // Every 405 is counted, under `_OTHER`, and nothing else is.
    let other_405 = [
        ("http_request_method", "_OTHER"),
        ("http_response_status_code", "405"),
    ];
    assert_eq!(sum(&samples, REQUESTS, &other_405), f64::from(not_allowed));
    assert_eq!(
        sum(&samples, REQUESTS, &[("http_response_status_code", "405")]),
        f64::from(not_allowed)
    );
    assert_eq!(sum(&samples, ERRORS, &[]), 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_flight_returns_to_zero_when_the_client_leaves_before_the_response() {
    let (registry, layer) = setup();
    let app = Router::new()
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                "late"
            }),
        )
        .layer(layer);
    let server = Server::start(app).await;
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .expect("client");
    let result = bounded(impatient.get(server.url("/slow")).send()).await;
    assert!(result.is_err(), "the client gave up");
    // hyper drops the handler future once it sees the connection closed.
    let ok = eventually(Duration::from_secs(5), || {
        sum(&scrape(&registry), ACTIVE, &[]) == 0.0
    })
    .await;
    assert!(ok, "in-flight back to 0 after the future was dropped");
    let samples = scrape(&registry);
    let cancelled = [
        ("http_route", "/slow"),
        ("http_response_status_code", ""),
        ("http_response_status_class", "none"),
    ];
    assert_eq!(sum(&samples, REQUESTS, &cancelled), 1.0);
    assert_eq!(sum(&samples, ERRORS, &[("error_type", "cancelled")]), 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panics_are_recorded_whichever_side_catches_them() {
    async fn boom() -> &'static str {
        panic!("handler bug")
    }
    // The catch-panic layer inside the metrics layer: metrics see a 500 response.
    let (inner_registry, inner_layer) = setup();
    let app = Router::new()
        .route("/boom", get(boom))
        .layer(CatchPanicLayer::new())
        .layer(inner_layer);
    let inner_server = Server::start(app).await;
    // Outside it: the metrics layer's future sees the panic unwind through it.
    let (outer_registry, outer_layer) = setup();
    let app = Router::new()
        .route("/boom", get(boom))
        .layer(outer_layer)
        .layer(CatchPanicLayer::new());
    let outer_server = Server::start(app).await;

    let http = client();
    bounded(async {
        for server in [&inner_server, &outer_server] {
            for _ in 0..2 {
                let response = server.get(&http, "/boom").await;
                assert_eq!(response.status(), 500);
                response.bytes().await.expect("body");
            }
        }
    })
    .await;

    for registry in [&inner_registry, &outer_registry] {
        let ok = eventually(Duration::from_secs(5), || {
            sum(&scrape(registry), ACTIVE, &[]) == 0.0
        })
        .await;
        assert!(ok, "in-flight back to 0 after panics");
        assert_eq!(
            sum(
                &scrape(registry),
                DURATION_COUNT,
                &[("http_route", "/boom")]
            ),
            2.0
        );
    }
    let inner = scrape(&inner_registry);
    assert_eq!(
        sum(&inner, REQUESTS, &[("http_response_status_code", "500")]),
        2.0
    );
    assert_eq!(sum(&inner, ERRORS, &[("error_type", "server_error")]), 2.0);
    let outer = scrape(&outer_registry);
    assert_eq!(sum(&outer, ERRORS, &[("error_type", "panic")]), 2.0);
    assert_eq!(
        sum(&outer, REQUESTS, &[("http_response_status_class", "none")]),
        2.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_future_is_recorded_as_cancelled() {
    use tower::{Layer, Service};

    let (registry, layer) = setup();
    let handler = tower::service_fn(|_: Request| async {
        tokio::time::sleep(Duration::from_secs(30)).await;
        Ok::<_, Infallible>(Response::new(Body::empty()))
    });
    let mut service = layer.layer(handler);
    let future = service.call(Request::new(Body::empty()));
    let timed_out = tokio::time::timeout(Duration::from_millis(50), future).await;
    assert!(timed_out.is_err(), "the timeout dropped the future");
    let samples = scrape(&registry);
    assert_eq!(sum(&samples, ACTIVE, &[]), 0.0);
    assert_eq!(
        sum(
            &samples,
            ERRORS,
            &[("error_type", "cancelled"), ("http_route", UNMATCHED_ROUTE)]
        ),
        1.0
    );
    let duration = sum(&samples, DURATION_SUM, &[]);
    assert!(duration >= 0.05, "{duration}");
}

#[derive(Clone, Copy, Debug, PartialEq, LabelValue)]
enum Plan {
    Free,
    Pro,
}

#[derive(LabelSet)]
struct PlanLabels {
    plan: Plan,
    failed: bool,
}

#[derive(MetricSet)]
#[metric_set(namespace = "app")]
struct PlanMetrics {
    /// HTTP requests by customer plan.
    http_requests_by_plan: Family<PlanLabels, Counter>,
}

impl CustomLabels for PlanMetrics {
    type Labels = Plan;

    fn labels(&self, request: &RequestHead<'_>) -> Option<Plan> {
        request.extensions().get::<Plan>().copied()
    }

    fn record(&self, plan: Plan, request: &FinishedRequest<'_>) {
        let labels = PlanLabels {
            plan,
            failed: request.error().is_some(),
        };
        self.http_requests_by_plan.get_or_create(&labels).inc();
    }
}

/// Stands in for an authentication middleware: the plan comes from a header.
async fn authenticate(mut request: Request, next: Next) -> Response {
    let plan = match request.headers().get("x-plan").map(|v| v.as_bytes()) {
        Some(b"pro") => Some(Plan::Pro),
        Some(b"free") => Some(Plan::Free),
        _ => None,
    };
    if let Some(plan) = plan {
        request.extensions_mut().insert(plan);
    }
    next.run(request).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_labels_from_request_extensions() {
    let (registry, layer) = setup();
    let plans = PlanMetrics::register(&registry).expect("register plans");
    let app = Router::new()
        .route("/work", get(|| async { "done" }))
        .route(
            "/fail",
            get(|| async { StatusCode::INTERNAL_SERVER_ERROR.into_response() }),
        )
        .layer(layer.custom_labels(plans.clone()))
        .layer(middleware::from_fn(authenticate));
    let server = Server::start(app).await;
    let http = client();
    bounded(async {
        for (plan, path, times) in [
            ("pro", "/work", 3),
            ("free", "/work", 2),
            ("free", "/fail", 1),
            ("", "/work", 4),
        ] {
            for _ in 0..times {
                http.get(server.url(path))
                    .header("x-plan", plan)
                    .send()
                    .await
                    .expect("get")
                    .bytes()
                    .await
                    .expect("body");
            }
        }
    })
    .await;
    let samples = scrape(&registry);
    let by_plan = "app_http_requests_by_plan_total";
    assert_eq!(
        sum(&samples, by_plan, &[("plan", "pro"), ("failed", "false")]),
        3.0
    );
    assert_eq!(
        sum(&samples, by_plan, &[("plan", "free"), ("failed", "false")]),
        2.0
    );
    assert_eq!(
        sum(&samples, by_plan, &[("plan", "free"), ("failed", "true")]),
        1.0
    );
    assert_eq!(
        sum(&samples, by_plan, &[]),
        6.0,
        "requests without a plan are left out"
    );
    assert_eq!(
        sum(&samples, REQUESTS, &[]),
        10.0,
        "the standard metrics see every request"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn excluded_routes_are_absent_and_groups_collapse() {
    let registry = Arc::new(Registry::new());
    let metrics = HttpServerMetrics::register(&registry).expect("register");
    let layer = HttpMetricsLayer::new(metrics)
        .exclude("/api/v1/metrics")
        .group("/static", "/static/*");
    let app = Router::new()
        .route("/static/{*path}", get(|| async { "file" }))
        .route("/hello", get(|| async { "hi" }))
        .merge(MetricsEndpoints::new(registry.clone()).into_router())
        .layer(layer);
    let server = Server::start(app).await;
    let http = client();
    let text = bounded(async {
        for path in [
            "/static/a.css",
            "/static/js/b.js",
            "/static/c.png",
            "/hello",
        ] {
            server.get(&http, path).await.bytes().await.expect("body");
        }
        let mut last = String::new();
        for _ in 0..3 {
            let response = server.get(&http, "/api/v1/metrics").await;
            assert_eq!(response.status(), 200);
            last = response.text().await.expect("text");
        }
        // The health endpoint lies under the excluded prefix too.
        server
            .get(&http, "/api/v1/metrics/health")
            .await
            .bytes()
            .await
            .expect("body");
        last
    })
    .await;
    let samples = parse(&text);
    assert!(
        samples.iter().all(|s| !s
            .label("http_route")
            .is_some_and(|r| r.starts_with("/api/v1/metrics"))),
        "the metrics endpoint does not measure itself:\n{text}"
    );
    assert_eq!(sum(&samples, REQUESTS, &[("http_route", "/static/*")]), 3.0);
    assert_eq!(
        find(&samples, REQUESTS, &[]).len(),
        2,
        "one series for static files, one for /hello"
    );
    let after = scrape(&registry);
    assert_eq!(
        sum(&after, REQUESTS, &[]),
        4.0,
        "scrapes and health checks were never counted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_response_body_is_a_body_error() {
    let (registry, layer) = setup();
    let app = Router::new()
        .route(
            "/broken-stream",
            get(|| async {
                // The error comes after a pause, once the head and first part are out.
                let chunks = futures_util::stream::iter(0..2).then(|i| async move {
                    if i == 0 {
                        Ok(Bytes::from_static(b"first part, "))
                    } else {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        Err(std::io::Error::other("the upstream went away"))
                    }
                });
                Body::from_stream(chunks)
            }),
        )
        .layer(layer);
    let server = Server::start(app).await;
    let http = client();
    bounded(async {
        let response = server.get(&http, "/broken-stream").await;
        assert_eq!(response.status(), 200);
        assert!(response.bytes().await.is_err(), "the body breaks off");
    })
    .await;
    let ok = eventually(Duration::from_secs(5), || {
        sum(&scrape(&registry), ACTIVE, &[]) == 0.0
    })
    .await;
    assert!(ok, "in-flight back to 0");
    let samples = scrape(&registry);
    assert_eq!(sum(&samples, ERRORS, &[("error_type", "body_error")]), 1.0);
    assert_eq!(sum(&samples, ERRORS, &[]), 1.0);
    assert_eq!(
        sum(
            &samples,
            "http_server_response_body_size_bytes_sum",
            &[("http_route", "/broken-stream")]
        ),
        12.0,
        "the bytes sent before the error"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_service_seeing_many_routes_and_statuses_counts_each_exactly() {
    // The layer around a whole router is one service: it sees every route (named by
    // groups here, as no `MatchedPath` exists yet outside the router) and, under
    // `unmatched`, more distinct statuses than a route remembers.
    let (registry, layer) = setup();
    let layer = layer.group("/a", "/a/*").group("/b", "/b/*");
    let inner = Router::new()
        .route("/a/{x}", get(|| async { "a" }))
        .route("/b/{x}", get(|| async { "b" }))
        .route(
            "/status/{code}",
            get(
                |axum::extract::Path(code): axum::extract::Path<u16>| async move {
                    StatusCode::from_u16(code).expect("a valid status")
                },
            ),
        );
    let app = Router::new().fallback_service(tower::Layer::layer(&layer, inner));
    let server = Server::start(app).await;
    let http = client();
    const CODES: [u16; 12] = [200, 201, 202, 203, 204, 206, 207, 208, 226, 400, 401, 402];
    bounded(async {
        for i in 0..30 {
            for path in [format!("/a/{i}"), format!("/b/{i}"), format!("/c/{i}")] {
                server.get(&http, &path).await;
            }
            if i < 2 {
                for code in CODES {
                    let response = server.get(&http, &format!("/status/{code}")).await;
                    assert_eq!(response.status().as_u16(), code);
                }
            }
        }
    })
    .await;
    let settled = eventually(Duration::from_secs(10), || {
        sum(&scrape(&registry), ACTIVE, &[]) == 0.0
    });
    assert!(settled.await, "no request stays in flight");
    let samples = scrape(&registry);
    assert_eq!(sum(&samples, REQUESTS, &[("http_route", "/a/*")]), 30.0);
    assert_eq!(sum(&samples, REQUESTS, &[("http_route", "/b/*")]), 30.0);
    let unmatched = [("http_route", UNMATCHED_ROUTE)];
    assert_eq!(sum(&samples, REQUESTS, &unmatched), 30.0 + 2.0 * 12.0);
    let not_found = [
        ("http_route", UNMATCHED_ROUTE),
        ("http_response_status_code", "404"),
    ];
    assert_eq!(sum(&samples, REQUESTS, &not_found), 30.0);
    for code in CODES {
        let code = code.to_string();
        let labels = [
            ("http_route", UNMATCHED_ROUTE),
            ("http_response_status_code", &code),
        ];
        assert_eq!(sum(&samples, REQUESTS, &labels), 2.0, "status {code}");
        assert_eq!(sum(&samples, DURATION_COUNT, &labels), 2.0, "status {code}");
    }
    assert_eq!(
        sum(&samples, REQUESTS, &[]),
        sum(&samples, DURATION_COUNT, &[])
    );
}
