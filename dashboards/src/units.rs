//! Units of queries and the typed thresholds alerts compare them with.
//!
//! A query's unit is a type: the runtime's markers ([`fiko_metrics::unit`]) for values,
//! and [`RateOf<U>`] for per-second rates of a counter in `U`. A threshold only compiles
//! against a query of its own unit: [`Seconds`] for latencies, [`Ratio`]/[`Percent`] for
//! ratios, [`Bytes`] for sizes, [`PerSecond`] for rates of plain counts, [`Count`] for
//! plain values.
//!
//! # Which threshold fits which unit
//!
//! A metric's unit comes from its declaration: `unit = "..."` or a base-unit suffix of its
//! name (`_seconds`, `_bytes`, `_ratio`). `seconds`, `bytes` and `ratio` have their own
//! marker types; every other unit (`tokens`, `cents`, `celsius`, ...) is [`unit::Other`],
//! and a metric without one is [`unit::Unitless`].
//!
//! | the query | its unit type | e.g. | thresholds that compile | panel unit (Grafana) |
//! |---|---|---|---|---|
//! | `quantile` of a histogram, `value` of a gauge, `increase` of a counter in seconds | [`unit::Seconds`] | p95 latency, job age | [`Seconds`] | `s` |
//! | the same, in bytes | [`unit::Bytes`] | resident memory, body size | [`Bytes`] (`Bytes::mib(n)`) | `bytes` |
//! | [`ratio(a, b)`](crate::ratio) of any two queries of one unit; a `_ratio` gauge | [`unit::Ratio`] | error rate, cache hit ratio | [`Ratio`], [`Percent`] | `percentunit` |
//! | `rate` of a counter in seconds | [`RateOf<unit::Seconds>`] | CPU usage (CPU seconds per second) | [`Ratio`], [`Percent`] | `percentunit` |
//! | `rate` of a counter without a unit; `rate` of a histogram (observations per second) | [`RateOf<unit::Unitless>`] | requests per second | [`PerSecond`] | `ops` |
//! | `rate` of a counter in another unit | [`RateOf<unit::Other>`] | tokens per second | [`PerSecond`] | `ops` |
//! | `rate` of a counter in bytes | [`RateOf<unit::Bytes>`] | bytes sent per second | none: chart it, or alert on a [`ratio`](crate::ratio) | `Bps` |
//! | `value` of a gauge, `increase` of a counter, without a unit | [`unit::Unitless`] | connections, queue length, deadlocks in 5m, `up` | [`Count`] | `short` |
//! | the same, in another unit | [`unit::Other`] | tokens used today, temperature | [`Count`] | `short` |
//! | [`raw::<U>(...)`](crate::raw) | the `U` you name | | those of `U`'s row | that of `U`'s row |
//!
//! A threshold of the wrong unit does not compile; the error names both units and the
//! note lists which threshold fits which query.
//!
//! ```
//! use fiko_dashboards::prelude::*;
//! use fiko_dashboards::units::{RateOf, Unit};
//! use fiko_metrics::{Counter, Gauge, Histogram, MetricSet, unit};
//!
//! #[derive(MetricSet)]
//! #[metric_set(namespace = "app")]
//! pub struct AppMetrics {
//!     /// Request latency.
//!     request_duration_seconds: Histogram,
//!     /// Resident memory.
//!     resident_memory_bytes: Gauge,
//!     /// Requests.
//!     requests: Counter,
//!     /// Failed requests.
//!     failures: Counter,
//!     /// CPU time used.
//!     cpu_seconds: Counter,
//!     /// Model tokens used.
//!     #[metric(unit = "tokens")]
//!     tokens: Counter,
//!     /// Bytes sent.
//!     sent_bytes: Counter,
//!     /// Open connections.
//!     connections: Gauge,
//! }
//!
//! let conditions = [
//!     AppMetrics::REQUEST_DURATION_SECONDS.quantile(0.95).above(Seconds(0.5)),
//!     AppMetrics::RESIDENT_MEMORY_BYTES.value().above(Bytes::mib(1500)),
//!     ratio(AppMetrics::FAILURES.rate(), AppMetrics::REQUESTS.rate()).above(Percent(5.0)),
//!     ratio(AppMetrics::FAILURES.rate(), AppMetrics::REQUESTS.rate()).above(Ratio(0.05)),
//!     AppMetrics::CPU_SECONDS.rate().above(Percent(80.0)),
//!     AppMetrics::REQUESTS.rate().above(PerSecond(1000.0)),
//!     AppMetrics::REQUEST_DURATION_SECONDS.rate().above(PerSecond(1000.0)),
//!     AppMetrics::TOKENS.rate().above(PerSecond(50.0)),
//!     AppMetrics::CONNECTIONS.value().above(Count(80.0)),
//!     AppMetrics::FAILURES.increase().above(Count(0.0)),
//!     AppMetrics::TOKENS.increase_over(hours(24)).above(Count(1e6)),
//! ];
//! let texts: Vec<String> = conditions.iter().map(|c| c.threshold_text()).collect();
//! assert_eq!(
//!     texts,
//!     ["0.5s", "1500 MiB", "5%", "5%", "80%", "1000/s", "1000/s", "50/s", "80", "0", "1000000"],
//! );
//!
//! // The panel units of the table's rows.
//! assert_eq!(<unit::Seconds as Unit>::GRAFANA, "s");
//! assert_eq!(<unit::Bytes as Unit>::GRAFANA, "bytes");
//! assert_eq!(<unit::Ratio as Unit>::GRAFANA, "percentunit");
//! assert_eq!(<RateOf<unit::Seconds> as Unit>::GRAFANA, "percentunit");
//! assert_eq!(<RateOf<unit::Unitless> as Unit>::GRAFANA, "ops");
//! assert_eq!(<RateOf<unit::Other> as Unit>::GRAFANA, "ops");
//! assert_eq!(<RateOf<unit::Bytes> as Unit>::GRAFANA, "Bps");
//! assert_eq!(<unit::Unitless as Unit>::GRAFANA, "short");
//! assert_eq!(<unit::Other as Unit>::GRAFANA, "short");
//! ```
//!
//! ```compile_fail
//! # use fiko_dashboards::prelude::*;
//! # use fiko_metrics::{Counter, Histogram, MetricSet};
//! # #[derive(MetricSet)]
//! # pub struct AppMetrics {
//! #     /// Request latency.
//! #     request_duration_seconds: Histogram,
//! #     /// Requests.
//! #     requests: Counter,
//! # }
//! // A latency compared with a count: does not compile.
//! AppMetrics::REQUEST_DURATION_SECONDS.quantile(0.95).above(Count(2.0));
//! ```
//!
//! ```compile_fail
//! # use fiko_dashboards::prelude::*;
//! # use fiko_metrics::{Counter, MetricSet};
//! # #[derive(MetricSet)]
//! # pub struct AppMetrics {
//! #     /// Bytes sent.
//! #     sent_bytes: Counter,
//! # }
//! // No threshold type fits a rate of bytes yet: chart it, or alert on a ratio.
//! AppMetrics::SENT_BYTES.rate().above(PerSecond(1e6));
//! ```

