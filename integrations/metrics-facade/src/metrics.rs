//! The facade's own metric: calls it could not expose.

use std::sync::Arc;

use fiko_metrics::{Counter, Family, LabelSet, LabelValue, MetricSet};

/// The facade recorder's self-metrics, registered beside the facade's metrics.
#[derive(MetricSet)]
#[metric_set(namespace = "fiko_metrics", subsystem = "facade")]
pub struct FacadeMetrics {
    /// `metrics` facade calls recorded nowhere, by facade metric name and reason: a name a
    /// declared set already exposes, a kind other than the name's first one, a name with
    /// nothing valid in it, or past the recorder's metric limit.
    #[metric(max_series = 1000)]
    pub rejected_calls: Family<RejectedLabels, Counter>,
}

/// The labels of [`FacadeMetrics::rejected_calls`].
#[derive(LabelSet, Clone, Debug)]
pub struct RejectedLabels {
    /// The metric name as the facade call gave it.
    pub metric: Arc<str>,
    /// Why the call was not recorded.
    pub reason: Reason,
}

/// Why a facade call was recorded nowhere.
#[derive(LabelValue, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reason {
    /// A declared set (or another collector) already exposes this name or one of its
    /// sample names: the declared metric keeps it, the facade's calls are dropped.
    Conflict,
    /// The name was first used as another kind (a counter, then a gauge).
    KindMismatch,
    /// Nothing valid is left of the name (empty, or `__`-prefixed).
    InvalidName,
    /// The recorder already holds its limit of distinct metric names.
    TooManyMetrics,
}
