//! A real Prometheus server scrapes a real axum app through the protected endpoint.

mod common;

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use common::{Server, bounded, client, wait_for};
use fiko_metrics::{MetricSet, Registry};
use fiko_metrics_axum::{HttpMetricsLayer, HttpServerMetrics, MetricsEndpoints};
use fiko_testkit::Prometheus;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_the_protected_endpoint() {
    let token = "scrape-token-4f1c";
    let registry = Arc::new(Registry::new());
    let http = HttpServerMetrics::register(&registry).expect("register");
    fiko_metrics_process::register(&registry).expect("process");
    let app = Router::new()
        .route("/users/{id}", get(|| async { "user" }))
        .merge(
            MetricsEndpoints::new(registry.clone())
                .bearer_token(token)
                .allow_loopback()
                .into_router(),
        )
        .layer(HttpMetricsLayer::new(http).exclude("/api/v1/metrics"));
    let server = Server::start(app).await;
    let client = client();
    bounded(async {
        for id in 1..=3 {
            server.get(&client, &format!("/users/{id}")).await;
        }
    })
    .await;

    // Prometheus asks for OpenMetrics and gzip by default: both paths are exercised.
    let target = server.addr.to_string();
    let job = |name: &str, credentials: &str| {
        [
            format!("- job_name: {name}"),
            "  metrics_path: /api/v1/metrics".to_owned(),
            "  authorization:".to_owned(),
            format!("    credentials: {credentials}"),
            "  static_configs:".to_owned(),
            format!("  - targets: ['{target}']"),
        ]
        .join("\n")
    };
    let config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n{}\n{}\n",
        job("app", token),
        job("intruder", "wrong-token"),
    );
    let prometheus = tokio::task::spawn_blocking(move || Prometheus::start(&config, &[]))
        .await
        .expect("start task")
        .expect("start prometheus");
    let prometheus = Arc::new(prometheus);

    let up = wait_for(&prometheus, r#"up{job="app"}"#, |v| v == [1.0]).await;
    assert_eq!(up, [1.0], "the app is scraped: {}", prometheus.log_tail());
    let requests = wait_for(
        &prometheus,
        r#"sum(http_server_requests_total{job="app",http_route="/users/{id}",http_response_status_class="2xx"})"#,
        |v| v == [3.0],
    )
    .await;
    assert_eq!(requests, [3.0]);
    let rss = wait_for(
        &prometheus,
        r#"process_resident_memory_bytes{job="app"}"#,
        |v| v.len() == 1 && v[0] > 0.0,
    )
    .await;
    assert!(rss.len() == 1 && rss[0] > 0.0, "{rss:?}");
    let p95 = wait_for(
        &prometheus,
        r#"histogram_quantile(0.95, sum by (le) (http_server_request_duration_seconds_bucket{job="app"}))"#,
        |v| v.len() == 1,
    )
    .await;
    assert!(p95.len() == 1 && p95[0] > 0.0 && p95[0] <= 0.005, "{p95:?}");
    // A scraper without the right token is refused.
    let intruder = wait_for(&prometheus, r#"up{job="intruder"}"#, |v| v == [0.0]).await;
    assert_eq!(intruder, [0.0]);
}
