//! The same series in prometheus-client: a registry built from what a fiko-metrics
//! registry exposes, so both crates encode the same names, labels and values.
//!
//! Every family becomes a prometheus-client `Family` keyed by its label pairs
//! (`Vec<(String, String)>`, prometheus-client's way of holding labels known at run time),
//! registered in the same order, with the same help and unit. Counters and gauges take
//! the scraped values; a histogram series observes each bucket's upper bound as many times
//! as the bucket counted, so its buckets and count are the same and its sum is the same
//! when the fiko-metrics side observed bucket bounds too (up to the order of the float
//! additions; [`same_series`] allows for that). fiko-metrics' count of folded label values
//! (`fiko_metrics_label_overflow_total`, one sample per family with open labels) is
//! mirrored too, as the last family.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use fiko_metrics::testing::{Sample, samples};
use fiko_metrics::{Format, MetricKind, OVERFLOW_METRIC, Registry};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::{Family, MetricConstructor};
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Metric, Unit};

/// Label pairs in exposition order.
pub type Labels = Vec<(String, String)>;

/// One histogram series: its labels and its cumulative `(le, count)` pairs.
type HistogramSeries = (Labels, Vec<(f64, f64)>);

/// Makes the histograms of one family, with its bucket bounds.
#[derive(Clone, Debug)]
struct Buckets(Arc<[f64]>);

impl MetricConstructor<Histogram> for Buckets {
    fn new_metric(&self) -> Histogram {
        Histogram::new(self.0.iter().copied())
    }
}

/// A prometheus-client registry holding what `registry` exposes now.
pub fn mirror(registry: &Registry) -> prometheus_client::registry::Registry {
    let text = registry.encode(Format::Prometheus);
    let parsed = match samples(&text) {
        Ok(parsed) => parsed,
        Err(error) => panic!("fiko-metrics scrape does not read: {error:?}"),
    };
    let mut by_name: HashMap<&str, Vec<&Sample>> = HashMap::new();
    for sample in &parsed {
        by_name
            .entry(sample.name.as_str())
            .or_default()
            .push(sample);
    }
    let mut out = prometheus_client::registry::Registry::default();
    // fiko-metrics ends a scrape with its count of label values folded into overflow
    // series, one sample per family with open labels.
    let overflow = format!("{}_total", OVERFLOW_METRIC.name);
    let folds = by_name
        .contains_key(overflow.as_str())
        .then_some(&OVERFLOW_METRIC);
    for metric in registry.metrics().into_iter().chain(folds) {
        let rows = |suffix: &str| {
            by_name
                .get(format!("{}{suffix}", metric.name).as_str())
                .cloned()
                .unwrap_or_default()
        };
        let whole = |rows: &[&Sample]| {
            rows.iter()
                .all(|sample| sample.value.fract() == 0.0 && sample.value.abs() < 9.0e15)
        };
        let target = Target {
            registry: &mut out,
            metric,
        };
        match metric.kind {
            MetricKind::Counter => {
                let rows = rows("_total");
                if whole(&rows) && rows.iter().all(|sample| sample.value >= 0.0) {
                    let family = Family::<Labels, Counter>::default();
                    for sample in rows {
                        family
                            .get_or_create(&sample.labels)
                            .inc_by(sample.value as u64);
                    }
                    target.register(family);
                } else {
                    let family = Family::<Labels, Counter<f64, AtomicU64>>::default();
                    for sample in rows {
                        family.get_or_create(&sample.labels).inc_by(sample.value);
                    }
                    target.register(family);
                }
            }
            MetricKind::Gauge => {
                let rows = rows("");
                if whole(&rows) {
                    let family = Family::<Labels, Gauge>::default();
                    for sample in rows {
                        family
                            .get_or_create(&sample.labels)
                            .set(sample.value as i64);
                    }
                    target.register(family);
                } else {
                    let family = Family::<Labels, Gauge<f64, AtomicU64>>::default();
                    for sample in rows {
                        family.get_or_create(&sample.labels).set(sample.value);
                    }
                    target.register(family);
                }
            }
            MetricKind::Histogram => {
                let (bounds, series) = histogram_series(&rows("_bucket"), metric.buckets);
                let top = bounds.last().map_or(1.0, |bound| bound * 2.0);
                let family = Family::<Labels, Histogram, Buckets>::new_with_constructor(Buckets(
                    bounds.into(),
                ));
                for (labels, cumulative) in &series {
                    let histogram = family.get_or_create(labels);
                    let mut below = 0.0;
                    for &(le, count) in cumulative {
                        let value = if le.is_finite() { le } else { top };
                        for _ in 0..(count - below) as u64 {
                            histogram.observe(value);
                        }
                        below = count;
                    }
                }
                target.register(family);
            }
        }
    }
    out
}

