//! What `#[timed]` and `#[counted]` record into.
//!
//! Both attributes record into a metric set: the default [`FunctionMetrics`], or one you
//! name with `metrics = ...`, which must live for the whole program (`MySet::global()`, or
//! a `static` such as a `LazyLock<MySet>`): the first call of each function looks its
//! series up once and keeps them, so a call that ends `ok` costs a clock read and two
//! atomic operations. A set can receive calls when its fields say what they record:
//!
//! ```
//! use fiko_metrics::{Counter, Family, Gauge, Histogram, MetricSet};
//! use fiko_metrics::calls::{CallLabels, FunctionLabels};
//!
//! #[derive(MetricSet)]
//! #[metric_set(namespace = "fiko", subsystem = "jobs")]
//! struct JobCalls {
//!     /// Job runs, by function and outcome.
//!     #[metric(calls)]
//!     runs: Family<CallLabels, Counter>,
//!     /// Job run time.
//!     #[metric(durations, buckets = [0.1, 1.0, 10.0, 60.0])]
//!     run_duration_seconds: Family<FunctionLabels, Histogram>,
//!     /// Jobs running now.
//!     #[metric(in_flight)]
//!     running: Family<FunctionLabels, Gauge>,
//! }
//!
//! #[fiko_metrics::timed(metrics = JobCalls::global(), in_flight)]
//! fn send_digest() -> Result<(), std::io::Error> {
//!     Ok(())
//! }
//!
//! send_digest()?;
//! let labels = FunctionLabels::of("send_digest", module_path!());
//! assert_eq!(JobCalls::global().run_duration_seconds.get_or_create(&labels).count(), 1);
//! # Ok::<(), std::io::Error>(())
//! ```

use std::sync::OnceLock;
use std::time::Instant;

use crate::counter::{Counter, CounterWithExemplar};
use crate::exemplar::ExemplarLabels;
use crate::family::{Family, SeriesId};
use crate::gauge::Gauge;
use crate::histogram::Histogram;
use crate::{LabelSet, LabelValue, MetricSet};

/// How a call ended; as a label value `ok`, `error`, `panic` or `cancelled`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Returned normally (for a `Result`: `Ok`, or an `Err` the classifier let pass).
    Ok,
    /// Returned an `Err`.
    Error,
    /// Panicked.
    Panic,
    /// An async call whose future was dropped before it finished.
    Cancelled,
}

// Written by hand rather than derived, to be `do_not_recommend`: rustc leaves it out of the
// "the following other types implement trait `LabelValue`" list a user sees for a field
// type that is not a label value, where this internal enum is noise.
#[diagnostic::do_not_recommend]
impl LabelValue for Outcome {
    const VALUES: Option<&'static [&'static str]> = Some(&["ok", "error", "panic", "cancelled"]);

    #[inline]
    fn index(&self) -> usize {
        *self as usize
    }

    #[inline]
    fn with_str<R>(&self, f: impl FnOnce(&str) -> R) -> R {
        f(match self {
            Self::Ok => "ok",
            Self::Error => "error",
            Self::Panic => "panic",
            Self::Cancelled => "cancelled",
        })
    }
}

/// Labels of call counts: function, module, outcome and error kind.
#[derive(Clone, Debug, LabelSet)]
#[label_set(crate = crate)]
pub struct CallLabels {
    /// The function name.
    pub function: &'static str,
    /// The module path.
    pub module: &'static str,
    /// How the call ended.
    pub outcome: Outcome,
    /// The error kind given by the classifier (`errors = ...`); empty otherwise.
    pub error: &'static str,
}

/// Labels of per-function durations and in-flight calls.
#[derive(Clone, Debug, LabelSet)]
#[label_set(crate = crate)]
pub struct FunctionLabels {
    /// The function name.
    pub function: &'static str,
    /// The module path.
    pub module: &'static str,
}

impl FunctionLabels {
    /// The labels of `function` in `module` (as `module_path!()` gives it).
    pub const fn of(function: &'static str, module: &'static str) -> Self {
        Self { function, module }
    }
}

