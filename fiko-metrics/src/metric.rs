//! The trait every metric kind implements.

use std::fmt;

use crate::descriptor::MetricKind;
use crate::encoding::{Labels, Visitor};

/// A metric kind: [`Counter`](crate::Counter), [`Gauge`](crate::Gauge) or
/// [`Histogram`](crate::Histogram). Families create their series through it.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a fiko metric",
    note = "a series is a `Counter`, `Gauge` or `Histogram` (from `fiko_metrics`)"
)]
pub trait Metric: Send + Sync + Sized + 'static {
    /// The kind, as exposed in `# TYPE`.
    const KIND: MetricKind;
    /// What every series of a family is created from (histogram buckets, or nothing).
    type Config: Clone + Default + Send + Sync + 'static;

    /// Creates one series.
    fn with_config(config: &Self::Config) -> Self;

    /// The configuration a `#[metric(buckets = [...], native)]` declaration asks for.
    #[doc(hidden)]
    fn declared_config(declaration: &crate::descriptor::Declaration) -> Self::Config {
        let _ = declaration;
        Self::Config::default()
    }

    /// Opts the series out of exemplars, as a declaration without `#[metric(exemplars)]`
    /// does (gauges have none).
    #[doc(hidden)]
    fn refuse_exemplars(&self) {}

    /// Hands the current value to `visitor`, under the given labels.
    fn visit(&self, labels: Labels<'_>, visitor: &mut dyn Visitor) -> fmt::Result;
}

/// The configuration of metrics that need none.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoConfig;
