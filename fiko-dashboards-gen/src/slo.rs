//! Service level objectives: SLI recording rules, error-budget rules and multi-window
//! multi-burn-rate alerts (`prometheus/slo.yml`), their promtool tests
//! (`prometheus/slo.test.yml` and `slo-tickets.test.yml`), their runbook sections and the overview's SLO row.
//!
//! Each SLO gets one rule group, `NAME.slo-SLUG@FINGERPRINT`: recorded error ratios over
//! 5m, 30m, 1h, 2h, 6h, 1d and 3d (`slo:sli_error:ratio_rate5m`, ...), the events over the
//! long windows (`slo:sli_events:increase1h`, ...) for the minimum-traffic guard, the
//! error ratio over the SLO window (`slo:sli_error:ratio_rate30d`, the mean of the 5m
//! ratio), the objective (`slo:objective:ratio`) and the budget left
//! (`slo:error_budget_remaining:ratio`), then one alert per window pair of the SRE
//! workbook: `<Name>BurnRate1h` (page, 14.4× over 1h and 5m), `<Name>BurnRate6h` (page,
//! 6× over 6h and 30m), `<Name>BurnRate1d` (ticket, 3× over 1d and 2h) and
//! `<Name>BurnRate3d` (ticket, 1× over 3d and 6h). Every rule carries `slo` and `service`
//! labels. Only fields Prometheus 2.42 and vmalert 1.79 both read are written.
//!
//! [`Settings::slo_time_scale`](crate::Settings::slo_time_scale) divides every window and
//! `for` (not the names of the alerts), so a real-time test sees a burn in seconds.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use fiko_dashboards::query::{Aggregation, Operation};
use fiko_dashboards::{Context, Expr, Panel, Row, Severity, Sli, Slo, raw};
use fiko_metrics::descriptor::MetricDescriptor;
use fiko_metrics::unit;

use crate::rules::GroupInfo;
use crate::yaml::{num, q};
use crate::{Model, Settings};

/// The windows of the recorded error ratios, in seconds before scaling.
const WINDOWS: [u64; 7] = [300, 1800, 3600, 7200, 21_600, 86_400, 259_200];

/// One alert: a long and a short window, the burn-rate factor, severity and `for`.
#[derive(Clone, Copy)]
struct Pair {
    long: u64,
    short: u64,
    factor: f64,
    severity: Severity,
    for_secs: u64,
}

/// The SRE workbook's window pairs (chapter 5, "multiwindow, multi-burn-rate alerts").
const PAIRS: [Pair; 4] = [
    Pair {
        long: 3600,
        short: 300,
        factor: 14.4,
        severity: Severity::Critical,
        for_secs: 120,
    },
    Pair {
        long: 21_600,
        short: 1800,
        factor: 6.0,
        severity: Severity::Critical,
        for_secs: 120,
    },
    Pair {
        long: 86_400,
        short: 7200,
        factor: 3.0,
        severity: Severity::Warning,
        for_secs: 900,
    },
    Pair {
        long: 259_200,
        short: 21_600,
        factor: 1.0,
        severity: Severity::Warning,
        for_secs: 900,
    },
];

/// A duration as PromQL reads it, in the largest whole unit up to days.
pub(crate) fn duration(secs: u64) -> String {
    if secs != 0 && secs % 86_400 == 0 {
        format!("{}d", secs / 86_400)
    } else if secs != 0 && secs % 3600 == 0 {
        format!("{}h", secs / 3600)
    } else if secs != 0 && secs % 60 == 0 {
        format!("{}m", secs / 60)
    } else {
        format!("{secs}s")
    }
}

/// A ratio without float noise (`0.0144`, not `0.014399999999999999`).
fn clean(value: f64) -> String {
    let text = format!("{value:.12}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text.is_empty() || text == "-" {
        "0".to_owned()
    } else {
        text.to_owned()
    }
}

/// A ratio in percent for people (`0.1%`, `1.44%`).
fn percent(ratio: f64) -> String {
    format!("{}%", clean(ratio * 100.0))
}

/// An SLO as the generator reads it: with its `service` label.
#[derive(Clone, Debug)]
pub(crate) struct DeclaredSlo {
    pub(crate) service: String,
    pub(crate) slo: Slo,
    /// The set (or `Generator`) that declared it, which problems name.
    pub(crate) at: String,
}

