//! promtool unit tests for every alert, synthesised from its condition: input series that
//! make it fire (checked with its exact labels and annotations), series that stay just on
//! the quiet side of the threshold, and — when `for` allows — an evaluation before `for`
//! has elapsed.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use fiko_dashboards::query::{self, Matcher, Operation, bucket_bounds};
use fiko_dashboards::{Alert, AlertTest, Comparison, Context, Expr};
use fiko_metrics::MetricKind;

use crate::Model;
use crate::yaml::{num, q};

/// The instance label of the synthetic series (their job is one the alert selects).
const INSTANCE: &str = "test:9100";
/// The value given to `by` labels of the synthetic series.
const BY_VALUE: &str = "example";
/// The input series' sample interval, in seconds.
const STEP: u64 = 60;

/// Expands the only templates annotations may use, `{{ $labels.NAME }}`, with `labels`.
pub(crate) fn expand(text: &str, labels: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            return Err(format!("unclosed `{{{{` in `{text}`"));
        };
        let inner = after[..end].trim();
        let Some(label) = inner.strip_prefix("$labels.") else {
            return Err(format!(
                "annotation template `{{{{ {inner} }}}}` is not supported: use `{{{{ $labels.NAME }}}}`"
            ));
        };
        match labels.get(label) {
            Some(value) => out.push_str(value),
            None => {
                return Err(format!(
                    "annotation uses `$labels.{label}`, a label the alert's result does not have (it has: {})",
                    labels.keys().cloned().collect::<Vec<_>>().join(", ")
                ));
            }
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The label names of an alert's result: the hand-written test's, or job, instance and
/// the query's `by` labels.
pub(crate) fn result_labels(alert: &Alert, cx: &Context) -> BTreeSet<String> {
    match &alert.test {
        Some(test) => test.labels.iter().map(|(name, _)| name.clone()).collect(),
        None => query::result_labels(&alert.condition.expr, cx),
    }
}

/// One input series of a promtool test.
struct Series {
    name: String,
    labels: BTreeMap<String, String>,
    values: String,
    /// A hand-written selector (from an [`AlertTest`]) instead of `name` and `labels`.
    written: Option<String>,
}

impl Series {
    fn selector(&self) -> String {
        if let Some(written) = &self.written {
            return written.clone();
        }
        let labels: Vec<String> = self
            .labels
            .iter()
            .map(|(name, value)| format!("{name}={}", q(value)))
            .collect();
        format!("{}{{{}}}", self.name, labels.join(","))
    }
}

/// What the condition's query should evaluate to.
#[derive(Clone, Copy)]
enum Goal {
    Value(f64),
    /// A quantile above (`true`) or below the threshold bucket boundary.
    Quantile {
        above: bool,
        threshold: f64,
    },
}

struct Synth<'a> {
    base: &'a BTreeMap<String, String>,
    window_secs: f64,
    steps: u64,
}

