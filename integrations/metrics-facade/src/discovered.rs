//! Metrics learnt from a scrape rather than declared: a dashboard row for them.
//!
//! Facade metrics exist only once the code that records them has run, so the generator
//! cannot find them in declarations. An application commits a scrape of its endpoint
//! beside its code (so generating stays offline and deterministic); [`DiscoveredMetrics`]
//! reads it, drops every metric a declaration names, and turns the rest — names, kinds and
//! label names as observed — into a "Discovered metrics (not declared)" row, which the
//! application hands to its generator with the names it uses:
//! `generator.discovered(row, found.series_names())` (`fiko_dashboards_gen::Generator`).
//!
//! ```
//! use fiko_metrics_facade::discovered::DiscoveredMetrics;
//!
//! let scrape = "\
//! ## HELP cache_hits_total Cache lookups that found the key.
//! ## TYPE cache_hits_total counter
//! cache_hits_total{cache=\"users\"} 3
//! ## TYPE fiko_metrics_label_overflow_total counter
//! fiko_metrics_label_overflow_total{metric=\"x\"} 0
//! ";
//! let found = DiscoveredMetrics::parse(scrape)?.without_declared(&[]);
//! assert_eq!(found.metrics.len(), 1); // the runtime's self-metric is declared
//! let row = found.row("deploy/scrape.prom").expect("one metric");
//! assert_eq!(row.title, "Discovered metrics (not declared)");
//! assert_eq!(row.panels[0].title, "cache_hits_total (discovered, not declared)");
//! # Ok::<(), fiko_metrics_facade::discovered::ParseError>(())
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use fiko_dashboards::units::{RateOf, Unit};
use fiko_dashboards::{Panel, PanelSpec, Row, raw};
use fiko_metrics::{MetricDescriptor, MetricSet, OVERFLOW_METRIC, unit};

use crate::FacadeMetrics;

/// The kind of a discovered metric, from its `# TYPE` line (`Untyped` without one).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum DiscoveredKind {
    /// `counter`
    Counter,
    /// `gauge`
    Gauge,
    /// `histogram`
    Histogram,
    /// `summary`
    Summary,
    /// No `# TYPE`, `untyped` or `unknown`: drawn like a gauge.
    Untyped,
}

impl DiscoveredKind {
    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "counter" => Self::Counter,
            "gauge" => Self::Gauge,
            "histogram" | "gaugehistogram" => Self::Histogram,
            "summary" => Self::Summary,
            "untyped" | "unknown" | "info" | "stateset" => Self::Untyped,
            _ => return None,
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Counter => "counter",
            Self::Gauge => "gauge",
            Self::Histogram => "histogram",
            Self::Summary => "summary",
            Self::Untyped => "untyped",
        }
    }
}

/// One metric family seen in a scrape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiscoveredMetric {
    /// The family name as the scrape's `# TYPE` line gives it (`cache_hits_total` for a
    /// counter in the Prometheus text format, the sample name without one).
    pub name: String,
    /// Its kind.
    pub kind: DiscoveredKind,
    /// The HELP text, if any.
    pub help: Option<String>,
    /// Every label name its samples carry (`le` and `quantile` left out), sorted.
    pub labels: BTreeSet<String>,
    /// The sample names seen (`x_total`, or `x_bucket`, `x_sum`, `x_count`), sorted.
    pub samples: BTreeSet<String>,
}

impl DiscoveredMetric {
    /// The sample a counter's rate is taken of.
    fn counter_series(&self) -> String {
        self.samples
            .iter()
            .find(|sample| sample.ends_with("_total"))
            .cloned()
            .unwrap_or_else(|| self.name.clone())
    }

    /// The histogram's or summary's base name (`x` of `x_bucket`).
    fn base(&self) -> &str {
        self.samples
            .iter()
            .find_map(|sample| sample.strip_suffix("_count"))
            .unwrap_or(&self.name)
    }
}

