//! Dashboard panels and alerts over fiko-metrics declarations, typed so mistakes do not
//! compile.
//!
//! Panels and alerts name metrics through the constants `#[derive(MetricSet)]` writes
//! (`ShopMetrics::ORDERS`, a [`Declared<L, K, U>`](fiko_metrics::Declared)) and labels
//! through those of `#[derive(LabelSet)]` (`OrderLabels::OUTCOME`). So:
//!
//! - a misspelt metric or label is an unknown constant;
//! - PromQL follows the metric's kind: counters have [`rate`](CounterQueries::rate) and
//!   [`increase`](CounterQueries::increase) (`$__rate_interval` in dashboards, a fixed
//!   window in rules), histograms [`quantile`](HistogramQueries::quantile)
//!   (`histogram_quantile` over `_bucket` by `le`), gauges [`value`](GaugeQueries::value) —
//!   a quantile of a counter does not exist;
//! - [`by`](Query::by) and [`filter`](Query::filter) take only labels of the metric's own
//!   label set;
//! - [`ratio`] never divides by zero;
//! - an alert threshold must be in the query's unit ([`Seconds`] for a latency, [`Percent`]
//!   for a ratio, ...; the table in [`units`](units#which-threshold-fits-which-unit) gives
//!   every pairing), and durations are built by [`minutes`] and friends, never parsed.
//!
//! A metric set contributes its default dashboard rows and alerts by implementing
//! [`Observe`]; `fiko-dashboards-gen` turns them into Grafana JSON, rule files and promtool
//! tests.
//!
//! ```
//! use fiko_dashboards::prelude::*;
//! use fiko_metrics::{Counter, Family, Histogram, LabelSet, LabelValue, MetricSet};
//!
//! #[derive(MetricSet)]
//! #[metric_set(namespace = "shop")]
//! pub struct ShopMetrics {
//!     /// Orders, by outcome.
//!     orders: Family<OrderLabels, Counter>,
//!     /// Checkout latency.
//!     #[metric(buckets = [0.1, 0.5, 1.0, 2.0, 5.0])]
//!     checkout_duration_seconds: Histogram,
//! }
//!
//! #[derive(LabelSet)]
//! pub struct OrderLabels { outcome: Outcome }
//!
//! #[derive(LabelValue)]
//! pub enum Outcome { Paid, Failed }
//!
//! impl Observe for ShopMetrics {
//!     fn rows() -> Vec<Row> {
//!         vec![Row::new("Shop")
//!             .panel(Panel::timeseries("Orders by outcome")
//!                 .query(Self::ORDERS.rate().by([OrderLabels::OUTCOME]))
//!                 .stacked())
//!             .panel(Panel::timeseries("Checkout latency")
//!                 .query_as("p50", Self::CHECKOUT_DURATION_SECONDS.quantile(0.5))
//!                 .query_as("p95", Self::CHECKOUT_DURATION_SECONDS.quantile(0.95)))]
//!     }
//!
//!     fn alerts() -> Vec<Alert> {
//!         let failed = Self::ORDERS.rate().filter(OrderLabels::OUTCOME, "failed");
//!         vec![
//!             Alert::warning("CheckoutFailures", ratio(failed, Self::ORDERS.rate()).above(Percent(10.0)))
//!                 .for_(minutes(10))
//!                 .summary("Checkouts fail on {{ $labels.instance }}")
//!                 .description("More than {threshold} of orders failed for {for}."),
//!             Alert::warning("SlowCheckout", Self::CHECKOUT_DURATION_SECONDS.quantile(0.95).above(Seconds(2.0)))
//!                 .summary("Slow checkout on {{ $labels.instance }}")
//!                 .description("p95 checkout latency is above {threshold}."),
//!         ]
//!     }
//! }
//!
//! // What the generator reads:
//! let alerts = ShopMetrics::alerts();
//! assert!(alerts.iter().all(|alert| alert.problems().is_empty()));
//! assert_eq!(
//!     alerts[0].condition.expr.render(&Context::rules(minutes(5))),
//!     r#"(sum by (job, instance) (rate(shop_orders_total{outcome="failed"}[5m]))) / (sum by (job, instance) (rate(shop_orders_total[5m])) > 0)"#,
//! );
//! assert_eq!(alerts[0].fill("{threshold} for {for}"), "10% for 10m");
//! let panel = &ShopMetrics::rows()[0].panels[0];
//! assert_eq!(panel.unit, "ops");
//! assert_eq!(
//!     panel.targets[0].expr.render(&Context::dashboard()),
//!     r#"sum by (outcome) (rate(shop_orders_total{job=~"$job", instance=~"$instance"}[$__rate_interval]))"#,
//! );
//! ```
//!
//! # Implementing `Observe` for an integration's set
//!
//! Put the impl next to the set (the integration crate depends on `fiko-dashboards`),
//! give the alerts a `summary` and `description` (templates: `{{ $labels.NAME }}` of a
//! label the result keeps — `job`, `instance` and the `by` labels — plus `{threshold}` and
//! `{for}`), and record the impl with [`observed!`] so a generator reading the
//! application's registry finds it (`fiko_dashboards_gen::Generator::observe_registered`;
//! an application may also list the set with `Generator::observe`). The
//! generator derives promtool tests for every alert built from typed queries; latency
//! thresholds must be declared bucket boundaries (not the last one).
//!
//! # Raw PromQL
//!
//! [`raw`] is a panel query and [`raw_condition`] an alert condition written by hand, for
//! what the typed queries cannot say (`time() - max_over_time(...)`, `or`, `absent`).
//! The generator parses both with `promql-parser` and refuses any metric no listed set
//! declares; a raw alert also needs hand-written promtool input ([`AlertTest`]):
//!
//! ```
//! use fiko_dashboards::prelude::*;
//!
//! let stuck = Alert::critical(
//!     "WorkerSilent",
//!     raw_condition("time() - max by (job, instance) (worker_heartbeat_timestamp_seconds) > 120"),
//! )
//! .for_(minutes(1))
//! .summary("Worker {{ $labels.instance }} is silent")
//! .description("No heartbeat for more than two minutes.")
//! .tested_with(
//!     AlertTest::new()
//!         .firing(r#"worker_heartbeat_timestamp_seconds{job="w",instance="w:1"}"#, "0+0x10")
//!         .silent(r#"worker_heartbeat_timestamp_seconds{job="w",instance="w:1"}"#, "0+60x10")
//!         .label("job", "w")
//!         .label("instance", "w:1"),
//! );
//! assert!(stuck.problems().is_empty());
//! ```
//!
//! # Overriding thresholds
//!
//! Default alerts are plain values: change them before generating, e.g.
//! `alert.set_threshold(0.1).set_for(minutes(10))` (the threshold in the condition's base
//! unit), or through `fiko-dashboards-gen`'s `Generator::customize` (per set) and
//! `Generator::tune`.
//!
//! # Latency thresholds and buckets
//!
//! [`Alert::problems`] reports a quantile alert whose threshold is not a declared bucket
//! boundary; `fiko-dashboards-gen` refuses to generate it (an error, not a warning: such an
//! alert fires at an interpolated value nobody chose).

