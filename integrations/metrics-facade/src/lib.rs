//! A [`metrics`] facade recorder for fiko-metrics: once installed, every
//! `metrics::counter!`, `gauge!` and `histogram!` call — in the application and in the
//! libraries it uses — is exposed by the same [`Registry`] as the declared sets, on the
//! same endpoint, with the same exposition, escaping and cardinality limits.
//!
//! ```
//! use fiko_metrics::{Format, Registry};
//! use fiko_metrics::histogram::Buckets;
//! use fiko_metrics_facade::{FacadeRecorder, NamePattern};
//! use std::sync::Arc;
//!
//! let registry = Arc::new(Registry::new());
//! let recorder = FacadeRecorder::builder()
//!     .buckets(NamePattern::Suffix("_seconds".into()), Buckets::new(vec![0.01, 0.1, 1.0])?)
//!     .build(registry.clone())?;
//! // In an application: `recorder.install()?` once, at start-up.
//! metrics::with_local_recorder(&recorder, || {
//!     metrics::describe_counter!("cache.hits", "Cache lookups that found the key.");
//!     metrics::counter!("cache.hits", "cache" => "users").increment(3);
//!     metrics::histogram!("query.duration_seconds").record(0.05);
//! });
//!
//! let text = registry.encode(Format::Prometheus);
//! assert!(text.contains("# HELP cache_hits_total Cache lookups that found the key.\n"));
//! assert!(text.contains("cache_hits_total{cache=\"users\"} 3\n"));
//! assert!(text.contains("query_duration_seconds_bucket{le=\"0.1\"} 1\n"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # What a facade call becomes
//!
//! - **Names.** Characters Prometheus does not allow become `_` (`cache.hits` →
//!   `cache_hits`); a counter's trailing `_total` is dropped because the runtime adds it,
//!   as for declared counters. Label names are made valid the same way, and the reserved
//!   `le`, `quantile` and `__*` get an `exported_` prefix. Labels are sorted by name, so
//!   the order a call gives them in does not make a new series.
//! - **Kinds.** Counters are the runtime's `Counter` (`absolute` raises it, never lowers
//!   it), gauges a `Gauge<f64>`, histograms a real `Histogram` with buckets chosen by the
//!   first matching [`NamePattern`] (exact names first), or the runtime's defaults — not a
//!   summary.
//! - **`describe_*`** gives the HELP text; a `Seconds` or `Bytes` unit becomes the
//!   OpenMetrics `# UNIT` when the name ends with it, any other unit is kept in the HELP
//!   text. The first description of a name wins; a metric used before it is described
//!   takes its description at the next scrape.
//! - **Cardinality.** Each metric is a runtime [`Family`](fiko_metrics::Family) with the
//!   recorder's series limit ([`FacadeBuilder::max_series`], 1000 by default): past it,
//!   label values fold into the `other` series and every fold is counted by
//!   `fiko_metrics_label_overflow_total{metric="..."}`, exactly like a declared family.
//!   The number of distinct metric names is bounded too ([`FacadeBuilder::max_metrics`]).
//!
//! # A name a declared set also exposes: a conflict, never exposed twice
//!
//! A facade metric is claimed in the registry ([`Registry::claim`]) on its first use. If
//! a declared set (or any registered collector) already exposes that name or one of its
//! sample names (`x_total`, `x_bucket`, ...), the declared metric keeps it: the facade's
//! calls for that name are recorded nowhere, each one is counted in
//! `fiko_metrics_facade_rejected_calls_total{metric="...",reason="conflict"}`, and
//! [`FacadeHandle::refused`] lists it. Routing the calls into the declared metric was
//! not chosen: a declared family's labels are typed and closed, and a facade call's free
//! labels would have to be mapped onto them or silently widen them. Conversely a set
//! registered after the facade claimed one of its names is refused by
//! [`Registry::register`] like any duplicate; register declared sets first.
//!
//! A name used as two kinds keeps its first kind; calls of the other kind are counted with
//! `reason="kind_mismatch"`.
//!
//! # Discovered metrics on dashboards
//!
//! Facade metrics are not declared, so the generator cannot know them from code.
//! [`discovered::DiscoveredMetrics`] reads a scrape saved beside the application and turns
//! the metrics no declaration names into a dashboard row marked "not declared".

mod config;
pub mod discovered;
mod labels;
mod metrics;
mod names;
mod state;

use std::fmt;
use std::sync::Arc;

use ::metrics::{Key, KeyName, Metadata, SharedString, Unit};
use fiko_metrics::histogram::Buckets;
use fiko_metrics::{MetricKind, MetricSet, Registry, RegistryError};

use crate::config::Config;
pub use crate::config::NamePattern;
use crate::labels::KeyLabels;
pub use crate::metrics::{FacadeMetrics, Reason, RejectedLabels};
use crate::state::{Series, State};

/// Why a recorder could not be built or installed.
#[derive(Debug)]
pub enum FacadeError {
    /// The recorder's self-metrics could not be registered (a facade recorder is already
    /// built on this registry).
    Registry(RegistryError),
    /// Another `metrics` recorder is installed already.
    AlreadyInstalled,
}

impl fmt::Display for FacadeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Registry(error) => write!(f, "cannot register the facade recorder: {error}"),
            Self::AlreadyInstalled => f.write_str("a `metrics` recorder is installed already"),
        }
    }
}

impl std::error::Error for FacadeError {}

impl From<RegistryError> for FacadeError {
    fn from(error: RegistryError) -> Self {
        Self::Registry(error)
    }
}

