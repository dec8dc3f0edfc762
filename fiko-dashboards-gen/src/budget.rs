//! The series budget: how many series each declared metric can expose at worst, per
//! scrape target and over every target of the deployment, computed from the declarations
//! alone, and checked against the budget the application declares (a Mimir tenant's
//! 150 000 series by default, say).
//!
//! At worst, a metric exposes one series per label combination: the product of its closed
//! labels' values; with an open label, at most its series limit plus one overflow series
//! per closed combination (past the limit, values fold there). A histogram multiplies that
//! by its classic buckets, `+Inf`, `_sum` and `_count`, and by one more series when it is
//! native too (Prometheus stores a native histogram as one series).

use std::fmt::Write as _;

use fiko_metrics::{MetricDescriptor, MetricKind};

use crate::Model;

/// What exceeding the budget does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OverBudget {
    /// Generation fails (and `--check` with it), naming the largest metrics.
    Fail,
    /// Generation succeeds with a warning ([`Artefacts::warnings`](crate::Artefacts::warnings)).
    Warn,
}

/// A declared budget: at most `limit` series over the whole deployment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeriesBudget {
    /// The most series every target together may expose.
    pub limit: u64,
    /// Failing or warning when the worst case exceeds it.
    pub over: OverBudget,
}

/// One metric's worst case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetricBudget {
    /// The set declaring it (its Rust type name).
    pub set: &'static str,
    /// The metric's name.
    pub metric: &'static str,
    /// The series one target exposes at worst.
    pub per_target: u64,
    /// The scrape targets exposing it (at least one: a set nobody scrapes is counted once).
    pub targets: u64,
    /// How `per_target` is made, e.g. `3 × 2 label values × 13 (10 buckets, +Inf, _sum, _count)`.
    pub how: String,
}

impl MetricBudget {
    /// `per_target × targets`.
    pub fn total(&self) -> u64 {
        self.per_target.saturating_mul(self.targets)
    }
}

/// The worst-case series of every declared metric.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cardinality {
    /// Each metric, in the sets' order.
    pub metrics: Vec<MetricBudget>,
    /// The declared budget, if any.
    pub budget: Option<SeriesBudget>,
}

impl Cardinality {
    /// Every metric's worst case summed over its targets.
    pub fn total(&self) -> u64 {
        self.metrics.iter().map(MetricBudget::total).sum()
    }

    /// The worst case of `metric`'s series on one target, if it is declared.
    pub fn per_target(&self, metric: &str) -> Option<u64> {
        self.metrics
            .iter()
            .find(|m| m.metric == metric)
            .map(|m| m.per_target)
    }

    /// The line saying by how much the budget is exceeded, naming the largest metrics;
    /// `None` within budget or without one.
    pub fn excess(&self) -> Option<String> {
        let budget = self.budget?;
        let total = self.total();
        if total <= budget.limit {
            return None;
        }
        let mut largest: Vec<&MetricBudget> = self.metrics.iter().collect();
        largest.sort_by_key(|m| std::cmp::Reverse(m.total()));
        let named: Vec<String> = largest
            .iter()
            .take(3)
            .map(|m| format!("{} {}", m.metric, m.total()))
            .collect();
        Some(format!(
            "series budget: the declarations can expose {total} series at worst, over the budget of {} (largest: {}); lower those metrics' series limits (`#[metric(max_series = N)]`) or close their labels",
            budget.limit,
            named.join(", ")
        ))
    }
}