/// The default set of `#[timed]` and `#[counted]`. Calls and durations record exemplars
/// (a `CounterWithExemplar` family, `#[metric(exemplars)]` on the histogram) when an
/// exemplar source is installed.
///
/// Its metric names are autometrics' (`function_calls_total`,
/// `function_calls_duration_seconds`), but not its labels: how a call ended is `outcome`
/// (`ok`, `error`, `panic`, `cancelled`) where autometrics writes `result` (`ok`, `error`),
/// and calls running now are `function_calls_in_flight`, not autometrics'
/// `function_calls_concurrent`. So autometrics' dashboards and alerts do not read these
/// series; the `Functions` row of `fiko-dashboards` does.
///
/// ```
/// use fiko_metrics::MetricSet;
/// use fiko_metrics::calls::FunctionMetrics;
///
/// let metrics = FunctionMetrics::DESCRIPTOR.metrics;
/// let names: Vec<&str> = metrics.iter().map(|m| m.name).collect();
/// assert_eq!(
///     names,
///     ["function_calls", "function_calls_duration_seconds", "function_calls_in_flight"],
/// );
/// let labels = |index: usize| -> Vec<&str> { metrics[index].labels.iter().map(|l| l.name).collect() };
/// assert_eq!(labels(0), ["function", "module", "outcome", "error"]);
/// assert_eq!(labels(1), ["function", "module"]);
/// // Not autometrics' `result` label, nor its `function_calls_concurrent` gauge.
/// assert!(metrics.iter().all(|m| m.label("result").is_none()));
/// assert!(!names.contains(&"function_calls_concurrent"));
/// assert_eq!(
///     metrics[0].label("outcome").and_then(|l| l.values),
///     Some(&["ok", "error", "panic", "cancelled"][..]),
/// );
/// ```
#[derive(MetricSet)]
#[metric_set(crate = crate)]
pub struct FunctionMetrics {
    /// Function calls, by function, module, outcome and error kind.
    #[metric(calls)]
    pub function_calls: Family<CallLabels, CounterWithExemplar>,
    /// Function call duration.
    #[metric(durations, exemplars, buckets = [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0])]
    pub function_calls_duration_seconds: Family<FunctionLabels, Histogram>,
    /// Function calls running now.
    #[metric(in_flight)]
    pub function_calls_in_flight: Family<FunctionLabels, Gauge>,
}

/// A set that `#[counted]` and `#[timed]` can count calls into: it has a
/// `#[metric(calls)] Family<CallLabels, Counter>` field (or `CounterWithExemplar`).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot record calls for `#[counted]`/`#[timed]`",
    label = "this set has no `#[metric(calls)]` field",
    note = "add `#[metric(calls)] calls: Family<CallLabels, Counter>` to the set, or leave out `metrics = ...` to use `FunctionMetrics`"
)]
pub trait RecordCalls: MetricSet {
    /// The call counter.
    fn calls(&self) -> CallCounts<'_>;
}

/// The call counter of a set: a family of [`Counter`]s, or of [`CounterWithExemplar`]s
/// when each outcome's count should link to a recent call's trace.
#[derive(Clone, Copy, Debug)]
pub enum CallCounts<'a> {
    /// Counts alone.
    Plain(&'a Family<CallLabels, Counter>),
    /// Counts that keep the latest exemplar of each series.
    WithExemplar(&'a Family<CallLabels, CounterWithExemplar>),
}

impl<'a> From<&'a Family<CallLabels, Counter>> for CallCounts<'a> {
    fn from(family: &'a Family<CallLabels, Counter>) -> Self {
        Self::Plain(family)
    }
}

impl<'a> From<&'a Family<CallLabels, CounterWithExemplar>> for CallCounts<'a> {
    fn from(family: &'a Family<CallLabels, CounterWithExemplar>) -> Self {
        Self::WithExemplar(family)
    }
}

impl CallCounts<'_> {
    fn address(self) -> usize {
        match self {
            Self::Plain(family) => address(family),
            Self::WithExemplar(family) => address(family),
        }
    }

    fn records_exemplars(self) -> bool {
        matches!(self, Self::WithExemplar(family) if family.records_exemplars())
    }

    // The series of `labels`, as an id of a `Counter` family whichever the family is.
    fn series_id(self, labels: &CallLabels) -> CallId {
        match self {
            Self::Plain(family) => family.series_id(labels),
            Self::WithExemplar(family) => family.series_id(labels).recast(),
        }
    }

    // Counts one call into the series `id` of this family (see `series_id`).
    fn count_id(self, id: CallId, exemplar: Option<&ExemplarLabels>) {
        match self {
            Self::Plain(family) => family.series(id).inc(),
            Self::WithExemplar(family) => family.series(id.recast()).inc_with_exemplar(exemplar),
        }
    }

    // Counts one call under `labels` (as `get_or_create` finds its series).
    fn count(self, labels: &CallLabels, exemplar: Option<&ExemplarLabels>) {
        self.count_id(self.series_id(labels), exemplar);
    }
}

// A call counter's series id, kept as one type for both kinds of family.
type CallId = SeriesId<CallLabels, Counter>;