/// Settings of a [`FacadeRecorder`]; see [`FacadeRecorder::builder`].
#[derive(Clone, Debug, Default)]
pub struct FacadeBuilder {
    config: Config,
}

impl FacadeBuilder {
    /// Histograms whose exposed name matches `pattern` get `buckets`. Exact rules win over
    /// prefix and suffix rules; among those, the first added wins.
    pub fn buckets(mut self, pattern: NamePattern, buckets: Buckets) -> Self {
        self.config.rules.push((pattern, buckets));
        self
    }

    /// The buckets of histograms no rule matches (the runtime's defaults otherwise:
    /// 5 ms to 10 s).
    pub fn default_buckets(mut self, buckets: Buckets) -> Self {
        self.config.default_buckets = buckets;
        self
    }

    /// The series limit of each facade metric (1000 by default): past it, label values
    /// fold into the `other` series, and the fold is counted.
    pub fn max_series(mut self, max_series: usize) -> Self {
        self.config.max_series = max_series;
        self
    }

    /// How many distinct metric names the recorder takes (1000 by default); calls for
    /// further names are counted as `too_many_metrics` and recorded nowhere.
    pub fn max_metrics(mut self, max_metrics: usize) -> Self {
        self.config.max_metrics = max_metrics;
        self
    }

    /// Builds the recorder on `registry` (an application's, or
    /// `fiko_metrics::default_registry().clone()`) and registers its metrics there (one
    /// recorder per registry).
    pub fn build(self, registry: Arc<Registry>) -> Result<FacadeRecorder, FacadeError> {
        let self_metrics = FacadeMetrics::register(&registry)?;
        let state = Arc::new(State::new(self.config, self_metrics));
        registry.register_collector(state.clone())?;
        Ok(FacadeRecorder { registry, state })
    }
}

/// A `metrics::Recorder` that records into a fiko-metrics [`Registry`].
///
/// Build it with [`FacadeRecorder::builder`], then [`install`](Self::install) it, or use
/// it for a scope with `metrics::with_local_recorder`.
pub struct FacadeRecorder {
    registry: Arc<Registry>,
    state: Arc<State>,
}

impl fmt::Debug for FacadeRecorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FacadeRecorder").finish_non_exhaustive()
    }
}

impl FacadeRecorder {
    /// The default settings, to change before [`FacadeBuilder::build`].
    pub fn builder() -> FacadeBuilder {
        FacadeBuilder::default()
    }

    /// A recorder with the default settings on `registry`.
    pub fn new(registry: Arc<Registry>) -> Result<Self, FacadeError> {
        Self::builder().build(registry)
    }

    /// A handle that outlives installation: the refused names, the self-metrics.
    pub fn handle(&self) -> FacadeHandle {
        FacadeHandle {
            state: self.state.clone(),
        }
    }

    /// Installs the recorder for the whole process (`metrics::set_global_recorder`).
    pub fn install(self) -> Result<FacadeHandle, FacadeError> {
        let handle = self.handle();
        ::metrics::set_global_recorder(self).map_err(|_| FacadeError::AlreadyInstalled)?;
        Ok(handle)
    }

    /// The handle of `key`'s series in the metric `key` names, if it is of `kind`.
    fn series_handle<T>(
        &self,
        key: &Key,
        kind: MetricKind,
        pick: impl FnOnce(&Series, &KeyLabels<'_>) -> Option<T>,
    ) -> Option<T> {
        let labels = KeyLabels(key.labels().as_slice());
        self.state
            .with_entry(&self.registry, key.name(), kind, |entry| {
                pick(&entry.series, &labels)
            })
            .flatten()
    }
}

/// What a recorder exposes about itself, after it is installed.
#[derive(Clone)]
pub struct FacadeHandle {
    state: Arc<State>,
}

impl fmt::Debug for FacadeHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FacadeHandle").finish_non_exhaustive()
    }
}

impl FacadeHandle {
    /// The facade metric names that are not exposed, with the reason, sorted by name
    /// (names past the metric limit are not remembered, only counted).
    pub fn refused(&self) -> Vec<(String, Reason)> {
        self.state.refused()
    }

    /// The recorder's self-metrics (`fiko_metrics_facade_rejected_calls_total`).
    pub fn metrics(&self) -> &FacadeMetrics {
        &self.state.self_metrics
    }
}

impl ::metrics::Recorder for FacadeRecorder {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.state.describe(key.as_str(), unit, &description);
    }

    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.state.describe(key.as_str(), unit, &description);
    }

    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.state.describe(key.as_str(), unit, &description);
    }

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> ::metrics::Counter {
        self.series_handle(key, MetricKind::Counter, |series, labels| match series {
            Series::Counter(family) => Some(State::series(family, labels)),
            _ => None,
        })
        .map_or_else(::metrics::Counter::noop, ::metrics::Counter::from_arc)
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> ::metrics::Gauge {
        self.series_handle(key, MetricKind::Gauge, |series, labels| match series {
            Series::Gauge(family) => Some(State::series(family, labels)),
            _ => None,
        })
        .map_or_else(::metrics::Gauge::noop, ::metrics::Gauge::from_arc)
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> ::metrics::Histogram {
        self.series_handle(key, MetricKind::Histogram, |series, labels| match series {
            Series::Histogram(family) => Some(State::series(family, labels)),
            _ => None,
        })
        .map_or_else(::metrics::Histogram::noop, ::metrics::Histogram::from_arc)
    }
}

/// The README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
