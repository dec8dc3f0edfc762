//! Static metadata about declared metrics, available without an instance.
//!
//! `#[derive(MetricSet)]` writes a [`SetDescriptor`] for every set; the dashboards and
//! alerts generator reads only these.

use std::fmt;

/// The kind of a metric (defined with the naming rules the derive shares).
pub use fiko_metrics_naming::MetricKind;

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
    /// Histogram bucket upper bounds without `+Inf`; empty for other kinds and for native
    /// histograms without classic buckets.
    pub buckets: &'static [f64],
    /// `#[metric(native)]`: a native histogram's schema, zero threshold and bucket bound;
    /// `None` for classic histograms and other kinds.
    pub native: Option<crate::histogram::NativeConfig>,
    /// A `CounterWithExemplar`, or a histogram declared `#[metric(exemplars)]`: the metric
    /// carries exemplars (a trace id on an observation), so dashboards show them; see
    /// [`exemplar`](crate::exemplar).
    pub exemplars: bool,
    /// How many series open labels may create before values fold into the overflow series.
    pub max_series: usize,
    /// Declared for another program's metrics (an exporter's): `name` is exactly what that
    /// program exposes, and counters get no `_total` added.
    pub external: bool,
}

impl MetricDescriptor {
    /// The name samples carry: `name_total` for counters, `name` otherwise (a histogram's
    /// samples add `_bucket`, `_sum` and `_count` to it).
    pub fn sample_name(&self) -> String {
        fiko_metrics_naming::sample_name(self.kind, self.name, self.external)
    }

    /// Every series name a scrape shows for this metric (a native histogram's include its
    /// bare name, under which Prometheus stores it).
    pub fn series_names(&self) -> Vec<String> {
        fiko_metrics_naming::series_names(self.kind, self.name, self.external, self.is_native())
    }

    /// Whether this is a native histogram (perhaps with classic buckets too).
    pub fn is_native(&self) -> bool {
        self.native.is_some()
    }

    /// Whether this histogram has classic buckets (`_bucket` series with `le` bounds).
    pub fn has_classic_buckets(&self) -> bool {
        self.kind == MetricKind::Histogram && !self.buckets.is_empty()
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
    /// `#[metric_set(external)]`: another program's metrics, declared so dashboards and
    /// alerts can name them; never registered or recorded here.
    pub external: bool,
    /// The metrics, in field order.
    pub metrics: &'static [MetricDescriptor],
}

impl SetDescriptor {
    /// The metric declared as the Rust field `field`.
    pub fn metric(&self, field: &str) -> Option<&'static MetricDescriptor> {
        self.metrics.iter().find(|metric| metric.field == field)
    }
}

/// Marker types for a metric's kind, in [`Declared`]'s type.
pub mod kind {
    /// A counter.
    #[derive(Clone, Copy, Debug)]
    pub struct Counter;
    /// A gauge.
    #[derive(Clone, Copy, Debug)]
    pub struct Gauge;
    /// A histogram.
    #[derive(Clone, Copy, Debug)]
    pub struct Histogram;
}

/// Marker types for a metric's unit, in [`Declared`]'s type; which unit gets which marker
/// is decided by `fiko_metrics_naming::unit_marker`, the rule the derive applies.
pub mod unit {
    /// Seconds.
    #[derive(Clone, Copy, Debug)]
    pub struct Seconds;
    /// Bytes.
    #[derive(Clone, Copy, Debug)]
    pub struct Bytes;
    /// A ratio (0 to 1).
    #[derive(Clone, Copy, Debug)]
    pub struct Ratio;
    /// No unit: a plain count or value.
    #[derive(Clone, Copy, Debug)]
    pub struct Unitless;
    /// Another unit (`tokens`, `celsius`, …); its name is in the descriptor.
    #[derive(Clone, Copy, Debug)]
    pub struct Other;
}

/// Carries the type parameters of [`Declared`] without owning any of them.
type Markers<L, K, U> = std::marker::PhantomData<fn() -> (L, K, U)>;