impl Settings {
    fn scaled(&self, secs: u64) -> u64 {
        secs / u64::from(self.slo_time_scale.max(1))
    }
}

/// The alert of `pair` for `slo`: `HttpAvailabilityBurnRate1h`.
fn alert_name(slo: &Slo, pair: Pair) -> String {
    format!("{}BurnRate{}", slo.name, duration(pair.long))
}

/// Every alert name the SLOs generate.
pub(crate) fn alert_names(slos: &[DeclaredSlo]) -> Vec<String> {
    slos.iter()
        .flat_map(|declared| PAIRS.iter().map(|pair| alert_name(&declared.slo, *pair)))
        .collect()
}

/// The `le` value the runtime writes for a bucket bound (`0.5`, `1.0`).
fn le(bound: f64) -> String {
    let mut out = String::new();
    fiko_metrics::encoding::write_float(&mut out, bound);
    out
}

/// A context summing over every series (an SLO is the service's, not an instance's),
/// reducing replicas' copies as the model's rules do.
fn whole(model: &Model<'_>, window: &str) -> Context {
    Context {
        window: window.to_owned(),
        selectors: Vec::new(),
        keep: Vec::new(),
        // As `Context::rules`: the SLO's own queries name their series themselves.
        native_histograms: true,
        recorded: Vec::new(),
        replica_label: model.replica_label.map(str::to_owned),
    }
}

fn with_operation(expr: &Expr, operation: Operation) -> Expr {
    let mut expr = expr.clone();
    if let Expr::Metric {
        operation: op,
        aggregation,
        by,
        ..
    } = &mut expr
    {
        *op = operation;
        *aggregation = Aggregation::Sum;
        by.clear();
    }
    expr
}

/// The SLI's error ratio over `window`.
fn error_ratio(model: &Model<'_>, slo: &Slo, window: &str) -> String {
    let cx = whole(model, window);
    match &slo.sli {
        Sli::Availability { total, bad } => format!(
            "({} or vector(0)) / ({} > 0)",
            with_operation(bad, Operation::Rate).render(&cx),
            with_operation(total, Operation::Rate).render(&cx),
        ),
        Sli::Latency { metric, threshold } => {
            let total = format!(
                "sum({})",
                cx.dedup(&format!("rate({}_count[{window}])", metric.name))
            );
            let good = cx.dedup(&format!(
                "rate({}_bucket{{le=\"{}\"}}[{window}])",
                metric.name,
                le(*threshold)
            ));
            format!("({total} - sum({good})) / ({total} > 0)")
        }
    }
}

/// The SLI's events over `window`.
fn events(model: &Model<'_>, slo: &Slo, window: &str) -> String {
    let cx = whole(model, window);
    match &slo.sli {
        Sli::Availability { total, .. } => with_operation(total, Operation::Increase).render(&cx),
        Sli::Latency { metric, .. } => format!(
            "sum({})",
            cx.dedup(&format!("increase({}_count[{window}])", metric.name))
        ),
    }
}

fn selector(record: &str, slo: &Slo) -> String {
    format!("{record}{{slo=\"{}\"}}", slo.slug())
}

/// The alert condition of `pair`.
fn alert_expr(slo: &Slo, pair: Pair, settings: &Settings) -> String {
    let long = duration(settings.scaled(pair.long));
    let short = duration(settings.scaled(pair.short));
    let threshold = clean(pair.factor * slo.budget());
    format!(
        "{} > {threshold} and on (slo) {} > {threshold} and on (slo) {} >= {}",
        selector(&format!("slo:sli_error:ratio_rate{long}"), slo),
        selector(&format!("slo:sli_error:ratio_rate{short}"), slo),
        selector(&format!("slo:sli_events:increase{long}"), slo),
        slo.min_events
    )
}

struct AlertText {
    name: String,
    summary: String,
    description: String,
}

