//! The workload every benchmark shares, declared once per crate under test.
//!
//! A request counter keyed by two closed labels — 6 routes × 3 error kinds = 18 series, as
//! in measured's own benchmarks — and a latency histogram keyed by the route with 11
//! buckets. Inputs cycle through all 18 combinations in a fixed order, so every crate
//! does the same work on the same series.

// Benchmark setup, linked by nothing but the benchmarks: a failed setup stops the run.
#![allow(clippy::panic, clippy::indexing_slicing)]

use std::cell::Cell;

pub mod demo;
pub mod mirror;
pub mod scale;

/// Route label values.
pub const ROUTES: [&str; 6] = [
    "/api/v1/users",
    "/api/v1/users/:id",
    "/api/v1/products",
    "/api/v1/products/:id",
    "/api/v1/products/:id/owner",
    "/api/v1/products/:id/purchase",
];

/// Error kind label values.
pub const KINDS: [&str; 3] = ["user", "internal", "network"];

/// Histogram bucket bounds (11, Prometheus' defaults).
pub const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The next (route, kind) pair, cycling through all 18; per thread, so threads don't share
/// the input cursor.
#[inline]
pub fn next_input() -> (usize, usize) {
    thread_local! {
        static CURSOR: Cell<usize> = const { Cell::new(0) };
    }
    let i = CURSOR.with(|c| {
        let i = c.get();
        c.set(if i == 17 { 0 } else { i + 1 });
        i
    });
    (i / 3, i % 3)
}

/// A latency to observe for an input (spread over the buckets).
#[inline]
pub fn latency(route: usize, kind: usize) -> f64 {
    BUCKETS[(route * 3 + kind) % BUCKETS.len()] * 0.9
}

pub mod compile_cost;

/// fiko-metrics' declaration of the workload.
pub mod fiko {
    use fiko_metrics::{Counter, Family, Histogram, LabelSet, LabelValue, MetricSet};

    /// Route.
    #[derive(LabelValue, Clone, Copy)]
    pub enum Route {
        /// 0
        Users,
        /// 1
        User,
        /// 2
        Products,
        /// 3
        Product,
        /// 4
        ProductOwner,
        /// 5
        ProductPurchase,
    }

    /// Error kind.
    #[derive(LabelValue, Clone, Copy)]
    pub enum Kind {
        /// 0
        User,
        /// 1
        Internal,
        /// 2
        Network,
    }

    /// All routes by index.
    pub const ROUTES: [Route; 6] = [
        Route::Users,
        Route::User,
        Route::Products,
        Route::Product,
        Route::ProductOwner,
        Route::ProductPurchase,
    ];
    /// All kinds by index.
    pub const KINDS: [Kind; 3] = [Kind::User, Kind::Internal, Kind::Network];

    /// Counter labels.
    #[derive(LabelSet)]
    pub struct ErrorLabels {
        /// Route.
        pub route: Route,
        /// Kind.
        pub kind: Kind,
    }

    /// Histogram labels.
    #[derive(LabelSet)]
    pub struct RouteLabel {
        /// Route.
        pub route: Route,
    }

    /// Open labels for the encoding benchmark.
    #[derive(LabelSet)]
    pub struct Id {
        /// A distinct id per series.
        pub id: String,
    }

    /// The workload's set.
    #[derive(MetricSet)]
    #[metric_set(namespace = "bench")]
    pub struct Metrics {
        /// Request errors.
        pub errors: Family<ErrorLabels, Counter>,
        /// Request latency.
        #[metric(buckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0])]
        pub latency_seconds: Family<RouteLabel, Histogram>,
        /// Ten thousand open series, for encoding.
        #[metric(max_series = 100000)]
        pub counters: Family<Id, Counter>,
    }

    /// Ten thousand native histograms, for encoding.
    #[derive(MetricSet)]
    #[metric_set(namespace = "bench")]
    pub struct NativeOnly {
        /// Native buckets only (schema 3).
        #[metric(native, max_series = 100000)]
        pub native_seconds: Family<Id, Histogram>,
    }

