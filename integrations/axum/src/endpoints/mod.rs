//! The metrics and health endpoints: [`MetricsEndpoints`].

mod access;
mod health;
mod refusals;

use std::fmt;
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use fiko_metrics::Registry;
use http::{HeaderValue, StatusCode, header};

use self::access::{Access, Refusal};
pub use self::access::{InvalidNetwork, Network};
use self::health::HealthCheck;
pub use self::refusals::{EndpointKind, EndpointMetrics, RefusalLabels, RefusalReason};

/// The default path of the metrics endpoint.
pub const DEFAULT_METRICS_PATH: &str = "/api/v1/metrics";
/// The default path of the health endpoint.
pub const DEFAULT_HEALTH_PATH: &str = "/api/v1/metrics/health";

/// A router serving a registry's metrics and the application's health.
///
/// - `GET /api/v1/metrics`: the Prometheus text format, OpenMetrics when the `Accept`
///   header asks for `application/openmetrics-text`, protobuf (the only format with
///   native histogram buckets) when it asks for
///   [`PROTOBUF_CONTENT_TYPE`](fiko_metrics::encoding::PROTOBUF_CONTENT_TYPE) first, as
///   Prometheus does with `--enable-feature=native-histograms`; gzip-compressed when
///   `Accept-Encoding` allows it. Encoding runs on tokio's blocking pool, so a big registry
///   never stalls the async workers.
/// - `GET /api/v1/metrics/health`: JSON with `status`, `version`, `uptime_seconds` and the
///   result of every registered check (run concurrently, each with its timeout); 200 when
///   every check passes, 503 otherwise.
///
/// Both can be protected by a bearer token (401 without it) and a client-address
/// allow-list (403 outside it). The allow-list needs the peer address: serve the app with
/// `into_make_service_with_connect_info::<SocketAddr>()`; without it every client is
/// refused. Every refusal is counted, by endpoint and reason, in
/// `fiko_metrics_scrape_refusals_total` ([`EndpointMetrics`]), which
/// [`into_router`](Self::into_router) registers in the registry served.
///
/// ```
/// use std::time::Duration;
/// use axum::Router;
/// use fiko_metrics_axum::{MetricsEndpoints, Network};
///
/// let app: Router = Router::new().merge(
///     MetricsEndpoints::global()
///         .version(env!("CARGO_PKG_VERSION"))
///         .health_check("database", Duration::from_secs(2), || async {
///             Ok::<(), std::io::Error>(()) // e.g. `SELECT 1`
///         })
///         .bearer_token("s3cret")
///         .allow(Network::LOOPBACK_V4)
///         .into_router(),
/// );
/// ```
///
/// A clone keeps every setting, e.g. to serve the same endpoints on a second listener.
#[derive(Clone)]
pub struct MetricsEndpoints {
    registry: Arc<Registry>,
    metrics_path: String,
    health_path: String,
    version: String,
    checks: Vec<HealthCheck>,
    access: Access,
}

impl fmt::Debug for MetricsEndpoints {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetricsEndpoints")
            .field("metrics_path", &self.metrics_path)
            .field("health_path", &self.health_path)
            .field("version", &self.version)
            .field(
                "checks",
                &self
                    .checks
                    .iter()
                    .map(|check| &check.name)
                    .collect::<Vec<_>>(),
            )
            .field("access", &self.access)
            .finish()
    }
}

impl MetricsEndpoints {
    /// Endpoints serving `registry`.
    pub fn new(registry: Arc<Registry>) -> Self {
        Self {
            registry,
            metrics_path: DEFAULT_METRICS_PATH.to_owned(),
            health_path: DEFAULT_HEALTH_PATH.to_owned(),
            version: "unknown".to_owned(),
            checks: Vec::new(),
            access: Access::default(),
        }
    }

    /// Endpoints serving [`fiko_metrics::default_registry`], where `MetricSet::global()`
    /// sets live.
    pub fn global() -> Self {
        Self::new(fiko_metrics::default_registry().clone())
    }

    /// Serves the metrics at `path` instead of [`DEFAULT_METRICS_PATH`].
    pub fn metrics_path(mut self, path: impl Into<String>) -> Self {
        self.metrics_path = path.into();
        self
    }

    /// Serves the health at `path` instead of [`DEFAULT_HEALTH_PATH`].
    pub fn health_path(mut self, path: impl Into<String>) -> Self {
        self.health_path = path.into();
        self
    }