/// Where one family goes.
struct Target<'a> {
    registry: &'a mut prometheus_client::registry::Registry,
    metric: &'static fiko_metrics::MetricDescriptor,
}

impl Target<'_> {
    /// Registers `family` as fiko-metrics exposes it: prometheus-client appends the unit
    /// to the name and a full stop to the help itself.
    fn register(self, family: impl Metric) {
        let metric = self.metric;
        let help = metric.help.strip_suffix('.').unwrap_or(metric.help);
        let stem = metric.unit.and_then(|unit| {
            metric
                .name
                .strip_suffix(unit)
                .and_then(|name| name.strip_suffix('_'))
        });
        match (metric.unit, stem) {
            (Some(unit), Some(stem)) => {
                self.registry
                    .register_with_unit(stem, help, Unit::Other(unit.to_owned()), family);
            }
            _ => self.registry.register(metric.name, help, family),
        }
    }
}

/// A histogram family's bucket lines grouped by series, in order: the finite bounds (from
/// the first series, else the declaration), and each series' labels with its cumulative
/// `(le, count)` pairs.
fn histogram_series(buckets: &[&Sample], declared: &[f64]) -> (Vec<f64>, Vec<HistogramSeries>) {
    let mut series: Vec<HistogramSeries> = Vec::new();
    let mut index: HashMap<Labels, usize> = HashMap::new();
    for sample in buckets {
        let mut labels = sample.labels.clone();
        let le = labels
            .iter()
            .position(|(name, _)| name == "le")
            .map(|at| labels.remove(at).1);
        let le = match le.as_deref() {
            Some("+Inf") | None => f64::INFINITY,
            Some(value) => value.parse().unwrap_or(f64::INFINITY),
        };
        let at = *index.entry(labels.clone()).or_insert_with(|| {
            series.push((labels, Vec::new()));
            series.len() - 1
        });
        series[at].1.push((le, sample.value));
    }
    let bounds = series.first().map_or_else(
        || declared.to_vec(),
        |(_, buckets)| {
            buckets
                .iter()
                .map(|&(le, _)| le)
                .filter(|le| le.is_finite())
                .collect()
        },
    );
    (bounds, series)
}

/// Whether two scrapes hold the same series with the same values (the same name and
/// label set, whatever the labels' order): the number of sample lines when they do, what
/// differs when not. Histogram sums may differ in their last
/// digits (the same bounds added in another order), so `_sum` values are compared to a
/// relative 1e-9; every other value exactly.
pub fn same_series(ours: &str, theirs: &str) -> Result<usize, String> {
    let read = |text: &str, side: &str| -> Result<HashMap<String, f64>, String> {
        let parsed = samples(text).map_err(|error| format!("{side}: {error:?}"))?;
        let lines = parsed.len();
        let map: HashMap<String, f64> = parsed
            .into_iter()
            .map(|mut sample| {
                // Bounds written by different float formatters (`1.0`, `1`) are one bound.
                for (name, value) in &mut sample.labels {
                    if name == "le"
                        && let Ok(bound) = value.parse::<f64>()
                    {
                        *value = format!("{bound:?}");
                    }
                }
                // Where `le` goes among the labels differs too (prometheus-client's
                // OpenMetrics encoder writes it first): a series is its label set.
                sample.labels.sort();
                (sample.series(), sample.value)
            })
            .collect();
        if map.len() != lines {
            return Err(format!("{side}: {lines} lines but {} series", map.len()));
        }
        Ok(map)
    };
    let ours = read(ours, "fiko-metrics")?;
    let theirs = read(theirs, "prometheus-client")?;
    if ours.len() != theirs.len() {
        return Err(format!(
            "fiko-metrics has {} series, prometheus-client {}",
            ours.len(),
            theirs.len()
        ));
    }
    for (series, value) in &ours {
        let Some(other) = theirs.get(series) else {
            return Err(format!("prometheus-client lacks {series}"));
        };
        let close = if series
            .split('{')
            .next()
            .is_some_and(|name| name.ends_with("_sum"))
        {
            (value - other).abs() <= 1e-9 * value.abs().max(other.abs()).max(1.0)
        } else {
            value == other || (value.is_nan() && other.is_nan())
        };
        if !close {
            return Err(format!("{series}: {value} vs {other}"));
        }
    }
    Ok(ours.len())
}

/// prometheus-client's scrape of `registry` in `format`, appended to `out`.
pub fn encode_prometheus_client(
    registry: &prometheus_client::registry::Registry,
    format: Format,
    out: &mut String,
) {
    let encoded = match format {
        Format::Prometheus => prometheus_client::encoding::prometheus_text::encode(out, registry),
        Format::OpenMetrics => prometheus_client::encoding::text::encode(out, registry),
    };
    if let Err(error) = encoded {
        panic!("prometheus-client encoding: {error}");
    }
}