fn alert_text(slo: &Slo, pair: Pair, settings: &Settings) -> AlertText {
    let long = duration(settings.scaled(pair.long));
    let short = duration(settings.scaled(pair.short));
    let window = duration(settings.scaled(slo.window.as_secs()));
    let threshold = pair.factor * slo.budget();
    let exhausted =
        duration(settings.scaled((slo.window.as_secs() as f64 / pair.factor).round() as u64));
    let promise = if slo.description.is_empty() {
        String::new()
    } else {
        format!(
            "{} ",
            slo.description.trim_end_matches('.').to_owned() + "."
        )
    };
    AlertText {
        name: alert_name(slo, pair),
        summary: format!(
            "{}: the error budget burns {}× too fast over {long} and {short}",
            slo.name, pair.factor
        ),
        description: format!(
            "{promise}More than {} of {} events failed over the last {long} and the last {short}: {}× the {} the {}% objective over {window} allows, which spends the whole budget in {exhausted}.",
            percent(threshold),
            slo.slug(),
            pair.factor,
            percent(slo.budget()),
            clean(slo.objective),
        ),
    }
}

fn runbook_url(settings: &Settings, name: &str) -> String {
    format!("{}#{}", settings.runbook_base, name.to_ascii_lowercase())
}

/// `slo.yml` and its groups (one per SLO).
pub(crate) fn rules(model: &Model<'_>) -> (String, Vec<GroupInfo>) {
    let settings = model.settings;
    let mut out = String::from(
        "# Generated by dashboards-gen from the fiko-metrics declarations. Do not edit.\n",
    );
    if model.slos.is_empty() {
        out.push_str("groups: []\n");
        return (out, Vec::new());
    }
    out.push_str("groups:\n");
    let mut infos = Vec::new();
    for declared in model.slos {
        let slo = &declared.slo;
        let slug = slo.slug();
        let labels = |body: &mut String| {
            body.push_str("        labels:\n");
            let _ = writeln!(body, "          service: {}", q(&declared.service));
            let _ = writeln!(body, "          slo: {}", q(&slug));
        };
        let mut body = String::new();
        let _ = writeln!(
            body,
            "    interval: {}",
            q(&settings.evaluation_interval.to_string())
        );
        body.push_str("    rules:\n");
        let mut rules = Vec::new();
        let mut record = |body: &mut String, name: String, expr: String| {
            let _ = writeln!(body, "      - record: {}", q(&name));
            let _ = writeln!(body, "        expr: {}", q(&expr));
            labels(body);
            rules.push((name, expr));
        };
        for window in WINDOWS {
            let window = duration(settings.scaled(window));
            record(
                &mut body,
                format!("slo:sli_error:ratio_rate{window}"),
                error_ratio(model, slo, &window),
            );
        }
        for pair in PAIRS {
            let window = duration(settings.scaled(pair.long));
            record(
                &mut body,
                format!("slo:sli_events:increase{window}"),
                events(model, slo, &window),
            );
        }
        let shortest = selector(
            &format!(
                "slo:sli_error:ratio_rate{}",
                duration(settings.scaled(WINDOWS[0]))
            ),
            slo,
        );
        let period = duration(settings.scaled(slo.window.as_secs()));
        record(
            &mut body,
            format!("slo:sli_error:ratio_rate{period}"),
            format!("sum_over_time({shortest}[{period}]) / count_over_time({shortest}[{period}])"),
        );
        record(
            &mut body,
            "slo:objective:ratio".to_owned(),
            format!("vector({})", clean(slo.objective / 100.0)),
        );
        record(
            &mut body,
            "slo:error_budget_remaining:ratio".to_owned(),
            format!(
                "1 - {} / {}",
                selector(&format!("slo:sli_error:ratio_rate{period}"), slo),
                clean(slo.budget())
            ),
        );
        for pair in PAIRS {
            let text = alert_text(slo, pair, settings);
            let expr = alert_expr(slo, pair, settings);
            let _ = writeln!(body, "      - alert: {}", q(&text.name));
            let _ = writeln!(body, "        expr: {}", q(&expr));
            let _ = writeln!(
                body,
                "        for: {}",
                q(&duration(settings.scaled(pair.for_secs)))
            );
            body.push_str("        labels:\n");
            let _ = writeln!(
                body,
                "          long_window: {}",
                q(&duration(settings.scaled(pair.long)))
            );
            let _ = writeln!(body, "          service: {}", q(&declared.service));
            let _ = writeln!(body, "          severity: {}", q(pair.severity.as_str()));
            let _ = writeln!(
                body,
                "          short_window: {}",
                q(&duration(settings.scaled(pair.short)))
            );
            let _ = writeln!(body, "          slo: {}", q(&slug));
            body.push_str("        annotations:\n");
            let _ = writeln!(body, "          description: {}", q(&text.description));
            let _ = writeln!(
                body,
                "          runbook_url: {}",
                q(&runbook_url(settings, &text.name))
            );
            let _ = writeln!(body, "          summary: {}", q(&text.summary));
            rules.push((text.name, expr));
        }
        let name = settings.rule_group(&format!("slo-{slug}"));
        let fingerprint = crate::rules::fingerprint(&body);
        let _ = writeln!(
            out,
            "  - name: {}",
            q(&crate::rules::loaded_name(&name, &fingerprint))
        );
        out.push_str(&body);
        infos.push(GroupInfo {
            name,
            fingerprint,
            file: "slo.yml",
            interval_seconds: settings.evaluation_interval.as_secs(),
            rules,
        });
    }
    (out, infos)
}