    /// The version the health endpoint reports (e.g. `env!("CARGO_PKG_VERSION")`).
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.version = version.into();
        self
    }

    /// Adds a named health check, run at every health request: healthy when it returns
    /// `Ok` within `timeout`; an `Err` (its text is reported), a timeout or a panic make the
    /// endpoint answer 503.
    pub fn health_check<F, Fut, E>(
        mut self,
        name: impl Into<String>,
        timeout: Duration,
        check: F,
    ) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<(), E>> + Send + 'static,
        E: fmt::Display + 'static,
    {
        self.checks
            .push(HealthCheck::new(name.into(), timeout, check));
        self
    }

    /// Requires `Authorization: Bearer <token>` (compared in constant time, never logged).
    pub fn bearer_token(mut self, token: impl Into<String>) -> Self {
        self.access.token = Some(token.into().into_bytes());
        self
    }

    /// Only answers clients in `network` (call again to allow more networks).
    pub fn allow(mut self, network: Network) -> Self {
        self.access.allow.push(network);
        self
    }

    /// Only answers loopback clients (`127.0.0.0/8` and `::1`).
    pub fn allow_loopback(self) -> Self {
        self.allow(Network::LOOPBACK_V4).allow(Network::LOOPBACK_V6)
    }

    /// The router, to merge into the application's. Registers [`EndpointMetrics`] in the
    /// registry served, unless it is there already (e.g. a second router of the same
    /// endpoints).
    pub fn into_router<S: Clone + Send + Sync + 'static>(self) -> Router<S> {
        let started = Instant::now();
        let refusals = self.registry.get_or_register::<EndpointMetrics>();
        let endpoints = Arc::new(Endpoints {
            refusals,
            registry: self.registry,
            version: self.version,
            checks: self.checks,
            access: self.access,
            started,
        });
        let metrics = endpoints.clone();
        Router::new()
            .route(
                &self.metrics_path,
                get(move |request: Request| {
                    let endpoints = metrics.clone();
                    async move { endpoints.metrics(request).await }
                }),
            )
            .route(
                &self.health_path,
                get(move |request: Request| {
                    let endpoints = endpoints.clone();
                    async move { endpoints.health(request).await }
                }),
            )
    }
}

struct Endpoints {
    refusals: Arc<EndpointMetrics>,
    registry: Arc<Registry>,
    version: String,
    checks: Vec<HealthCheck>,
    access: Access,
    started: Instant,
}

impl Endpoints {
    /// Whether the request may proceed; a refusal is counted.
    fn admit(&self, endpoint: EndpointKind, request: &http::request::Parts) -> Result<(), Refusal> {
        self.access.check(request).inspect_err(|refusal| {
            let labels = RefusalLabels {
                endpoint,
                reason: refusal.0,
            };
            self.refusals.scrape_refusals.get_or_create(&labels).inc();
        })
    }

    async fn metrics(&self, request: Request) -> Response {
        let (parts, _) = request.into_parts();
        if let Err(refused) = self.admit(EndpointKind::Metrics, &parts) {
            return refused.into_response();
        }
        let exposition = self
            .registry
            .negotiate(header_str(&parts.headers, header::ACCEPT));
        let gzip = accepts_gzip(header_str(&parts.headers, header::ACCEPT_ENCODING));
        let registry = self.registry.clone();
        // Collectors may read the OS and big registries take a while to encode: keep it
        // off the async workers.
        let encoded = tokio::task::spawn_blocking(move || {
            let body = registry.encode_exposition(exposition);
            if gzip { compress(&body) } else { Ok(body) }
        })
        .await;
        let body = match encoded {
            Ok(Ok(body)) => body,
            Ok(Err(_)) | Err(_) => {
                return (StatusCode::INTERNAL_SERVER_ERROR, "cannot encode metrics\n")
                    .into_response();
            }
        };
        let mut response = Response::new(Body::from(body));
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(exposition.content_type()),
        );
        headers.insert(
            header::VARY,
            HeaderValue::from_static("accept, accept-encoding"),
        );
        if gzip {
            headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        response
    }

    async fn health(&self, request: Request) -> Response {
        let (parts, _) = request.into_parts();
        if let Err(refused) = self.admit(EndpointKind::Health, &parts) {
            return refused.into_response();
        }
        let (healthy, body) =
            health::report(&self.checks, &self.version, self.started.elapsed()).await;
        let status = if healthy {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        let mut response = (status, body.to_string()).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

fn header_str(headers: &http::HeaderMap, name: header::HeaderName) -> &str {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
}

/// Whether an `Accept-Encoding` value allows gzip (`gzip`, `x-gzip` or `*`, not `q=0`).
fn accepts_gzip(accept_encoding: &str) -> bool {
    accept_encoding.split(',').any(|coding| {
        let mut parts = coding.split(';').map(str::trim);
        let name = parts.next().unwrap_or_default();
        let refused = parts.any(|param| {
            param
                .strip_prefix("q=")
                .and_then(|q| q.trim().parse::<f32>().ok())
                .is_some_and(|q| q <= 0.0)
        });
        !refused
            && (name.eq_ignore_ascii_case("gzip")
                || name.eq_ignore_ascii_case("x-gzip")
                || name == "*")
    })
}

fn compress(text: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(text.len() / 4),
        flate2::Compression::fast(),
    );
    encoder.write_all(text)?;
    encoder.finish()
}

#[cfg(test)]
mod tests {
    use super::accepts_gzip;

    #[test]
    fn gzip_negotiation() {
        assert!(accepts_gzip("gzip"));
        assert!(accepts_gzip("deflate, gzip;q=0.5"));
        assert!(accepts_gzip("*"));
        assert!(!accepts_gzip("gzip;q=0"));
        assert!(!accepts_gzip("br, identity"));
        assert!(!accepts_gzip(""));
    }
}
