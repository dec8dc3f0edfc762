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
    pub(crate) metrics: MetricsHandle,
    pub(crate) exclude: Vec<String>,
    pub(crate) groups: Vec<(String, Arc<str>)>,
    pub(crate) custom: Option<Arc<dyn ErasedCustomLabels>>,
    pub(crate) routes: Routes,
}

/// The metric set a layer records into: the global one or a registered `Arc`.
#[derive(Clone)]
pub(crate) enum MetricsHandle {
    Global(&'static HttpServerMetrics),
    Shared(Arc<HttpServerMetrics>),
}

impl std::ops::Deref for MetricsHandle {
    type Target = HttpServerMetrics;

    fn deref(&self) -> &HttpServerMetrics {
        match self {
            Self::Global(metrics) => metrics,
            Self::Shared(metrics) => metrics,
        }
    }
}

impl HttpMetricsLayer {
    /// A layer recording into `metrics` (from `HttpServerMetrics::register(&registry)`).
    pub fn new(metrics: Arc<HttpServerMetrics>) -> Self {
        Self::with_handle(MetricsHandle::Shared(metrics))
    }

    /// A layer recording into [`HttpServerMetrics::global`], exposed by the
    /// [`default_registry`](fiko_metrics::default_registry).
    pub fn global() -> Self {
        Self::with_handle(MetricsHandle::Global(HttpServerMetrics::global()))
    }

    fn with_handle(metrics: MetricsHandle) -> Self {
        Self {
            shared: Arc::new(Shared {
                metrics,
                exclude: Vec::new(),
                groups: Vec::new(),
                custom: None,
                routes: Routes::default(),
            }),
        }
    }

    fn edit(mut self, edit: impl FnOnce(&mut Shared)) -> Self {
        let shared = match Arc::try_unwrap(self.shared) {
            Ok(shared) => shared,
            Err(shared) => Shared {
                metrics: shared.metrics.clone(),
                exclude: shared.exclude.clone(),
                groups: shared.groups.clone(),
                custom: shared.custom.clone(),
                routes: Routes::default(),
            },
        };
        let mut shared = shared;
        edit(&mut shared);
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
    use super::under;

    #[test]
    fn prefixes_match_whole_segments() {
        assert!(under("/health", "/health"));
        assert!(under("/health/db", "/health"));
        assert!(!under("/healthz", "/health"));
        assert!(under("/anything", "/"));
        assert!(!under("/", "/health"));
    }
}
