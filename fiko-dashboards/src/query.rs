//! Typed PromQL queries, written from each metric's kind.
//!
//! Start from a declared metric (`Set::FIELD`, a [`Declared`]): counters give
//! [`rate`](CounterQueries::rate) and [`increase`](CounterQueries::increase), gauges
//! [`value`](GaugeQueries::value), histograms [`quantile`](HistogramQueries::quantile) and
//! [`rate`](HistogramQueries::rate) of observations. A [`Query<L, U>`] remembers the
//! metric's label set `L` (so [`by`](Query::by) and [`filter`](Query::filter) only take
//! labels the metric has) and its unit `U` (so alert thresholds must match it).
//!
//! Every query is aggregated with `sum by (...)`: in dashboards over the instances picked
//! by the `$job`/`$instance` variables, in rules per `job` and `instance`. Rates use
//! `$__rate_interval` in dashboards and the rule window (5 minutes by default) in rules.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::marker::PhantomData;

use fiko_metrics::descriptor::{MetricDescriptor, MetricKind};
use fiko_metrics::{Declared, LabelRef, kind, unit};

use crate::units::RateOf;

/// How a query is rendered: for a dashboard panel or for a rule file.
#[derive(Clone, Debug)]
pub struct Context {
    /// The range of `rate`/`increase`: `$__rate_interval` or a fixed window like `5m`.
    pub window: String,
    /// Matchers added to every selector, e.g. `job=~"$job"`.
    pub selectors: Vec<(String, String)>,
    /// Labels every aggregation keeps, e.g. `job` and `instance` in rules.
    pub keep: Vec<String>,
    /// Whether the store reads native histograms (true by default). When false (a store
    /// without them, such as VictoriaMetrics 1.79), a histogram declared native and
    /// classic is read from its classic `_bucket` series by `le`, and a native-only one
    /// from its `_count` (its quantiles cannot be read: see
    /// [`Expr::problems_without_native_histograms`]).
    pub native_histograms: bool,
    /// Recording rules a rate may be read from instead of computed (see [`Recorded`]).
    pub recorded: Vec<Recorded>,
    /// The label telling apart the copies of one series that Prometheus replicas write
    /// into a shared store (`replica`, Mimir's `__replica__`), or `None` for one
    /// Prometheus. When set, every series read is first reduced over it
    /// (`max without (replica) (...)`), so a query counts each series once however many
    /// replicas wrote it, whether or not the store deduplicates.
    pub replica_label: Option<String>,
}

/// A recording rule: a rate of one series aggregated by a set of labels, which queries
/// needing exactly that rate read instead of computing it. Named `level:metric:operation`
/// as Prometheus' convention has it (`job_instance_route:http_requests:rate5m`, `_total`
/// stripped after `rate`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Recorded {
    /// The series rated (`http_requests_total`, `latency_seconds_bucket`).
    pub series: String,
    /// The labels kept: `job`, `instance`, `le` for buckets, then the others sorted.
    pub labels: Vec<String>,
    /// The rate window (`5m`).
    pub window: String,
}

impl Recorded {
    /// The rule's name: `level:metric:operation`.
    pub fn name(&self) -> String {
        let metric = self.series.strip_suffix("_total").unwrap_or(&self.series);
        format!("{}:{metric}:rate{}", self.labels.join("_"), self.window)
    }

    /// The rule's PromQL in `cx` (which deduplicates replicas' copies, if it has a
    /// [`replica_label`](Context::replica_label)).
    pub fn promql(&self, cx: &Context) -> String {
        let rate = format!("rate({}[{}])", self.series, self.window);
        format!("sum by ({}) ({})", self.labels.join(", "), cx.dedup(&rate))
    }
}

impl Context {
    /// Grafana panels: `$__rate_interval`, filtered by the `$job` and `$instance` variables.
    pub fn dashboard() -> Self {
        Self {
            window: "$__rate_interval".to_owned(),
            selectors: vec![
                ("job".to_owned(), "$job".to_owned()),
                ("instance".to_owned(), "$instance".to_owned()),
            ],
            keep: Vec::new(),
            recorded: Vec::new(),
            native_histograms: true,
            replica_label: None,
        }
    }

    /// Rule files: a fixed window, one result per `job` and `instance`.
    pub fn rules(window: crate::PromDuration) -> Self {
        Self {
            window: window.to_string(),
            selectors: Vec::new(),
            keep: vec!["job".to_owned(), "instance".to_owned()],
            recorded: Vec::new(),
            native_histograms: true,
            replica_label: None,
        }
    }