/// Why a scrape file could not be read: the line (from 1) and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// The line, counted from 1.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "scrape line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for ParseError {}

/// The metric families of a scrape, sorted by name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DiscoveredMetrics {
    /// The families.
    pub metrics: Vec<DiscoveredMetric>,
}

/// Sample-name suffixes a family's samples may add to its name.
const SUFFIXES: [&str; 5] = ["_bucket", "_count", "_sum", "_total", "_created"];

impl DiscoveredMetrics {
    /// Reads a scrape in the Prometheus text format (0.0.4) or OpenMetrics.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        let mut families: BTreeMap<String, DiscoveredMetric> = BTreeMap::new();
        let family = |families: &mut BTreeMap<String, DiscoveredMetric>, name: &str| {
            families
                .entry(name.to_owned())
                .or_insert_with(|| DiscoveredMetric {
                    name: name.to_owned(),
                    kind: DiscoveredKind::Untyped,
                    help: None,
                    labels: BTreeSet::new(),
                    samples: BTreeSet::new(),
                })
                .name
                .clone()
        };
        for (index, line) in text.lines().enumerate() {
            let error = |message: String| ParseError {
                line: index + 1,
                message,
            };
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() {
                continue;
            }
            if let Some(comment) = line.strip_prefix('#') {
                let mut words = comment.trim_start().splitn(3, ' ');
                let keyword = words.next().unwrap_or_default();
                let name = words.next().unwrap_or_default();
                let rest = words.next().unwrap_or_default();
                match keyword {
                    "TYPE" => {
                        check_name(name).map_err(&error)?;
                        let kind = DiscoveredKind::parse(rest.trim())
                            .ok_or_else(|| error(format!("unknown metric type `{rest}`")))?;
                        let key = family(&mut families, name);
                        if let Some(metric) = families.get_mut(&key) {
                            metric.kind = kind;
                        }
                    }
                    "HELP" => {
                        check_name(name).map_err(&error)?;
                        let key = family(&mut families, name);
                        if let Some(metric) = families.get_mut(&key) {
                            metric.help = Some(unescape_help(rest));
                        }
                    }
                    // `# UNIT`, `# EOF` and plain comments say nothing we draw.
                    _ => {}
                }
                continue;
            }
            let sample = parse_sample(line).map_err(&error)?;
            let owner = owner(&families, &sample.name);
            let key = family(&mut families, owner.as_deref().unwrap_or(&sample.name));
            if let Some(metric) = families.get_mut(&key) {
                metric.samples.insert(sample.name);
                metric.labels.extend(
                    sample
                        .labels
                        .into_iter()
                        .filter(|label| label != "le" && label != "quantile"),
                );
            }
        }
        Ok(Self {
            // A `# TYPE` or `# HELP` with no sample is a family the scrape did not show.
            metrics: families
                .into_values()
                .filter(|metric| !metric.samples.is_empty())
                .collect(),
        })
    }

    /// Drops the metrics `declared` names (by any sample name), and the runtime's and the
    /// facade recorder's own self-metrics, which are always declared.
    pub fn without_declared(mut self, declared: &[&MetricDescriptor]) -> Self {
        let mut names: BTreeSet<String> = BTreeSet::new();
        let own = std::iter::once(&OVERFLOW_METRIC).chain(FacadeMetrics::DESCRIPTOR.metrics);
        for metric in declared.iter().copied().chain(own) {
            names.insert(metric.name.to_owned());
            names.extend(metric.series_names());
        }
        self.metrics.retain(|metric| {
            !names.contains(&metric.name) && metric.samples.iter().all(|s| !names.contains(s))
        });
        self
    }

    /// Every sample name of the discovered metrics (`cache_hits_total`,
    /// `query_seconds_bucket`, ...): the names their [`row`](Self::row)'s queries use,
    /// for `fiko_dashboards_gen::Generator::discovered`.
    pub fn series_names(&self) -> impl Iterator<Item = String> + '_ {
        self.metrics
            .iter()
            .flat_map(|metric| metric.samples.iter().cloned())
    }

    /// A dashboard row with one panel per metric, each titled and described as not
    /// declared (`source` names the scrape file in the descriptions); `None` when there
    /// is nothing to show.
    pub fn row(&self, source: &str) -> Option<Row> {
        if self.metrics.is_empty() {
            return None;
        }
        let mut row = Row::new("Discovered metrics (not declared)");
        row.panels = self
            .metrics
            .iter()
            .map(|metric| panel(metric, source))
            .collect();
        Some(row)
    }
}