impl Synth<'_> {
    /// The base labels plus, for each constrained label, a value meeting every
    /// `(matcher, must match)` constraint on it.
    fn labels(&self, constraints: &[(Matcher, bool)]) -> Result<BTreeMap<String, String>, String> {
        let mut labels = self.base.clone();
        let names: Vec<&str> = constraints.iter().map(|(m, _)| m.label).collect();
        for name in names {
            let on_label: Vec<&(Matcher, bool)> = constraints
                .iter()
                .filter(|(m, _)| m.label == name)
                .collect();
            let candidates = on_label
                .iter()
                .flat_map(|(m, _)| literals(m))
                .chain(["other".to_owned()]);
            let value = candidates
                .into_iter()
                .find(|value| on_label.iter().all(|(m, want)| matches(m, value) == *want))
                .ok_or_else(|| format!("cannot synthesise a value for label `{name}`"))?;
            labels.insert(name.to_owned(), value);
        }
        Ok(labels)
    }

    fn counter(&self, per_second: f64) -> String {
        format!("0+{}x{}", num(per_second * STEP as f64), self.steps)
    }

    fn leaf(
        &self,
        expr: &Expr,
        goal: Goal,
        constraints: Option<&[(Matcher, bool)]>,
        out: &mut Vec<Series>,
    ) -> Result<(), String> {
        let Expr::Metric {
            metric,
            operation,
            matchers,
            ..
        } = expr
        else {
            return Err("cannot synthesise test series for this query".to_owned());
        };
        let own: Vec<(Matcher, bool)> = matchers.iter().map(|m| (m.clone(), true)).collect();
        let labels = self.labels(constraints.unwrap_or(&own))?;
        match (operation, goal) {
            (Operation::Value, Goal::Value(v)) => out.push(Series {
                name: metric.sample_name(),
                labels,
                values: format!("{}+0x{}", num(v), self.steps),
                written: None,
            }),
            (
                Operation::Rate | Operation::Increase | Operation::IncreaseOver(_),
                Goal::Value(v),
            ) => {
                let per_second = match operation {
                    Operation::Rate => v,
                    Operation::IncreaseOver(range) => v / range.as_secs().max(1) as f64,
                    _ => v / self.window_secs,
                };
                let name = if metric.kind == MetricKind::Histogram {
                    format!("{}_count", metric.name)
                } else {
                    metric.sample_name()
                };
                out.push(Series {
                    name,
                    labels,
                    values: self.counter(per_second),
                    written: None,
                });
            }
            (Operation::Quantile(_), Goal::Quantile { above, threshold }) => {
                let bounds = bucket_bounds(metric);
                let index = bounds
                    .iter()
                    .position(|b| (b - threshold).abs() <= 1e-9 * b.abs().max(1.0))
                    .ok_or("threshold is not a bucket boundary")?;
                // Every observation in the bucket just above the threshold, or in the first.
                let target = if above { index + 1 } else { 0 };
                let les = bounds.iter().map(|b| num(*b)).chain(["+Inf".to_owned()]);
                for (position, le) in les.enumerate() {
                    let mut labels = labels.clone();
                    labels.insert("le".to_owned(), le);
                    let rate = if position >= target { 1.0 } else { 0.0 };
                    out.push(Series {
                        name: format!("{}_bucket", metric.name),
                        labels,
                        values: self.counter(rate),
                        written: None,
                    });
                }
            }
            _ => return Err("cannot synthesise test series: goal and query do not fit".to_owned()),
        }
        Ok(())
    }

    fn series(&self, expr: &Expr, goal: Goal) -> Result<Vec<Series>, String> {
        let mut out = Vec::new();
        match (expr, goal) {
            (
                Expr::Ratio {
                    numerator,
                    denominator,
                },
                Goal::Value(ratio),
            ) => {
                const TOTAL: f64 = 10.0;
                match (&**numerator, &**denominator) {
                    // One metric whose numerator series the denominator also counts: a
                    // series both sides count, and one only the denominator counts (it
                    // breaks a numerator matcher the denominator lacks). Otherwise (e.g.
                    // `state="failed"` over `state="started"`) the sides are disjoint.
                    (
                        Expr::Metric {
                            metric: a,
                            operation: oa,
                            matchers: ma,
                            ..
                        },
                        Expr::Metric {
                            metric: b,
                            operation: ob,
                            matchers: mb,
                            ..
                        },
                    ) if a.name == b.name
                        && oa == ob
                        && self.labels(&all_true(ma.iter().chain(mb))).is_ok() =>
                    {
                        let both = all_true(ma.iter().chain(mb));
                        let broken = ma.iter().find(|m| !mb.contains(m)).ok_or(
                            "the ratio's numerator selects the same series as its denominator",
                        )?;
                        let mut rest: Vec<(Matcher, bool)> =
                            mb.iter().map(|m| (m.clone(), true)).collect();
                        rest.push((broken.clone(), false));
                        self.leaf(numerator, Goal::Value(ratio * TOTAL), Some(&both), &mut out)?;
                        self.leaf(
                            denominator,
                            Goal::Value((1.0 - ratio) * TOTAL),
                            Some(&rest),
                            &mut out,
                        )?;
                    }
                    _ => {
                        self.leaf(numerator, Goal::Value(ratio * TOTAL), None, &mut out)?;
                        self.leaf(denominator, Goal::Value(TOTAL), None, &mut out)?;
                    }
                }
            }
            _ => self.leaf(expr, goal, None, &mut out)?,
        }
        Ok(out)
    }
}

fn all_true<'m>(matchers: impl Iterator<Item = &'m Matcher>) -> Vec<(Matcher, bool)> {
    matchers.map(|m| (m.clone(), true)).collect()
}

