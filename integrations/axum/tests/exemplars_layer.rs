//! The HTTP layer records the installed exemplar source's labels (the request's trace) on
//! each request's duration and count. The "current trace" here is what a tracing layer
//! would give: a thread-local set by an outer service while the inner one is called,
//! read by the source closure. (The source is process-wide: this binary installs it.)

mod common;

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use common::{Server, bounded, client};
use fiko_metrics::exemplar::{self, ExemplarLabels};
use fiko_metrics::{Format, MetricSet, Registry};
use fiko_metrics_axum::{HttpMetricsLayer, HttpServerMetrics};
use http::Request;

thread_local! {
    static CURRENT_TRACE: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Makes the request's `x-trace-id` the current trace while the inner service is called
/// and while its future is polled, as `tower-http`'s trace layer enters the request's
/// span (axum calls a route's service at the first poll).
#[derive(Clone)]
struct CurrentTrace<S>(S);

fn with_trace<T>(trace: &Option<String>, f: impl FnOnce() -> T) -> T {
    CURRENT_TRACE.with(|current| current.borrow_mut().clone_from(trace));
    let out = f();
    CURRENT_TRACE.with(|current| *current.borrow_mut() = None);
    out
}

struct Traced<F> {
    inner: Pin<Box<F>>,
    trace: Option<String>,
}

impl<F: Future> Future for Traced<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = &mut *self;
        with_trace(&this.trace, || this.inner.as_mut().poll(cx))
    }
}

impl<S: tower::Service<Request<Body>>> tower::Service<Request<Body>> for CurrentTrace<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = Traced<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let trace = request
            .headers()
            .get("x-trace-id")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let inner = with_trace(&trace, || self.0.call(request));
        Traced {
            inner: Box::pin(inner),
            trace,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_layer_records_the_current_trace_as_exemplar() {
    exemplar::set_source(|| {
        CURRENT_TRACE.with(|current| {
            let trace = current.borrow();
            ExemplarLabels::new(&[("trace_id", trace.as_deref()?)]).ok()
        })
    })
    .expect("the only source of this binary");
    let registry = Arc::new(Registry::new());
    let metrics = HttpServerMetrics::register(&registry).expect("register");
    let app = Router::new()
        .route("/orders", get(|| async { "ok" }))
        .layer(HttpMetricsLayer::new(metrics))
        .layer(tower::layer::layer_fn(CurrentTrace));
    let server = Server::start(app).await;
    let http = client();
    bounded(async {
        for trace in [
            "4bf92f3577b34da6a3ce929d0e0e4736",
            "0af7651916cd43dd8448eb211c80319c",
        ] {
            let response = http
                .get(server.url("/orders"))
                .header("x-trace-id", trace)
                .send()
                .await
                .expect("get");
            assert!(response.status().is_success());
        }
        // A request outside any trace leaves the latest exemplar as it is.
        let response = server.get(&http, "/orders").await;
        assert!(response.status().is_success());
    })
    .await;

    let text = registry.encode(Format::OpenMetrics);
    let exemplar_lines: Vec<&str> = text.lines().filter(|line| line.contains(" # {")).collect();
    let requests = exemplar_lines
        .iter()
        .find(|line| line.starts_with("http_server_requests_total{"))
        .unwrap_or_else(|| panic!("no request count exemplar in\n{text}"));
    assert!(
        requests.contains(r#" 3 # {trace_id="0af7651916cd43dd8448eb211c80319c"} 1.0 "#),
        "{requests}"
    );
    let durations: Vec<&&str> = exemplar_lines
        .iter()
        .filter(|line| line.starts_with("http_server_request_duration_seconds_bucket{"))
        .collect();
    assert!(!durations.is_empty(), "no duration exemplar in\n{text}");
    assert!(
        durations.iter().all(|line| {
            line.contains(r#"{trace_id="0af7651916cd43dd8448eb211c80319c"}"#)
                || line.contains(r#"{trace_id="4bf92f3577b34da6a3ce929d0e0e4736"}"#)
        }),
        "{durations:?}"
    );
    // The Prometheus text format carries none.
    assert!(!registry.encode(Format::Prometheus).contains(" # {"));
}