/// The family a sample belongs to: a typed family named exactly like it, or one whose
/// name is the sample's without a kind's suffix.
fn owner(families: &BTreeMap<String, DiscoveredMetric>, sample: &str) -> Option<String> {
    if families.contains_key(sample) {
        return Some(sample.to_owned());
    }
    SUFFIXES.iter().find_map(|suffix| {
        let base = sample.strip_suffix(suffix)?;
        let metric = families.get(base)?;
        let fits = match metric.kind {
            DiscoveredKind::Counter => matches!(*suffix, "_total" | "_created"),
            DiscoveredKind::Histogram => *suffix != "_total",
            DiscoveredKind::Summary => matches!(*suffix, "_count" | "_sum" | "_created"),
            DiscoveredKind::Gauge | DiscoveredKind::Untyped => false,
        };
        fits.then(|| base.to_owned())
    })
}

fn panel(metric: &DiscoveredMetric, source: &str) -> PanelSpec {
    let title = format!("{} (discovered, not declared)", metric.name);
    let labels: Vec<&str> = metric.labels.iter().map(String::as_str).collect();
    let description = format!(
        "Not declared: a {} seen in {source}{}{}. Recorded through the `metrics` facade or another library; declare it to get typed queries and alerts.",
        metric.kind.as_str(),
        if labels.is_empty() {
            String::from(", without labels")
        } else {
            format!(", labels {}", labels.join(", "))
        },
        metric
            .help
            .as_deref()
            .map(|help| format!(" — {help}"))
            .unwrap_or_default(),
    );
    let selector = "{job=~\"$job\", instance=~\"$instance\"}";
    let grouping = |extra: &[&str]| {
        let keep: Vec<&str> = extra.iter().chain(&labels).copied().collect();
        if keep.is_empty() {
            "sum".to_owned()
        } else {
            format!("sum by ({})", keep.join(", "))
        }
    };
    let base = metric.base();
    match metric.kind {
        DiscoveredKind::Counter => {
            let series = metric.counter_series();
            let promql = format!(
                "{} (rate({series}{selector}[$__rate_interval]))",
                grouping(&[])
            );
            let unit_of = unit_suffix(series.trim_end_matches("_total"));
            match unit_of {
                Suffix::Seconds => {
                    timeseries::<RateOf<unit::Seconds>>(&title, &[(None, promql)], &description)
                }
                Suffix::Bytes => {
                    timeseries::<RateOf<unit::Bytes>>(&title, &[(None, promql)], &description)
                }
                Suffix::None => {
                    timeseries::<RateOf<unit::Unitless>>(&title, &[(None, promql)], &description)
                }
            }
        }
        DiscoveredKind::Histogram => {
            let targets: Vec<(Option<String>, String)> = [0.5, 0.95, 0.99]
                .iter()
                .map(|q| {
                    let legend = match labels.is_empty() {
                        true => format!("p{}", q * 100.0),
                        false => format!(
                            "{} p{}",
                            labels
                                .iter()
                                .map(|label| format!("{{{{{label}}}}}"))
                                .collect::<Vec<_>>()
                                .join(" "),
                            q * 100.0
                        ),
                    };
                    let promql = format!(
                        "histogram_quantile({q}, {} (rate({base}_bucket{selector}[$__rate_interval])))",
                        grouping(&["le"])
                    );
                    (Some(legend), promql)
                })
                .collect();
            by_suffix(unit_suffix(base), &title, &targets, &description)
        }
        DiscoveredKind::Summary => {
            let promql = format!("{} ({base}{selector})", grouping(&["quantile"]));
            by_suffix(unit_suffix(base), &title, &[(None, promql)], &description)
        }
        DiscoveredKind::Gauge | DiscoveredKind::Untyped => {
            let promql = format!("{} ({}{selector})", grouping(&[]), metric.name);
            by_suffix(
                unit_suffix(&metric.name),
                &title,
                &[(None, promql)],
                &description,
            )
        }
    }
}

