//! Service level objectives: what share of events must be good over a window, declared
//! from typed queries like alerts are.
//!
//! An [`Slo`] is either an availability objective (the share of events that are not bad,
//! bad being a set of label values: `5xx`, `outcome="error"`) or a latency objective (the
//! share of a histogram's observations at or below a threshold, which must be one of its
//! declared bucket boundaries). `fiko-dashboards-gen` turns each into SLI error-ratio
//! recording rules over the burn-rate windows (5m, 30m, 1h, 2h, 6h, 1d, 3d), error-budget
//! rules, one multi-window burn-rate alert per window pair (the SRE workbook's: pages at
//! 14.4× over 1h and 5m and 6× over 6h and 30m, tickets at 3× over 1d and 2h and 1× over
//! 3d and 6h), promtool tests of each pair, and a dashboard row.
//!
//! ```
//! use fiko_dashboards::prelude::*;
//! use fiko_dashboards::Slo;
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
//! let orders = Slo::availability(
//!     "CheckoutAvailability",
//!     ShopMetrics::ORDERS.rate(),
//!     OrderLabels::OUTCOME,
//!     &["failed"],
//! )
//! .objective(Percent(99.9))
//! .over(days(30));
//! assert!(orders.problems().is_empty());
//! assert_eq!(orders.slug(), "checkout-availability");
//!
//! let latency = Slo::latency("CheckoutLatency", ShopMetrics::CHECKOUT_DURATION_SECONDS, Seconds(0.4))
//!     .objective(Percent(99.0));
//! assert_eq!(
//!     latency.problems(),
//!     ["SLO CheckoutLatency: threshold 0.4 of `shop_checkout_duration_seconds` is not a bucket boundary (buckets: [0.1, 0.5, 1.0, 2.0, 5.0])"],
//! );
//! ```

use fiko_metrics::descriptor::{MetricDescriptor, MetricKind};
use fiko_metrics::{Declared, LabelRef, kind, unit};

use crate::duration::PromDuration;
use crate::query::{Expr, Matcher, Operation, Query, bucket_bounds};
use crate::units::{Percent, Seconds};

/// What an SLO counts as good and bad events.
#[derive(Clone, Debug)]
pub enum Sli {
    /// Bad events are those of `total` whose label takes one of the bad values.
    Availability {
        /// Every event, per second (a counter's or a histogram's rate).
        total: Expr,
        /// The bad events: `total` with the bad-value matcher added.
        bad: Expr,
    },
    /// Bad events are observations above `threshold`.
    Latency {
        /// The histogram.
        metric: &'static MetricDescriptor,
        /// The latency a good event stays at or below, in seconds.
        threshold: f64,
    },
}

/// A service level objective. See the [module docs](self).
#[derive(Clone, Debug)]
pub struct Slo {
    /// The name (`HttpAvailability`): CamelCase, the prefix of its alerts' names.
    pub name: String,
    /// What is measured.
    pub sli: Sli,
    /// The share of good events promised, in percent (`99.9`).
    pub objective: f64,
    /// The period the objective holds over (30 days by default).
    pub window: PromDuration,
    /// The fewest events the long window of a burn-rate alert must hold before it may
    /// fire (100 by default): below it, a couple of errors are a large ratio of nothing.
    pub min_events: u64,
    /// What the objective promises, for the dashboard and the alerts' descriptions.
    pub description: String,
    /// The `service` label; by default the declaring set's, or the application's name.
    pub service: Option<String>,
}

/// `n` days (an SLO's window: `days(30)`).
pub const fn days(n: u32) -> PromDuration {
    crate::hours(n * 24)
}

impl Slo {
    fn new(name: &str, sli: Sli) -> Self {
        Self {
            name: name.to_owned(),
            sli,
            objective: f64::NAN,
            window: days(30),
            min_events: 100,
            description: String::new(),
            service: None,
        }
    }

