//! The trait every metric kind implements.

use std::fmt;

use crate::descriptor::MetricKind;
use crate::encoding::{Labels, Visitor};

/// A metric kind: [`Counter`](crate::Counter),
/// [`CounterWithExemplar`](crate::CounterWithExemplar), [`Gauge`](crate::Gauge) or
/// [`Histogram`](crate::Histogram). Families create their series through it.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a fiko metric",
    note = "a series is a `Counter`, `CounterWithExemplar`, `Gauge` or `Histogram` (from `fiko_metrics`)"
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

    /// Whether the series can keep exemplars
    /// ([`CounterWithExemplar`](crate::CounterWithExemplar) and
    /// [`Histogram`](crate::Histogram) can; [`Counter`](crate::Counter) and
    /// [`Gauge`](crate::Gauge) cannot).
    #[doc(hidden)]
    const EXEMPLARS: bool = false;

    /// Opts the series out of exemplars, as a histogram declared without
    /// `#[metric(exemplars)]` is (the other kinds keep exemplars by their type, or none).
    #[doc(hidden)]
    fn refuse_exemplars(&self) {}

    /// Hands the current value to `visitor`, under the given labels.
    fn visit(&self, labels: Labels<'_>, visitor: &mut dyn Visitor) -> fmt::Result;

    /// A number that changes whenever the series records something (its value, or for a
    /// histogram its count and sum): how a scrape tells that a series expiring under
    /// [`Family::expire_after`](crate::Family::expire_after) was written.
    #[doc(hidden)]
    fn fingerprint(&self) -> u64 {
        0
    }

    /// [`visit`](Self::visit), returning the [`fingerprint`](Self::fingerprint) of the
    /// value shown (for a counter, exactly the value shown).
    #[doc(hidden)]
    fn visit_shown(
        &self,
        labels: Labels<'_>,
        visitor: &mut dyn Visitor,
    ) -> Result<u64, fmt::Error> {
        let shown = self.fingerprint();
        self.visit(labels, visitor)?;
        Ok(shown)
    }

    /// Starts the series again after it expired or was removed, given what the last
    /// scrape showed of it ([`visit_shown`](Self::visit_shown)): a counter subtracts it,
    /// so it counts from zero what it records from now on plus whatever it recorded since
    /// that scrape; a gauge or histogram keeps its value.
    #[doc(hidden)]
    fn restart(&self, shown: u64) {
        let _ = shown;
    }
}

/// The configuration of metrics that need none.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoConfig;