mod alert;
mod duration;
pub mod exporters;
mod functions;
pub mod humanize;
mod observed;
mod panel;
pub mod query;
mod runtime;
pub mod slo;
pub mod units;

/// The crate README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

pub use alert::{Alert, AlertTest, Comparison, Condition, Severity, raw_condition};
pub use duration::{PromDuration, hours, minutes, seconds};
pub use observed::Observed;
pub use panel::{Panel, PanelSpec, Row, Step, Target, Visual};
pub use query::{Context, CounterQueries, Expr, GaugeQueries, HistogramQueries, Query, ratio, raw};
pub use runtime::{OverflowLabels, RuntimeSelfMetrics};
pub use slo::{Sli, Slo, days};
pub use units::{Bytes, Count, PerSecond, Percent, RateOf, Ratio, Seconds, Threshold, Unit};

use fiko_metrics::MetricSet;

/// A metric set that brings its own dashboard rows and alerts.
///
/// Implement it next to the set; the generator collects every observed set's rows (in
/// order) and alerts. See the crate example.
pub trait Observe: MetricSet {
    /// The `service` label of this set's alerts (Alertmanager groups by it); by default
    /// the set's namespace, or `app`.
    fn service() -> &'static str {
        Self::DESCRIPTOR.namespace.unwrap_or("app")
    }

    /// The set's default dashboard sections.
    fn rows() -> Vec<Row> {
        Vec::new()
    }

    /// The set's default alerts.
    fn alerts() -> Vec<Alert> {
        Vec::new()
    }

    /// The set's service level objectives (none by default): see [`Slo`].
    fn slos() -> Vec<Slo> {
        Vec::new()
    }
}

#[doc(hidden)]
pub mod __private {
    pub use linkme;

    /// Every [`Observed`](crate::Observed) recorded by [`observed!`](crate::observed).
    #[linkme::distributed_slice]
    pub static OBSERVED: [crate::Observed];
}

/// Everything needed to write an [`Observe`] implementation.
pub mod prelude {
    pub use crate::{
        Alert, AlertTest, Bytes, Context, Count, CounterQueries, GaugeQueries, HistogramQueries,
        Observe, Panel, PerSecond, Percent, Ratio, Row, Seconds, Severity, Slo, days, hours,
        minutes, ratio, raw, raw_condition, seconds,
    };
}