    /// The same context for a store several Prometheus replicas write into, their copies
    /// told apart by `label`: see [`replica_label`](Self::replica_label).
    ///
    /// ```
    /// use fiko_dashboards::prelude::*;
    /// use fiko_metrics::{Counter, MetricSet};
    ///
    /// #[derive(MetricSet)]
    /// struct Api {
    ///     /// Requests served.
    ///     requests_total: Counter,
    /// }
    ///
    /// let rate = Api::REQUESTS_TOTAL.rate();
    /// assert_eq!(
    ///     rate.expr().render(&Context::rules(minutes(5)).deduplicated("replica")),
    ///     "sum by (job, instance) (max without (replica) (rate(requests_total[5m])))"
    /// );
    /// ```
    pub fn deduplicated(self, label: &str) -> Self {
        Self {
            replica_label: Some(label.to_owned()),
            ..self
        }
    }

    /// `inner`, reduced over the replica label if the context has one.
    pub fn dedup(&self, inner: &str) -> String {
        match &self.replica_label {
            Some(label) => format!("max without ({label}) ({inner})"),
            None => inner.to_owned(),
        }
    }

    /// The same context, reading the rates `recorded` holds from those rules (in rules,
    /// only those of the context's own window).
    pub fn with_recorded(mut self, recorded: &[Recorded]) -> Self {
        self.recorded = recorded.to_vec();
        self
    }

    fn record_for(&self, wanted: &Recorded) -> Option<&Recorded> {
        self.recorded.iter().find(|r| {
            r.series == wanted.series
                && r.labels == wanted.labels
                && (r.window == self.window || self.window == "$__rate_interval")
        })
    }

    /// The same context for a store that reads no native histograms: classic queries for
    /// every histogram.
    ///
    /// ```
    /// use fiko_dashboards::prelude::*;
    /// use fiko_metrics::{Histogram, MetricSet};
    ///
    /// #[derive(MetricSet)]
    /// struct Api {
    ///     /// Latency, native and classic buckets.
    ///     #[metric(native, buckets = [0.1, 0.5, 1.0])]
    ///     latency_seconds: Histogram,
    /// }
    ///
    /// let p99 = Api::LATENCY_SECONDS.quantile(0.99);
    /// let p99 = p99.expr();
    /// assert_eq!(
    ///     p99.render(&Context::rules(minutes(5))),
    ///     "histogram_quantile(0.99, sum by (job, instance) (rate(latency_seconds[5m])))"
    /// );
    /// assert_eq!(
    ///     p99.render(&Context::rules(minutes(5)).without_native_histograms()),
    ///     "histogram_quantile(0.99, sum by (le, job, instance) (rate(latency_seconds_bucket[5m])))"
    /// );
    /// ```
    pub fn without_native_histograms(self) -> Self {
        Self {
            native_histograms: false,
            ..self
        }
    }

    /// Whether `metric` is read from its native series in this context.
    pub fn reads_native(&self, metric: &MetricDescriptor) -> bool {
        self.native_histograms && metric.kind == MetricKind::Histogram && metric.is_native()
    }
}

/// A label matcher of a selector.
#[derive(Clone, Debug, PartialEq)]
pub struct Matcher {
    /// The label name.
    pub label: &'static str,
    /// `=`, `!=`, `=~` or `!~`.
    pub op: &'static str,
    /// The value or regular expression.
    pub value: String,
}

/// What is computed from one metric.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Operation {
    /// Per-second rate of a counter (or of a histogram's observations).
    Rate,
    /// Increase of a counter over the window.
    Increase,
    /// Increase of a counter over a fixed range (`increase(x[1h])`), the same in
    /// dashboards and rules.
    IncreaseOver(crate::PromDuration),
    /// A gauge's value.
    Value,
    /// A quantile of a histogram.
    Quantile(f64),
    /// A histogram's bucket rates, for a heatmap: per `le` for classic buckets, the
    /// native histogram's rate for native ones.
    Buckets,
}

/// How series are combined.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Aggregation {
    /// `sum by (...)`.
    Sum,
    /// `max by (...)`.
    Max,
    /// `min by (...)`.
    Min,
    /// `avg by (...)`.
    Avg,
}