    /// An availability objective: of the events `total` counts (the `rate` of a counter
    /// or of a histogram's observations, filtered as needed), those whose `label` is one
    /// of `bad` are bad. Set the objective with [`objective`](Self::objective).
    pub fn availability<L, U>(
        name: &str,
        total: Query<L, U>,
        label: LabelRef<L>,
        bad: &[&str],
    ) -> Self {
        let values: Vec<String> = bad.iter().map(|value| regex_escape(value)).collect();
        let bad_query = match (bad, values.as_slice()) {
            // One value that needs no escaping: an equality matcher.
            ([value], [escaped]) if value == escaped => total.clone().filter(label, value),
            _ => total.clone().filter_regex(label, &values.join("|")),
        };
        Self::new(
            name,
            Sli::Availability {
                total: total.into_expr(),
                bad: bad_query.into_expr(),
            },
        )
    }

    /// A latency objective: observations of `histogram` at or below `threshold` are good.
    /// The threshold must be one of the histogram's declared bucket boundaries.
    pub fn latency<L>(
        name: &str,
        histogram: Declared<L, kind::Histogram, unit::Seconds>,
        threshold: Seconds,
    ) -> Self {
        Self::new(
            name,
            Sli::Latency {
                metric: histogram.descriptor,
                threshold: threshold.0,
            },
        )
    }

    /// The share of good events promised (`Percent(99.9)`), strictly between 0 and 100%.
    pub fn objective(mut self, objective: Percent) -> Self {
        self.objective = objective.0;
        self
    }

    /// The period the objective holds over (`days(30)`, the default).
    pub fn over(mut self, window: PromDuration) -> Self {
        self.window = window;
        self
    }

    /// The fewest events a burn-rate alert's long window must hold (100 by default).
    pub fn min_events(mut self, events: u64) -> Self {
        self.min_events = events;
        self
    }

    /// What the objective promises, in a sentence.
    pub fn description(mut self, text: &str) -> Self {
        self.description = text.to_owned();
        self
    }

    /// The `service` label of its rules and alerts.
    pub fn service(mut self, service: &str) -> Self {
        self.service = Some(service.to_owned());
        self
    }

    /// The error budget: the share of events that may be bad (0.001 for 99.9%).
    pub fn budget(&self) -> f64 {
        (100.0 - self.objective) / 100.0
    }

    /// The `slo` label value: the name in kebab case (`HttpAvailability` →
    /// `http-availability`).
    pub fn slug(&self) -> String {
        let mut out = String::with_capacity(self.name.len() + 4);
        for (index, c) in self.name.chars().enumerate() {
            if c.is_ascii_uppercase() {
                if index > 0 {
                    out.push('-');
                }
                out.push(c.to_ascii_lowercase());
            } else {
                out.push(c);
            }
        }
        out
    }

    /// The metrics the SLO reads.
    pub fn metrics(&self) -> Vec<&'static MetricDescriptor> {
        match &self.sli {
            Sli::Availability { total, .. } => total.metrics(),
            Sli::Latency { metric, .. } => vec![*metric],
        }
    }

    /// Mistakes the types cannot catch, one line each; empty when the SLO is sound.
    pub fn problems(&self) -> Vec<String> {
        let at = format!("SLO {}", self.name);
        let mut problems = Vec::new();
        let name_ok = self
            .name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_uppercase())
            && self.name.chars().all(|c| c.is_ascii_alphanumeric());
        if !name_ok {
            problems.push(format!(
                "SLO `{}`: a name is CamelCase ASCII letters and digits",
                self.name
            ));
        }
        if self.objective.is_nan() {
            problems.push(format!(
                "{at}: no objective (set one with `.objective(Percent(99.9))`)"
            ));
        } else if !self.objective.is_finite() || self.objective <= 0.0 || self.objective >= 100.0 {
            problems.push(format!(
                "{at}: objective {}% is not strictly between 0% and 100%",
                self.objective
            ));
        } else if self.budget() * PAGE_FACTOR >= 1.0 {
            problems.push(format!(
                "{at}: objective {}% leaves a budget so large that the page at {PAGE_FACTOR}× it can never fire (it needs an objective above {:.2}%)",
                self.objective,
                100.0 - 100.0 / PAGE_FACTOR
            ));
        }
        if self.window.as_secs() < 86_400 {
            problems.push(format!(
                "{at}: window {} is shorter than the burn-rate alerts' windows (at least 1 day; 30 days is usual)",
                self.window
            ));
        }
        match &self.sli {
            Sli::Availability { total, bad } => {
                problems.extend(total.problems().into_iter().map(|p| format!("{at}: {p}")));
                let rate = matches!(
                    total,
                    Expr::Metric {
                        operation: Operation::Rate,
                        metric,
                        ..
                    } if matches!(metric.kind, MetricKind::Counter | MetricKind::Histogram)
                );
                if !rate {
                    problems.push(format!(
                        "{at}: the total must be the `rate()` of one counter or histogram"
                    ));
                }
                if let (
                    Expr::Metric {
                        metric, matchers, ..
                    },
                    Expr::Metric {
                        matchers: all_bad, ..
                    },
                ) = (total, bad)
                {
                    if let Some(added) = all_bad.get(matchers.len()) {
                        problems.extend(closed_value_problems(metric, added, &at));
                    }
                }
            }
            Sli::Latency { metric, threshold } => {
                let buckets = bucket_bounds(metric);
                if !threshold.is_finite() || *threshold <= 0.0 {
                    problems.push(format!(
                        "{at}: threshold {threshold} is not a positive number of seconds"
                    ));
                } else if buckets.is_empty() {
                    problems.push(format!(
                        "{at}: `{}` has no classic buckets to count good observations with",
                        metric.name
                    ));
                } else if !buckets
                    .iter()
                    .any(|bound| (bound - threshold).abs() <= 1e-9 * bound.abs().max(1.0))
                {
                    problems.push(format!(
                        "{at}: threshold {threshold} of `{}` is not a bucket boundary (buckets: {buckets:?})",
                        metric.name
                    ));
                }
            }
        }
        problems
    }
}

