//! Per-request custom labels chosen by the application.

use std::any::Any;
use std::time::Duration;

use super::metrics::{ErrorType, Method};

/// Records requests under labels the application chooses, e.g. the tenant's plan taken
/// from a request extension that an authentication middleware set.
///
/// The labels go into the application's own metric set, so their types — closed enums
/// deriving `LabelValue` — bound the number of series at compile time, and the
/// dashboards generator sees them like any other declaration.
///
/// ```
/// use std::sync::Arc;
/// use fiko_metrics::{Counter, Family, LabelSet, LabelValue, MetricSet, Registry};
/// use fiko_metrics_axum::{CustomLabels, FinishedRequest, HttpMetricsLayer, HttpServerMetrics, RequestHead};
///
/// #[derive(Clone, Copy, LabelValue)]
/// enum Plan { Free, Pro }
///
/// #[derive(LabelSet)]
/// struct PlanLabels { plan: Plan, failed: bool }
///
/// #[derive(MetricSet)]
/// #[metric_set(namespace = "fiko")]
/// struct PlanMetrics {
///     /// HTTP requests by customer plan.
///     http_requests_by_plan: Family<PlanLabels, Counter>,
/// }
///
/// impl CustomLabels for PlanMetrics {
///     type Labels = Plan;
///
///     fn labels(&self, request: &RequestHead<'_>) -> Option<Plan> {
///         request.extensions().get::<Plan>().copied()
///     }
///
///     fn record(&self, plan: Plan, request: &FinishedRequest<'_>) {
///         let labels = PlanLabels { plan, failed: request.error().is_some() };
///         self.http_requests_by_plan.get_or_create(&labels).inc();
///     }
/// }
///
/// let registry = Registry::new();
/// let layer = HttpMetricsLayer::new(HttpServerMetrics::register(&registry)?)
///     .custom_labels(PlanMetrics::register(&registry)?);
/// # let _ = layer;
/// # Ok::<(), fiko_metrics::RegistryError>(())
/// ```
pub trait CustomLabels: Send + Sync + 'static {
    /// What is taken from the request when it starts and handed back when it ends.
    type Labels: Send + 'static;

    /// Picks the labels of a starting request; `None` leaves it out of the custom metrics.
    fn labels(&self, request: &RequestHead<'_>) -> Option<Self::Labels>;

    /// Records a finished request (after its response body ended, failed or was dropped).
    fn record(&self, labels: Self::Labels, request: &FinishedRequest<'_>);
}

impl<C: CustomLabels> CustomLabels for std::sync::Arc<C> {
    type Labels = C::Labels;

    fn labels(&self, request: &RequestHead<'_>) -> Option<Self::Labels> {
        (**self).labels(request)
    }

    fn record(&self, labels: Self::Labels, request: &FinishedRequest<'_>) {
        (**self).record(labels, request);
    }
}

/// The parts of a starting request a [`CustomLabels`] hook can look at.
#[derive(Debug)]
pub struct RequestHead<'a> {
    pub(crate) method: &'a http::Method,
    pub(crate) uri: &'a http::Uri,
    pub(crate) headers: &'a http::HeaderMap,
    pub(crate) extensions: &'a http::Extensions,
    pub(crate) route: &'a str,
}

impl<'a> RequestHead<'a> {
    /// The request method.
    pub fn method(&self) -> &'a http::Method {
        self.method
    }

    /// The request URI.
    pub fn uri(&self) -> &'a http::Uri {
        self.uri
    }

    /// The request headers.
    pub fn headers(&self) -> &'a http::HeaderMap {
        self.headers
    }

    /// The request extensions (what outer middleware inserted, e.g. the authenticated user).
    pub fn extensions(&self) -> &'a http::Extensions {
        self.extensions
    }

    /// The `http_route` label value of this request.
    pub fn route(&self) -> &'a str {
        self.route
    }
}

/// A finished request, as handed to [`CustomLabels::record`].
#[derive(Debug)]
pub struct FinishedRequest<'a> {
    pub(crate) method: Method,
    pub(crate) route: &'a str,
    pub(crate) status: Option<http::StatusCode>,
    pub(crate) error: Option<ErrorType>,
    pub(crate) duration: Duration,
    pub(crate) response_body_bytes: u64,
}

impl<'a> FinishedRequest<'a> {
    /// The request method, as labelled.
    pub fn method(&self) -> Method {
        self.method
    }

    /// The `http_route` label value.
    pub fn route(&self) -> &'a str {
        self.route
    }

    /// The response status; `None` when no response was produced.
    pub fn status(&self) -> Option<http::StatusCode> {
        self.status
    }

    /// Why the request failed, if it did (a 5xx status counts as a failure).
    pub fn error(&self) -> Option<ErrorType> {
        self.error
    }

    /// From the request until the response body finished.
    pub fn duration(&self) -> Duration {
        self.duration
    }

    /// The response body bytes sent.
    pub fn response_body_bytes(&self) -> u64 {
        self.response_body_bytes
    }
}

/// A [`CustomLabels`] hook with its label type erased, so the layer keeps one type.
pub(crate) trait ErasedCustomLabels: Send + Sync + 'static {
    fn labels(&self, request: &RequestHead<'_>) -> Option<Box<dyn Any + Send>>;
    fn record(&self, labels: Box<dyn Any + Send>, request: &FinishedRequest<'_>);
}

impl<C: CustomLabels> ErasedCustomLabels for C {
    fn labels(&self, request: &RequestHead<'_>) -> Option<Box<dyn Any + Send>> {
        CustomLabels::labels(self, request).map(|labels| Box::new(labels) as Box<dyn Any + Send>)
    }

    fn record(&self, labels: Box<dyn Any + Send>, request: &FinishedRequest<'_>) {
        // Always the type `labels` made; a mismatch cannot happen and records nothing.
        if let Ok(labels) = labels.downcast::<C::Labels>() {
            CustomLabels::record(self, *labels, request);
        }
    }
}