/// The literal values a matcher mentions: its value, or the alternatives of a regex made
/// of `|`-separated literals.
fn literals(matcher: &Matcher) -> Vec<String> {
    match matcher.op {
        "=~" | "!~" => matcher.value.split('|').map(str::to_owned).collect(),
        _ => vec![matcher.value.clone()],
    }
}

/// Whether `value` satisfies `matcher` (regexes read as alternations of literals, which
/// is what the synthesised values are drawn from; promtool checks the result).
fn matches(matcher: &Matcher, value: &str) -> bool {
    let listed = literals(matcher).iter().any(|literal| literal == value);
    match matcher.op {
        "=" | "=~" => listed,
        _ => !listed,
    }
}

/// The labels and annotations of the alert a case expects.
type Expected<'a> = (&'a BTreeMap<String, String>, &'a BTreeMap<&'a str, String>);

/// Values on each side of the threshold: (fires, stays silent).
fn goals(alert: &Alert) -> Result<(Goal, Goal), String> {
    let condition = &alert.condition;
    let t = condition.threshold;
    let quantile = matches!(
        condition.expr,
        Expr::Metric {
            operation: Operation::Quantile(_),
            ..
        }
    );
    if quantile {
        return match condition.comparison {
            Comparison::Above => Ok((
                Goal::Quantile {
                    above: true,
                    threshold: t,
                },
                Goal::Quantile {
                    above: false,
                    threshold: t,
                },
            )),
            Comparison::Below => Ok((
                Goal::Quantile {
                    above: false,
                    threshold: t,
                },
                Goal::Quantile {
                    above: true,
                    threshold: t,
                },
            )),
            Comparison::Equals | Comparison::Returns => {
                Err("a quantile is compared with `above` or `below`".to_owned())
            }
        };
    }
    let is_ratio = matches!(condition.expr, Expr::Ratio { .. });
    let (fire, silent) = match condition.comparison {
        Comparison::Above if is_ratio => ((t + 1.0) / 2.0, t / 2.0),
        Comparison::Above if t > 0.0 => (t * 2.0, t / 2.0),
        Comparison::Above => (t + 1.0, t),
        Comparison::Below if t > 0.0 => (t / 2.0, if is_ratio { (t + 1.0) / 2.0 } else { t * 2.0 }),
        Comparison::Below => {
            return Err("cannot synthesise a value below a threshold of 0 or less".to_owned());
        }
        Comparison::Equals => (t, t + 1.0),
        Comparison::Returns => {
            return Err(
                "a raw condition needs hand-written test series (`tested_with`)".to_owned(),
            );
        }
    };
    if is_ratio && !(0.0..=1.0).contains(&fire) {
        return Err("a ratio threshold must be between 0 and 1".to_owned());
    }
    Ok((Goal::Value(fire), Goal::Value(silent)))
}

fn write_case(
    out: &mut String,
    name: &str,
    series: &[Series],
    eval_secs: u64,
    alert: &str,
    expected: Option<Expected<'_>>,
) {
    let _ = writeln!(out, "  - name: {}", q(name));
    let _ = writeln!(out, "    interval: {STEP}s");
    out.push_str("    input_series:\n");
    let mut sorted: Vec<&Series> = series.iter().collect();
    sorted.sort_by_key(|s| s.selector());
    for s in sorted {
        let _ = writeln!(out, "      - series: {}", q(&s.selector()));
        let _ = writeln!(out, "        values: {}", q(&s.values));
    }
    out.push_str("    alert_rule_test:\n");
    let _ = writeln!(out, "      - eval_time: {eval_secs}s");
    let _ = writeln!(out, "        alertname: {}", q(alert));
    match expected {
        None => out.push_str("        exp_alerts: []\n"),
        Some((labels, annotations)) => {
            out.push_str("        exp_alerts:\n          - exp_labels:\n");
            for (label, value) in labels {
                let _ = writeln!(out, "              {label}: {}", q(value));
            }
            out.push_str("            exp_annotations:\n");
            for (name, value) in annotations {
                let _ = writeln!(out, "              {name}: {}", q(value));
            }
        }
    }
}

/// How far back the condition reads: the rule window, or a longer `increase_over` range.
fn reach(alert: &Alert, window_secs: u64) -> u64 {
    alert
        .condition
        .expr
        .longest_range()
        .map_or(window_secs, |range| range.as_secs().max(window_secs))
}

/// Firing series, silent series, the firing result's labels and its value (when known).
type Derived = (
    Vec<Series>,
    Vec<Series>,
    BTreeMap<String, String>,
    Option<f64>,
);