impl Aggregation {
    fn as_str(self) -> &'static str {
        match self {
            Self::Sum => "sum",
            Self::Max => "max",
            Self::Min => "min",
            Self::Avg => "avg",
        }
    }
}

/// An untyped query: what [`Query`] builds and the generators render.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// An aggregated operation on one declared metric.
    Metric {
        /// The metric.
        metric: &'static MetricDescriptor,
        /// What is computed.
        operation: Operation,
        /// Label matchers.
        matchers: Vec<Matcher>,
        /// How series are combined.
        aggregation: Aggregation,
        /// Labels kept by the aggregation (besides the context's).
        by: Vec<&'static str>,
    },
    /// `numerator / (denominator > 0)`: never divides by zero; no result when the
    /// denominator is zero.
    Ratio {
        /// The numerator.
        numerator: Box<Expr>,
        /// The denominator.
        denominator: Box<Expr>,
    },
    /// `left + right` (both aggregated the same way, so their series match).
    Add {
        /// The left operand.
        left: Box<Expr>,
        /// The right operand.
        right: Box<Expr>,
    },
    /// Hand-written PromQL (see [`raw`]); checked by the generator.
    Raw(String),
}

impl Expr {
    /// The PromQL text in `cx`.
    pub fn render(&self, cx: &Context) -> String {
        match self {
            Self::Metric {
                metric,
                operation,
                matchers,
                aggregation,
                by,
            } => {
                // A native histogram is one series whose samples hold every bucket: no
                // `_bucket`, `_count` or `le` (Prometheus keeps only the native part of a
                // histogram scraped as protobuf).
                let native = cx.reads_native(metric);
                let mut keep: Vec<&str> = Vec::new();
                if let (Operation::Quantile(_) | Operation::Buckets, false) = (operation, native) {
                    keep.push("le");
                }
                for label in cx.keep.iter().map(String::as_str).chain(by.iter().copied()) {
                    if !keep.contains(&label) {
                        keep.push(label);
                    }
                }
                let agg = aggregation.as_str();
                let grouping = if keep.is_empty() {
                    agg.to_owned()
                } else {
                    format!("{agg} by ({})", keep.join(", "))
                };
                if let Some(record) = self.rate_leaf(cx).and_then(|want| cx.record_for(&want)) {
                    let selector = selector(&record.name(), matchers, cx);
                    return match operation {
                        Operation::Quantile(q) => {
                            format!("histogram_quantile({q}, {grouping} ({selector}))")
                        }
                        _ => format!("{grouping} ({selector})"),
                    };
                }
                match operation {
                    Operation::Rate | Operation::Increase | Operation::IncreaseOver(_) => {
                        let series = match metric.kind {
                            MetricKind::Histogram if native => metric.name.to_owned(),
                            MetricKind::Histogram => format!("{}_count", metric.name),
                            _ => metric.sample_name(),
                        };
                        let (function, window) = match operation {
                            Operation::Rate => ("rate", cx.window.clone()),
                            Operation::IncreaseOver(range) => ("increase", range.to_string()),
                            _ => ("increase", cx.window.clone()),
                        };
                        let selector = selector(&series, matchers, cx);
                        let leaf = if native {
                            format!("histogram_count({function}({selector}[{window}]))")
                        } else {
                            format!("{function}({selector}[{window}])")
                        };
                        format!("{grouping} ({})", cx.dedup(&leaf))
                    }
                    Operation::Value => {
                        format!(
                            "{grouping} ({})",
                            cx.dedup(&selector(&metric.sample_name(), matchers, cx))
                        )
                    }
                    Operation::Buckets => {
                        let series = if native {
                            metric.name.to_owned()
                        } else {
                            format!("{}_bucket", metric.name)
                        };
                        let selector = selector(&series, matchers, cx);
                        let rate = format!("rate({selector}[{}])", cx.window);
                        format!("{grouping} ({})", cx.dedup(&rate))
                    }
                    Operation::Quantile(q) => {
                        let series = if native {
                            metric.name.to_owned()
                        } else {
                            format!("{}_bucket", metric.name)
                        };
                        let selector = selector(&series, matchers, cx);
                        let rate = format!("rate({selector}[{}])", cx.window);
                        format!("histogram_quantile({q}, {grouping} ({}))", cx.dedup(&rate))
                    }
                }
            }
            Self::Ratio {
                numerator,
                denominator,
            } => format!(
                "({}) / ({} > 0)",
                numerator.render(cx),
                denominator.render(cx)
            ),
            Self::Add { left, right } => format!("{} + {}", left.render(cx), right.render(cx)),
            Self::Raw(text) => text.replace("$__rate_interval", &cx.window),
        }
    }

