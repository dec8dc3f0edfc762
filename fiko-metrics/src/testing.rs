//! Test support: drift between what an application declares and what it really exposes,
//! and reading a scrape back to assert on its values.
//!
//! [`samples`] reads a text scrape into [`Sample`]s (the one parser of the workspace's
//! tests); [`find`], [`sum`] and [`series_value`] pick values out of them.
//!
//! [`DriftCheck`] reads the text of a real scrape (Prometheus 0.0.4 or OpenMetrics) and
//! compares it with the declared sets: every declared metric must be there (unless listed
//! as appearing lazily), nothing undeclared may appear (besides allowed name prefixes,
//! such as another library's process metrics), closed labels take only their declared
//! values, and `# HELP`, `# TYPE` and `# UNIT` say what the declaration says. Each problem
//! is one line.
//!
//! ```
//! use fiko_metrics::testing::DriftCheck;
//! use fiko_metrics::{Counter, Format, MetricSet, Registry};
//!
//! #[derive(MetricSet)]
//! #[metric_set(namespace = "shop")]
//! struct ShopMetrics {
//!     /// Orders taken.
//!     orders: Counter,
//! }
//!
//! let registry = Registry::new();
//! ShopMetrics::register(&registry)?;
//! let scrape = registry.encode(Format::Prometheus);
//! DriftCheck::new(registry.sets()).assert(&scrape);
//!
//! // A scrape from another build, whose HELP changed and which exposes one more metric.
//! let other = [
//!     "# HELP shop_orders_total Orders.",
//!     "# TYPE shop_orders_total counter",
//!     "shop_orders_total 0",
//!     "# HELP shop_refunds_total Refunds.",
//!     "# TYPE shop_refunds_total counter",
//!     "shop_refunds_total 0",
//! ]
//! .join("\n");
//! let drift = DriftCheck::new(registry.sets()).check(&other).unwrap_err();
//! assert_eq!(
//!     drift.to_string(),
//!     "undeclared: shop_refunds_total (counter) is exposed but no given set declares it\n\
//!      help: shop_orders (ShopMetrics.orders): the scrape says \"Orders.\", the declaration \"Orders taken.\""
//! );
//! # Ok::<(), fiko_metrics::RegistryError>(())
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::descriptor::OVERFLOW_METRIC;
use crate::descriptor::{MetricDescriptor, MetricKind, SetDescriptor};

mod scrape;

use scrape::Line;
pub use scrape::{Sample, ScrapeError, find, samples, series_value, sum};

/// Compares a scrape with declared sets; see the [module docs](self).
#[derive(Clone, Debug)]
pub struct DriftCheck {
    metrics: Vec<(&'static str, &'static MetricDescriptor)>,
    allowed_prefixes: Vec<String>,
    lazy: BTreeSet<String>,
}

/// The problems a [`DriftCheck`] found, one per line when displayed (sorted by kind, then
/// by metric).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Drift {
    /// One line each.
    pub problems: Vec<String>,
}

impl fmt::Display for Drift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.problems.join("\n"))
    }
}

impl std::error::Error for Drift {}

/// A metric family as the scrape shows it.
#[derive(Default, Debug)]
struct Family {
    help: Option<String>,
    kind: Option<String>,
    unit: Option<String>,
    /// The labels of each sample, with the sample's name.
    samples: Vec<(String, Vec<(String, String)>)>,
}