enum Suffix {
    Seconds,
    Bytes,
    None,
}

fn unit_suffix(name: &str) -> Suffix {
    if name.ends_with("_seconds") {
        Suffix::Seconds
    } else if name.ends_with("_bytes") {
        Suffix::Bytes
    } else {
        Suffix::None
    }
}

fn by_suffix(
    suffix: Suffix,
    title: &str,
    targets: &[(Option<String>, String)],
    description: &str,
) -> PanelSpec {
    match suffix {
        Suffix::Seconds => timeseries::<unit::Seconds>(title, targets, description),
        Suffix::Bytes => timeseries::<unit::Bytes>(title, targets, description),
        Suffix::None => timeseries::<unit::Unitless>(title, targets, description),
    }
}

fn timeseries<U: Unit>(
    title: &str,
    targets: &[(Option<String>, String)],
    description: &str,
) -> PanelSpec {
    let mut panel = Panel::<U>::timeseries(title).description(description);
    for (legend, promql) in targets {
        panel = match legend {
            Some(legend) => panel.query_as(legend, raw::<U>(promql)),
            None => panel.query(raw::<U>(promql)),
        };
    }
    panel.into_spec()
}

fn check_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let valid = matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
    if valid {
        Ok(())
    } else {
        Err(format!("`{name}` is not a valid metric name"))
    }
}

fn unescape_help(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match (c, c == '\\') {
            (_, true) => match chars.next() {
                Some('n') => out.push('\n'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            },
            (c, false) => out.push(c),
        }
    }
    out
}

struct Sample {
    name: String,
    labels: Vec<String>,
}

