//! Static metadata about declared metrics, available without an instance.
//!
//! `#[derive(MetricSet)]` writes a [`SetDescriptor`] for every set; the dashboards and
//! alerts generator reads only these.

use std::fmt;

/// The kind of a metric, as exposed in `# TYPE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MetricKind {
    /// Monotonic; exposed with the `_total` suffix.
    Counter,
    /// Goes up and down.
    Gauge,
    /// Buckets, `_sum` and `_count`.
    Histogram,
}

impl MetricKind {
    /// The `# TYPE` keyword.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Counter => "counter",
            Self::Gauge => "gauge",
            Self::Histogram => "histogram",
        }
    }
}

impl fmt::Display for MetricKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One label of a metric.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LabelDescriptor {
    /// The label name.
    pub name: &'static str,
    /// Every value the label can take, when it is a closed enum; `None` for open labels
    /// (strings, ids), whose series are bounded by the metric's series limit instead.
    pub values: Option<&'static [&'static str]>,
}

/// One declared metric.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MetricDescriptor {
    /// The metric family name, e.g. `fiko_ai_requests` (a counter's samples add `_total`).
    pub name: &'static str,
    /// The Rust field it was declared as.
    pub field: &'static str,
    /// Counter, gauge or histogram.
    pub kind: MetricKind,
    /// The HELP text (the field's doc comment).
    pub help: &'static str,
    /// The base unit (`seconds`, `bytes`, …), also the name's suffix.
    pub unit: Option<&'static str>,
    /// The labels, in exposition order.
    pub labels: &'static [LabelDescriptor],
    /// Histogram bucket upper bounds without `+Inf`; empty for other kinds.
    pub buckets: &'static [f64],
    /// How many series open labels may create before values fold into the overflow series.
    pub max_series: usize,
}

impl MetricDescriptor {
    /// The name samples carry: `name_total` for counters, `name` otherwise (a histogram's
    /// samples add `_bucket`, `_sum` and `_count` to it).
    pub fn sample_name(&self) -> String {
        match self.kind {
            MetricKind::Counter => format!("{}_total", self.name),
            MetricKind::Gauge | MetricKind::Histogram => self.name.to_owned(),
        }
    }

    /// Every series name a scrape shows for this metric.
    pub fn series_names(&self) -> Vec<String> {
        match self.kind {
            MetricKind::Counter => vec![format!("{}_total", self.name)],
            MetricKind::Gauge => vec![self.name.to_owned()],
            MetricKind::Histogram => ["bucket", "sum", "count"]
                .iter()
                .map(|suffix| format!("{}_{suffix}", self.name))
                .collect(),
        }
    }

    /// The label with this name, if the metric has it.
    pub fn label(&self, name: &str) -> Option<&'static LabelDescriptor> {
        self.labels.iter().find(|label| label.name == name)
    }

    /// Whether every label is a closed enum, so the series are fixed at compile time.
    pub fn is_closed(&self) -> bool {
        self.labels.iter().all(|label| label.values.is_some())
    }
}

/// A declared metric set: a `#[derive(MetricSet)]` struct.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SetDescriptor {
    /// The Rust type name.
    pub type_name: &'static str,
    /// The container doc comment.
    pub help: &'static str,
    /// `namespace` of `#[metric_set(...)]`.
    pub namespace: Option<&'static str>,
    /// `subsystem` of `#[metric_set(...)]`.
    pub subsystem: Option<&'static str>,
    /// The metrics, in field order.
    pub metrics: &'static [MetricDescriptor],
}

impl SetDescriptor {
    /// The metric declared as the Rust field `field`.
    pub fn metric(&self, field: &str) -> Option<&'static MetricDescriptor> {
        self.metrics.iter().find(|metric| metric.field == field)
    }
}