impl DriftCheck {
    /// Checks against the metrics of `sets` (and the registry's own
    /// `fiko_metrics_label_overflow`, which appears once a metric overflows).
    pub fn new<'a>(sets: impl IntoIterator<Item = &'a SetDescriptor>) -> Self {
        let mut metrics = Vec::new();
        for set in sets {
            for metric in set.metrics {
                metrics.push((set.type_name, metric));
            }
        }
        let mut lazy = BTreeSet::new();
        lazy.insert(OVERFLOW_METRIC.name.to_owned());
        metrics.push(("Registry", &OVERFLOW_METRIC));
        Self {
            metrics,
            allowed_prefixes: Vec::new(),
            lazy,
        }
    }

    /// Metrics whose name starts with `prefix` may appear without a declaration (another
    /// library's metrics, such as `process_` or a metrics facade's).
    pub fn allow_prefix(mut self, prefix: &str) -> Self {
        self.allowed_prefixes.push(prefix.to_owned());
        self
    }

    /// The declared metric `name` (its family name, e.g. `shop_orders`) may be missing:
    /// it appears only once something happens (a set registered on first use).
    pub fn lazy(mut self, name: &str) -> Self {
        self.lazy.insert(name.to_owned());
        self
    }

    /// Every problem of `scrape`, or `Ok` when it matches the declarations.
    pub fn check(&self, scrape: &str) -> Result<(), Drift> {
        let (families, mut problems) = parse(scrape);
        let openmetrics = scrape.trim_end().ends_with("# EOF");
        let mut claimed: BTreeSet<String> = BTreeSet::new();
        for (set, metric) in &self.metrics {
            let at = format!("{} ({set}.{})", metric.name, metric.field);
            let sample_name = metric.sample_name();
            let found = [sample_name.as_str(), metric.name]
                .into_iter()
                .find(|name| families.contains_key(*name));
            let Some(name) = found else {
                if !self.lazy.contains(metric.name) {
                    problems.push(format!(
                        "missing: {at}: no {} `{sample_name}` in the scrape",
                        metric.kind
                    ));
                }
                continue;
            };
            claimed.insert(name.to_owned());
            let Some(family) = families.get(name) else {
                continue;
            };
            if let Some(help) = &family.help {
                if help != metric.help {
                    problems.push(format!(
                        "help: {at}: the scrape says {help:?}, the declaration {:?}",
                        metric.help
                    ));
                }
            }
            match family.kind.as_deref() {
                Some(kind) if kind != metric.kind.as_str() => problems.push(format!(
                    "type: {at}: the scrape says {kind}, the declaration {}",
                    metric.kind
                )),
                None => problems.push(format!(
                    "type: {at}: the scrape has no # TYPE, the declaration says {}",
                    metric.kind
                )),
                Some(_) => {}
            }
            match (family.unit.as_deref(), metric.unit) {
                (Some(unit), Some(declared)) if unit != declared => problems.push(format!(
                    "unit: {at}: the scrape says {unit}, the declaration {declared}"
                )),
                (Some(unit), None) if !unit.is_empty() => problems.push(format!(
                    "unit: {at}: the scrape says {unit}, the declaration has no unit"
                )),
                (None, Some(declared)) if openmetrics => problems.push(format!(
                    "unit: {at}: the scrape has no # UNIT, the declaration says {declared}"
                )),
                _ => {}
            }
            label_problems(metric, family, &mut problems);
        }
        for (name, family) in &families {
            if claimed.contains(name)
                || self
                    .allowed_prefixes
                    .iter()
                    .any(|prefix| name.starts_with(prefix.as_str()))
            {
                continue;
            }
            let kind = family.kind.as_deref().unwrap_or("untyped");
            problems.push(format!(
                "undeclared: {name} ({kind}) is exposed but no given set declares it"
            ));
        }
        if problems.is_empty() {
            return Ok(());
        }
        let order = |line: &str| {
            [
                "parse",
                "missing",
                "undeclared",
                "type",
                "help",
                "unit",
                "label",
            ]
            .iter()
            .position(|kind| line.starts_with(kind))
            .unwrap_or(usize::MAX)
        };
        problems.sort_by(|a, b| order(a).cmp(&order(b)).then_with(|| a.cmp(b)));
        problems.dedup();
        Err(Drift { problems })
    }

    /// [`check`](Self::check), for tests.
    ///
    /// # Panics
    ///
    /// When `scrape` drifts from the declarations: the message lists every problem, one
    /// per line.
    #[allow(clippy::panic)]
    #[track_caller]
    pub fn assert(&self, scrape: &str) {
        if let Err(drift) = self.check(scrape) {
            panic!(
                "the scrape drifts from the declarations ({} problem(s)):\n{drift}",
                drift.problems.len()
            );
        }
    }
}

/// [`DriftCheck::new`]`(sets)` with each of `allowed_prefixes`, asserted on `scrape`.
///
/// # Panics
///
/// When `scrape` drifts from the declarations; see [`DriftCheck::assert`].
#[track_caller]
pub fn assert_no_drift<'a>(
    scrape: &str,
    sets: impl IntoIterator<Item = &'a SetDescriptor>,
    allowed_prefixes: &[&str],
) {
    allowed_prefixes
        .iter()
        .fold(DriftCheck::new(sets), |check, prefix| {
            check.allow_prefix(prefix)
        })
        .assert(scrape);
}

fn label_problems(metric: &MetricDescriptor, family: &Family, problems: &mut Vec<String>) {
    for (sample, labels) in &family.samples {
        for (name, value) in labels {
            if (name == "le" && metric.kind == MetricKind::Histogram)
                || (name == "quantile" && metric.external)
            {
                continue;
            }
            match metric.label(name) {
                None => problems.push(format!(
                    "label: {sample}: label `{name}` is not declared (declared: {})",
                    list(metric.labels.iter().map(|label| label.name))
                )),
                Some(label) => {
                    if let Some(values) = label.values {
                        if !values.contains(&value.as_str()) {
                            problems.push(format!(
                                "label: {sample}{{{name}={value:?}}}: `{value}` is not a declared value of `{name}` ({})",
                                list(values.iter().copied())
                            ));
                        }
                    }
                }
            }
        }
    }
}