/// Mistakes in the SLOs, one line each.
pub(crate) fn problems(model: &Model<'_>) -> Vec<String> {
    let mut problems = Vec::new();
    let scale = model.settings.slo_time_scale;
    if scale == 0 || 60 % scale != 0 {
        problems.push(format!(
            "slo_time_scale {scale}: it must divide 60, so every scaled window and `for` stays a whole number of seconds"
        ));
    }
    let declared = model.declared_series();
    for name in alert_names(model.slos) {
        if let Some((set, _)) = model.alerts().find(|(_, alert)| alert.name == name) {
            problems.push(format!(
                "{}: alert `{name}` has the name of an SLO burn-rate alert",
                set.name()
            ));
        }
    }
    let mut names = BTreeMap::new();
    for entry in model.slos {
        let at = &entry.at;
        problems.extend(
            entry
                .slo
                .problems()
                .into_iter()
                .map(|p| format!("{at}: {p}")),
        );
        if let Some(first) = names.insert(entry.slo.slug(), at.clone()) {
            problems.push(format!(
                "{at}: two SLOs are named `{}` (the other in {first})",
                entry.slo.name
            ));
        }
        for metric in entry.slo.metrics() {
            if !metric
                .series_names()
                .iter()
                .all(|series| declared.contains(series))
            {
                problems.push(format!(
                    "{at}: SLO {} reads `{}`, which no observed set declares",
                    entry.slo.name, metric.name
                ));
            }
        }
        if entry.slo.window.as_secs() % 86_400 != 0 {
            problems.push(format!(
                "{at}: SLO {}: window {} is not a whole number of days",
                entry.slo.name, entry.slo.window
            ));
        }
    }
    problems
}

/// The labels of an input series meeting every matcher of `expr` (its values drawn
/// from the matchers' literals), plus `extra`.
fn series_labels(expr: &Expr, extra: Option<(&str, String)>) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::from([
        ("job".to_owned(), "test".to_owned()),
        ("instance".to_owned(), "test:9100".to_owned()),
    ]);
    if let Expr::Metric { matchers, .. } = expr {
        for matcher in matchers {
            let value = match matcher.op {
                "=" => matcher.value.clone(),
                "=~" => matcher
                    .value
                    .split('|')
                    .next()
                    .unwrap_or_default()
                    .replace('\\', ""),
                _ => "other".to_owned(),
            };
            labels.entry(matcher.label.to_owned()).or_insert(value);
        }
    }
    if let Some((label, value)) = extra {
        labels.insert(label.to_owned(), value);
    }
    labels
}

fn series_text(name: &str, labels: &BTreeMap<String, String>) -> String {
    let labels: Vec<String> = labels
        .iter()
        .map(|(name, value)| format!("{name}={}", q(value)))
        .collect();
    format!("{name}{{{}}}", labels.join(","))
}

/// The input series' names and labels: `(all events but the bad, bad events)` for an
/// availability SLO; `(events at or below the threshold, all events)` for a latency one.
struct Inputs {
    first: String,
    second: String,
    /// Whether `second` counts bad events (availability) or all events (latency).
    second_is_bad: bool,
}