/// A set that `#[timed]` can record durations into: it has a
/// `#[metric(durations)] Family<FunctionLabels, Histogram>` field.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot record durations for `#[timed]`",
    label = "this set has no `#[metric(durations)]` field",
    note = "add `#[metric(durations)] duration_seconds: Family<FunctionLabels, Histogram>` to the set, or use `#[counted]`"
)]
pub trait RecordDurations: MetricSet {
    /// The duration histogram.
    fn durations(&self) -> &Family<FunctionLabels, Histogram>;
}

/// A set that can track in-flight calls: it has a
/// `#[metric(in_flight)] Family<FunctionLabels, Gauge>` field.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot track in-flight calls",
    label = "this set has no `#[metric(in_flight)]` field",
    note = "add `#[metric(in_flight)] in_flight: Family<FunctionLabels, Gauge>` to the set, or drop `in_flight`"
)]
pub trait RecordInFlight: MetricSet {
    /// The in-flight gauge.
    fn in_flight(&self) -> &Family<FunctionLabels, Gauge>;
}

/// Where one instrumented function records; built by the attribute macros.
///
/// The first call looks its series up and keeps their [`SeriesId`]s, so later calls that
/// end `ok` touch no map: a clock read, an atomic add and a histogram observation.
#[doc(hidden)]
#[derive(Debug)]
pub struct CallSite {
    function: &'static str,
    module: &'static str,
    series: OnceLock<SiteSeries>,
}

#[derive(Debug)]
struct SiteSeries {
    // The address of the `calls` family the series belong to: a site used with another
    // set (an expression that picks one of several) takes the lookup path instead.
    family: usize,
    ok: CallId,
    duration: Option<SeriesId<FunctionLabels, Histogram>>,
    in_flight: Option<SeriesId<FunctionLabels, Gauge>>,
}

impl CallSite {
    /// A call site of `function` in `module`.
    pub const fn new(function: &'static str, module: &'static str) -> Self {
        Self {
            function,
            module,
            series: OnceLock::new(),
        }
    }

    fn labels(&self) -> FunctionLabels {
        FunctionLabels::of(self.function, self.module)
    }

    fn call_labels(&self, outcome: Outcome, error: &'static str) -> CallLabels {
        CallLabels {
            function: self.function,
            module: self.module,
            outcome,
            error,
        }
    }
}

fn address<T>(value: &T) -> usize {
    std::ptr::from_ref(value).addr()
}

/// Records one call when dropped: the outcome given to [`finish`](Self::finish), or `panic`
/// while unwinding, or `cancelled` when an async call's future was dropped.
#[doc(hidden)]
pub struct CallGuard {
    site: &'static CallSite,
    calls: CallCounts<'static>,
    cached: Option<&'static SiteSeries>,
    durations: Option<(&'static Family<FunctionLabels, Histogram>, Instant)>,
    in_flight: Option<&'static Gauge>,
    outcome: Option<(Outcome, &'static str)>,
    // The installed exemplar source's labels when the call started (its trace); `None`
    // without a source, or when neither family records exemplars.
    exemplar: Option<crate::exemplar::ExemplarLabels>,
}

impl CallGuard {
    /// Starts recording a call into the given families of a set that lives for the whole
    /// program (`MySet::global()`, or a `static`).
    #[inline]
    pub fn start(
        site: &'static CallSite,
        calls: CallCounts<'static>,
        durations: Option<&'static Family<FunctionLabels, Histogram>>,
        in_flight: Option<&'static Family<FunctionLabels, Gauge>>,
    ) -> Self {
        let cached = site.series.get_or_init(|| SiteSeries {
            family: calls.address(),
            ok: calls.series_id(&site.call_labels(Outcome::Ok, "")),
            duration: durations.map(|family| family.series_id(&site.labels())),
            in_flight: in_flight.map(|family| family.series_id(&site.labels())),
        });
        let cached = (cached.family == calls.address()).then_some(cached);
        let in_flight = in_flight.map(|family| match cached.and_then(|c| c.in_flight) {
            Some(id) => family.series(id),
            None => family.get_or_create(&site.labels()),
        });
        if let Some(gauge) = in_flight {
            gauge.inc();
        }
        Self {
            site,
            calls,
            cached,
            durations: durations.map(|family| (family, Instant::now())),
            in_flight,
            outcome: None,
            // Asked only when a family records exemplars (calls in `CounterWithExemplar`s,
            // durations declared with `#[metric(exemplars)]`).
            exemplar: if calls.records_exemplars()
                || durations.is_some_and(Family::records_exemplars)
            {
                crate::exemplar::from_source()
            } else {
                None
            },
        }
    }

    /// Ends the call with `outcome` (error kind empty unless classified).
    #[inline]
    pub fn finish(mut self, outcome: (Outcome, &'static str)) {
        self.outcome = Some(outcome);
    }
}

impl Drop for CallGuard {
    #[inline]
    fn drop(&mut self) {
        let (outcome, error) = self.outcome.unwrap_or_else(|| {
            if std::thread::panicking() {
                (Outcome::Panic, "")
            } else {
                (Outcome::Cancelled, "")
            }
        });
        let exemplar = self.exemplar.take();
        match self.cached {
            Some(cached) if outcome == Outcome::Ok && error.is_empty() => {
                self.calls.count_id(cached.ok, exemplar.as_ref());
            }
            _ => self
                .calls
                .count(&self.site.call_labels(outcome, error), exemplar.as_ref()),
        }
        if let Some((family, start)) = self.durations {
            let time = |histogram: &Histogram| {
                histogram.observe_with_exemplar(start.elapsed().as_secs_f64(), exemplar.as_ref());
            };
            match self.cached.and_then(|cached| cached.duration) {
                Some(id) => time(family.series(id)),
                None => time(family.get_or_create(&self.site.labels())),
            }
        }
        if let Some(gauge) = self.in_flight {
            gauge.dec();
        }
    }
}

/// What an error classifier (`errors = path`) may return: an error kind (`&'static str`
/// or a label enum declared with `#[derive(LabelValue)] #[label_value(error_kind)]`), or an
/// `Option` of one where `None` means "not an error".
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an error kind",
    note = "an error classifier returns `&'static str`, an enum with `#[derive(LabelValue)]` and `#[label_value(error_kind)]`, or an `Option` of either (`None`: not an error)"
)]
pub trait ErrorKind {
    /// The kind's label value, or `None` when the error does not count as one.
    fn error_kind(&self) -> Option<&'static str>;
}

impl ErrorKind for &'static str {
    fn error_kind(&self) -> Option<&'static str> {
        Some(self)
    }
}

