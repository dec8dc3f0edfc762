//! The HTTP server metric set and its labels.

use std::sync::Arc;

use fiko_metrics::{
    Counter, CounterWithExemplar, Family, Gauge, Histogram, LabelSet, LabelValue, MetricSet,
};

/// The `http_route` value of requests no route matched (404s, fallbacks): one value, so a
/// scanner probing random paths cannot create series.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// Metrics of an HTTP server, named after the OpenTelemetry HTTP semantic conventions
/// in Prometheus form; see the [crate docs](crate#metrics) for the full table.
///
/// Request counts and durations record exemplars (a `CounterWithExemplar` family;
/// `#[metric(exemplars)]` on the histogram): with an exemplar source installed
/// ([`fiko_metrics::exemplar::set_source`]), each keeps the trace of a request.
#[derive(MetricSet)]
pub struct HttpServerMetrics {
    /// HTTP requests served, by method, route template, status code and status class.
    #[metric(max_series = 5000)]
    pub http_server_requests: Family<RequestLabels, CounterWithExemplar>,
    /// HTTP request duration, from the request until its response body is finished.
    // OpenTelemetry's recommended boundaries plus 2 s, the HighResponseTime threshold.
    #[metric(
        exemplars,
        max_series = 5000,
        buckets = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.0, 2.5, 5.0, 7.5, 10.0]
    )]
    pub http_server_request_duration_seconds: Family<RequestLabels, Histogram>,
    /// Request body size, counted on the bytes the application read.
    #[metric(max_series = 5000, buckets = exponential(64.0, 4.0, 10))]
    pub http_server_request_body_size_bytes: Family<RouteLabels, Histogram>,
    /// Response body size, counted on the bytes sent.
    #[metric(max_series = 5000, buckets = exponential(64.0, 4.0, 10))]
    pub http_server_response_body_size_bytes: Family<RequestLabels, Histogram>,
    /// HTTP requests in flight, until their response body is finished.
    #[metric(max_series = 5000)]
    pub http_server_active_requests: Family<RouteLabels, Gauge>,
    /// Failed requests by error type: 5xx responses, panics, cancellations (client gone),
    /// response body errors and service errors.
    #[metric(max_series = 5000)]
    pub http_server_request_errors: Family<ErrorLabels, Counter>,
}

/// Labels of a finished request.
#[derive(Clone, Debug, PartialEq, Eq, Hash, LabelSet)]
pub struct RequestLabels {
    /// The request method.
    pub http_request_method: Method,
    /// The matched route template (`/users/{id}`), a group name, or [`UNMATCHED_ROUTE`].
    pub http_route: Arc<str>,
    /// The response status code; empty when no response was produced.
    pub http_response_status_code: StatusCode,
    /// The status class (`2xx`, `5xx`, …), `none` when no response was produced.
    pub http_response_status_class: StatusClass,
}

/// Labels known when a request starts.
#[derive(Clone, Debug, PartialEq, Eq, Hash, LabelSet)]
pub struct RouteLabels {
    /// The request method.
    pub http_request_method: Method,
    /// The matched route template, a group name, or [`UNMATCHED_ROUTE`].
    pub http_route: Arc<str>,
}

/// Labels of a failed request.
#[derive(Clone, Debug, PartialEq, Eq, Hash, LabelSet)]
pub struct ErrorLabels {
    /// The request method.
    pub http_request_method: Method,
    /// The matched route template, a group name, or [`UNMATCHED_ROUTE`].
    pub http_route: Arc<str>,
    /// What went wrong.
    pub error_type: ErrorType,
}

/// The HTTP method, as OpenTelemetry names it: the nine standard methods in upper case,
/// `_OTHER` for any other (so a client cannot create series with made-up methods).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, LabelValue)]
#[label_value(rename_all = "UPPERCASE")]
pub enum Method {
    /// `GET`
    Get,
    /// `HEAD`
    Head,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `DELETE`
    Delete,
    /// `CONNECT`
    Connect,
    /// `OPTIONS`
    Options,
    /// `TRACE`
    Trace,
    /// `PATCH`
    Patch,
    /// Any other method.
    #[label_value(rename = "_OTHER")]
    Other,
}

impl From<&http::Method> for Method {
    fn from(method: &http::Method) -> Self {
        match *method {
            http::Method::GET => Self::Get,
            http::Method::HEAD => Self::Head,
            http::Method::POST => Self::Post,
            http::Method::PUT => Self::Put,
            http::Method::DELETE => Self::Delete,
            http::Method::CONNECT => Self::Connect,
            http::Method::OPTIONS => Self::Options,
            http::Method::TRACE => Self::Trace,
            http::Method::PATCH => Self::Patch,
            _ => Self::Other,
        }
    }
}

/// The class of a response status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, LabelValue)]
pub enum StatusClass {
    /// `1xx`
    #[label_value(rename = "1xx")]
    Informational,
    /// `2xx`
    #[label_value(rename = "2xx")]
    Success,
    /// `3xx`
    #[label_value(rename = "3xx")]
    Redirection,
    /// `4xx`
    #[label_value(rename = "4xx")]
    ClientError,
    /// `5xx`
    #[label_value(rename = "5xx")]
    ServerError,
    /// No response was produced (the client left, the handler panicked without a
    /// catch-panic layer, the service failed).
    None,
}

impl StatusClass {
    /// The class of `status` (`None` for no status).
    pub fn of(status: Option<http::StatusCode>) -> Self {
        match status.map(|status| status.as_u16() / 100) {
            Some(1) => Self::Informational,
            Some(2) => Self::Success,
            Some(3) => Self::Redirection,
            Some(4) => Self::ClientError,
            Some(5) => Self::ServerError,
            _ => Self::None,
        }
    }
}

/// A response status code as a label: the three digits, or empty when there was no
/// response.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StatusCode(pub Option<http::StatusCode>);

impl LabelValue for StatusCode {
    const VALUES: Option<&'static [&'static str]> = None;

    fn index(&self) -> usize {
        0
    }

    fn with_str<R>(&self, f: impl FnOnce(&str) -> R) -> R {
        match self.0 {
            Some(status) => f(status.as_str()),
            None => f(""),
        }
    }
}

/// Why a request failed, as the `error_type` label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, LabelValue)]
pub enum ErrorType {
    /// The response status was 5xx.
    ServerError,
    /// The handler (or the response body) panicked.
    Panic,
    /// The request was dropped before its response body finished: the client
    /// disconnected, or a timeout dropped the future.
    Cancelled,
    /// The response body returned an error while streaming.
    BodyError,
    /// The inner service returned an error instead of a response.
    ServiceError,
}