fn inputs(slo: &Slo) -> Result<Inputs, String> {
    match &slo.sli {
        Sli::Availability { total, bad } => {
            let (
                Expr::Metric {
                    metric, matchers, ..
                },
                Expr::Metric {
                    matchers: bad_matchers,
                    ..
                },
            ) = (total, bad)
            else {
                return Err("the total is not one metric".to_owned());
            };
            let added = bad_matchers
                .get(matchers.len())
                .ok_or("no bad-value matcher")?;
            let bad_values: Vec<String> = match added.op {
                "=~" => added
                    .value
                    .split('|')
                    .map(|v| v.replace('\\', ""))
                    .collect(),
                _ => vec![added.value.clone()],
            };
            // A good value: one the total's own matchers on that label allow, or a value
            // the label is declared to take, that is not bad.
            let mut candidates: Vec<String> = matchers
                .iter()
                .filter(|m| m.label == added.label && m.op == "=~")
                .flat_map(|m| m.value.split('|').map(|v| v.replace('\\', "")))
                .collect();
            candidates.extend(
                metric
                    .label(added.label)
                    .and_then(|label| label.values)
                    .unwrap_or_default()
                    .iter()
                    .map(|v| (*v).to_owned()),
            );
            candidates.push("ok".to_owned());
            let good = candidates
                .into_iter()
                .find(|value| !bad_values.contains(value))
                .ok_or("no good value")?;
            let bad = bad_values.first().ok_or("no bad value")?;
            let name = series_name(metric, total);
            Ok(Inputs {
                first: series_text(&name, &series_labels(total, Some((added.label, good)))),
                second: series_text(
                    &name,
                    &series_labels(total, Some((added.label, bad.clone()))),
                ),
                second_is_bad: true,
            })
        }
        Sli::Latency { metric, threshold } => Ok(Inputs {
            first: series_text(
                &format!("{}_bucket", metric.name),
                &series_labels(&Expr::Raw(String::new()), Some(("le", le(*threshold)))),
            ),
            second: series_text(
                &format!("{}_count", metric.name),
                &series_labels(&Expr::Raw(String::new()), None),
            ),
            second_is_bad: false,
        }),
    }
}

fn series_name(metric: &MetricDescriptor, total: &Expr) -> String {
    match total {
        Expr::Metric {
            operation: Operation::Rate,
            ..
        } if metric.kind == fiko_metrics::MetricKind::Histogram => {
            format!("{}_count", metric.name)
        }
        _ => metric.sample_name(),
    }
}

/// A counter's promtool values: `per_step` per step for `steps` steps after `start`
/// (`start` included as the first value), as one `a+bxn` segment.
fn segment(start: f64, per_step: f64, steps: u64) -> String {
    format!("{}+{}x{steps}", num(start), num(per_step))
}

/// promtool values of the two input series: `healthy` steps at ratio 0, then `burning`
/// steps at error ratio `ratio`, `events` per step.
fn values(
    inputs: &Inputs,
    events: f64,
    ratio: f64,
    healthy: u64,
    burning: u64,
) -> (String, String) {
    let bad = events * ratio;
    let good = events - bad;
    let (first_healthy, second_healthy) = if inputs.second_is_bad {
        (events, 0.0)
    } else {
        (events, events)
    };
    let (first_burn, second_burn) = if inputs.second_is_bad {
        (good, bad)
    } else {
        (good, events)
    };
    if healthy == 0 {
        return (
            segment(0.0, first_burn, burning),
            segment(0.0, second_burn, burning),
        );
    }
    let mut first = segment(0.0, first_healthy, healthy);
    let mut second = segment(0.0, second_healthy, healthy);
    if burning > 0 {
        let (f0, s0) = (
            first_healthy * healthy as f64,
            second_healthy * healthy as f64,
        );
        let _ = write!(
            first,
            " {}",
            segment(f0 + first_burn, first_burn, burning - 1)
        );
        let _ = write!(
            second,
            " {}",
            segment(s0 + second_burn, second_burn, burning - 1)
        );
    }
    (first, second)
}