fn list<'a>(items: impl Iterator<Item = &'a str>) -> String {
    let items: Vec<&str> = items.collect();
    if items.is_empty() {
        "none".to_owned()
    } else {
        items.join(", ")
    }
}

/// The families of a scrape by name, and one line per line that does not parse.
fn parse(scrape: &str) -> (BTreeMap<String, Family>, Vec<String>) {
    let mut families: BTreeMap<String, Family> = BTreeMap::new();
    let mut problems = Vec::new();
    for (number, line) in scrape.lines().enumerate() {
        match scrape::read_line(line) {
            Ok(Line::Nothing) => {}
            Ok(Line::Metadata {
                keyword,
                name,
                value,
            }) => {
                let family = families.entry(name.to_owned()).or_default();
                match keyword {
                    "HELP" => family.help = Some(value),
                    "TYPE" => family.kind = Some(value),
                    _ => family.unit = Some(value),
                }
            }
            Ok(Line::Sample(sample)) => {
                let family = family_of(&families, &sample.name);
                families
                    .entry(family)
                    .or_default()
                    .samples
                    .push((sample.name, sample.labels));
            }
            Err(_) => problems.push(format!(
                "parse: line {}: not a sample: {line:?}",
                number + 1
            )),
        }
    }
    (families, problems)
}

