//! Series looked up once per route, so a request records by [`SeriesId`] instead of
//! rendering and hashing its labels six times.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, OnceLock, PoisonError, RwLock};

use fiko_metrics::labels::closed_len;
use fiko_metrics::{Counter, CounterWithExemplar, Gauge, Histogram, LabelValue, SeriesId};

use super::custom::ErasedCustomLabels;
use super::metrics::{
    ErrorLabels, ErrorType, HttpServerMetrics, Method, RequestLabels, RouteLabels, StatusClass,
    StatusCode,
};

/// Status codes remembered per route and method; a route answering with more distinct
/// codes looks the rest up in the families (still bounded by their series limits).
const STATUSES: usize = 8;
/// `ErrorType`'s values.
const ERROR_TYPES: usize = closed_len::<ErrorType>();
/// `Method`'s values.
const METHODS: usize = closed_len::<Method>();

/// Routes known to a layer: the templates of its router, its groups and the unmatched
/// route, so a handful. Bounded anyway: past this many, routes are looked up per request.
const MAX_ROUTES: usize = 10_000;

/// The series of one `http_route` value, filled in as methods and statuses show up, with
/// what a request of this route records into: all a request holds on to is this `Arc`.
pub(crate) struct RouteSeries {
    route: Arc<str>,
    metrics: Arc<HttpServerMetrics>,
    custom: Option<Arc<dyn ErasedCustomLabels>>,
    clock: quanta::Clock,
    methods: [OnceLock<Box<MethodSeries>>; METHODS],
}

/// The series of one route and method.
pub(crate) struct MethodSeries {
    /// `http_server_active_requests`.
    pub(crate) active: SeriesId<RouteLabels, Gauge>,
    /// `http_server_request_body_size_bytes`.
    pub(crate) request_size: SeriesId<RouteLabels, Histogram>,
    errors: [OnceLock<SeriesId<ErrorLabels, Counter>>; ERROR_TYPES],
    statuses: [OnceLock<(Option<http::StatusCode>, StatusSeries)>; STATUSES],
}

/// The series of one route, method and response status.
#[derive(Clone, Copy)]
pub(crate) struct StatusSeries {
    /// `http_server_requests_total`.
    pub(crate) requests: SeriesId<RequestLabels, CounterWithExemplar>,
    /// `http_server_request_duration_seconds`.
    pub(crate) duration: SeriesId<RequestLabels, Histogram>,
    /// `http_server_response_body_size_bytes`.
    pub(crate) response_size: SeriesId<RequestLabels, Histogram>,
}

impl RouteSeries {
    fn new(
        route: Arc<str>,
        metrics: Arc<HttpServerMetrics>,
        custom: Option<Arc<dyn ErasedCustomLabels>>,
        clock: quanta::Clock,
    ) -> Self {
        Self {
            route,
            metrics,
            custom,
            clock,
            methods: Default::default(),
        }
    }

    /// The `http_route` value.
    pub(crate) fn route(&self) -> &Arc<str> {
        &self.route
    }

    /// The metric set this route records into.
    pub(crate) fn metrics(&self) -> &HttpServerMetrics {
        &self.metrics
    }

    /// The layer's clock, which times this route's requests.
    pub(crate) fn clock(&self) -> &quanta::Clock {
        &self.clock
    }

    /// The layer's custom-labels hook.
    pub(crate) fn custom(&self) -> Option<&dyn ErasedCustomLabels> {
        self.custom.as_deref()
    }

    /// The series of this route for `method`.
    pub(crate) fn method(&self, method: Method) -> MethodRef<'_> {
        let make = || Box::new(MethodSeries::new(&self.metrics, self.labels(method)));
        // Every method has a slot (the array has one per value).
        match self.methods.get(method.index()) {
            Some(slot) => MethodRef::Cached(slot.get_or_init(make)),
            None => MethodRef::Owned(make()),
        }
    }

    fn labels(&self, method: Method) -> RouteLabels {
        RouteLabels {
            http_request_method: method,
            http_route: self.route.clone(),
        }
    }

    /// The series of this route for `method` and `status`.
    pub(crate) fn status(&self, method: Method, status: Option<http::StatusCode>) -> StatusSeries {
        let make = || StatusSeries::new(&self.metrics, self.labels(method), status);
        let MethodRef::Cached(series) = self.method(method) else {
            return make();
        };
        for slot in &series.statuses {
            match slot.get() {
                Some((code, found)) if *code == status => return *found,
                Some(_) => continue,
                None => {
                    // Two requests may race for a free slot; the loser keeps looking, and
                    // if both record the same status they hold the same ids anyway.
                    let (code, found) = slot.get_or_init(|| (status, make()));
                    if *code == status {
                        return *found;
                    }
                }
            }
        }
        make()
    }

    /// The `http_server_request_errors_total` series of this route for `method` and `error`.
    pub(crate) fn error(&self, method: Method, error: ErrorType) -> SeriesId<ErrorLabels, Counter> {
        let make = || {
            self.metrics
                .http_server_request_errors
                .series_id(&ErrorLabels {
                    http_request_method: method,
                    http_route: self.route.clone(),
                    error_type: error,
                })
        };
        match self.method(method) {
            MethodRef::Cached(series) => match series.errors.get(error.index()) {
                Some(slot) => *slot.get_or_init(make),
                None => make(),
            },
            MethodRef::Owned(_) => make(),
        }
    }
}

