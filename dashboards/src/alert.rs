//! Alerts: a typed condition, a severity, `for`, and the annotations people read.

use crate::duration::PromDuration;
use crate::humanize::ValueFormat;
use crate::query::{Context, Expr, Operation, Query};
use crate::units::{Threshold, Unit};

/// Where an alert is routed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    /// Someone acts now.
    Critical,
    /// Someone looks soon.
    Warning,
    /// Nobody is notified as for a problem: the always-firing Watchdog, whose silence
    /// the dead-man's switch notices.
    None,
}

impl Severity {
    /// The `severity` label value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Critical => "critical",
            Self::Warning => "warning",
            Self::None => "none",
        }
    }
}

/// How a query is compared with its threshold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Comparison {
    /// `>`.
    Above,
    /// `<`.
    Below,
    /// `==`.
    Equals,
    /// No comparison: the (raw) query is the whole condition and the alert fires for
    /// every series it returns. See [`raw_condition`].
    Returns,
}

impl Comparison {
    /// The PromQL operator.
    pub const fn operator(self) -> &'static str {
        match self {
            Self::Above => ">",
            Self::Below => "<",
            Self::Equals => "==",
            Self::Returns => "",
        }
    }
}

/// A query compared with a threshold of the query's unit.
#[derive(Clone, Debug)]
pub struct Condition {
    /// The query.
    pub expr: Expr,
    /// The comparison.
    pub comparison: Comparison,
    /// The threshold in the query's base unit.
    pub threshold: f64,
    display: fn(f64) -> String,
    value: Option<ValueFormat>,
}

impl Condition {
    /// The threshold formatted for people (`5%`, `2s`, `1500 MiB`).
    pub fn threshold_text(&self) -> String {
        (self.display)(self.threshold)
    }

    /// How the annotations show the query's current value: for a query compared above or
    /// below a threshold, in the query's unit. `None` where the value says nothing (`up ==
    /// 0`, `absent(...)`, raw PromQL).
    pub fn value_format(&self) -> Option<ValueFormat> {
        match self.comparison {
            Comparison::Above | Comparison::Below => self.value,
            Comparison::Equals | Comparison::Returns => None,
        }
    }
}

impl<L, U: Unit> Query<L, U> {
    fn compare(self, comparison: Comparison, threshold: f64) -> Condition {
        Condition {
            expr: self.into_expr(),
            comparison,
            threshold,
            display: U::display,
            value: Some(U::VALUE),
        }
    }

    /// Fires while the query is above `threshold` (which must be in the query's unit).
    pub fn above(self, threshold: impl Threshold<U>) -> Condition {
        self.compare(Comparison::Above, threshold.value())
    }

    /// Fires while the query is below `threshold`.
    pub fn below(self, threshold: impl Threshold<U>) -> Condition {
        self.compare(Comparison::Below, threshold.value())
    }

    /// Fires while the query equals `threshold` (`up == 0`).
    pub fn equals(self, threshold: impl Threshold<U>) -> Condition {
        self.compare(Comparison::Equals, threshold.value())
    }
}

/// A condition written as raw PromQL: the alert fires for every series `promql` returns
/// (e.g. `fiko_jobs_worker_up == 0 or time() - heartbeat > 120`). Like [`raw`](crate::raw)
/// it is parsed by the generator and may only name declared metrics; since the generator
/// cannot derive test input for it, the alert needs [`Alert::tested_with`].
pub fn raw_condition(promql: &str) -> Condition {
    Condition {
        expr: Expr::Raw(promql.to_owned()),
        comparison: Comparison::Returns,
        threshold: 0.0,
        display: |_| String::new(),
        value: None,
    }
}

/// Hand-written promtool input for an alert whose condition the generator cannot derive
/// test series from (raw PromQL): series that make it fire, series that keep it silent,
/// and the labels of the firing alert's result.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AlertTest {
    /// `(series selector, promtool values)` that make the alert fire.
    pub firing: Vec<(String, String)>,
    /// `(series selector, promtool values)` that keep it silent.
    pub silent: Vec<(String, String)>,
    /// The labels of the result while it fires (besides `severity` and `service`).
    pub labels: Vec<(String, String)>,
    /// The condition's value while it fires, for an alert whose annotations show it
    /// ([`Condition::value_format`]).
    pub value: Option<f64>,
}

impl AlertTest {
    /// No series yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a series that makes the alert fire, e.g.
    /// `("fiko_jobs_worker_up{job=\"test\",instance=\"w:1\",worker=\"w\"}", "0+0x30")`.
    pub fn firing(mut self, series: &str, values: &str) -> Self {
        self.firing.push((series.to_owned(), values.to_owned()));
        self
    }

    /// Adds a series that keeps the alert silent.
    pub fn silent(mut self, series: &str, values: &str) -> Self {
        self.silent.push((series.to_owned(), values.to_owned()));
        self
    }