    /// The rate this query computes, as the recording rule that could hold it: the series
    /// rated and every label the query keeps or filters on (so a query reading the rule
    /// can still filter and aggregate). `None` for what is not a plain rate: values,
    /// increases, native histograms, metrics with exemplars (a recorded series has none),
    /// ratios and sums (see [`rate_leaves`](Self::rate_leaves)), raw PromQL.
    pub fn rate_leaf(&self, cx: &Context) -> Option<Recorded> {
        let Self::Metric {
            metric,
            operation,
            matchers,
            by,
            ..
        } = self
        else {
            return None;
        };
        if metric.exemplars || (metric.kind == MetricKind::Histogram && metric.is_native()) {
            return None;
        }
        let series = match (operation, metric.kind) {
            (Operation::Quantile(_) | Operation::Buckets, _) => format!("{}_bucket", metric.name),
            (Operation::Rate, MetricKind::Histogram) => format!("{}_count", metric.name),
            (Operation::Rate, _) => metric.sample_name(),
            _ => return None,
        };
        let mut labels = vec!["job".to_owned(), "instance".to_owned()];
        if matches!(operation, Operation::Quantile(_) | Operation::Buckets) {
            labels.push("le".to_owned());
        }
        let mut rest: Vec<String> = by
            .iter()
            .copied()
            .chain(matchers.iter().map(|m| m.label))
            .map(str::to_owned)
            .chain(cx.keep.iter().cloned())
            .chain(cx.selectors.iter().map(|(label, _)| label.clone()))
            .filter(|label| !labels.contains(label))
            .collect();
        rest.sort();
        rest.dedup();
        labels.extend(rest);
        let window = if cx.window == "$__rate_interval" {
            None
        } else {
            Some(cx.window.clone())
        };
        Some(Recorded {
            series,
            labels,
            window: window.unwrap_or_default(),
        })
    }

    /// Every [`rate_leaf`](Self::rate_leaf) of the query, through ratios and sums.
    pub fn rate_leaves(&self, cx: &Context) -> Vec<Recorded> {
        match self {
            Self::Metric { .. } => self.rate_leaf(cx).into_iter().collect(),
            Self::Ratio {
                numerator: left,
                denominator: right,
            }
            | Self::Add { left, right } => {
                let mut all = left.rate_leaves(cx);
                all.extend(right.rate_leaves(cx));
                all
            }
            Self::Raw(_) => Vec::new(),
        }
    }

