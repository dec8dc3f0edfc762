//! The [`HttpMetrics`] service.

use std::fmt;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use axum::extract::MatchedPath;
use http::{Request, Response};
use http_body::Body;

use super::body::{RequestBody, ResponseBody};
use super::custom::RequestHead;
use super::future::ResponseFuture;
use super::guard::{RequestGuard, RequestSizeGuard};
use super::metrics::{Method, UNMATCHED_ROUTE};
use super::routes::{Answers, RouteSeries};
use super::{Shared, under};

/// Records [`HttpServerMetrics`](crate::HttpServerMetrics) for every request passed to
/// the inner service; built by [`HttpMetricsLayer`](crate::HttpMetricsLayer).
#[derive(Clone)]
pub struct HttpMetrics<S> {
    inner: S,
    endpoint: Arc<Endpoint>,
}

/// What the clones of one service share. `Router::layer` makes one service per route, so
/// the route's series are remembered here and found again with one string comparison.
struct Endpoint {
    shared: Arc<Shared>,
    route: OnceLock<Arc<RouteSeries>>,
    answers: Arc<Answers>,
}

impl<S> HttpMetrics<S> {
    pub(crate) fn new(inner: S, shared: Arc<Shared>) -> Self {
        let endpoint = Arc::new(Endpoint {
            shared,
            route: OnceLock::new(),
            answers: Arc::default(),
        });
        Self { inner, endpoint }
    }
}

impl<S: fmt::Debug> fmt::Debug for HttpMetrics<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpMetrics")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S, ReqBody, ResBody> tower::Service<Request<ReqBody>> for HttpMetrics<S>
where
    S: tower::Service<Request<axum::body::Body>, Response = Response<ResBody>>,
    ReqBody: Body<Data = bytes::Bytes> + Send + 'static,
    ReqBody::Error: Into<axum::BoxError>,
    ResBody: Body,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let shared = &self.endpoint.shared;
        let path = request.uri().path();
        if shared.exclude.iter().any(|prefix| under(path, prefix)) {
            let request = request.map(axum::body::Body::new);
            return ResponseFuture::new(self.inner.call(request), None);
        }
        let route = match shared.groups.iter().find(|(prefix, _)| under(path, prefix)) {
            Some((_, route)) => route,
            None => match request.extensions().get::<MatchedPath>() {
                Some(matched) => matched.as_str(),
                None => UNMATCHED_ROUTE,
            },
        };
        let route = self.endpoint.route_series(route);
        let custom = route.custom().and_then(|hook| {
            hook.labels(&RequestHead {
                method: request.method(),
                uri: request.uri(),
                headers: request.headers(),
                extensions: request.extensions(),
                route: route.route(),
            })
        });
        let method = Method::from(request.method());
        let answers = &self.endpoint.answers;
        // This service is a path's method fallback (it has only answered 405): its
        // requests start under `_OTHER`, as they will end.
        let series = route.method(if answers.only_not_allowed() {
            Method::Other
        } else {
            method
        });
        let request = if request.body().is_end_stream() {
            // Nothing to count (most GETs): record the size now rather than wrap the body.
            let request_size = route
                .metrics()
                .http_server_request_body_size_bytes
                .series(series.request_size);
            request_size.observe(0.0);
            request.map(axum::body::Body::new)
        } else {
            let size = RequestSizeGuard::new(route.clone(), series.request_size);
            request.map(|body| axum::body::Body::new(RequestBody::new(body, size)))
        };
        let active = series.active;
        drop(series);
        let guard = RequestGuard::start(route, answers.clone(), method, active, custom);
        ResponseFuture::new(self.inner.call(request), Some(guard))
    }
}

impl Endpoint {
    /// The series of `route`: this service's own route, or any other through the layer.
    fn route_series(&self, route: &str) -> Arc<RouteSeries> {
        if let Some(cached) = self.route.get() {
            if **cached.route() == *route {
                return cached.clone();
            }
        }
        let shared = &self.shared;
        let found = shared.routes.get(
            route,
            &shared.metrics,
            shared.custom.as_ref(),
            &shared.clock,
        );
        // The first route this service sees is, with `Router::layer`, the only one.
        let _ = self.route.set(found.clone());
        found
    }
}