    /// Adds a label the firing alert's result carries.
    pub fn label(mut self, name: &str, value: &str) -> Self {
        self.labels.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The value the condition has while the firing series are in, which the `value`
    /// annotation shows.
    pub fn value(mut self, value: f64) -> Self {
        self.value = Some(value);
        self
    }
}

/// A Prometheus alerting rule.
///
/// Annotations may use Prometheus' `{{ $labels.NAME }}` templates for labels of the
/// result (`job`, `instance` and the query's `by` labels), and `{threshold}` / `{for}`,
/// which the generator replaces with the current threshold and `for`. Besides `summary`
/// and `description`, the generator writes `runbook_url`, `dashboard_url` and, for a query
/// compared above or below a threshold, `value`: the current value in the query's unit
/// (`{{ $value | humanizePercentage }}`, see [`crate::humanize`]).
#[derive(Clone, Debug)]
pub struct Alert {
    /// The alert name (`HighErrorRate`).
    pub name: String,
    /// Critical or warning.
    pub severity: Severity,
    /// When it fires.
    pub condition: Condition,
    /// How long the condition must hold first.
    pub for_: PromDuration,
    /// One line.
    pub summary: String,
    /// What is wrong and what it affects.
    pub description: String,
    /// Where to read what to do; by default the generator's runbook base + the name.
    pub runbook: Option<String>,
    /// The `service` label; by default the owning set's [`Observe::service`](crate::Observe::service).
    pub service: Option<String>,
    /// Hand-written promtool input, used instead of derived series.
    pub test: Option<AlertTest>,
    /// One alert per job (and the query's `by` labels) instead of one per scraped
    /// instance: for problems a job owns as a whole (a queue, a service's error ratio).
    pub per_job: bool,
    /// A minimum-volume guard: the alert fires only while this condition holds too
    /// (`ratio > 5% and requests > 1/s`). It must read the condition's own series.
    pub guard: Option<Condition>,
    /// What to read first in RUNBOOKS.md: the likely causes, in a sentence or two.
    pub diagnosis: String,
    /// What to do about it, in a sentence or two.
    pub mitigation: String,
    /// While it fires, Alertmanager inhibits the other alerts of its service on the same
    /// target (`job` and `instance`): it explains them (a server that is down).
    pub explains_service: bool,
}

impl Alert {
    fn new(severity: Severity, name: &str, condition: Condition) -> Self {
        Self {
            name: name.to_owned(),
            severity,
            condition,
            for_: crate::minutes(5),
            summary: String::new(),
            description: String::new(),
            runbook: None,
            service: None,
            test: None,
            per_job: false,
            guard: None,
            diagnosis: String::new(),
            mitigation: String::new(),
            explains_service: false,
        }
    }

    /// A critical alert (`for` 5m until set).
    pub fn critical(name: &str, condition: Condition) -> Self {
        Self::new(Severity::Critical, name, condition)
    }

    /// An alert that notifies nobody as a problem (`severity="none"`): the Watchdog.
    pub fn info(name: &str, condition: Condition) -> Self {
        Self::new(Severity::None, name, condition)
    }

    /// A warning alert (`for` 5m until set).
    pub fn warning(name: &str, condition: Condition) -> Self {
        Self::new(Severity::Warning, name, condition)
    }

    /// How long the condition must hold before the alert fires.
    pub fn for_(mut self, duration: PromDuration) -> Self {
        self.for_ = duration;
        self
    }

    /// The summary annotation.
    pub fn summary(mut self, text: &str) -> Self {
        self.summary = text.to_owned();
        self
    }

    /// The description annotation.
    pub fn description(mut self, text: &str) -> Self {
        self.description = text.to_owned();
        self
    }

    /// The runbook URL annotation.
    pub fn runbook(mut self, url: &str) -> Self {
        self.runbook = Some(url.to_owned());
        self
    }

    /// Uses hand-written promtool input for this alert's tests (required for
    /// [`raw_condition`]; optional otherwise).
    pub fn tested_with(mut self, test: AlertTest) -> Self {
        self.test = Some(test);
        self
    }

    /// One alert per job instead of per instance (see [`Alert::per_job`](Self#structfield.per_job)).
    pub fn per_job(mut self) -> Self {
        self.per_job = true;
        self
    }

    /// Fires only while `guard` holds too: a minimum volume for a ratio, so two failures
    /// out of twenty requests do not alert.
    pub fn only_when(mut self, guard: Condition) -> Self {
        self.guard = Some(guard);
        self
    }

    /// The likely causes and where to look, for RUNBOOKS.md (besides the queries and
    /// panels the generator names).
    pub fn diagnosis(mut self, text: &str) -> Self {
        self.diagnosis = text.to_owned();
        self
    }