    /// The declared metrics the query reads (none for raw PromQL: the generator parses it).
    pub fn metrics(&self) -> Vec<&'static MetricDescriptor> {
        match self {
            Self::Metric { metric, .. } => vec![*metric],
            Self::Ratio {
                numerator: left,
                denominator: right,
            }
            | Self::Add { left, right } => {
                let mut all = left.metrics();
                all.extend(right.metrics());
                all
            }
            Self::Raw(_) => Vec::new(),
        }
    }

    /// The longest fixed range the query reads (`increase_over`), if any.
    pub fn longest_range(&self) -> Option<crate::PromDuration> {
        match self {
            Self::Metric {
                operation: Operation::IncreaseOver(range),
                ..
            } => Some(*range),
            Self::Metric { .. } | Self::Raw(_) => None,
            Self::Ratio {
                numerator: left,
                denominator: right,
            }
            | Self::Add { left, right } => left.longest_range().max(right.longest_range()),
        }
    }

    /// Labels the result keeps besides the context's (the `by` labels).
    pub fn by_labels(&self) -> Vec<&'static str> {
        match self {
            Self::Metric { by, .. } => by.clone(),
            Self::Ratio {
                numerator: left, ..
            }
            | Self::Add { left, .. } => left.by_labels(),
            Self::Raw(_) => Vec::new(),
        }
    }

    /// What cannot be read from a store without native histograms (see
    /// [`Context::without_native_histograms`]): a quantile of a histogram declared native
    /// only, which has no classic buckets to read it from.
    pub fn problems_without_native_histograms(&self) -> Vec<String> {
        match self {
            Self::Metric {
                metric,
                operation: Operation::Quantile(_),
                ..
            } if metric.is_native() && !metric.has_classic_buckets() => vec![format!(
                "a quantile of `{}`, declared native only, cannot be read from a store without native histograms (it has only `_count`, `_sum` and the `+Inf` bucket there): declare classic `buckets` too",
                metric.name
            )],
            Self::Metric { .. } | Self::Raw(_) => Vec::new(),
            Self::Ratio {
                numerator: left,
                denominator: right,
            }
            | Self::Add { left, right } => {
                let mut problems = left.problems_without_native_histograms();
                problems.extend(right.problems_without_native_histograms());
                problems
            }
        }
    }

    /// Mistakes the types cannot catch: a filter value a closed label never takes, a
    /// quantile outside `0..=1`.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        match self {
            Self::Metric {
                metric,
                operation,
                matchers,
                ..
            } => {
                if let Operation::Quantile(q) = operation {
                    if !(0.0..=1.0).contains(q) {
                        problems.push(format!(
                            "quantile {q} of `{}` is outside 0..=1",
                            metric.name
                        ));
                    }
                }
                for matcher in matchers {
                    let closed = metric.label(matcher.label).and_then(|label| label.values);
                    if let (Some(values), "=" | "!=") = (closed, matcher.op) {
                        if !values.contains(&matcher.value.as_str()) {
                            problems.push(format!(
                                "`{}` filters label `{}` on `{}`, a value it never takes (one of: {})",
                                metric.name,
                                matcher.label,
                                matcher.value,
                                values.join(", ")
                            ));
                        }
                    }
                }
            }
            Self::Ratio {
                numerator: left,
                denominator: right,
            }
            | Self::Add { left, right } => {
                problems.extend(left.problems());
                problems.extend(right.problems());
                let (mut l, mut r) = (left.by_labels(), right.by_labels());
                l.sort_unstable();
                r.sort_unstable();
                if l != r {
                    problems.push(format!(
                        "the two sides of a ratio or sum keep different labels ({l:?} and {r:?}), so their series never match: apply `by` to the whole ratio"
                    ));
                }
            }
            Self::Raw(_) => {}
        }
        problems
    }

    fn push_by(&mut self, label: &'static str) {
        match self {
            Self::Metric { by, .. } => {
                if !by.contains(&label) {
                    by.push(label);
                }
            }
            Self::Ratio {
                numerator: left,
                denominator: right,
            }
            | Self::Add { left, right } => {
                left.push_by(label);
                right.push_by(label);
            }
            Self::Raw(_) => {}
        }
    }
}

fn selector(series: &str, matchers: &[Matcher], cx: &Context) -> String {
    let mut all: Vec<String> = matchers
        .iter()
        .map(|m| format!("{}{}\"{}\"", m.label, m.op, escape(&m.value)))
        .collect();
    all.extend(
        cx.selectors
            .iter()
            .map(|(label, value)| format!("{label}=~\"{}\"", escape(value))),
    );
    if all.is_empty() {
        series.to_owned()
    } else {
        let mut out = String::with_capacity(series.len() + 32);
        let _ = write!(out, "{series}{{{}}}", all.join(", "));
        out
    }
}

fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"")
}

/// A query over metrics labelled by `L`, whose result is in unit `U`.
pub struct Query<L, U> {
    expr: Expr,
    types: PhantomData<fn() -> (L, U)>,
}

impl<L, U> Clone for Query<L, U> {
    fn clone(&self) -> Self {
        Self::from_expr(self.expr.clone())
    }
}

impl<L, U> std::fmt::Debug for Query<L, U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Query").field(&self.expr).finish()
    }
}

impl<L, U> Query<L, U> {
    fn from_expr(expr: Expr) -> Self {
        Self {
            expr,
            types: PhantomData,
        }
    }

    fn metric(metric: &'static MetricDescriptor, operation: Operation) -> Self {
        Self::from_expr(Expr::Metric {
            metric,
            operation,
            matchers: Vec::new(),
            aggregation: Aggregation::Sum,
            by: Vec::new(),
        })
    }

    /// Keeps `labels` in the result (`sum by (labels)`): one series per value.
    pub fn by(mut self, labels: impl IntoIterator<Item = LabelRef<L>>) -> Self {
        for label in labels {
            self.expr.push_by(label.name());
        }
        self
    }

    /// One series per scraped instance (the `instance` target label every series has).
    pub fn by_instance(mut self) -> Self {
        self.expr.push_by("instance");
        self
    }

