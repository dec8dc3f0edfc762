//! The HTTP metrics middleware: [`HttpMetricsLayer`], [`HttpMetrics`], its
//! [`ResponseFuture`] and [`ResponseBody`].

mod body;
pub(crate) mod custom;
mod future;
mod guard;
pub(crate) mod metrics;
mod routes;
mod service;

use std::fmt;
use std::sync::Arc;

use fiko_metrics::MetricSet;

pub use self::body::ResponseBody;
use self::custom::{CustomLabels, ErasedCustomLabels};
pub use self::future::ResponseFuture;
use self::metrics::HttpServerMetrics;
use self::routes::Routes;
pub use self::service::HttpMetrics;

/// A [`tower::Layer`] that records [`HttpServerMetrics`] for every request.
///
/// Add it with [`Router::layer`](axum::Router::layer) so the route template
/// ([`MatchedPath`](axum::extract::MatchedPath)) is known; requests no route matched are
/// labelled [`UNMATCHED_ROUTE`](crate::UNMATCHED_ROUTE). So are requests to services
/// mounted with `Router::nest_service` (axum 0.8 gives them no `MatchedPath`): name them
/// with [`group`](Self::group).
///
/// When the application installs an exemplar source
/// ([`fiko_metrics::exemplar::set_source`], typically the current trace id), the layer
/// reads it as each request starts and records it as the exemplar of the request's
/// duration and count; without a source it records none and the read costs one load.
///
/// ```
/// use axum::{Router, routing::get};
/// use fiko_metrics_axum::HttpMetricsLayer;
///
/// let app: Router = Router::new()
///     .route("/users/{id}", get(|| async { "user" }))
///     .route("/static/{*path}", get(|| async { "file" }))
///     .layer(
///         HttpMetricsLayer::global()
///             .exclude("/api/v1/metrics")      // not measured at all
///             .group("/static", "/static/*"),  // one series for every static file
///     );
/// ```
#[derive(Clone)]
pub struct HttpMetricsLayer {
    shared: Arc<Shared>,
}

/// What every request of one layer shares.
pub(crate) struct Shared {
    pub(crate) metrics: Arc<HttpServerMetrics>,
    pub(crate) exclude: Vec<String>,
    pub(crate) groups: Vec<(String, Arc<str>)>,
    pub(crate) custom: Option<Arc<dyn ErasedCustomLabels>>,
    pub(crate) routes: Routes,
    /// Times requests: the TSC where it is invariant, calibrated against the monotonic
    /// clock when the layer is made (once per process), else the monotonic clock.
    pub(crate) clock: quanta::Clock,
}

impl HttpMetricsLayer {
    /// A layer recording into `metrics` (from `HttpServerMetrics::register(&registry)`).
    pub fn new(metrics: Arc<HttpServerMetrics>) -> Self {
        Self {
            shared: Arc::new(Shared {
                metrics,
                exclude: Vec::new(),
                groups: Vec::new(),
                custom: None,
                routes: Routes::default(),
                clock: quanta::Clock::new(),
            }),
        }
    }

    /// A layer recording into [`HttpServerMetrics::global`], exposed by the
    /// [`default_registry`](fiko_metrics::default_registry).
    pub fn global() -> Self {
        Self::new(HttpServerMetrics::shared())
    }

    fn edit(mut self, edit: impl FnOnce(&mut Shared)) -> Self {
        let mut shared = match Arc::try_unwrap(self.shared) {
            Ok(shared) => shared,
            Err(shared) => Shared {
                metrics: shared.metrics.clone(),
                exclude: shared.exclude.clone(),
                groups: shared.groups.clone(),
                custom: shared.custom.clone(),
                routes: Routes::default(),
                clock: shared.clock.clone(),
            },
        };
        edit(&mut shared);
        // The routes remembered so far hold the old metric set and hook: start afresh.
        shared.routes = Routes::default();
        self.shared = Arc::new(shared);
        self
    }

    /// Does not measure requests whose path is `prefix` or lies under it (`/health`
    /// matches `/health` and `/health/db`, not `/healthz`).
    pub fn exclude(self, prefix: impl Into<String>) -> Self {
        let prefix = normalize(prefix.into());
        self.edit(|shared| shared.exclude.push(prefix))
    }

    /// Labels every request whose path is `prefix` or lies under it with
    /// `http_route = route`, whatever route matched (the first matching group wins).
    pub fn group(self, prefix: impl Into<String>, route: impl Into<String>) -> Self {
        let prefix = normalize(prefix.into());
        let route: Arc<str> = route.into().into();
        self.edit(|shared| shared.groups.push((prefix, route)))
    }

    /// Also records every request through an application [`CustomLabels`] hook.
    pub fn custom_labels(self, hook: impl CustomLabels) -> Self {
        let hook: Arc<dyn ErasedCustomLabels> = Arc::new(hook);
        self.edit(|shared| shared.custom = Some(hook))
    }
}

impl fmt::Debug for HttpMetricsLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpMetricsLayer")
            .field("exclude", &self.shared.exclude)
            .field("groups", &self.shared.groups)
            .field("custom_labels", &self.shared.custom.is_some())
            .finish()
    }
}

impl<S> tower::Layer<S> for HttpMetricsLayer {
    type Service = HttpMetrics<S>;

    fn layer(&self, inner: S) -> HttpMetrics<S> {
        HttpMetrics::new(inner, self.shared.clone())
    }
}

/// `/a/` and `/a` are the same prefix.
fn normalize(mut prefix: String) -> String {
    while prefix.len() > 1 && prefix.ends_with('/') {
        prefix.pop();
    }
    prefix
}

/// Whether `path` is `prefix` or lies under it, segment-wise.
pub(crate) fn under(path: &str, prefix: &str) -> bool {
    prefix == "/"
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use fiko_metrics::{MetricSet, Registry};

    use super::custom::{CustomLabels, FinishedRequest, RequestHead};
    use super::{HttpMetricsLayer, HttpServerMetrics, under};

    /// Counts the requests it is asked to record.
    struct Recorded(AtomicU64);

    impl CustomLabels for Recorded {
        type Labels = ();

        fn labels(&self, _: &RequestHead<'_>) -> Option<()> {
            Some(())
        }

        fn record(&self, (): (), _: &FinishedRequest<'_>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Serves one request to `/` through `layer`, body included, then drops the router.
    async fn serve_one(layer: HttpMetricsLayer) {
        let mut app = Router::new()
            .route("/", get(|| async { "ok" }))
            .layer(layer);
        let request = http::Request::new(Body::empty());
        let response = tower::Service::call(&mut app, request)
            .await
            .unwrap_or_else(|never| match never {});
        axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
    }

    /// Routes remembered while serving do not keep a layer's old settings: once its
    /// routers are gone the layer is edited in place, and the new hook must still be used.
    #[tokio::test]
    async fn a_layer_given_a_hook_after_serving_records_through_it() {
        let registry = Registry::new();
        let layer =
            HttpMetricsLayer::new(HttpServerMetrics::register(&registry).expect("register"));
        serve_one(layer.clone()).await;
        let recorded = Arc::new(Recorded(AtomicU64::new(0)));
        serve_one(layer.custom_labels(recorded.clone())).await;
        assert_eq!(recorded.0.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn prefixes_match_whole_segments() {
        assert!(under("/health", "/health"));
        assert!(under("/health/db", "/health"));
        assert!(!under("/healthz", "/health"));
        assert!(under("/anything", "/"));
        assert!(!under("/", "/health"));
    }
}