/// The family a sample belongs to: the family of its exact name if the scrape has one,
/// else of its name without a `_total`, `_bucket`, `_sum`, `_count` or `_created` suffix.
fn family_of(families: &BTreeMap<String, Family>, sample: &str) -> String {
    if families.contains_key(sample) {
        return sample.to_owned();
    }
    for suffix in ["_total", "_bucket", "_sum", "_count", "_created", "_info"] {
        if let Some(base) = sample.strip_suffix(suffix) {
            if families.contains_key(base) {
                return base.to_owned();
            }
        }
    }
    sample.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::descriptor::LabelDescriptor;

    const REQUESTS: MetricDescriptor = MetricDescriptor {
        name: "shop_requests",
        field: "requests",
        kind: MetricKind::Counter,
        help: "Requests, by status.",
        unit: None,
        labels: &[LabelDescriptor {
            name: "status",
            values: Some(&["ok", "error"]),
        }],
        buckets: &[],
        native: None,
        exemplars: false,
        max_series: 100,
        external: false,
    };
    const LATENCY: MetricDescriptor = MetricDescriptor {
        name: "shop_latency_seconds",
        field: "latency_seconds",
        kind: MetricKind::Histogram,
        help: "Latency.",
        unit: Some("seconds"),
        labels: &[],
        buckets: &[0.5],
        native: None,
        exemplars: false,
        max_series: 100,
        external: false,
    };
    const SET: SetDescriptor = SetDescriptor {
        type_name: "ShopMetrics",
        help: "Shop.",
        namespace: Some("shop"),
        subsystem: None,
        external: false,
        metrics: &[REQUESTS, LATENCY],
    };

    const GOOD: &str = "# HELP shop_requests_total Requests, by status.\n\
# TYPE shop_requests_total counter\n\
shop_requests_total{status=\"ok\"} 3\n\
shop_requests_total{status=\"error\"} 0\n\
# HELP shop_latency_seconds Latency.\n\
# TYPE shop_latency_seconds histogram\n\
shop_latency_seconds_bucket{le=\"0.5\"} 1\n\
shop_latency_seconds_bucket{le=\"+Inf\"} 1\n\
shop_latency_seconds_sum 0.2\n\
shop_latency_seconds_count 1\n";

    fn problems(scrape: &str) -> Vec<String> {
        DriftCheck::new([&SET])
            .check(scrape)
            .err()
            .map(|drift| drift.problems)
            .unwrap_or_default()
    }

    #[test]
    fn a_matching_scrape_passes_in_both_formats() {
        assert_eq!(problems(GOOD), Vec::<String>::new());
        let openmetrics = GOOD
            .replace("shop_requests_total counter", "shop_requests counter")
            .replace("HELP shop_requests_total", "HELP shop_requests")
            .replace(
                "# TYPE shop_latency_seconds histogram\n",
                "# TYPE shop_latency_seconds histogram\n# UNIT shop_latency_seconds seconds\n",
            )
            + "# EOF\n";
        assert_eq!(problems(&openmetrics), Vec::<String>::new());
    }

    #[test]
    fn a_real_registry_scrape_passes() {
        use crate::{Counter, Family, Format, Histogram, LabelSet, LabelValue, MetricSet};
        #[derive(MetricSet)]
        #[metric_set(namespace = "drift")]
        struct DriftMetrics {
            /// Calls, by outcome.
            calls: Family<CallLabels, Counter>,
            /// Call time.
            #[metric(buckets = [0.1, 1.0])]
            call_seconds: Histogram,
        }
        #[derive(LabelSet)]
        struct CallLabels {
            outcome: Outcome,
            user: String,
        }
        #[derive(LabelValue)]
        enum Outcome {
            Ok,
            Failed,
        }
        let registry = crate::Registry::new();
        let set = DriftMetrics::register(&registry).expect("register");
        set.calls
            .get_or_create(&CallLabels {
                outcome: Outcome::Failed,
                user: "a \"quoted\" name".to_owned(),
            })
            .inc();
        let _ = Outcome::Ok;
        set.call_seconds.observe(0.3);
        for format in [Format::Prometheus, Format::OpenMetrics] {
            let scrape = registry.encode(format);
            DriftCheck::new(registry.sets()).assert(&scrape);
        }
    }

    #[test]
    fn a_missing_metric_is_named_unless_lazy() {
        let scrape = GOOD.split("# HELP shop_latency").next().unwrap_or_default();
        assert_eq!(
            problems(scrape),
            [
                "missing: shop_latency_seconds (ShopMetrics.latency_seconds): no histogram `shop_latency_seconds` in the scrape"
            ]
        );
        let lazy = DriftCheck::new([&SET]).lazy("shop_latency_seconds");
        assert_eq!(lazy.check(scrape), Ok(()));
    }

    #[test]
    fn an_undeclared_metric_is_named_unless_its_prefix_is_allowed() {
        let scrape = format!(
            "{GOOD}# HELP process_open_fds Open fds.\n# TYPE process_open_fds gauge\nprocess_open_fds 7\nlegacy_hits_total 2\n"
        );
        assert_eq!(
            problems(&scrape),
            [
                "undeclared: legacy_hits_total (untyped) is exposed but no given set declares it",
                "undeclared: process_open_fds (gauge) is exposed but no given set declares it",
            ]
        );
        let allowed = DriftCheck::new([&SET])
            .allow_prefix("process_")
            .allow_prefix("legacy_");
        assert_eq!(allowed.check(&scrape), Ok(()));
    }

    #[test]
    fn a_closed_label_outside_its_enum_and_an_undeclared_label_are_named() {
        let scrape = GOOD.replace(
            "shop_requests_total{status=\"error\"} 0",
            "shop_requests_total{status=\"timeout\"} 0\nshop_requests_total{status=\"ok\",region=\"eu\"} 1",
        );
        assert_eq!(
            problems(&scrape),
            [
                "label: shop_requests_total: label `region` is not declared (declared: status)",
                "label: shop_requests_total{status=\"timeout\"}: `timeout` is not a declared value of `status` (ok, error)",
            ]
        );
    }

    #[test]
    fn help_type_and_unit_disagreements_are_named() {
        let scrape = GOOD.replace("Requests, by status.", "Requests.").replace(
            "shop_latency_seconds histogram",
            "shop_latency_seconds summary",
        );
        assert_eq!(
            problems(&scrape),
            [
                "type: shop_latency_seconds (ShopMetrics.latency_seconds): the scrape says summary, the declaration histogram",
                "help: shop_requests (ShopMetrics.requests): the scrape says \"Requests.\", the declaration \"Requests, by status.\"",
            ]
        );
        let openmetrics = GOOD.replace(
            "# TYPE shop_latency_seconds histogram\n",
            "# TYPE shop_latency_seconds histogram\n# UNIT shop_latency_seconds milliseconds\n",
        ) + "# EOF\n";
        assert_eq!(
            problems(&openmetrics),
            [
                "unit: shop_latency_seconds (ShopMetrics.latency_seconds): the scrape says milliseconds, the declaration seconds"
            ]
        );
        let no_unit = format!("{GOOD}# EOF\n");
        assert_eq!(
            problems(&no_unit),
            [
                "unit: shop_latency_seconds (ShopMetrics.latency_seconds): the scrape has no # UNIT, the declaration says seconds"
            ]
        );
    }

    #[test]
    fn an_unparsable_line_is_named_and_the_panic_lists_every_problem() {
        assert_eq!(
            problems(&format!("{GOOD}shop_requests_total{{status=\"ok\" 1\n")),
            ["parse: line 11: not a sample: \"shop_requests_total{status=\\\"ok\\\" 1\""]
        );
        let scrape = GOOD.replace("Latency.", "Slowness.") + "extra 1\n";
        let message = std::panic::catch_unwind(|| assert_no_drift(&scrape, [&SET], &[]))
            .err()
            .and_then(|payload| payload.downcast::<String>().ok())
            .map(|message| *message);
        assert_eq!(
            message.as_deref(),
            Some(
                "the scrape drifts from the declarations (2 problem(s)):\n\
undeclared: extra (untyped) is exposed but no given set declares it\n\
help: shop_latency_seconds (ShopMetrics.latency_seconds): the scrape says \"Slowness.\", the declaration \"Latency.\""
            )
        );
    }
}