use std::marker::PhantomData;

use crate::humanize::{Humanize, ValueFormat};
use fiko_metrics::unit;

/// The per-second rate of a counter whose unit is `U` (requests/s, bytes/s, CPU seconds/s).
#[derive(Clone, Copy, Debug)]
pub struct RateOf<U>(PhantomData<fn() -> U>);

/// What the generators need to know about a unit type.
pub trait Unit: 'static {
    /// Grafana's unit id for panels (`s`, `bytes`, `percentunit`, `ops`, ...).
    const GRAFANA: &'static str;

    /// How an alert's annotations show a current value of this unit.
    const VALUE: ValueFormat;

    /// Formats a threshold for humans, e.g. `2s`, `5%`, `1500 MiB`, `1000/s`.
    fn display(value: f64) -> String;
}

impl Unit for unit::Seconds {
    const VALUE: ValueFormat = value(Humanize::Duration, "");
    const GRAFANA: &'static str = "s";
    fn display(value: f64) -> String {
        format!("{value}s")
    }
}

impl Unit for unit::Bytes {
    const VALUE: ValueFormat = value(Humanize::Binary, "B");
    const GRAFANA: &'static str = "bytes";
    fn display(value: f64) -> String {
        const MIB: f64 = 1024.0 * 1024.0;
        if value >= MIB && (value / MIB).fract() == 0.0 {
            format!("{} MiB", value / MIB)
        } else {
            format!("{value} B")
        }
    }
}

impl Unit for unit::Ratio {
    const VALUE: ValueFormat = value(Humanize::Percentage, "");
    const GRAFANA: &'static str = "percentunit";
    fn display(value: f64) -> String {
        percent(value)
    }
}

impl Unit for unit::Unitless {
    const VALUE: ValueFormat = value(Humanize::Plain, "");
    const GRAFANA: &'static str = "short";
    fn display(value: f64) -> String {
        format!("{value}")
    }
}

impl Unit for unit::Other {
    const VALUE: ValueFormat = value(Humanize::Plain, "");
    const GRAFANA: &'static str = "short";
    fn display(value: f64) -> String {
        format!("{value}")
    }
}