    /// One series per scrape target (the `job` and `instance` labels every series has).
    pub fn by_target(mut self) -> Self {
        self.expr.push_by("job");
        self.expr.push_by("instance");
        self
    }

    /// Adds another query over the same labels and unit: `self + other`.
    pub fn plus(self, other: Query<L, U>) -> Self {
        Self::from_expr(Expr::Add {
            left: Box::new(self.expr),
            right: Box::new(other.expr),
        })
    }

    /// Only series whose `label` equals `value`.
    pub fn filter(self, label: LabelRef<L>, value: &str) -> Self {
        self.matcher(label, "=", value)
    }

    /// Only series whose `label` differs from `value`.
    pub fn filter_not(self, label: LabelRef<L>, value: &str) -> Self {
        self.matcher(label, "!=", value)
    }

    /// Only series whose `label` matches the regular expression `regex`.
    pub fn filter_regex(self, label: LabelRef<L>, regex: &str) -> Self {
        self.matcher(label, "=~", regex)
    }

    fn matcher(mut self, label: LabelRef<L>, op: &'static str, value: &str) -> Self {
        add_matcher(&mut self.expr, label.name(), op, value);
        self
    }

    /// Combines series with `max` instead of `sum` (for gauges such as memory).
    pub fn max(mut self) -> Self {
        set_aggregation(&mut self.expr, Aggregation::Max);
        self
    }

    /// Combines series with `avg` instead of `sum`.
    pub fn avg(mut self) -> Self {
        set_aggregation(&mut self.expr, Aggregation::Avg);
        self
    }

    /// The untyped query.
    pub fn expr(&self) -> &Expr {
        &self.expr
    }

    /// The untyped query, consumed.
    pub fn into_expr(self) -> Expr {
        self.expr
    }
}

fn add_matcher(expr: &mut Expr, label: &'static str, op: &'static str, value: &str) {
    match expr {
        Expr::Metric { matchers, .. } => matchers.push(Matcher {
            label,
            op,
            value: value.to_owned(),
        }),
        Expr::Ratio {
            numerator: left,
            denominator: right,
        }
        | Expr::Add { left, right } => {
            add_matcher(left, label, op, value);
            add_matcher(right, label, op, value);
        }
        Expr::Raw(_) => {}
    }
}

fn set_aggregation(expr: &mut Expr, new: Aggregation) {
    match expr {
        Expr::Metric { aggregation, .. } => *aggregation = new,
        Expr::Ratio {
            numerator: left,
            denominator: right,
        }
        | Expr::Add { left, right } => {
            set_aggregation(left, new);
            set_aggregation(right, new);
        }
        Expr::Raw(_) => {}
    }
}

/// `numerator / denominator` as a ratio that never divides by zero (no result while the
/// denominator is zero, so an alert on it stays silent).
///
/// Both sides are over the same label set `L` and the same unit `U`; the result is a
/// [`unit::Ratio`].
pub fn ratio<L, U>(numerator: Query<L, U>, denominator: Query<L, U>) -> Query<L, unit::Ratio> {
    Query::from_expr(Expr::Ratio {
        numerator: Box::new(numerator.expr),
        denominator: Box::new(denominator.expr),
    })
}

/// Hand-written PromQL in unit `U`: the escape hatch. The generator parses it with
/// `promql-parser` and refuses it unless every metric it names is declared. Write
/// `$__rate_interval` for rate windows; rules replace it with their window.
pub fn raw<U>(promql: &str) -> Query<(), U> {
    Query::from_expr(Expr::Raw(promql.to_owned()))
}

/// Queries of a declared counter.
pub trait CounterQueries<L, U> {
    /// Per-second rate: `sum(rate(name_total[$__rate_interval]))`.
    fn rate(self) -> Query<L, RateOf<U>>;
    /// Increase over the window: `sum(increase(name_total[5m]))`.
    fn increase(self) -> Query<L, U>;
    /// Increase over a fixed range, in dashboards too ("in the last hour"):
    /// `sum(increase(name_total[1h]))`.
    fn increase_over(self, range: crate::PromDuration) -> Query<L, U>;
}

impl<L, U> CounterQueries<L, U> for Declared<L, kind::Counter, U> {
    fn rate(self) -> Query<L, RateOf<U>> {
        Query::metric(self.descriptor, Operation::Rate)
    }

    fn increase(self) -> Query<L, U> {
        Query::metric(self.descriptor, Operation::Increase)
    }