    /// Ten thousand native histograms with the classic buckets beside, for encoding.
    #[derive(MetricSet)]
    #[metric_set(namespace = "bench")]
    pub struct NativeAndClassic {
        /// Native buckets and 11 classic ones.
        #[metric(
            native,
            buckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0],
            max_series = 100000
        )]
        pub mixed_seconds: Family<Id, Histogram>,
    }
}

/// prometheus-client's declaration of the workload.
pub mod prometheus_client_crate {
    use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};

    /// Route.
    #[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
    pub enum Route {
        /// 0
        Users,
        /// 1
        User,
        /// 2
        Products,
        /// 3
        Product,
        /// 4
        ProductOwner,
        /// 5
        ProductPurchase,
    }

    /// Error kind.
    #[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
    pub enum Kind {
        /// 0
        User,
        /// 1
        Internal,
        /// 2
        Network,
    }

    /// All routes by index.
    pub const ROUTES: [Route; 6] = [
        Route::Users,
        Route::User,
        Route::Products,
        Route::Product,
        Route::ProductOwner,
        Route::ProductPurchase,
    ];
    /// All kinds by index.
    pub const KINDS: [Kind; 3] = [Kind::User, Kind::Internal, Kind::Network];

    /// Counter labels.
    #[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
    pub struct ErrorLabels {
        /// Route.
        pub route: Route,
        /// Kind.
        pub kind: Kind,
    }

    /// Histogram labels.
    #[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
    pub struct RouteLabel {
        /// Route.
        pub route: Route,
    }

    /// Open labels for the encoding benchmark.
    #[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
    pub struct Id {
        /// A distinct id per series.
        pub id: String,
    }
}

/// measured's declaration of the workload (its derives generate undocumented items).
#[allow(missing_docs)]
pub mod measured_crate {
    use measured::label::StaticLabelSet;
    use measured::{FixedCardinalityLabel, LabelGroup};

    /// Route.
    #[derive(Clone, Copy, Debug, PartialEq, FixedCardinalityLabel)]
    #[label(rename_all = "snake_case")]
    pub enum Route {
        /// 0
        Users,
        /// 1
        User,
        /// 2
        Products,
        /// 3
        Product,
        /// 4
        ProductOwner,
        /// 5
        ProductPurchase,
    }

    /// Error kind.
    #[derive(Clone, Copy, Debug, PartialEq, FixedCardinalityLabel)]
    #[label(rename_all = "snake_case")]
    pub enum Kind {
        /// 0
        User,
        /// 1
        Internal,
        /// 2
        Network,
    }

    /// All routes by index.
    pub const ROUTES: [Route; 6] = [
        Route::Users,
        Route::User,
        Route::Products,
        Route::Product,
        Route::ProductOwner,
        Route::ProductPurchase,
    ];
    /// All kinds by index.
    pub const KINDS: [Kind; 3] = [Kind::User, Kind::Internal, Kind::Network];

    /// Counter labels.
    #[derive(Clone, Copy, Debug, PartialEq, LabelGroup)]
    #[label(set = ErrorLabelsSet)]
    pub struct ErrorLabels {
        /// Route.
        pub route: Route,
        /// Kind.
        pub kind: Kind,
    }

    /// Histogram labels.
    #[derive(Clone, Copy, Debug, PartialEq, LabelGroup)]
    #[label(set = RouteLabelSet)]
    pub struct RouteLabel {
        /// Route.
        pub route: Route,
    }

    /// Open labels for the encoding benchmark.
    #[derive(Clone, Copy, Debug, PartialEq, LabelGroup)]
    #[label(set = IdSet)]
    pub struct Id<'a> {
        /// A distinct id per series.
        #[label(dynamic_with = paracord::ParaCord)]
        pub id: &'a str,
    }

    /// A counter vec of the workload.
    pub fn errors() -> measured::CounterVec<ErrorLabelsSet> {
        measured::CounterVec::with_label_set(ErrorLabelsSet {
            route: StaticLabelSet::new(),
            kind: StaticLabelSet::new(),
        })
    }
}

