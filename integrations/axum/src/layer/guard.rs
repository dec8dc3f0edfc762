//! The per-request recorder that moves from the future into the response body.

use std::any::Any;
use std::sync::Arc;

use fiko_metrics::exemplar::{self, ExemplarLabels};
use fiko_metrics::{Gauge, Histogram, SeriesId};

use super::custom::FinishedRequest;
use super::metrics::{ErrorType, Method, RouteLabels, StatusClass};
use super::routes::{Answers, RouteSeries};

/// How a request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum End {
    /// The response body was sent to the end.
    Complete,
    /// Something failed; see [`ErrorType`].
    Failed(ErrorType),
}

/// Records one request when it ends: counts, duration, response size, in-flight, errors
/// and the custom hook. Dropped without [`finish`](Self::finish) it records a panic (while
/// unwinding), a complete request (when the body had already ended) or a cancellation.
pub(crate) struct RequestGuard {
    route: Arc<RouteSeries>,
    /// What the service that took the request has answered so far.
    answers: Arc<Answers>,
    /// The request's method (its label unless the answer is 405).
    method: Method,
    active: SeriesId<RouteLabels, Gauge>,
    /// When the request started, in the route's clock's raw units.
    start: u64,
    status: Option<http::StatusCode>,
    response_bytes: u64,
    body_ended: bool,
    custom: Option<Box<dyn Any + Send>>,
    // The installed exemplar source's labels (the request's trace), read when the request
    // starts, inside its span; `None` without a source (or when the metrics record no
    // exemplars).
    exemplar: Option<ExemplarLabels>,
    finished: bool,
}

impl RequestGuard {
    /// Starts recording: the request is in flight from now on.
    pub(crate) fn start(
        route: Arc<RouteSeries>,
        answers: Arc<Answers>,
        method: Method,
        active: SeriesId<RouteLabels, Gauge>,
        custom: Option<Box<dyn Any + Send>>,
    ) -> Self {
        let metrics = route.metrics();
        metrics.http_server_active_requests.series(active).inc();
        let exemplar = if metrics.http_server_requests.records_exemplars()
            || metrics
                .http_server_request_duration_seconds
                .records_exemplars()
        {
            exemplar::from_source()
        } else {
            None
        };
        let start = route.clock().raw();
        Self {
            route,
            answers,
            method,
            active,
            start,
            status: None,
            response_bytes: 0,
            body_ended: false,
            custom,
            exemplar,
            finished: false,
        }
    }

    /// The response head is ready.
    pub(crate) fn set_status(&mut self, status: http::StatusCode) {
        self.status = Some(status);
        self.answers.note(status);
    }

    /// Whether HTTP sends no body with this response (RFC 9110 §6.4.1): the answer to a
    /// HEAD request or a successful CONNECT, 1xx, 204 and 304. The server drops such a
    /// body without polling it, which is not a cancellation.
    pub(crate) fn sends_no_body(&self) -> bool {
        let Some(status) = self.status else {
            return false;
        };
        self.method == Method::Head
            || (self.method == Method::Connect && status.is_success())
            || status.is_informational()
            || status == http::StatusCode::NO_CONTENT
            || status == http::StatusCode::NOT_MODIFIED
    }

    /// `bytes` more response body bytes were handed to the server.
    pub(crate) fn add_response_bytes(&mut self, bytes: u64) {
        self.response_bytes = self.response_bytes.saturating_add(bytes);
    }

    /// The body reports it has nothing more to send (the server may never poll it again).
    pub(crate) fn mark_body_ended(&mut self) {
        self.body_ended = true;
    }

    /// Records the request as ended now.
    pub(crate) fn finish(mut self, end: End) {
        self.record(end);
    }

    fn record(&mut self, end: End) {
        if self.finished {
            return;
        }
        self.finished = true;
        let route = &*self.route;
        let clock = route.clock();
        let duration = clock.delta(self.start, clock.raw());
        // A 405 answers a method the path does not route: all of them share `_OTHER`, so
        // every method sent to every path does not make a series set each.
        let method = if self.status == Some(http::StatusCode::METHOD_NOT_ALLOWED) {
            Method::Other
        } else {
            self.method
        };
        let metrics = route.metrics();
        metrics
            .http_server_active_requests
            .series(self.active)
            .dec();
        let series = route.status(method, self.status);
        let exemplar = self.exemplar.as_ref();
        metrics
            .http_server_requests
            .series(series.requests)
            .inc_with_exemplar(exemplar);
        metrics
            .http_server_request_duration_seconds
            .series(series.duration)
            .observe_with_exemplar(duration.as_secs_f64(), exemplar);
        if self.status.is_some() {
            metrics
                .http_server_response_body_size_bytes
                .series(series.response_size)
                .observe(self.response_bytes as f64);
        }
        let error = match end {
            End::Failed(error) => Some(error),
            End::Complete if StatusClass::of(self.status) == StatusClass::ServerError => {
                Some(ErrorType::ServerError)
            }
            End::Complete => None,
        };
        if let Some(error) = error {
            let id = route.error(method, error);
            metrics.http_server_request_errors.series(id).inc();
        }
        if let (Some(custom), Some(hook)) = (self.custom.take(), route.custom()) {
            hook.record(
                custom,
                &FinishedRequest {
                    method,
                    route: route.route(),
                    status: self.status,
                    error,
                    duration,
                    response_body_bytes: self.response_bytes,
                },
            );
        }
    }
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let end = if std::thread::panicking() {
            End::Failed(ErrorType::Panic)
        } else if self.body_ended {
            End::Complete
        } else {
            End::Failed(ErrorType::Cancelled)
        };
        self.record(end);
    }
}

/// Records the request body size when the body is finished or dropped.
pub(crate) struct RequestSizeGuard {
    route: Arc<RouteSeries>,
    series: SeriesId<RouteLabels, Histogram>,
    bytes: u64,
}

impl RequestSizeGuard {
    pub(crate) fn new(route: Arc<RouteSeries>, series: SeriesId<RouteLabels, Histogram>) -> Self {
        Self {
            route,
            series,
            bytes: 0,
        }
    }

    pub(crate) fn add(&mut self, bytes: u64) {
        self.bytes = self.bytes.saturating_add(bytes);
    }
}

impl Drop for RequestSizeGuard {
    fn drop(&mut self) {
        self.route
            .metrics()
            .http_server_request_body_size_bytes
            .series(self.series)
            .observe(self.bytes as f64);
    }
}