/// The page's fastest burn rate (14.4× the budget over 1h and 5m).
const PAGE_FACTOR: f64 = 14.4;

fn closed_value_problems(metric: &MetricDescriptor, matcher: &Matcher, at: &str) -> Vec<String> {
    let Some(values) = metric.label(matcher.label).and_then(|label| label.values) else {
        return Vec::new();
    };
    let wanted: Vec<String> = match matcher.op {
        "=~" => matcher
            .value
            .split('|')
            .map(|value| value.replace('\\', ""))
            .collect(),
        _ => vec![matcher.value.clone()],
    };
    wanted
        .into_iter()
        .filter(|value| !values.contains(&value.as_str()))
        .map(|value| {
            format!(
                "{at}: bad value `{value}` of label `{}` on `{}` is a value it never takes (one of: {})",
                matcher.label,
                metric.name,
                values.join(", ")
            )
        })
        .collect()
}

/// Escapes what a regular expression would read as an operator.
fn regex_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use fiko_metrics::{Counter, Family, Histogram, LabelSet, LabelValue, MetricSet};

    use super::*;
    use crate::CounterQueries;

    #[derive(MetricSet)]
    #[metric_set(namespace = "t")]
    struct Shop {
        /// Requests.
        requests: Family<Labels, Counter>,
        /// Latency.
        #[metric(buckets = [0.1, 0.5, 1.0])]
        latency_seconds: Histogram,
    }

    #[derive(LabelSet)]
    struct Labels {
        class: Class,
        route: String,
    }

    #[derive(LabelValue)]
    enum Class {
        #[label_value(rename = "2xx")]
        Ok,
        #[label_value(rename = "5xx")]
        Error,
        None,
    }

    fn available() -> Slo {
        Slo::availability("Api", Shop::REQUESTS.rate(), Labels::CLASS, &["5xx"])
            .objective(Percent(99.9))
    }

    #[test]
    fn a_sound_slo_has_no_problems_and_a_kebab_slug() {
        let slo = available();
        assert!(slo.problems().is_empty(), "{:?}", slo.problems());
        assert_eq!(slo.window, days(30));
        assert!((slo.budget() - 0.001).abs() < 1e-12);
        let slo = Slo::availability(
            "HttpApiAvailability",
            Shop::REQUESTS.rate(),
            Labels::CLASS,
            &["5xx"],
        );
        assert_eq!(slo.slug(), "http-api-availability");
    }

    #[test]
    fn the_bad_events_are_the_total_filtered_on_the_bad_values() {
        let Sli::Availability { bad, .. } = available().sli else {
            panic!("availability")
        };
        let cx = crate::Context::rules(crate::minutes(5));
        assert!(
            bad.render(&cx).contains(r#"t_requests_total{class="5xx"}"#),
            "{}",
            bad.render(&cx)
        );
        let two = Slo::availability(
            "Api",
            Shop::REQUESTS.rate(),
            Labels::CLASS,
            &["5xx", "none"],
        );
        let Sli::Availability { bad, .. } = two.sli else {
            panic!("availability")
        };
        assert!(
            bad.render(&cx).contains(r#"class=~"5xx|none""#),
            "{}",
            bad.render(&cx)
        );
        let dotted = Slo::availability("Api", Shop::REQUESTS.rate(), Labels::ROUTE, &["a.b"]);
        let Sli::Availability { bad, .. } = dotted.sli else {
            panic!("availability")
        };
        assert!(
            bad.render(&cx).contains(r#"route=~"a\\.b""#),
            "{}",
            bad.render(&cx)
        );
    }

    #[test]
    fn bad_objectives_are_one_line_problems() {
        for (objective, wanted) in [
            (0.0, "objective 0% is not strictly between 0% and 100%"),
            (-5.0, "objective -5% is not strictly between 0% and 100%"),
            (100.0, "objective 100% is not strictly between 0% and 100%"),
            (120.0, "objective 120% is not strictly between 0% and 100%"),
            (
                f64::INFINITY,
                "objective inf% is not strictly between 0% and 100%",
            ),
            (
                50.0,
                "objective 50% leaves a budget so large that the page at 14.4× it can never fire",
            ),
        ] {
            let problems = available().objective(Percent(objective)).problems();
            assert_eq!(problems.len(), 1, "{problems:?}");
            assert!(problems[0].starts_with("SLO Api: "), "{problems:?}");
            assert!(problems[0].contains(wanted), "{problems:?}");
            assert!(!problems[0].contains('\n'));
        }
        let unset = Slo::availability("Api", Shop::REQUESTS.rate(), Labels::CLASS, &["5xx"]);
        assert_eq!(
            unset.problems(),
            ["SLO Api: no objective (set one with `.objective(Percent(99.9))`)"]
        );
        let nan = available().objective(Percent(f64::NAN));
        assert_eq!(nan.problems().len(), 1);
    }

    #[test]
    fn a_latency_threshold_must_be_a_bucket_boundary() {
        let good =
            Slo::latency("Fast", Shop::LATENCY_SECONDS, Seconds(0.5)).objective(Percent(99.0));
        assert!(good.problems().is_empty(), "{:?}", good.problems());
        let off =
            Slo::latency("Fast", Shop::LATENCY_SECONDS, Seconds(0.3)).objective(Percent(99.0));
        assert_eq!(
            off.problems(),
            [
                "SLO Fast: threshold 0.3 of `t_latency_seconds` is not a bucket boundary (buckets: [0.1, 0.5, 1.0])"
            ]
        );
        let negative =
            Slo::latency("Fast", Shop::LATENCY_SECONDS, Seconds(-1.0)).objective(Percent(99.0));
        assert_eq!(negative.problems().len(), 1);
    }

    #[test]
    fn other_mistakes_are_named() {
        let closed = Slo::availability("Api", Shop::REQUESTS.rate(), Labels::CLASS, &["500"])
            .objective(Percent(99.9));
        assert_eq!(
            closed.problems(),
            [
                "SLO Api: bad value `500` of label `class` on `t_requests` is a value it never takes (one of: 2xx, 5xx, none)"
            ]
        );
        let short = available().over(crate::hours(6));
        assert_eq!(short.problems().len(), 1);
        assert!(short.problems()[0].contains("window 6h is shorter"));
        let named = Slo::availability("api_slo", Shop::REQUESTS.rate(), Labels::CLASS, &["5xx"])
            .objective(Percent(99.9));
        assert_eq!(
            named.problems(),
            ["SLO `api_slo`: a name is CamelCase ASCII letters and digits"]
        );
        let increase = Slo::availability("Api", Shop::REQUESTS.increase(), Labels::CLASS, &["5xx"])
            .objective(Percent(99.9));
        assert_eq!(
            increase.problems(),
            ["SLO Api: the total must be the `rate()` of one counter or histogram"]
        );
    }
}