/// One promtool test group.
struct Case<'a> {
    name: String,
    inputs: &'a Inputs,
    events: f64,
    ratio: f64,
    healthy: u64,
    burning: u64,
    /// `(evaluation step, expect the alert firing)`.
    checks: Vec<(u64, bool)>,
}

/// `slo.test.yml`: for every SLO and window pair, a burn above the factor fires, one
/// below it and one on too little traffic stay silent, and a burn at twice the factor
/// after a healthy long window is detected when the long window's ratio crosses the
/// threshold plus `for` (silent one step before, firing two steps after).
///
/// The pages' cases go to `slo.test.yml`, evaluated every minute; the tickets' days-long
/// histories to `slo-tickets.test.yml`, evaluated every 15 minutes (the tickets' `for`):
/// promtool evaluates every rule of the file at every step and reads every sample of a
/// window each time, so three days at one-minute steps took it over ten minutes of CPU, and
/// at five-minute steps still two.
pub(crate) fn tests(model: &Model<'_>) -> Result<(String, String), Vec<String>> {
    let settings = model.settings;
    let step = 60 / u64::from(settings.slo_time_scale.max(1));
    let header = |file: &str, evaluation: u64| {
        format!(
            "# Generated by dashboards-gen from the fiko-metrics declarations. Do not edit.\n# Run: promtool test rules {file}\nrule_files:\n  - \"slo.yml\"\nevaluation_interval: {}\n",
            duration(evaluation)
        )
    };
    let mut pages = header("slo.test.yml", step);
    let mut tickets = header("slo-tickets.test.yml", 15 * step);
    if model.slos.is_empty() {
        pages.push_str("tests: []\n");
        tickets.push_str("tests: []\n");
        return Ok((pages, tickets));
    }
    pages.push_str("tests:\n");
    tickets.push_str("tests:\n");
    let mut problems = Vec::new();
    for declared in model.slos {
        let slo = &declared.slo;
        let inputs = match inputs(slo) {
            Ok(inputs) => inputs,
            Err(problem) => {
                problems.push(format!(
                    "{}: SLO {}: cannot derive test series: {problem}",
                    declared.at, slo.name
                ));
                continue;
            }
        };
        for pair in PAIRS {
            // Input samples every minute for the pages, every 15 minutes for the tickets'
            // days-long windows (promtool reads every sample of a window at every
            // evaluation).
            let step = if pair.long >= 86_400 { 15 * step } else { step };
            let long = settings.scaled(pair.long) / step;
            let for_steps = settings.scaled(pair.for_secs) / step;
            let threshold = pair.factor * slo.budget();
            let name = alert_name(slo, pair);
            let above = (threshold * 1.25).min((1.0 + threshold) / 2.0);
            let below = threshold * 0.8;
            let end = long + for_steps + 2;
            let detect_ratio = (threshold * 2.0).min((1.0 + threshold) / 2.0);
            // The burn's steps until the long window's ratio reaches the threshold.
            let crossing = (long as f64 * threshold / detect_ratio).ceil() as u64;
            let detected = crossing + for_steps;
            let guard_events = (slo.min_events as f64 / long as f64 / 2.0).max(f64::MIN_POSITIVE);
            let cases = [
                Case {
                    name: format!(
                        "{name} fires above {}x the budget (error ratio {})",
                        pair.factor,
                        percent(above)
                    ),
                    inputs: &inputs,
                    events: 1000.0,
                    ratio: above,
                    healthy: 0,
                    burning: end,
                    checks: vec![(end, true)],
                },
                Case {
                    name: format!(
                        "{name} stays silent below {}x the budget (error ratio {})",
                        pair.factor,
                        percent(below)
                    ),
                    inputs: &inputs,
                    events: 1000.0,
                    ratio: below,
                    healthy: 0,
                    burning: end,
                    checks: vec![(long / 2, false), (end, false)],
                },
                Case {
                    name: format!(
                        "{name} stays silent on fewer than {} events in {}",
                        slo.min_events,
                        duration(settings.scaled(pair.long))
                    ),
                    inputs: &inputs,
                    events: guard_events,
                    ratio: above,
                    healthy: 0,
                    burning: end,
                    checks: vec![(end, false)],
                },
                Case {
                    name: format!(
                        "{name} detects a burn at error ratio {} after a healthy {} in {}",
                        percent(detect_ratio),
                        duration(settings.scaled(pair.long)),
                        duration(detected * step)
                    ),
                    inputs: &inputs,
                    events: 1000.0,
                    ratio: detect_ratio,
                    healthy: long,
                    burning: detected + 3,
                    checks: vec![(long + detected - 1, false), (long + detected + 2, true)],
                },
            ];
            let out = if pair.long >= 86_400 {
                &mut tickets
            } else {
                &mut pages
            };
            for case in cases {
                write_case(out, &case, step, slo, declared, pair, settings);
            }
        }
    }
    if problems.is_empty() {
        Ok((pages, tickets))
    } else {
        Err(problems)
    }
}