    fn increase_over(self, range: crate::PromDuration) -> Query<L, U> {
        Query::metric(self.descriptor, Operation::IncreaseOver(range))
    }
}

/// Queries of a declared gauge.
pub trait GaugeQueries<L, U> {
    /// The value, summed over series: `sum(name)` (see [`Query::max`]).
    fn value(self) -> Query<L, U>;
}

impl<L, U> GaugeQueries<L, U> for Declared<L, kind::Gauge, U> {
    fn value(self) -> Query<L, U> {
        Query::metric(self.descriptor, Operation::Value)
    }
}

/// Queries of a declared histogram.
pub trait HistogramQueries<L, U> {
    /// The `q` quantile (0.95 for p95):
    /// `histogram_quantile(q, sum by (le) (rate(name_bucket[$__rate_interval])))`, or over
    /// the native series for a native histogram,
    /// `histogram_quantile(q, sum (rate(name[$__rate_interval])))`.
    fn quantile(self, q: f64) -> Query<L, U>;
    /// Observations per second: `sum(rate(name_count[$__rate_interval]))`, or
    /// `sum(histogram_count(rate(name[$__rate_interval])))` for a native histogram.
    fn rate(self) -> Query<L, RateOf<unit::Unitless>>;
    /// The buckets' rates for a heatmap:
    /// `sum by (le) (rate(name_bucket[$__rate_interval]))`, or
    /// `sum (rate(name[$__rate_interval]))` for a native histogram.
    fn buckets(self) -> Query<L, U>;
}

impl<L, U> HistogramQueries<L, U> for Declared<L, kind::Histogram, U> {
    fn buckets(self) -> Query<L, U> {
        Query::metric(self.descriptor, Operation::Buckets)
    }

    fn quantile(self, q: f64) -> Query<L, U> {
        Query::metric(self.descriptor, Operation::Quantile(q))
    }

    fn rate(self) -> Query<L, RateOf<unit::Unitless>> {
        Query::metric(self.descriptor, Operation::Rate)
    }
}

/// A histogram's classic bucket bounds as declared, or the runtime's defaults when it
/// declared none (the descriptor leaves `buckets` empty then); none for a native histogram
/// declared without classic buckets.
pub fn bucket_bounds(metric: &MetricDescriptor) -> &'static [f64] {
    if metric.kind == MetricKind::Histogram
        && metric.buckets.is_empty()
        && !metric.external
        && !metric.is_native()
    {
        fiko_metrics::histogram::DEFAULT_BUCKETS
    } else {
        metric.buckets
    }
}

/// The set of label names a query's result carries in `cx` (besides `__name__`).
pub fn result_labels(expr: &Expr, cx: &Context) -> BTreeSet<String> {
    let mut labels: BTreeSet<String> = cx.keep.iter().cloned().collect();
    labels.extend(expr.by_labels().into_iter().map(str::to_owned));
    labels
}

#[cfg(test)]
mod tests {
    use fiko_metrics::{Counter, Family, Gauge, Histogram, LabelSet, LabelValue, MetricSet};

    use super::*;
    use crate::minutes;

    #[derive(MetricSet)]
    #[metric_set(namespace = "t")]
    struct Set {
        /// Requests.
        requests: Family<Labels, Counter>,
        /// Latency.
        #[metric(buckets = [0.5, 1.0])]
        latency_seconds: Family<Labels, Histogram>,
        /// Memory.
        memory_bytes: Gauge,
        /// Latency, native buckets.
        #[metric(native)]
        native_latency_seconds: Family<Labels, Histogram>,
        /// Latency, native and classic buckets.
        #[metric(native, buckets = [0.5, 1.0])]
        migrating_latency_seconds: Histogram,
    }

    #[derive(LabelSet)]
    struct Labels {
        route: String,
        class: Class,
    }

    #[derive(LabelValue)]
    enum Class {
        Ok,
        Bad,
    }

    fn rules(expr: &Expr) -> String {
        expr.render(&Context::rules(minutes(5)))
    }