/// A declared metric, typed by its label set `L`, kind `K` and unit `U`: what dashboards
/// and alerts refer to, so a misspelt metric, a label the metric lacks or a quantile of a
/// counter is a compile error.
///
/// `#[derive(MetricSet)]` writes one per field as an associated constant named after the
/// field in upper case (`AiMetrics::REQUESTS`); metrics without labels have `L = ()`.
pub struct Declared<L, K, U> {
    /// The metric's descriptor.
    pub descriptor: &'static MetricDescriptor,
    types: Markers<L, K, U>,
}

impl<L, K, U> Declared<L, K, U> {
    /// Wraps a descriptor; used by the derive.
    #[doc(hidden)]
    pub const fn new(descriptor: &'static MetricDescriptor) -> Self {
        Self {
            descriptor,
            types: std::marker::PhantomData,
        }
    }
}

impl<L, K, U> Clone for Declared<L, K, U> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<L, K, U> Copy for Declared<L, K, U> {}

impl<L, K, U> fmt::Debug for Declared<L, K, U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Declared")
            .field(&self.descriptor.name)
            .finish()
    }
}

/// A label of the label set `L`, typed so it can only be used with metrics labelled by
/// `L`. `#[derive(LabelSet)]` writes one per field (`AiLabels::MODEL`).
pub struct LabelRef<L> {
    /// The label's descriptor.
    pub descriptor: &'static LabelDescriptor,
    set: std::marker::PhantomData<fn() -> L>,
}

impl<L> LabelRef<L> {
    /// Wraps a descriptor; used by the derive.
    #[doc(hidden)]
    pub const fn new(descriptor: &'static LabelDescriptor) -> Self {
        Self {
            descriptor,
            set: std::marker::PhantomData,
        }
    }

    /// The label name.
    pub const fn name(&self) -> &'static str {
        self.descriptor.name
    }
}

impl<L> Clone for LabelRef<L> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<L> Copy for LabelRef<L> {}

impl<L> fmt::Debug for LabelRef<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("LabelRef")
            .field(&self.descriptor.name)
            .finish()
    }
}

/// The self-metric counting series lookups folded into overflow series: one per lookup
/// that folded, not per distinct value (a wrapper keeping a [`SeriesId`](crate::SeriesId)
/// looks up, and counts, once).
pub const OVERFLOW_METRIC: MetricDescriptor = MetricDescriptor {
    name: "fiko_metrics_label_overflow",
    field: "label_overflow",
    kind: MetricKind::Counter,
    help: "Series lookups whose label values were folded into a metric's overflow series because it reached its series limit.",
    unit: None,
    labels: &[LabelDescriptor {
        name: "metric",
        values: None,
    }],
    buckets: &[],
    native: None,
    exemplars: false,
    max_series: usize::MAX,
    external: false,
};

/// What `#[derive(MetricSet)]` reads from a field's `#[metric(...)]` attribute.
#[doc(hidden)]
#[derive(Clone, Copy, Debug)]
pub struct Declaration {
    /// Histogram buckets (empty: the defaults).
    pub buckets: &'static [f64],
    /// Series limit for open labels.
    pub max_series: usize,
    /// `#[metric(native)]`: native buckets (with classic ones too when `buckets` is given).
    pub native: Option<crate::histogram::NativeConfig>,
    /// The metric records exemplars: a `CounterWithExemplar`, or a histogram declared
    /// `#[metric(exemplars)]` (off without it).
    pub exemplars: bool,
    /// `#[metric(expire_after = "15m")]`: open series unwritten this long expire.
    pub expire_after: Option<std::time::Duration>,
}

#[cfg(test)]
mod tests {
    use super::unit;

    /// The derive names the marker types by `unit_marker`; each name it gives is one of
    /// the types of [`unit`].
    #[test]
    fn every_unit_marker_the_derive_names_is_a_type_here() {
        let markers = [
            std::any::type_name::<unit::Seconds>(),
            std::any::type_name::<unit::Bytes>(),
            std::any::type_name::<unit::Ratio>(),
            std::any::type_name::<unit::Other>(),
            std::any::type_name::<unit::Unitless>(),
        ];
        let units = [
            Some("seconds"),
            Some("bytes"),
            Some("ratio"),
            Some("tokens"),
            None,
        ];
        for (unit, marker) in units.into_iter().zip(markers) {
            let named = format!("::unit::{}", fiko_metrics_naming::unit_marker(unit));
            assert!(
                marker.ends_with(&named),
                "{unit:?}: {marker} is not {named}"
            );
        }
    }
}
