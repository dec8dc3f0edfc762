//! The metrics and health endpoints on a real server.

// The helpers fail the test by panicking (they are not `#[test]` fns: rust-clippy#13981).
#![allow(clippy::expect_used, clippy::panic)]

mod common;

use std::io::Read;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use common::{Server, bounded, client, parse, sum};
use fiko_metrics::encoding::prost::Message;
use fiko_metrics::encoding::proto::MetricFamily;
use fiko_metrics::{Counter, Format, MetricSet, Registry};
use fiko_metrics_axum::{
    HttpMetricsLayer, HttpServerMetrics, MetricsEndpoints, Network, WebSocketMetrics,
};

/// A registry holding only a fixed counter, so two scrapes are byte-identical.
fn fixed_registry() -> Arc<Registry> {
    #[derive(MetricSet)]
    #[metric_set(namespace = "demo")]
    struct Demo {
        /// Things done, for the endpoint tests.
        things: Counter,
    }
    let registry = Arc::new(Registry::new());
    Demo::register(&registry)
        .expect("register")
        .things
        .inc_by(42);
    registry
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_output_passes_promtool_check_metrics() {
    let registry = Arc::new(Registry::new());
    let http_metrics = HttpServerMetrics::register(&registry).expect("http");
    WebSocketMetrics::register(&registry).expect("ws");
    fiko_metrics_process::register(&registry).expect("process");
    let app = Router::new()
        .route("/users/{id}", get(|| async { "user" }))
        .route(
            "/fail",
            get(|| async { axum::http::StatusCode::BAD_GATEWAY }),
        )
        .merge(MetricsEndpoints::new(registry.clone()).into_router())
        .layer(HttpMetricsLayer::new(http_metrics).exclude("/api/v1/metrics"));
    let server = Server::start(app).await;
    let http = client();
    let text = bounded(async {
        for path in [
            "/users/1",
            "/users/2",
            "/fail",
            "/nope",
            "/users/3?x=\"quoted\"",
        ] {
            server.get(&http, path).await.bytes().await.expect("body");
        }
        let response = server.get(&http, "/api/v1/metrics").await;
        assert_eq!(response.status(), 200);
        response.text().await.expect("text")
    })
    .await;
    assert!(
        text.contains("http_server_request_duration_seconds_bucket{"),
        "{text}"
    );
    assert!(text.contains("process_resident_memory_bytes "), "{text}");

    let report = fiko_testkit::promtool::check_metrics(&text).expect("promtool");
    assert!(
        report.success && report.stdout.is_empty() && report.stderr.is_empty(),
        "promtool check metrics:\n{}\n--- scrape ---\n{text}",
        report.text(),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_global_layer_records_what_the_global_endpoints_serve() {
    // `global()` constructors hold the runtime's global set and default registry: the
    // requests the layer records are the ones `HttpServerMetrics::global()` counts and the
    // endpoints serving `default_registry()` expose.
    let app = Router::new()
        .route("/global/{id}", get(|| async { "global" }))
        .merge(MetricsEndpoints::global().into_router())
        .layer(HttpMetricsLayer::global().exclude("/api/v1/metrics"));
    let server = Server::start(app).await;
    let http = client();
    let text = bounded(async {
        for id in 1..=3 {
            let response = http
                .get(server.url(&format!("/global/{id}")))
                .send()
                .await
                .expect("get");
            assert_eq!(response.status(), 200);
            response.bytes().await.expect("body");
        }
        let response = http
            .get(server.url("/api/v1/metrics"))
            .send()
            .await
            .expect("scrape");
        assert_eq!(response.status(), 200);
        response.text().await.expect("text")
    })
    .await;
    let route = [
        ("http_route", "/global/{id}"),
        ("http_request_method", "GET"),
    ];
    assert_eq!(
        sum(&parse(&text), "http_server_requests_total", &route),
        3.0,
        "{text}"
    );
    let labels = fiko_metrics_axum::RequestLabels {
        http_request_method: fiko_metrics_axum::Method::Get,
        http_route: "/global/{id}".into(),
        http_response_status_code: fiko_metrics_axum::StatusCode(Some(http::StatusCode::OK)),
        http_response_status_class: fiko_metrics_axum::StatusClass::Success,
    };
    let recorded = HttpServerMetrics::global()
        .http_server_requests
        .get_or_create(&labels)
        .get();
    assert_eq!(recorded, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_negotiation_and_gzip() {
    let server = Server::start(MetricsEndpoints::new(fixed_registry()).into_router()).await;
    let http = client();
    let url = server.url("/api/v1/metrics");
    bounded(async {
        let plain = http.get(&url).send().await.expect("get");
        assert_eq!(
            plain.headers()["content-type"],
            "text/plain; version=0.0.4; charset=utf-8"
        );
        assert!(plain.headers().get("content-encoding").is_none());
        let plain = plain.text().await.expect("text");
        assert!(plain.contains("demo_things_total 42\n"), "{plain}");
        assert!(!plain.contains("# EOF"));

        let open = http
            .get(&url)
            .header(
                "accept",
                "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5",
            )
            .send()
            .await
            .expect("get");
        assert_eq!(
            open.headers()["content-type"],
            "application/openmetrics-text; version=1.0.0; charset=utf-8"
        );
        let open = open.text().await.expect("text");
        assert!(open.ends_with("# EOF\n"), "{open}");
        assert!(open.contains("demo_things_total 42"), "{open}");

        // What Prometheus sends with native histograms enabled: protobuf.
        let proto = http
            .get(&url)
            .header(
                "accept",
                "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7,text/plain;version=0.0.4;q=0.3,*/*;q=0.1",
            )
            .send()
            .await
            .expect("get");
        assert_eq!(
            proto.headers()["content-type"],
            "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"
        );
        let bytes = proto.bytes().await.expect("bytes");
        let mut rest = &bytes[..];
        let mut things = None;
        while !rest.is_empty() {
            let family = MetricFamily::decode_length_delimited(&mut rest).expect("delimited");
            if family.name() == "demo_things_total" {
                things = family.metric[0].counter.as_ref().map(|counter| counter.value());
            }
        }
        assert_eq!(things, Some(42.0));

        let zipped = http
            .get(&url)
            .header("accept-encoding", "gzip, br")
            .send()
            .await
            .expect("get");
        assert_eq!(zipped.headers()["content-encoding"], "gzip");
        let bytes = zipped.bytes().await.expect("bytes");
        assert_eq!(&bytes[..2], &[0x1f, 0x8b], "gzip magic");
        let mut unzipped = String::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_string(&mut unzipped)
            .expect("gunzip");
        assert_eq!(unzipped, plain);

        let refused = http
            .get(&url)
            .header("accept-encoding", "gzip;q=0")
            .send()
            .await
            .expect("get");
        assert!(refused.headers().get("content-encoding").is_none());
        assert_eq!(refused.text().await.expect("text"), plain);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configured_paths_are_served() {
    let router = MetricsEndpoints::new(fixed_registry())
        .metrics_path("/metrics")
        .health_path("/healthz")
        .into_router();
    let server = Server::start(router).await;
    let http = client();
    bounded(async {
        assert_eq!(server.get(&http, "/metrics").await.status(), 200);
        assert_eq!(server.get(&http, "/healthz").await.status(), 200);
        assert_eq!(server.get(&http, "/api/v1/metrics").await.status(), 404);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_is_200_when_checks_pass_and_503_when_one_fails() {
    // A real dependency for the checks: a TCP listener that is up, and a port that is not.
    let up = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let up_addr = up.local_addr().expect("addr");
    let down_addr: SocketAddr = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr")
    }; // closed again: connecting is refused
    let tcp_check = |addr: SocketAddr| {
        move || async move { tokio::net::TcpStream::connect(addr).await.map(drop) }
    };

    let healthy = MetricsEndpoints::new(fixed_registry())
        .version("1.2.3")
        .health_check("database", Duration::from_secs(2), tcp_check(up_addr))
        .into_router();
    let unhealthy = MetricsEndpoints::new(fixed_registry())
        .version("1.2.3")
        .health_check("database", Duration::from_secs(2), tcp_check(up_addr))
        .health_check("redis", Duration::from_secs(2), tcp_check(down_addr))
        .health_check("slow", Duration::from_millis(200), || async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            Ok::<(), std::io::Error>(())
        })
        .into_router();
    let healthy = Server::start(healthy).await;
    let unhealthy = Server::start(unhealthy).await;
    let http = client();
    bounded(async {
        let response = healthy.get(&http, "/api/v1/metrics/health").await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "application/json");
        let body: serde_json::Value = response.json_value().await;
        assert_eq!(body["status"], "healthy");
        assert_eq!(body["version"], "1.2.3");
        assert!(
            body["uptime_seconds"].as_f64().is_some_and(|s| s >= 0.0),
            "{body}"
        );
        assert_eq!(body["checks"]["database"]["status"], "healthy");

        let start = Instant::now();
        let response = unhealthy.get(&http, "/api/v1/metrics/health").await;
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "the slow check is cut at its timeout"
        );
        assert_eq!(response.status(), 503);
        let body: serde_json::Value = response.json_value().await;
        assert_eq!(body["status"], "unhealthy");
        assert_eq!(body["checks"]["database"]["status"], "healthy");
        assert_eq!(body["checks"]["redis"]["status"], "unhealthy");
        assert!(
            body["checks"]["redis"]["error"]
                .as_str()
                .is_some_and(|e| e.contains("refused")),
            "{body}"
        );
        assert_eq!(body["checks"]["slow"]["status"], "unhealthy");
        assert!(
            body["checks"]["slow"]["error"]
                .as_str()
                .is_some_and(|e| e.contains("timed out")),
            "{body}"
        );
    })
    .await;
    drop(up);
}

trait JsonValue {
    async fn json_value(self) -> serde_json::Value;
}

impl JsonValue for reqwest::Response {
    async fn json_value(self) -> serde_json::Value {
        let text = self.text().await.expect("body");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_token_and_allow_list() {
    let token = "t0k3n-with-enough-entropy";
    // `with_token` serves a clone of this configuration: the clone keeps the token.
    let protected = MetricsEndpoints::new(fixed_registry()).bearer_token(token);
    let with_token = Server::start(protected.clone().into_router()).await;
    let elsewhere: Network = "10.0.0.0/8".parse().expect("network");
    let other_network = Server::start(
        MetricsEndpoints::new(fixed_registry())
            .allow(elsewhere)
            .into_router(),
    )
    .await;
    let loopback = Server::start(protected.allow_loopback().into_router()).await;
    let no_peer_address = Server::start_without_connect_info(
        MetricsEndpoints::new(fixed_registry())
            .allow_loopback()
            .into_router(),
    )
    .await;
    let http = client();
    bounded(async {
        for path in ["/api/v1/metrics", "/api/v1/metrics/health"] {
            let none = with_token.get(&http, path).await;
            assert_eq!(none.status(), 401, "{path}");
            assert_eq!(none.headers()["www-authenticate"], "Bearer");
            let body = none.text().await.expect("body");
            assert!(!body.contains(token));
            let wrong = http
                .get(with_token.url(path))
                .bearer_auth("t0k3n-with-enough-entropX")
                .send()
                .await
                .expect("get");
            assert_eq!(wrong.status(), 401, "{path}");
            let short = http
                .get(with_token.url(path))
                .bearer_auth("t0k3n")
                .send()
                .await
                .expect("get");
            assert_eq!(short.status(), 401, "{path}");
            let basic = http
                .get(with_token.url(path))
                .basic_auth("user", Some(token))
                .send()
                .await
                .expect("get");
            assert_eq!(basic.status(), 401, "{path}");
            let right = http
                .get(with_token.url(path))
                .bearer_auth(token)
                .send()
                .await
                .expect("get");
            assert_eq!(right.status(), 200, "{path}");

            let outside = other_network.get(&http, path).await;
            assert_eq!(
                outside.status(),
                403,
                "{path}: 127.0.0.1 is not in 10.0.0.0/8"
            );

            let inside_no_token = loopback.get(&http, path).await;
            assert_eq!(inside_no_token.status(), 401, "{path}");
            let inside = http
                .get(loopback.url(path))
                .bearer_auth(token)
                .send()
                .await
                .expect("get");
            assert_eq!(inside.status(), 200, "{path}");

            let unknown_peer = no_peer_address.get(&http, path).await;
            assert_eq!(
                unknown_peer.status(),
                403,
                "{path}: an allow-list fails closed"
            );
        }
    })
    .await;
    // The token is not in the endpoints' debug output either.
    let debug = format!(
        "{:?}",
        MetricsEndpoints::new(fixed_registry()).bearer_token(token)
    );
    assert!(
        !debug.contains(token) && debug.contains("redacted"),
        "{debug}"
    );
}

/// `fiko_metrics_scrape_refusals_total{endpoint, reason}` in a scrape's samples.
fn refusals(samples: &[common::Sample], endpoint: &str, reason: &str) -> f64 {
    common::sum(
        samples,
        "fiko_metrics_scrape_refusals_total",
        &[("endpoint", endpoint), ("reason", reason)],
    )
}

/// Regression: 401 and 403 answers were recorded nowhere, so someone guessing the token
/// was invisible. Every refusal is counted by endpoint and reason, read back through the
/// protected endpoint itself; the endpoints' paths stay excluded from the HTTP metrics
/// (successful scrapes are not application traffic), refused requests included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_counted_by_endpoint_and_reason() {
    let token = "t0k3n-with-enough-entropy";
    let registry = fixed_registry();
    let http_metrics = HttpServerMetrics::register(&registry).expect("http");
    let protected = Server::start(
        Router::new()
            .route("/work", get(|| async { "done" }))
            .merge(
                MetricsEndpoints::new(registry.clone())
                    .bearer_token(token)
                    .into_router(),
            )
            .layer(HttpMetricsLayer::new(http_metrics).exclude("/api/v1/metrics")),
    )
    .await;
    let elsewhere_registry = fixed_registry();
    let elsewhere = Server::start(
        MetricsEndpoints::new(elsewhere_registry.clone())
            .allow("10.0.0.0/8".parse().expect("network"))
            .into_router(),
    )
    .await;
    let unknown_registry = fixed_registry();
    let no_peer_address = Server::start_without_connect_info(
        MetricsEndpoints::new(unknown_registry.clone())
            .allow_loopback()
            .into_router(),
    )
    .await;
    let http = client();
    let metrics = "/api/v1/metrics";
    let health = "/api/v1/metrics/health";
    let samples = bounded(async {
        let get = |server: &Server, path: &str, auth: Option<&str>| {
            let mut request = http.get(server.url(path));
            if let Some(value) = auth {
                request = request.header("authorization", value);
            }
            async move {
                let response = request.send().await.expect("get");
                let status = response.status().as_u16();
                response.bytes().await.expect("body");
                status
            }
        };
        let wrong = format!("Bearer {token}X");
        let basic = "Basic dXNlcjp0MGszbi13aXRoLWVub3VnaC1lbnRyb3B5";
        for _ in 0..3 {
            assert_eq!(get(&protected, metrics, None).await, 401);
        }
        assert_eq!(get(&protected, metrics, Some(basic)).await, 401);
        assert_eq!(get(&protected, metrics, Some("Bearer ")).await, 401);
        for _ in 0..7 {
            assert_eq!(get(&protected, metrics, Some(&wrong)).await, 401);
        }
        assert_eq!(get(&protected, health, None).await, 401);
        for _ in 0..2 {
            assert_eq!(get(&protected, health, Some(&wrong)).await, 401);
        }
        let right = format!("Bearer {token}");
        assert_eq!(get(&protected, health, Some(&right)).await, 200);
        assert_eq!(get(&protected, "/work", None).await, 200);
        for _ in 0..4 {
            assert_eq!(get(&elsewhere, metrics, None).await, 403);
        }
        assert_eq!(get(&elsewhere, health, None).await, 403);
        for _ in 0..2 {
            assert_eq!(get(&no_peer_address, metrics, None).await, 403);
        }
        // Read the counts the way Prometheus would: a scrape with the token.
        let text = http
            .get(protected.url(metrics))
            .bearer_auth(token)
            .send()
            .await
            .expect("scrape")
            .text()
            .await
            .expect("body");
        common::parse(&text)
    })
    .await;
    assert_eq!(refusals(&samples, "metrics", "missing_token"), 5.0);
    assert_eq!(refusals(&samples, "metrics", "wrong_token"), 7.0);
    assert_eq!(refusals(&samples, "health", "missing_token"), 1.0);
    assert_eq!(refusals(&samples, "health", "wrong_token"), 2.0);
    assert_eq!(
        common::sum(&samples, "fiko_metrics_scrape_refusals_total", &[]),
        15.0,
        "the accepted requests are not refusals"
    );
    // The endpoints' own paths are not in the HTTP metrics; the application's are.
    let http_routes: Vec<&str> = common::find(&samples, "http_server_requests_total", &[])
        .iter()
        .filter_map(|sample| sample.label("http_route"))
        .collect();
    assert_eq!(http_routes, ["/work"]);

    let elsewhere = common::parse(&elsewhere_registry.encode(Format::Prometheus));
    assert_eq!(refusals(&elsewhere, "metrics", "address_not_allowed"), 4.0);
    assert_eq!(refusals(&elsewhere, "health", "address_not_allowed"), 1.0);
    assert_eq!(
        common::sum(&elsewhere, "fiko_metrics_scrape_refusals_total", &[]),
        5.0
    );
    let unknown = common::parse(&unknown_registry.encode(Format::Prometheus));
    assert_eq!(refusals(&unknown, "metrics", "address_unknown"), 2.0);
    assert_eq!(
        common::sum(&unknown, "fiko_metrics_scrape_refusals_total", &[]),
        2.0
    );
}

#[test]
fn slow_scrapes_do_not_block_the_async_runtime() {
    // A collector that takes 500 ms at every scrape (a slow OS read, a huge registry). On a
    // single-threaded runtime, another request is still answered meanwhile, because
    // refreshing and encoding run on the blocking pool.
    #[derive(MetricSet)]
    #[metric_set(namespace = "slow")]
    struct Slow {
        /// Scrapes seen.
        scrapes: Counter,
    }
    let registry = Arc::new(Registry::new());
    registry
        .register_collector(Arc::new(fiko_metrics::Refreshing::new(
            Arc::new(Slow::new()),
            |slow: &Slow| {
                std::thread::sleep(Duration::from_millis(500));
                slow.scrapes.inc();
            },
        )))
        .expect("register");
    // The server runs on a single-threaded runtime of its own thread; the clients run here.
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server_thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let app = MetricsEndpoints::new(registry)
                .into_router()
                .route("/ping", get(|| async { "pong" }));
            let server = Server::start(app).await;
            addr_tx.send(server.url("")).expect("send address");
            let _ = tokio::time::timeout(Duration::from_secs(60), stop_rx).await;
        });
    });
    let base = addr_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("server address");
    let clients = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    clients.block_on(bounded(async {
        let http = client();
        let scrape = tokio::spawn({
            let http = http.clone();
            let url = format!("{base}/api/v1/metrics");
            async move {
                let start = Instant::now();
                let text = http
                    .get(url)
                    .send()
                    .await
                    .expect("scrape")
                    .text()
                    .await
                    .expect("text");
                (start.elapsed(), text)
            }
        });
        // Give the scrape a head start, then ping while it is being collected.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let start = Instant::now();
        let pong = http
            .get(format!("{base}/ping"))
            .send()
            .await
            .expect("ping")
            .text()
            .await
            .expect("text");
        let ping_time = start.elapsed();
        assert_eq!(pong, "pong");
        let (scrape_time, text) = scrape.await.expect("scrape task");
        assert!(text.contains("slow_scrapes_total 1\n"), "{text}");
        eprintln!("scrape: {scrape_time:?}; ping during it: {ping_time:?}");
        assert!(scrape_time >= Duration::from_millis(500));
        assert!(
            ping_time < Duration::from_millis(250),
            "the ping ({ping_time:?}) waited for the scrape ({scrape_time:?})"
        );
    }));
    let _ = stop_tx.send(());
    server_thread.join().expect("server thread");
}
