//! The metrics endpoint never exposes request data: paths appear only as route templates,
//! and query strings, header values, cookies and bodies appear nowhere in the exposition.

mod common;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use common::{Server, bounded, client};
use fiko_metrics::{MetricSet, Registry};
use fiko_metrics_axum::{HttpMetricsLayer, HttpServerMetrics, MetricsEndpoints};

const SECRETS: [&str; 6] = [
    "s3cr3t-path-id",
    "s3cr3t-query-token",
    "s3cr3t-bearer",
    "s3cr3t-cookie",
    "s3cr3t-header",
    "s3cr3t-body",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_in_requests_never_reach_the_exposition() {
    let registry = Arc::new(Registry::new());
    let http_metrics = HttpServerMetrics::register(&registry).expect("http");
    let app = Router::new()
        .route("/users/{id}", get(|| async { "user" }))
        .route(
            "/login",
            post(|body: String| async move { body.len().to_string() }),
        )
        .merge(MetricsEndpoints::new(registry.clone()).into_router())
        .layer(HttpMetricsLayer::new(http_metrics));
    let server = Server::start(app).await;
    let http = client();
    let text = bounded(async {
        for path in [
            "/users/s3cr3t-path-id?token=s3cr3t-query-token",
            "/no-such-route/s3cr3t-path-id?token=s3cr3t-query-token",
            "/users/42?s3cr3t-query-token",
        ] {
            let response = http
                .get(server.url(path))
                .header("authorization", "Bearer s3cr3t-bearer")
                .header("cookie", "session=s3cr3t-cookie")
                .header("x-api-key", "s3cr3t-header")
                .send()
                .await
                .expect("get");
            response.bytes().await.expect("body");
        }
        http.post(server.url("/login?token=s3cr3t-query-token"))
            .header("x-api-key", "s3cr3t-header")
            .body("password=s3cr3t-body")
            .send()
            .await
            .expect("post")
            .bytes()
            .await
            .expect("body");
        let mut texts = Vec::new();
        for accept in ["text/plain", "application/openmetrics-text"] {
            let response = http
                .get(server.url("/api/v1/metrics"))
                .header("accept", accept)
                .send()
                .await
                .expect("scrape");
            assert_eq!(response.status(), 200);
            texts.push(response.text().await.expect("text"));
        }
        texts.join("\n")
    })
    .await;

    // The requests were recorded, under their templates only.
    assert!(text.contains(r#"http_route="/users/{id}""#), "{text}");
    assert!(text.contains(r#"http_route="/login""#), "{text}");
    for secret in SECRETS {
        assert!(
            !text.contains(secret),
            "`{secret}` leaked into the exposition:\n{text}"
        );
    }
    assert!(
        !text.contains("no-such-route"),
        "a raw unmatched path leaked:\n{text}"
    );
}