/// The prometheus crate's counter of errors by `route` and `kind`: the labels as strings.
pub fn prometheus_errors() -> prometheus::IntCounterVec {
    let opts = prometheus::Opts::new("errors", "Request errors.");
    match prometheus::IntCounterVec::new(opts, &["route", "kind"]) {
        Ok(vec) => vec,
        Err(error) => panic!("prometheus errors counter: {error}"),
    }
}

/// Installs the `metrics` crate's Prometheus recorder once per process, as an application
/// would, and hands back its handle for rendering.
pub fn metrics_recorder() -> &'static metrics_exporter_prometheus::PrometheusHandle {
    static HANDLE: std::sync::OnceLock<metrics_exporter_prometheus::PrometheusHandle> =
        std::sync::OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new()
            .set_buckets(&BUCKETS)
            .map(metrics_exporter_prometheus::PrometheusBuilder::build_recorder);
        match recorder {
            Ok(recorder) => {
                let handle = recorder.handle();
                // Only fails if another recorder was installed first, which nothing here does.
                let _ = metrics::set_global_recorder(recorder);
                handle
            }
            Err(error) => panic!("metrics recorder: {error}"),
        }
    })
}

/// The HTTP workload: one route, with each crate's metrics layer.
pub mod http {
    use axum::Router;
    use axum::routing::get;

    /// `GET /users/{id}` with no metrics.
    pub fn bare() -> Router {
        Router::new().route("/users/{id}", get(|| async { "a user" }))
    }

    /// The same router with a layer that does nothing: `Router::layer` re-boxes every
    /// route, so this is the floor any per-route middleware starts from.
    pub fn noop_layer() -> Router {
        bare().layer(tower::layer::util::Identity::new())
    }

    /// A response body that only passes its inner body's frames, end and size on.
    pub struct PassThrough(axum::body::Body);

    impl http_body::Body for PassThrough {
        type Data = bytes::Bytes;
        type Error = axum::Error;

        fn poll_frame(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Result<http_body::Frame<bytes::Bytes>, axum::Error>>> {
            std::pin::Pin::new(&mut self.0).poll_frame(cx)
        }

        fn is_end_stream(&self) -> bool {
            self.0.is_end_stream()
        }

        fn size_hint(&self) -> http_body::SizeHint {
            self.0.size_hint()
        }
    }

    /// The same router with a layer that only wraps each response body in a
    /// [`PassThrough`] (which axum boxes again): the floor of any layer that sees a response
    /// body end or counts its bytes, as a metrics layer must.
    pub fn noop_body_layer() -> Router {
        fn pass_through(response: axum::response::Response) -> http::Response<PassThrough> {
            response.map(PassThrough)
        }
        bare().layer(tower::util::MapResponseLayer::new(pass_through))
    }

    /// The same router with fiko-metrics-axum's layer.
    pub fn fiko() -> Router {
        use fiko_metrics::MetricSet;
        let metrics = std::sync::Arc::new(fiko_metrics_axum::HttpServerMetrics::new());
        bare().layer(fiko_metrics_axum::HttpMetricsLayer::new(metrics))
    }

    /// The same router with axum-prometheus' layer (installs its global recorder, so call
    /// it once per process).
    pub fn axum_prometheus() -> Router {
        let (layer, _handle) = axum_prometheus::PrometheusMetricLayer::pair();
        bare().layer(layer)
    }

    /// Builds one layer's router.
    pub type MakeRouter = fn() -> Router;

    /// Each layer's name, as `http-bench-server` and `scripts/bench` take it, and its router.
    pub const LAYERS: [(&str, MakeRouter); 5] = [
        ("bare", bare),
        ("noop-layer", noop_layer),
        ("noop-body-layer", noop_body_layer),
        ("fiko", fiko),
        ("axum-prometheus", axum_prometheus),
    ];

    /// The router for a layer name from [`LAYERS`].
    pub fn app(kind: &str) -> Option<Router> {
        LAYERS
            .iter()
            .find(|(name, _)| *name == kind)
            .map(|(_, make)| make())
    }

    /// The layer names of [`LAYERS`], separated by `separator`.
    pub fn layer_names(separator: &str) -> String {
        LAYERS.map(|(name, _)| name).join(separator)
    }
}