/// The input series of a hand-written test.
fn written(test: &AlertTest) -> Derived {
    let series = |list: &[(String, String)]| {
        list.iter()
            .map(|(selector, values)| Series {
                name: String::new(),
                labels: BTreeMap::new(),
                values: values.clone(),
                written: Some(selector.clone()),
            })
            .collect()
    };
    (
        series(&test.firing),
        series(&test.silent),
        test.labels.iter().cloned().collect(),
        test.value,
    )
}

/// Firing and silent input series derived from the condition, and the firing result's labels.
fn derive(
    alert: &Alert,
    cx: &Context,
    job: &str,
    window_secs: u64,
    for_secs: u64,
) -> Result<Derived, String> {
    let steps = (for_secs + reach(alert, window_secs)) / STEP + 20;
    let mut base: BTreeMap<String, String> = BTreeMap::new();
    base.insert("job".to_owned(), job.to_owned());
    base.insert("instance".to_owned(), INSTANCE.to_owned());
    let keep = query::result_labels(&alert.condition.expr, cx);
    for label in &keep {
        base.entry(label.clone())
            .or_insert_with(|| BY_VALUE.to_owned());
    }
    let synth = Synth {
        base: &base,
        window_secs: window_secs as f64,
        steps,
    };
    let (fire, quiet) = goals(alert)?;
    let fire = steady(alert, fire);
    let value = fired_value(&alert.condition.expr, fire);
    let firing = synth.series(&alert.condition.expr, fire)?;
    let silent = synth.series(&alert.condition.expr, quiet)?;
    // The result keeps job, instance and the `by` labels, whose values the numerator's
    // series carry.
    let mut labels = BTreeMap::new();
    if let Some(first) = firing.first() {
        for label in &keep {
            if let Some(value) = first.labels.get(label) {
                labels.insert(label.clone(), value.clone());
            }
        }
    }
    Ok((firing, silent, labels, value))
}

/// A firing goal whose value the annotations show the same however the float sums of
/// the test series round: a goal at a prefix or rounding boundary (`1`, `1000`, `60s`)
/// would read `1000m` from 0.9999999 and `1` from 1.0000001, so it moves a little further
/// into the firing side.
fn steady(alert: &Alert, goal: Goal) -> Goal {
    let (Some(format), Goal::Value(value)) = (alert.condition.value_format(), goal) else {
        return goal;
    };
    let is_ratio = matches!(alert.condition.expr, Expr::Ratio { .. });
    let threshold = alert.condition.threshold;
    let fires = |v: f64| match alert.condition.comparison {
        Comparison::Above => v > threshold && (!is_ratio || v <= 1.0),
        Comparison::Below => v < threshold && v >= 0.0,
        Comparison::Equals | Comparison::Returns => false,
    };
    let stable = |v: f64| format.format(v * (1.0 - 1e-9)) == format.format(v * (1.0 + 1e-9));
    [1.0, 1.01, 0.99, 1.1, 0.9, 1.25, 0.75]
        .into_iter()
        .map(|factor| value * factor)
        .find(|&v| fires(v) && stable(v))
        .map_or(goal, Goal::Value)
}

/// The condition's value with the firing series in: the goal, or for a quantile whose
/// observations all sit in one bucket, where `histogram_quantile` interpolates in it.
fn fired_value(expr: &Expr, goal: Goal) -> Option<f64> {
    match goal {
        Goal::Value(value) => Some(value),
        Goal::Quantile { above, threshold } => {
            let Expr::Metric {
                metric,
                operation: Operation::Quantile(q),
                ..
            } = expr
            else {
                return None;
            };
            let bounds = bucket_bounds(metric);
            let index = bounds
                .iter()
                .position(|b| (b - threshold).abs() <= 1e-9 * b.abs().max(1.0))?;
            let target = if above { index + 1 } else { 0 };
            let Some(&end) = bounds.get(target) else {
                // All in the +Inf bucket: the highest finite boundary.
                return bounds.last().copied();
            };
            if target == 0 && end <= 0.0 {
                return Some(end);
            }
            let start = match target.checked_sub(1) {
                Some(below) => bounds.get(below).copied()?,
                None => 0.0,
            };
            Some(start + (end - start) * q)
        }
    }
}