impl MethodSeries {
    fn new(metrics: &HttpServerMetrics, labels: RouteLabels) -> Self {
        Self {
            active: metrics.http_server_active_requests.series_id(&labels),
            request_size: metrics
                .http_server_request_body_size_bytes
                .series_id(&labels),
            errors: Default::default(),
            statuses: Default::default(),
        }
    }
}

impl StatusSeries {
    fn new(
        metrics: &HttpServerMetrics,
        route: RouteLabels,
        status: Option<http::StatusCode>,
    ) -> Self {
        let labels = RequestLabels {
            http_request_method: route.http_request_method,
            http_route: route.http_route,
            http_response_status_code: StatusCode(status),
            http_response_status_class: StatusClass::of(status),
        };
        Self {
            requests: metrics.http_server_requests.series_id(&labels),
            duration: metrics
                .http_server_request_duration_seconds
                .series_id(&labels),
            response_size: metrics
                .http_server_response_body_size_bytes
                .series_id(&labels),
        }
    }
}

/// A method's series: remembered in the route, or made for one request (which does not
/// happen: every method has a slot).
pub(crate) enum MethodRef<'a> {
    Cached(&'a MethodSeries),
    Owned(Box<MethodSeries>),
}

impl std::ops::Deref for MethodRef<'_> {
    type Target = MethodSeries;

    fn deref(&self) -> &MethodSeries {
        match self {
            Self::Cached(series) => series,
            Self::Owned(series) => series,
        }
    }
}

/// Every route a layer has seen, by `http_route` value.
#[derive(Default)]
pub(crate) struct Routes {
    map: RwLock<RouteMap>,
}

type RouteMap = HashMap<Arc<str>, Arc<RouteSeries>, foldhash::fast::RandomState>;

impl Routes {
    /// The series of `route`, remembered on first use; a new route records into `metrics`
    /// and `custom`, timed by `clock`.
    pub(crate) fn get(
        &self,
        route: &str,
        metrics: &Arc<HttpServerMetrics>,
        custom: Option<&Arc<dyn ErasedCustomLabels>>,
        clock: &quanta::Clock,
    ) -> Arc<RouteSeries> {
        if let Some(found) = self.read().get(route) {
            return found.clone();
        }
        let mut map = self.map.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(found) = map.get(route) {
            return found.clone();
        }
        let route: Arc<str> = route.into();
        let series = Arc::new(RouteSeries::new(
            route.clone(),
            metrics.clone(),
            custom.cloned(),
            clock.clone(),
        ));
        if map.len() < MAX_ROUTES {
            map.insert(route, series.clone());
        }
        series
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, RouteMap> {
        self.map.read().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What one service of a layer has answered so far. `Router::layer` wraps each path's
/// method fallback — axum's "405 Method Not Allowed" for the methods the path does not
/// route — in a service of its own; once that service has answered 405 and nothing else,
/// its requests start under `_OTHER` instead of their method, so a client sending every
/// method to every path cannot make a series set per method and route.
#[derive(Debug, Default)]
pub(crate) struct Answers(AtomicU8);

/// Nothing answered yet.
const NOTHING_YET: u8 = 0;
/// Every answer so far was 405.
const ONLY_NOT_ALLOWED: u8 = 1;
/// At least one answer was not 405: the service routes its methods.
const ROUTED: u8 = 2;

impl Answers {
    /// Whether this service has answered, and only ever 405.
    pub(crate) fn only_not_allowed(&self) -> bool {
        self.0.load(Ordering::Relaxed) == ONLY_NOT_ALLOWED
    }

    /// Notes one answer's status.
    pub(crate) fn note(&self, status: http::StatusCode) {
        // Relaxed is enough: this only picks labels, and a request racing with the first
        // answer keeps its method, which is what it would have had a moment earlier.
        let current = self.0.load(Ordering::Relaxed);
        if status == http::StatusCode::METHOD_NOT_ALLOWED {
            if current == NOTHING_YET {
                let _ = self.0.compare_exchange(
                    NOTHING_YET,
                    ONLY_NOT_ALLOWED,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                );
            }
        } else if current != ROUTED {
            self.0.store(ROUTED, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use http::StatusCode;

    use super::Answers;

    #[test]
    fn a_service_is_a_method_fallback_only_while_it_has_answered_nothing_but_405() {
        let fallback = Answers::default();
        assert!(!fallback.only_not_allowed(), "nothing answered yet");
        fallback.note(StatusCode::METHOD_NOT_ALLOWED);
        fallback.note(StatusCode::METHOD_NOT_ALLOWED);
        assert!(fallback.only_not_allowed());
        // A fallback that also answers something else routes its methods after all.
        fallback.note(StatusCode::OK);
        assert!(!fallback.only_not_allowed());
        fallback.note(StatusCode::METHOD_NOT_ALLOWED);
        assert!(!fallback.only_not_allowed(), "for good");

        let handler = Answers::default();
        handler.note(StatusCode::NOT_FOUND);
        handler.note(StatusCode::METHOD_NOT_ALLOWED);
        assert!(!handler.only_not_allowed());
    }
}