fn write_case(
    out: &mut String,
    case: &Case<'_>,
    step: u64,
    slo: &Slo,
    declared: &DeclaredSlo,
    pair: Pair,
    settings: &Settings,
) {
    let (first, second) = values(
        case.inputs,
        case.events,
        case.ratio,
        case.healthy,
        case.burning,
    );
    let text = alert_text(slo, pair, settings);
    let _ = writeln!(out, "  - name: {}", q(&case.name));
    let _ = writeln!(out, "    interval: {}", duration(step));
    out.push_str("    input_series:\n");
    let _ = writeln!(out, "      - series: {}", q(&case.inputs.first));
    let _ = writeln!(out, "        values: {}", q(&first));
    let _ = writeln!(out, "      - series: {}", q(&case.inputs.second));
    let _ = writeln!(out, "        values: {}", q(&second));
    out.push_str("    alert_rule_test:\n");
    for (at, firing) in &case.checks {
        let _ = writeln!(out, "      - eval_time: {}", duration(at * step));
        let _ = writeln!(out, "        alertname: {}", q(&text.name));
        if !firing {
            out.push_str("        exp_alerts: []\n");
            continue;
        }
        out.push_str("        exp_alerts:\n          - exp_labels:\n");
        for (label, value) in [
            ("long_window", duration(settings.scaled(pair.long))),
            ("service", declared.service.clone()),
            ("severity", pair.severity.as_str().to_owned()),
            ("short_window", duration(settings.scaled(pair.short))),
            ("slo", slo.slug()),
        ] {
            let _ = writeln!(out, "              {label}: {}", q(&value));
        }
        out.push_str("            exp_annotations:\n");
        let _ = writeln!(out, "              description: {}", q(&text.description));
        let _ = writeln!(
            out,
            "              runbook_url: {}",
            q(&runbook_url(settings, &text.name))
        );
        let _ = writeln!(out, "              summary: {}", q(&text.summary));
    }
}

/// The overview's SLO row: SLI and objective, error budget remaining, burn rates; none
/// without SLOs. The dashboard places it where it likes.
pub(crate) fn row(model: &Model<'_>) -> Option<Row> {
    let first = model.slos.first()?;
    let slugs: Vec<String> = model.slos.iter().map(|d| d.slo.slug()).collect();
    let matcher = format!("slo=~\"{}\"", slugs.join("|"));
    let settings = model.settings;
    let period = duration(settings.scaled(first.slo.window.as_secs()));
    let same_period = model.slos.iter().all(|d| d.slo.window == first.slo.window);
    let period_text = if same_period {
        period.clone()
    } else {
        "its window".to_owned()
    };
    let periods: Vec<String> = model
        .slos
        .iter()
        .map(|d| duration(settings.scaled(d.slo.window.as_secs())))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let sli = periods
        .iter()
        .map(|p| format!("1 - slo:sli_error:ratio_rate{p}{{{matcher}}}"))
        .collect::<Vec<_>>()
        .join(" or ");
    let short = duration(settings.scaled(3600));
    let long = duration(settings.scaled(21_600));
    Some(
        Row::new("Service level objectives")
            .panel(
                Panel::timeseries("SLI and objective")
                    .query_as("{{slo}} SLI", raw::<unit::Ratio>(&sli))
                    .query_as(
                        "{{slo}} objective",
                        raw::<unit::Ratio>(&format!("slo:objective:ratio{{{matcher}}}")),
                    )
                    .description(&format!(
                        "Share of good events over {period_text} per SLO, against its objective: below the objective line the SLO is missed."
                    )),
            )
            .panel(
                Panel::stat("Error budget remaining")
                    .query_as(
                        "{{slo}}",
                        raw::<unit::Ratio>(&format!(
                            "slo:error_budget_remaining:ratio{{{matcher}}}"
                        )),
                    )
                    .description(&format!(
                        "Share of the error budget of {period_text} not yet spent; at 0% or below the objective is missed."
                    )),
            )
            .panel(
                Panel::timeseries("Burn rate")
                    .query_as(
                        &format!("{{{{slo}}}} {short}"),
                        raw::<unit::Unitless>(&format!(
                            "slo:sli_error:ratio_rate{short}{{{matcher}}} / on (slo) (1 - slo:objective:ratio{{{matcher}}})"
                        )),
                    )
                    .query_as(
                        &format!("{{{{slo}}}} {long}"),
                        raw::<unit::Unitless>(&format!(
                            "slo:sli_error:ratio_rate{long}{{{matcher}}} / on (slo) (1 - slo:objective:ratio{{{matcher}}})"
                        )),
                    )
                    .description(&format!(
                        "How many times faster than allowed the budget burns (1 spends it exactly over the window); pages fire above 14.4 over {short}, 6 over {long}."
                    )),
            ),
    )
}