/// Reads `name{a="x",b="y"} value [timestamp]`, checking the label syntax and the value.
fn parse_sample(line: &str) -> Result<Sample, String> {
    let end = line
        .find(|c: char| c == '{' || c.is_ascii_whitespace())
        .unwrap_or(line.len());
    let (name, mut rest) = line.split_at(end);
    check_name(name)?;
    let mut labels = Vec::new();
    if let Some(after) = rest.strip_prefix('{') {
        rest = after;
        loop {
            rest = rest.trim_start();
            if let Some(after) = rest.strip_prefix('}') {
                rest = after;
                break;
            }
            let eq = rest
                .find('=')
                .ok_or_else(|| format!("a label of `{name}` has no `=`"))?;
            let label = rest.get(..eq).unwrap_or_default().trim();
            if !fiko_metrics::labels::is_valid_label_name(label)
                && !matches!(label, "le" | "quantile")
            {
                return Err(format!("`{label}` is not a valid label name (in `{name}`)"));
            }
            rest = rest.get(eq + 1..).unwrap_or_default().trim_start();
            rest = rest
                .strip_prefix('"')
                .ok_or_else(|| format!("the value of label `{label}` of `{name}` is not quoted"))?;
            let mut close = None;
            let mut escaped = false;
            for (at, c) in rest.char_indices() {
                match (escaped, c) {
                    (true, _) => escaped = false,
                    (false, '\\') => escaped = true,
                    (false, '"') => {
                        close = Some(at);
                        break;
                    }
                    _ => {}
                }
            }
            let close = close
                .ok_or_else(|| format!("the value of label `{label}` of `{name}` is not closed"))?;
            labels.push(label.to_owned());
            rest = rest.get(close + 1..).unwrap_or_default().trim_start();
            if let Some(after) = rest.strip_prefix(',') {
                rest = after;
            } else if !rest.starts_with('}') {
                return Err(format!(
                    "expected `,` or `}}` after label `{label}` of `{name}`"
                ));
            }
        }
    }
    // OpenMetrics exemplars follow a ` # `; the value is the first word before it.
    let value = rest
        .split(" # ")
        .next()
        .unwrap_or_default()
        .split_ascii_whitespace()
        .next()
        .ok_or_else(|| format!("`{name}` has no value"))?;
    let valid_value =
        matches!(value, "NaN" | "+Inf" | "-Inf" | "Inf") || value.parse::<f64>().is_ok();
    if !valid_value {
        return Err(format!("`{value}` is not a sample value (in `{name}`)"));
    }
    Ok(Sample {
        name: name.to_owned(),
        labels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_lines_are_one_line_errors_naming_the_line() {
        let cases = [
            (
                "x{a=\"1} 2\n",
                "the value of label `a` of `x` is not closed",
            ),
            ("x{a=1} 2\n", "the value of label `a` of `x` is not quoted"),
            (
                "x 2\ny{a=\"1\" b=\"2\"} 3\n",
                "expected `,` or `}` after label `a` of `y`",
            ),
            ("x{a=\"1\"}\n", "`x` has no value"),
            ("x abc\n", "`abc` is not a sample value (in `x`)"),
            ("# TYPE x countr\n", "unknown metric type `countr`"),
            ("9x 1\n", "`9x` is not a valid metric name"),
        ];
        for (text, message) in cases {
            let error = DiscoveredMetrics::parse(text).expect_err(text);
            assert_eq!(error.message, message, "{text:?}");
        }
        let error = DiscoveredMetrics::parse("x 1\nx{a=1} 2\n").expect_err("bad");
        assert_eq!(
            error.to_string(),
            "scrape line 2: the value of label `a` of `x` is not quoted"
        );
    }

    #[test]
    fn families_gather_their_samples_and_labels() {
        let text = "\
# HELP req_total Requests.\\nMore.
# TYPE req_total counter
req_total{route=\"/a\",method=\"GET\"} 1
req_total{route=\"/b\"} 2 1700000000
# TYPE lat_seconds histogram
lat_seconds_bucket{op=\"q\",le=\"0.1\"} 1
lat_seconds_bucket{op=\"q\",le=\"+Inf\"} 1
lat_seconds_sum{op=\"q\"} 0.05
lat_seconds_count{op=\"q\"} 1
# TYPE om counter
om_total{a=\"x,}\\\"y\"} 3 # {trace=\"1\"} 1
loose{z=\"1\"} NaN
# TYPE empty gauge
# EOF
";
        let found = DiscoveredMetrics::parse(text).expect("parses");
        let summary: Vec<(&str, DiscoveredKind, Vec<&str>)> = found
            .metrics
            .iter()
            .map(|m| {
                (
                    m.name.as_str(),
                    m.kind,
                    m.labels.iter().map(String::as_str).collect(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("lat_seconds", DiscoveredKind::Histogram, vec!["op"]),
                ("loose", DiscoveredKind::Untyped, vec!["z"]),
                ("om", DiscoveredKind::Counter, vec!["a"]),
                (
                    "req_total",
                    DiscoveredKind::Counter,
                    vec!["method", "route"]
                ),
            ]
        );
        assert_eq!(found.metrics[3].help.as_deref(), Some("Requests.\nMore."));
        assert_eq!(found.metrics[2].counter_series(), "om_total");
        assert_eq!(found.metrics[0].base(), "lat_seconds");
    }
}