/// The series one target exposes at worst for `metric`, and how that number is made.
pub fn per_target(metric: &MetricDescriptor) -> (u64, String) {
    let closed: u64 = metric
        .labels
        .iter()
        .filter_map(|label| label.values)
        .map(|values| values.len() as u64)
        .product();
    let open = metric.labels.iter().any(|label| label.values.is_none());
    let (combinations, mut how) = if open {
        (
            metric.max_series as u64 + closed,
            format!("{} series limit + {closed} overflow", metric.max_series),
        )
    } else if metric.labels.is_empty() {
        (1, "1".to_owned())
    } else {
        let values: Vec<String> = metric
            .labels
            .iter()
            .filter_map(|label| label.values.map(|values| values.len().to_string()))
            .collect();
        (closed, format!("{} label values", values.join(" × ")))
    };
    let per_combination = match metric.kind {
        MetricKind::Histogram => {
            let native = u64::from(metric.native.is_some());
            let buckets = metric.buckets.len() as u64;
            let _ = write!(
                how,
                " × {} ({buckets} buckets, +Inf, _sum, _count{})",
                buckets + 3 + native,
                if native == 1 { ", native" } else { "" }
            );
            buckets + 3 + native
        }
        _ => 1,
    };
    (combinations.saturating_mul(per_combination), how)
}

/// Every observed set's metrics, each times the targets of the jobs exposing its set.
pub(crate) fn cardinality(model: &Model<'_>) -> Cardinality {
    let mut metrics = Vec::new();
    for set in model.sets {
        let jobs = model.jobs_of(set);
        let targets: u64 = model
            .settings
            .scrape_jobs
            .iter()
            .filter(|job| jobs.contains(&job.name.as_str()))
            .map(|job| job.targets.len() as u64)
            .sum();
        for metric in set.descriptor.metrics {
            let (per_target, how) = per_target(metric);
            metrics.push(MetricBudget {
                set: set.name(),
                metric: metric.name,
                per_target,
                targets: targets.max(1),
                how,
            });
        }
    }
    Cardinality {
        metrics,
        budget: model.settings.series_budget,
    }
}

/// `CARDINALITY.md`: the budget, the worst case per scrape job and per metric.
pub(crate) fn report(model: &Model<'_>, cardinality: &Cardinality) -> String {
    let mut out = String::from(
        "<!-- Generated by dashboards-gen from the fiko-metrics declarations. Do not edit. -->\n# Series budget\n\nThe most series each declared metric can expose, from the declarations alone: closed labels times their values; an open label up to its series limit, plus one overflow series per closed combination; a histogram times its buckets, `+Inf`, `_sum` and `_count` (and one series more when native).\n\n",
    );
    let total = cardinality.total();
    match cardinality.budget {
        Some(budget) => {
            let _ = writeln!(
                out,
                "Worst case: **{total}** series, budget {} ({}).\n",
                budget.limit,
                match (total <= budget.limit, budget.over) {
                    (true, _) => "within it",
                    (false, OverBudget::Fail) => "over it: generation fails",
                    (false, OverBudget::Warn) => "over it: a warning",
                }
            );
        }
        None => {
            let _ = writeln!(out, "Worst case: **{total}** series; no budget declared.\n");
        }
    }
    out.push_str("## Per scrape job\n\n| job | targets | series per target | series |\n|---|---:|---:|---:|\n");
    for job in &model.settings.scrape_jobs {
        let per_target: u64 = model
            .sets
            .iter()
            .filter(|set| model.jobs_of(set).contains(&job.name.as_str()))
            .flat_map(|set| set.descriptor.metrics)
            .map(|metric| per_target(metric).0)
            .sum();
        let targets = job.targets.len() as u64;
        let _ = writeln!(
            out,
            "| {} | {targets} | {per_target} | {} |",
            job.name,
            per_target.saturating_mul(targets)
        );
    }
    out.push_str("\n## Per metric\n\n| set | metric | series per target | targets | series | how |\n|---|---|---:|---:|---:|---|\n");
    for metric in &cardinality.metrics {
        let _ = writeln!(
            out,
            "| {} | `{}` | {} | {} | {} | {} |",
            metric.set,
            metric.metric,
            metric.per_target,
            metric.targets,
            metric.total(),
            metric.how
        );
    }
    out
}