/// RUNBOOKS.md sections of the burn-rate alerts: meaning, impact, diagnosis and
/// mitigation, every sentence naming its own alert's SLO and windows.
pub(crate) fn runbooks(model: &Model<'_>) -> String {
    let settings = model.settings;
    let mut entries: Vec<(String, String)> = Vec::new();
    for declared in model.slos {
        let slo = &declared.slo;
        for pair in PAIRS {
            let text = alert_text(slo, pair, settings);
            let long = duration(settings.scaled(pair.long));
            let short = duration(settings.scaled(pair.short));
            let slug = slo.slug();
            let threshold = percent(pair.factor * slo.budget());
            let kind = match pair.severity {
                Severity::Critical => "page",
                Severity::Warning | Severity::None => "ticket",
            };
            let spent = (pair.factor * pair.long as f64 / slo.window.as_secs() as f64) * 100.0;
            let mut section = String::new();
            let _ = write!(
                section,
                "\n## {name}\n\n- Severity: {severity} ({kind})\n- Service: {service}\n- SLO: `{slug}`, {objective}% over {window}\n- Fires when: `{expr}` for {for_}\n\n{summary}\n\n### Meaning\n\n{name} fires when more than {threshold} of `{slug}` events failed both over the last {long} and over the last {short}, with at least {min} events in the {long} window.\n\n### Impact\n\nAt the rate {name} detected, `{slug}` has spent about {spent}% of its {window} error budget within {long}, and keeps losing it {factor}× faster than the objective allows.\n\n### Diagnosis\n\nFor {name}, compare `slo:sli_error:ratio_rate{long}{{slo=\"{slug}\"}}` with `slo:sli_error:ratio_rate{short}{{slo=\"{slug}\"}}` in the \"Burn rate\" panel of the \"Service level objectives\" row: a {short} ratio back under {threshold} means the `{slug}` burn already stopped.\n\n### Mitigation\n\nTo clear {name}, stop the failures counted by `{slug}` (roll back the change made before {long} ago, shed the failing dependency), then watch \"Error budget remaining\" for `{slug}` stop falling.\n",
                name = text.name,
                severity = pair.severity.as_str(),
                service = declared.service,
                objective = clean(slo.objective),
                window = duration(settings.scaled(slo.window.as_secs())),
                expr = alert_expr(slo, pair, settings),
                for_ = duration(settings.scaled(pair.for_secs)),
                summary = text.summary,
                min = slo.min_events,
                spent = clean((spent * 10.0).round() / 10.0),
                factor = pair.factor,
            );
            entries.push((text.name, section));
        }
    }
    entries.sort();
    let mut out = String::new();
    if !entries.is_empty() {
        out.push_str(
            "\n# SLO burn-rate alerts\n\nOne section per alert of `prometheus/slo.yml`.\n",
        );
    }
    for (_, section) in entries {
        out.push_str(&section);
    }
    out
}