impl Unit for RateOf<unit::Unitless> {
    const VALUE: ValueFormat = value(Humanize::Plain, "/s");
    const GRAFANA: &'static str = "ops";
    fn display(value: f64) -> String {
        format!("{value}/s")
    }
}

impl Unit for RateOf<unit::Other> {
    const VALUE: ValueFormat = value(Humanize::Plain, "/s");
    const GRAFANA: &'static str = "ops";
    fn display(value: f64) -> String {
        format!("{value}/s")
    }
}

impl Unit for RateOf<unit::Bytes> {
    const VALUE: ValueFormat = value(Humanize::Binary, "B/s");
    const GRAFANA: &'static str = "Bps";
    fn display(value: f64) -> String {
        format!("{value} B/s")
    }
}

/// CPU (or any busy) seconds per second: the share of one core, shown as a percentage.
impl Unit for RateOf<unit::Seconds> {
    const VALUE: ValueFormat = value(Humanize::Percentage, "");
    const GRAFANA: &'static str = "percentunit";
    fn display(value: f64) -> String {
        percent(value)
    }
}

const fn value(function: Humanize, suffix: &'static str) -> ValueFormat {
    ValueFormat { function, suffix }
}

fn percent(value: f64) -> String {
    let pct = value * 100.0;
    // Keep thresholds like 0.05 from printing as 5.000000000000001%.
    let rounded = (pct * 1e6).round() / 1e6;
    format!("{rounded}%")
}

/// A value an alert may compare a query in unit `U` with.
#[diagnostic::on_unimplemented(
    message = "a `{Self}` threshold cannot be compared with a query in `{U}`",
    label = "threshold of the wrong unit",
    note = "use `Seconds` for latencies, `Ratio`/`Percent` for ratios and CPU usage, `Bytes` for sizes, `PerSecond` for rates of counts, `Count` for plain values"
)]
pub trait Threshold<U> {
    /// The threshold in the query's base unit.
    fn value(&self) -> f64;
}

/// A duration threshold, in seconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Seconds(pub f64);

/// A size threshold, in bytes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bytes(pub f64);

impl Bytes {
    /// `n` mebibytes (1024 × 1024 bytes).
    pub const fn mib(n: u32) -> Self {
        Self(n as f64 * 1024.0 * 1024.0)
    }
}

/// A ratio threshold between 0 and 1 (`Ratio(0.05)` is 5 %).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ratio(pub f64);

/// A ratio threshold in percent (`Percent(5.0)` is `Ratio(0.05)`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Percent(pub f64);

/// A per-second rate of a plain count (`PerSecond(1000.0)`: 1000 requests per second).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PerSecond(pub f64);

/// A plain number (connections, queued tasks, `up` values).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Count(pub f64);

impl Threshold<unit::Seconds> for Seconds {
    fn value(&self) -> f64 {
        self.0
    }
}

impl Threshold<unit::Bytes> for Bytes {
    fn value(&self) -> f64 {
        self.0
    }
}

impl Threshold<unit::Ratio> for Ratio {
    fn value(&self) -> f64 {
        self.0
    }
}

impl Threshold<unit::Ratio> for Percent {
    fn value(&self) -> f64 {
        self.0 / 100.0
    }
}

impl Threshold<RateOf<unit::Seconds>> for Ratio {
    fn value(&self) -> f64 {
        self.0
    }
}

impl Threshold<RateOf<unit::Seconds>> for Percent {
    fn value(&self) -> f64 {
        self.0 / 100.0
    }
}

impl Threshold<RateOf<unit::Unitless>> for PerSecond {
    fn value(&self) -> f64 {
        self.0
    }
}

impl Threshold<RateOf<unit::Other>> for PerSecond {
    fn value(&self) -> f64 {
        self.0
    }
}

impl Threshold<unit::Unitless> for Count {
    fn value(&self) -> f64 {
        self.0
    }
}

impl Threshold<unit::Other> for Count {
    fn value(&self) -> f64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_display_in_their_unit() {
        assert_eq!(<unit::Ratio as Unit>::display(Percent(5.0).0 / 100.0), "5%");
        assert_eq!(
            <unit::Bytes as Unit>::display(Bytes::mib(1500).0),
            "1500 MiB"
        );
        assert_eq!(<unit::Seconds as Unit>::display(2.0), "2s");
        assert_eq!(<RateOf<unit::Unitless> as Unit>::display(1000.0), "1000/s");
        assert_eq!(<RateOf<unit::Seconds> as Unit>::display(0.8), "80%");
    }
}
