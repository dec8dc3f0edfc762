//! axum integration of fiko-metrics: an HTTP metrics layer, the metrics and health
//! endpoints, and WebSocket instrumentation.
//!
//! ```
//! use std::sync::Arc;
//! use axum::{Router, routing::get};
//! use fiko_metrics::{MetricSet, Registry};
//! use fiko_metrics_axum::{HttpMetricsLayer, HttpServerMetrics, MetricsEndpoints};
//!
//! let registry = Arc::new(Registry::new());
//! let http = HttpServerMetrics::register(&registry)?;
//! fiko_metrics_process::register(&registry)?;
//!
//! let app: Router = Router::new()
//!     .route("/users/{id}", get(|| async { "a user" }))
//!     .merge(MetricsEndpoints::new(registry.clone()).into_router())
//!     .layer(HttpMetricsLayer::new(http).exclude("/api/v1/metrics"));
//! # Ok::<(), fiko_metrics::RegistryError>(())
//! ```
//!
//! With the default registry it is shorter still: [`HttpMetricsLayer::global`] and
//! [`MetricsEndpoints::global`] (see the README example).
//!
//! # Metrics
//!
//! Named after the OpenTelemetry HTTP semantic conventions in their Prometheus form.
//! [`HttpServerMetrics`], recorded by [`HttpMetricsLayer`]:
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `http_server_requests_total` | counter | method, route, status code, status class |
//! | `http_server_request_duration_seconds` | histogram | method, route, status code, status class |
//! | `http_server_request_body_size_bytes` | histogram | method, route |
//! | `http_server_response_body_size_bytes` | histogram | method, route, status code, status class |
//! | `http_server_active_requests` | gauge | method, route |
//! | `http_server_request_errors_total` | counter | method, route, `error_type` |
//!
//! Labels: `http_request_method` (`GET` … `PATCH`, `_OTHER` for anything else, and for
//! every 405 answer — see below),
//! `http_route` (the route template from axum's
//! [`MatchedPath`](axum::extract::MatchedPath), e.g. `/users/{id}`; nested routers give the
//! full template; requests no route matched — 404s, fallbacks — share the one value
//! [`UNMATCHED_ROUTE`], as do services mounted with `nest_service`, which axum 0.8 gives
//! no `MatchedPath` — name them with [`HttpMetricsLayer::group`]),
//! `http_response_status_code` (`200`; empty when no response was
//! produced), `http_response_status_class` (`1xx` … `5xx`, `none`) and `error_type`
//! (`server_error` for 5xx, `panic`, `cancelled`, `body_error`, `service_error`).
//!
//! The duration, the response size and the in-flight count end when the **response body
//! finishes**: a drop guard moves from the [`ResponseFuture`] into the [`ResponseBody`],
//! so a streamed response is timed to its last byte, and a client that disconnects, a
//! panicking handler (with or without tower-http's `CatchPanicLayer`, on either side) or
//! a dropped future still end the request exactly once. Body sizes count the bytes that
//! really flow, not `Content-Length`. A response HTTP sends without a body (the answer to
//! `HEAD`, 1xx, 204, 304, a successful `CONNECT`) or whose body is known to be empty ends
//! as a success under its status when the server drops it unpolled: only a body the
//! client abandoned mid-way counts as `cancelled`.
//!
//! **Methods a path does not route** share `_OTHER`: a 405 answer is recorded under
//! `http_request_method="_OTHER"`, and once the service wrapping a path's method fallback
//! has answered 405 (and nothing else) its requests also start under `_OTHER`. Sending
//! every method to every route therefore adds at most **one series per route** to each of
//! `http_server_requests_total`, `http_server_request_duration_seconds` and
//! `http_server_response_body_size_bytes` (the `_OTHER`/405 one), and at most two per
//! route to `http_server_active_requests` and `http_server_request_body_size_bytes` (the
//! first unrouted method's, before the fallback has answered once, and `_OTHER`),
//! instead of a series set per method and route.
//!
//! **The endpoints' own paths**: the examples exclude `/api/v1/metrics` (and so the
//! health endpoint under it) from the HTTP metrics, on purpose: a scrape every 15 s is
//! not application traffic and would skew its rates and latencies. Refused requests to
//! them are counted all the same, by [`MetricsEndpoints`] itself.
//!
//! [`WebSocketMetrics`], recorded by [`InstrumentedWebSocket`]:
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `websocket_active_connections` | gauge | |
//! | `websocket_connections_total` | counter | |
//! | `websocket_messages_total` | counter | `direction` (`received`/`sent`), `kind` (`text`, `binary`, `ping`, `pong`, `close`) |
//! | `websocket_message_bytes_total` | counter | `direction`, `kind` |
//! | `websocket_connection_duration_seconds` | histogram | |
//! | `websocket_closes_total` | counter | `direction`, `websocket_close_code` (a closed set, [`CloseCode`]: the standard codes, `3xxx`, `4xxx`, `invalid`; 1006 when the peer vanished) |
//!
//! [`EndpointMetrics`], recorded by [`MetricsEndpoints`] into the registry it serves:
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `fiko_metrics_scrape_refusals_total` | counter | `endpoint` (`metrics`, `health`), `reason` (`missing_token`, `wrong_token`, `address_not_allowed`, `address_unknown`) |
//!
//! Its series exist from the start at 0, so the first refusals show in `increase()`.
//!
//! Process metrics (`process_cpu_seconds_total`, `process_resident_memory_bytes`, …) live
//! in the `fiko-metrics-process` crate.
//!
//! # Dashboards and alerts
//!
//! [`HttpServerMetrics`], [`WebSocketMetrics`] and [`EndpointMetrics`] implement
//! `fiko_dashboards::Observe`: an "HTTP" row (request rate, rate by route, responses by
//! status class stacked, latency p50/p95/p99, in-flight by route, errors by type, response
//! size p95), a "WebSockets" row, a "Metrics endpoint" row (refused requests by endpoint
//! and reason), and the alerts HighErrorRate (5xx above 5 % of requests, critical),
//! HighResponseTime (p95 above 2 s, warning), HighRequestRate (above 1000 requests/s,
//! warning) and RefusedScrapes (more than 10 refused requests to the metrics or health
//! endpoint in 5 minutes, for 1 minute, warning).
//!
//! # Options
//!
//! - [`HttpMetricsLayer::exclude`]: paths not measured (e.g. the metrics endpoint).
//! - [`HttpMetricsLayer::group`]: paths under a prefix share one `http_route` value.
//! - [`HttpMetricsLayer::custom_labels`]: per-request labels of the application's own,
//!   closed-enum types (e.g. the customer's plan), through [`CustomLabels`].
//! - [`MetricsEndpoints`]: paths, version, health checks with timeouts, bearer token,
//!   client-address allow-list.

mod dashboards;
mod endpoints;
mod layer;
mod websocket;

pub use crate::endpoints::{
    DEFAULT_HEALTH_PATH, DEFAULT_METRICS_PATH, EndpointKind, EndpointMetrics, InvalidNetwork,
    MetricsEndpoints, Network, RefusalLabels, RefusalReason,
};
pub use crate::layer::custom::{CustomLabels, FinishedRequest, RequestHead};
pub use crate::layer::metrics::{
    ErrorLabels, ErrorType, HttpServerMetrics, Method, RequestLabels, RouteLabels, StatusClass,
    StatusCode, UNMATCHED_ROUTE,
};
pub use crate::layer::{HttpMetrics, HttpMetricsLayer, ResponseBody, ResponseFuture};
pub use crate::websocket::{
    ABNORMAL_CLOSURE, CloseCode, CloseLabels, Direction, InstrumentedWebSocket, MessageKind,
    MessageLabels, NO_STATUS_RECEIVED, WebSocketMetrics,
};

/// The README's example, compiled as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
