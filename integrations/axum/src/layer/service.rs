//! The [`HttpMetrics`] service.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::MatchedPath;
use http::{Request, Response};
use http_body::Body;

use super::body::{RequestBody, ResponseBody};
use super::custom::RequestHead;
use super::future::ResponseFuture;
use super::guard::{RequestGuard, RequestSizeGuard};
use super::metrics::{Method, RouteLabels, UNMATCHED_ROUTE};
use super::{HttpMetricsLayer, Shared, under};

/// Records [`HttpServerMetrics`](crate::HttpServerMetrics) for every request passed to
/// the inner service; built by [`HttpMetricsLayer`].
#[derive(Clone)]
pub struct HttpMetrics<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> HttpMetrics<S> {
    pub(crate) fn new(inner: S, shared: Arc<Shared>) -> Self {
        Self { inner, shared }
    }

    /// The layer recording into the global [`HttpServerMetrics`](crate::HttpServerMetrics).
    pub fn layer() -> HttpMetricsLayer {
        HttpMetricsLayer::global()
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
        let shared = &self.shared;
        let path = request.uri().path();
        if shared.exclude.iter().any(|prefix| under(path, prefix)) {
            let request = request.map(axum::body::Body::new);
            return ResponseFuture::new(self.inner.call(request), None);
        }
        let route: Arc<str> = match shared.groups.iter().find(|(prefix, _)| under(path, prefix)) {
            Some((_, route)) => route.clone(),
            None => match request.extensions().get::<MatchedPath>() {
                Some(matched) => matched.as_str().into(),
                None => UNMATCHED_ROUTE.into(),
            },
        };
        let custom = shared.custom.as_ref().and_then(|hook| {
            hook.labels(&RequestHead {
                method: request.method(),
                uri: request.uri(),
                headers: request.headers(),
                extensions: request.extensions(),
                route: &route,
            })
        });
        let labels = RouteLabels {
            http_request_method: Method::from(request.method()),
            http_route: route,
        };
        let size = RequestSizeGuard::new(shared.clone(), labels.clone());
        let guard = RequestGuard::start(shared.clone(), labels, custom);
        let request = request.map(|body| axum::body::Body::new(RequestBody::new(body, size)));
        ResponseFuture::new(self.inner.call(request), Some(guard))
    }
}
