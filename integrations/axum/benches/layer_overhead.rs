//! What the HTTP metrics layer costs per request: an axum `Router` called in-process
//! (no network), with and without the layer, the response body read to its end.
//!
//! `cargo bench -p fiko-metrics-axum --bench layer_overhead`

// A benchmark's setup and checks stop the run when they fail.
#![allow(clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use fiko_metrics::{MetricSet, Registry};
use fiko_metrics_axum::{HttpMetricsLayer, HttpServerMetrics};
use http_body_util::BodyExt;
use tower::{Service, ServiceExt};

const REQUESTS: u32 = 200_000;

async fn run(mut router: Router) -> Duration {
    let start = Instant::now();
    for i in 0..REQUESTS {
        let request = http::Request::get(format!("/users/{}", i % 100))
            .body(Body::empty())
            .expect("request");
        let service = ServiceExt::<http::Request<Body>>::ready(&mut router)
            .await
            .expect("ready");
        let response = service.call(request).await.expect("infallible");
        let body = response.into_body().collect().await.expect("body");
        std::hint::black_box(body);
    }
    start.elapsed()
}

fn app() -> Router {
    Router::new().route("/users/{id}", get(|| async { "a user" }))
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let registry = Arc::new(Registry::new());
        let metrics = HttpServerMetrics::register(&registry).expect("register");
        // Warm up both, then measure each three times and keep the best.
        run(app()).await;
        run(app().layer(HttpMetricsLayer::new(metrics.clone()))).await;
        let mut plain = Duration::MAX;
        let mut layered = Duration::MAX;
        for _ in 0..3 {
            plain = plain.min(run(app()).await);
            layered = layered.min(run(app().layer(HttpMetricsLayer::new(metrics.clone()))).await);
        }
        let per = |d: Duration| d.as_nanos() as f64 / f64::from(REQUESTS);
        println!("router alone:      {:>7.0} ns/request", per(plain));
        println!("router with layer: {:>7.0} ns/request", per(layered));
        println!(
            "layer overhead:    {:>7.0} ns/request",
            per(layered) - per(plain)
        );
        let scrape = Instant::now();
        let text = registry.encode(fiko_metrics::Format::Prometheus);
        println!(
            "scrape of the layer's metrics: {:?} ({} bytes)",
            scrape.elapsed(),
            text.len()
        );
    });
}