impl<K: ErrorKind> ErrorKind for Option<K> {
    fn error_kind(&self) -> Option<&'static str> {
        self.as_ref().and_then(ErrorKind::error_kind)
    }
}

/// The outcome of a returned value, chosen by type through autoref specialisation:
/// `Result`s are looked at, everything else is `ok`.
#[doc(hidden)]
pub mod outcome {
    use super::{ErrorKind, Outcome};

    /// Wraps a returned value for the outcome probes.
    pub struct Probe<'a, T>(pub &'a T);

    /// The outcome of a `Result`.
    pub trait ResultOutcome {
        /// `ok` or `error`.
        fn fiko_outcome(&self) -> (Outcome, &'static str);
    }

    impl<T, E> ResultOutcome for Probe<'_, Result<T, E>> {
        fn fiko_outcome(&self) -> (Outcome, &'static str) {
            match self.0 {
                Ok(_) => (Outcome::Ok, ""),
                Err(_) => (Outcome::Error, ""),
            }
        }
    }

    /// The outcome of any other value: `ok`.
    pub trait PlainOutcome {
        /// Always `ok`.
        fn fiko_outcome(&self) -> (Outcome, &'static str) {
            (Outcome::Ok, "")
        }
    }

    impl<T> PlainOutcome for &Probe<'_, T> {}

    /// The outcome of a `Result` whose errors are classified by `classify`.
    pub fn classified<T, E, K: ErrorKind>(
        result: &Result<T, E>,
        classify: impl FnOnce(&E) -> K,
    ) -> (Outcome, &'static str) {
        match result {
            Ok(_) => (Outcome::Ok, ""),
            Err(error) => match classify(error).error_kind() {
                Some(kind) => (Outcome::Error, kind),
                None => (Outcome::Ok, ""),
            },
        }
    }
}

#[cfg(test)]
mod outcome_tests {
    use super::Outcome;
    use crate::LabelValue;

    /// `Outcome`'s hand-written impl: each value's text is its entry in `VALUES`.
    #[test]
    fn each_outcome_reads_as_its_entry_in_values() {
        let values = Outcome::VALUES.unwrap_or_default();
        let outcomes = [
            Outcome::Ok,
            Outcome::Error,
            Outcome::Panic,
            Outcome::Cancelled,
        ];
        assert_eq!(values.len(), outcomes.len());
        for outcome in outcomes {
            let text = outcome.with_str(str::to_owned);
            assert_eq!(values.get(outcome.index()), Some(&text.as_str()));
        }
    }
}
