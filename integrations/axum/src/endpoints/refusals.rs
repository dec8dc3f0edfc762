//! What the endpoints record about themselves: the requests they refused.

use fiko_metrics::{Counter, Family, LabelSet, LabelValue, MetricSet};

/// Metrics of the metrics and health endpoints themselves, recorded by
/// [`MetricsEndpoints`](crate::MetricsEndpoints) into the registry it serves (registered
/// there when the router is built), so someone guessing the token or scraping from the
/// wrong network shows up even when the endpoints' paths are excluded from the HTTP
/// metrics.
///
/// ```
/// use std::sync::Arc;
/// use fiko_metrics::{Format, Registry};
/// use fiko_metrics_axum::MetricsEndpoints;
///
/// let registry = Arc::new(Registry::new());
/// let _router: axum::Router = MetricsEndpoints::new(registry.clone())
///     .bearer_token("s3cret")
///     .into_router();
/// assert!(registry.encode(Format::Prometheus).contains("# TYPE fiko_metrics_scrape_refusals_total counter"));
/// ```
#[derive(MetricSet)]
#[metric_set(namespace = "fiko", subsystem = "metrics")]
pub struct EndpointMetrics {
    /// Requests to the metrics and health endpoints refused with 401 or 403, by endpoint
    /// and reason.
    pub scrape_refusals: Family<RefusalLabels, Counter>,
}

/// Labels of a refused request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, LabelSet)]
pub struct RefusalLabels {
    /// Which endpoint refused.
    pub endpoint: EndpointKind,
    /// Why.
    pub reason: RefusalReason,
}

/// One of the endpoints [`MetricsEndpoints`](crate::MetricsEndpoints) serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, LabelValue)]
pub enum EndpointKind {
    /// The metrics endpoint (`/api/v1/metrics` by default).
    Metrics,
    /// The health endpoint (`/api/v1/metrics/health` by default).
    Health,
}

/// Why a request to the endpoints was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, LabelValue)]
pub enum RefusalReason {
    /// 401: no `Authorization: Bearer <token>` header (none, another scheme, or empty).
    MissingToken,
    /// 401: a bearer token that is not the configured one.
    WrongToken,
    /// 403: the client address is outside the allow-list.
    AddressNotAllowed,
    /// 403: the client address is unknown (the app was not served with
    /// `into_make_service_with_connect_info`), so an allow-list refuses everyone.
    AddressUnknown,
}