/// `alerts.test.yml`, run with `promtool test rules`, or one line per alert whose test
/// cannot be written. `eval_order` lists the loaded group names in the order promtool
/// evaluates them at each step.
pub(crate) fn promtool_tests(
    model: &Model<'_>,
    eval_order: &[String],
) -> Result<String, Vec<String>> {
    let store = model.rules_cx();
    let window_secs = model.settings.rule_window.as_secs();
    let mut alerts: Vec<_> = model.alerts().collect();
    alerts.sort_by(|a, b| a.1.name.cmp(&b.1.name));
    let mut out = String::from(
        "# Generated by dashboards-gen from the fiko-metrics declarations. Do not edit.\n# Run: promtool test rules alerts.test.yml\nrule_files:\n  - \"recording.yml\"\n  - \"alerts.yml\"\nevaluation_interval: 1m\n",
    );
    if alerts.is_empty() {
        out.push_str("tests: []\n");
        return Ok(out);
    }
    out.push_str("group_eval_order:\n");
    for name in eval_order {
        let _ = writeln!(out, "  - {}", q(name));
    }
    out.push_str("tests:\n");
    let mut problems = Vec::new();
    for (set, alert) in alerts {
        let for_secs = alert.for_.as_secs();
        let native = alert
            .condition
            .expr
            .metrics()
            .into_iter()
            .find(|m| store.reads_native(m));
        if let (Some(metric), None) = (native, &alert.test) {
            // promtool 2.42's test series are floats: it cannot load a native histogram.
            let _ = writeln!(
                out,
                "  # {}: reads the native histogram `{}`, which promtool 2.42 cannot load as test series; it is proven against a real Prometheus instead.",
                alert.name, metric.name
            );
            continue;
        }
        let cx = model.alert_context(set, alert);
        let derived = match &alert.test {
            Some(test) => Ok(written(test)),
            None => derive(alert, &cx, &model.test_job(set), window_secs, for_secs),
        };
        let (firing, silent, labels, value) = match derived {
            Ok(derived) => derived,
            Err(problem) => {
                problems.push(format!("{}: alert {}: {problem}", set.name(), alert.name));
                continue;
            }
        };
        let mut expected = labels.clone();
        expected.insert("service".to_owned(), model.service(set, alert).to_owned());
        expected.insert("severity".to_owned(), alert.severity.as_str().to_owned());
        let mut annotations = BTreeMap::new();
        for (name, text) in [
            ("description", &alert.description),
            ("summary", &alert.summary),
        ] {
            match expand(&alert.fill(text), &labels) {
                Ok(value) => {
                    annotations.insert(name, value);
                }
                Err(problem) => {
                    problems.push(format!("{}: alert {}: {problem}", set.name(), alert.name));
                }
            }
        }
        annotations.insert("runbook_url", model.runbook(alert));
        if let Some(format) = alert.condition.value_format() {
            match value {
                Some(value) => {
                    annotations.insert("value", format.format(value));
                }
                None => problems.push(format!(
                    "{}: alert {}: its annotations show the value, so its hand-written test must say which (`AlertTest::value`)",
                    set.name(),
                    alert.name
                )),
            }
        }
        let dashboard = expand(
            &model.alert_dashboard_url(set, alert, &result_labels(alert, &cx)),
            &labels,
        );
        annotations.insert("dashboard_url", dashboard.unwrap_or_default());
        // Late enough for the condition to have held for `for`, and for its whole range to
        // lie after the series' first sample: the value is then the goal itself, not one
        // `rate` extrapolated towards zero.
        let fire_at = for_secs + reach(alert, window_secs) + STEP;
        write_case(
            &mut out,
            &format!("{} fires", alert.name),
            &firing,
            fire_at,
            &alert.name,
            Some((&expected, &annotations)),
        );
        // A hand-written test without silent series is for an alert that always fires
        // (the Watchdog).
        let always = alert
            .test
            .as_ref()
            .is_some_and(|test| test.silent.is_empty());
        if !always {
            write_case(
                &mut out,
                &format!(
                    "{} stays silent on the quiet side of {}",
                    alert.name,
                    alert.condition.threshold_text()
                ),
                &silent,
                fire_at,
                &alert.name,
                None,
            );
        }
        if for_secs >= 2 * STEP {
            write_case(
                &mut out,
                &format!("{} waits for {}", alert.name, alert.for_),
                &firing,
                for_secs - STEP,
                &alert.name,
                None,
            );
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}