    /// What to do, for RUNBOOKS.md.
    pub fn mitigation(mut self, text: &str) -> Self {
        self.mitigation = text.to_owned();
        self
    }

    /// Inhibits the other alerts of its service on the same target while it fires (see
    /// [`Alert::explains_service`](Self#structfield.explains_service)).
    pub fn explains_service(mut self) -> Self {
        self.explains_service = true;
        self
    }

    /// The `service` label.
    pub fn service(mut self, service: &str) -> Self {
        self.service = Some(service.to_owned());
        self
    }

    /// Overrides the threshold, in the condition's base unit (seconds, bytes, a ratio
    /// between 0 and 1, per second, or a plain number).
    pub fn set_threshold(&mut self, threshold: f64) -> &mut Self {
        self.condition.threshold = threshold;
        self
    }

    /// Overrides `for`.
    pub fn set_for(&mut self, duration: PromDuration) -> &mut Self {
        self.for_ = duration;
        self
    }

    /// Fills `{threshold}` and `{for}` in an annotation.
    pub fn fill(&self, text: &str) -> String {
        text.replace("{threshold}", &self.condition.threshold_text())
            .replace("{for}", &self.for_.to_string())
    }

    /// Mistakes the types cannot catch, as readable lines; empty when the alert is sound.
    ///
    /// A quantile compared with a latency that is not a declared bucket boundary is an
    /// error: `histogram_quantile` interpolates inside a bucket, so such an alert fires at
    /// a value nobody chose. The boundary must also not be the last bucket, above which
    /// the quantile cannot rise.
    pub fn problems(&self) -> Vec<String> {
        self.problems_in(&Context::rules(crate::minutes(5)))
    }

    /// [`problems`](Self::problems) for the store `cx` describes: without native
    /// histograms ([`Context::without_native_histograms`]), a quantile of a histogram
    /// declared native and classic is read from its classic buckets, so its threshold
    /// must be one of their boundaries, and a native-only one cannot be read at all.
    pub fn problems_in(&self, cx: &Context) -> Vec<String> {
        let mut problems: Vec<String> = self
            .condition
            .expr
            .problems()
            .into_iter()
            .map(|problem| format!("alert {}: {problem}", self.name))
            .collect();
        if !cx.native_histograms {
            problems.extend(
                self.condition
                    .expr
                    .problems_without_native_histograms()
                    .into_iter()
                    .map(|problem| format!("alert {}: {problem}", self.name)),
            );
        }
        let name_ok = self
            .name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_uppercase())
            && self.name.chars().all(|c| c.is_ascii_alphanumeric());
        if !name_ok {
            problems.push(format!(
                "alert `{}`: a name is CamelCase ASCII letters and digits",
                self.name
            ));
        }
        if self.summary.trim().is_empty() || self.description.trim().is_empty() {
            problems.push(format!(
                "alert {}: summary and description are required",
                self.name
            ));
        }
        if matches!(self.condition.expr, Expr::Raw(_)) && self.test.is_none() {
            problems.push(format!(
                "alert {}: a raw PromQL condition needs hand-written test series (`tested_with`)",
                self.name
            ));
        }
        if let Some(guard) = &self.guard {
            problems.extend(
                guard
                    .expr
                    .problems()
                    .into_iter()
                    .map(|problem| format!("alert {}: guard: {problem}", self.name)),
            );
            if matches!(guard.expr, Expr::Raw(_)) || guard.comparison == Comparison::Returns {
                problems.push(format!(
                    "alert {}: a guard is a typed query compared with a threshold",
                    self.name
                ));
            }
        }
        if !self.condition.threshold.is_finite() {
            problems.push(format!("alert {}: the threshold is not finite", self.name));
        }
        // A native histogram's buckets are exponential and fine (about 4% wide at schema
        // 3): `histogram_quantile` over them needs no bucket boundary at the threshold.
        if let Expr::Metric {
            metric,
            operation: Operation::Quantile(_),
            ..
        } = &self.condition.expr
        {
            // (A native-only one read without native histograms is reported above.)
            if cx.reads_native(metric) || (metric.is_native() && !metric.has_classic_buckets()) {
                return problems;
            }
            let threshold = self.condition.threshold;
            let buckets = crate::query::bucket_bounds(metric);
            let position = buckets
                .iter()
                .position(|bound| (bound - threshold).abs() <= 1e-9 * bound.abs().max(1.0));
            match position {
                None => problems.push(format!(
                    "alert {}: threshold {threshold} of a quantile of `{}` is not a bucket boundary (buckets: {buckets:?}); histogram_quantile would interpolate",
                    self.name, metric.name
                )),
                Some(index) if index + 1 == buckets.len() => problems.push(format!(
                    "alert {}: threshold {threshold} is the last bucket of `{}`; the quantile can never exceed it",
                    self.name, metric.name
                )),
                Some(_) => {}
            }
        }
        problems
    }
}