    #[test]
    fn native_histograms_are_read_from_their_native_series() {
        assert_eq!(
            rules(
                Set::NATIVE_LATENCY_SECONDS
                    .quantile(0.99)
                    .by([Labels::ROUTE])
                    .expr()
            ),
            "histogram_quantile(0.99, sum by (job, instance, route) (rate(t_native_latency_seconds[5m])))"
        );
        assert_eq!(
            rules(Set::NATIVE_LATENCY_SECONDS.rate().expr()),
            "sum by (job, instance) (histogram_count(rate(t_native_latency_seconds[5m])))"
        );
        // Native and classic: the declaration says native, so the native series are read.
        assert_eq!(
            rules(Set::MIGRATING_LATENCY_SECONDS.quantile(0.5).expr()),
            "histogram_quantile(0.5, sum by (job, instance) (rate(t_migrating_latency_seconds[5m])))"
        );
        assert_eq!(
            bucket_bounds(Set::NATIVE_LATENCY_SECONDS.descriptor),
            &[] as &[f64]
        );
        assert_eq!(
            bucket_bounds(Set::MIGRATING_LATENCY_SECONDS.descriptor),
            &[0.5, 1.0]
        );
    }

    #[test]
    fn each_kind_renders_its_promql() {
        assert_eq!(
            rules(Set::REQUESTS.increase().by([Labels::ROUTE]).expr()),
            "sum by (job, instance, route) (increase(t_requests_total[5m]))"
        );
        assert_eq!(
            Set::REQUESTS
                .increase_over(crate::hours(1))
                .expr()
                .render(&Context::dashboard()),
            r#"sum (increase(t_requests_total{job=~"$job", instance=~"$instance"}[1h]))"#
        );
        assert_eq!(
            rules(Set::LATENCY_SECONDS.rate().expr()),
            "sum by (job, instance) (rate(t_latency_seconds_count[5m]))"
        );
        assert_eq!(
            rules(
                Set::LATENCY_SECONDS
                    .quantile(0.99)
                    .by([Labels::ROUTE])
                    .expr()
            ),
            "histogram_quantile(0.99, sum by (le, job, instance, route) (rate(t_latency_seconds_bucket[5m])))"
        );
        assert_eq!(
            Set::LATENCY_SECONDS
                .buckets()
                .expr()
                .render(&Context::dashboard()),
            r#"sum by (le) (rate(t_latency_seconds_bucket{job=~"$job", instance=~"$instance"}[$__rate_interval]))"#
        );
        assert_eq!(
            Set::NATIVE_LATENCY_SECONDS
                .buckets()
                .expr()
                .render(&Context::dashboard()),
            r#"sum (rate(t_native_latency_seconds{job=~"$job", instance=~"$instance"}[$__rate_interval]))"#
        );
        assert_eq!(
            rules(Set::MEMORY_BYTES.value().max().expr()),
            "max by (job, instance) (t_memory_bytes)"
        );
        assert_eq!(
            Set::MEMORY_BYTES
                .value()
                .expr()
                .render(&Context::dashboard()),
            r#"sum (t_memory_bytes{job=~"$job", instance=~"$instance"})"#
        );
    }

    #[test]
    fn filters_escape_and_ratios_never_divide_by_zero() {
        let bad = Set::REQUESTS
            .rate()
            .filter(Labels::CLASS, "bad")
            .filter_regex(Labels::ROUTE, r#"/a"b\c"#);
        assert_eq!(
            rules(bad.expr()),
            r#"sum by (job, instance) (rate(t_requests_total{class="bad", route=~"/a\"b\\c"}[5m]))"#
        );
        let share = ratio(bad, Set::REQUESTS.rate().plus(Set::REQUESTS.rate())).by([Labels::ROUTE]);
        let text = rules(share.expr());
        assert!(text.ends_with("> 0)"), "{text}");
        assert!(
            text.contains(") / (sum by (job, instance, route)"),
            "{text}"
        );
        assert!(share.expr().problems().is_empty());
        assert_eq!(share.expr().metrics().len(), 3);
    }

    #[test]
    fn impossible_values_are_problems() {
        let typo = Set::REQUESTS.rate().filter(Labels::CLASS, "okay");
        assert_eq!(
            typo.expr().problems(),
            [
                "`t_requests` filters label `class` on `okay`, a value it never takes (one of: ok, bad)"
            ]
        );
        let lopsided = ratio(
            Set::REQUESTS.rate().by([Labels::ROUTE]),
            Set::REQUESTS.rate(),
        );
        assert_eq!(
            lopsided.expr().problems().len(),
            1,
            "{:?}",
            lopsided.expr().problems()
        );
        assert_eq!(
            Set::LATENCY_SECONDS.quantile(1.5).expr().problems(),
            ["quantile 1.5 of `t_latency_seconds` is outside 0..=1"]
        );
    }
}
