//! The text encoder: the Prometheus 0.0.4 text format and OpenMetrics 1.0 text, which
//! differ only where [`Format`]'s rules in `openmetrics.rs` say.

use std::fmt;

use super::escape::{write_escaped_help, write_float, write_label};
use super::openmetrics::write_exemplar;
use super::{Format, Labels, Value, Visitor};
use crate::descriptor::{MetricDescriptor, MetricKind, OVERFLOW_METRIC};
use crate::exemplar::Exemplar;
use crate::histogram::Histogram;

fn write_value(out: &mut String, value: Value) {
    match value {
        Value::U64(n) => out.push_str(itoa::Buffer::new().format(n)),
        Value::I64(n) => out.push_str(itoa::Buffer::new().format(n)),
        Value::F64(x) => write_float(out, x),
    }
}

/// Writes `labels` as `a="x",b="y"`, values escaped (nothing when there are none).
fn write_labels(out: &mut String, labels: Labels<'_>) -> fmt::Result {
    let start = out.len();
    match labels {
        Labels::None => Ok(()),
        Labels::Rendered(text) => {
            out.push_str(text);
            Ok(())
        }
        Labels::Source(source) => source.for_each(&mut |name, value| {
            if out.len() > start {
                out.push(',');
            }
            write_label(out, name, value);
            Ok(())
        }),
    }
}

/// The text encoder behind [`Registry::encode`](crate::Registry::encode).
pub(crate) struct TextEncoder<'a> {
    out: &'a mut String,
    format: Format,
    name: &'static str,
    scratch: Vec<u64>,
    // What starts a histogram series' bucket lines (`name_bucket{labels,le="`), reused.
    bucket_prefix: String,
    pub(crate) overflows: Vec<(&'static str, u64)>,
}

impl<'a> TextEncoder<'a> {
    pub(crate) fn new(out: &'a mut String, format: Format) -> Self {
        Self {
            out,
            format,
            name: "",
            scratch: Vec::new(),
            bucket_prefix: String::new(),
            overflows: Vec::new(),
        }
    }

    /// Writes one sample line: the family name and `suffix`, the labels (and `extra`), the
    /// value, and the exemplar where the format carries them.
    fn sample(
        &mut self,
        suffix: &str,
        labels: Labels<'_>,
        extra: Option<(&str, &str)>,
        value: Value,
        exemplar: Option<&Exemplar>,
    ) -> fmt::Result {
        self.out.push_str(self.name);
        self.out.push_str(suffix);
        self.labels(labels, extra)?;
        write_value(self.out, value);
        if let (Some(exemplar), true) = (exemplar, self.format.carries_exemplars()) {
            write_exemplar(self.out, exemplar);
        }
        self.out.push('\n');
        Ok(())
    }

    /// Writes `{labels,extra}` (nothing when both are empty), then a space.
    fn labels(&mut self, labels: Labels<'_>, extra: Option<(&str, &str)>) -> fmt::Result {
        let out = &mut *self.out;
        let start = out.len();
        out.push('{');
        write_labels(out, labels)?;
        if let Some((name, value)) = extra {
            if out.len() > start + 1 {
                out.push(',');
            }
            out.push_str(name);
            out.push_str("=\"");
            out.push_str(value);
            out.push('"');
        }
        if out.len() == start + 1 {
            out.truncate(start);
            out.push(' ');
        } else {
            out.push_str("} ");
        }
        Ok(())
    }

    pub(crate) fn header(&mut self, name: &str, kind: MetricKind, help: &str, unit: Option<&str>) {
        let out = &mut *self.out;
        let counter_in_text =
            kind == MetricKind::Counter && self.format.names_counter_family_with_total();
        for (keyword, value) in [
            ("HELP", Some(help)),
            ("TYPE", Some(kind.as_str())),
            ("UNIT", unit),
        ] {
            let Some(value) = value else { continue };
            if keyword == "UNIT" && !self.format.writes_unit() {
                continue;
            }
            out.push_str("# ");
            out.push_str(keyword);
            out.push(' ');
            out.push_str(name);
            if counter_in_text {
                out.push_str("_total");
            }
            out.push(' ');
            if keyword == "HELP" {
                write_escaped_help(out, value, self.format);
            } else {
                out.push_str(value);
            }
            out.push('\n');
        }
    }

    pub(crate) fn finish(mut self) {
        if !self.overflows.is_empty() {
            let metric = &OVERFLOW_METRIC;
            self.header(metric.name, metric.kind, metric.help, metric.unit);
            self.name = metric.name;
            let overflows = std::mem::take(&mut self.overflows);
            for (name, folded) in overflows {
                // Without labels to list, writing cannot fail.
                let _ = self.sample(
                    "_total",
                    Labels::None,
                    Some(("metric", name)),
                    Value::U64(folded),
                    None,
                );
            }
        }
        self.out.push_str(self.format.terminator());
    }
}

impl Visitor for TextEncoder<'_> {
    fn family(&mut self, metric: &MetricDescriptor) -> fmt::Result {
        self.header(metric.name, metric.kind, metric.help, metric.unit);
        self.name = metric.name;
        Ok(())
    }

    fn counter(&mut self, labels: Labels<'_>, value: Value) -> fmt::Result {
        self.sample("_total", labels, None, value, None)
    }

    fn counter_with_exemplar(
        &mut self,
        labels: Labels<'_>,
        value: Value,
        exemplar: &Exemplar,
    ) -> fmt::Result {
        self.sample("_total", labels, None, value, Some(exemplar))
    }

    fn gauge(&mut self, labels: Labels<'_>, value: Value) -> fmt::Result {
        self.sample("", labels, None, value, None)
    }

    fn histogram(&mut self, labels: Labels<'_>, histogram: &Histogram) -> fmt::Result {
        let mut counts = std::mem::take(&mut self.scratch);
        let sum = histogram.snapshot(&mut counts);
        let mut prefix = std::mem::take(&mut self.bucket_prefix);
        let written = self.histogram_lines(labels, histogram, &counts, sum, &mut prefix);
        self.bucket_prefix = prefix;
        self.scratch = counts;
        written
    }

    fn overflow(&mut self, metric: &MetricDescriptor, folded: u64) -> fmt::Result {
        self.overflows.push((metric.name, folded));
        Ok(())
    }
}

impl TextEncoder<'_> {
    /// Writes a histogram's bucket, `_sum` and `_count` lines. What starts every bucket
    /// line, `name_bucket{labels,le="`, is written into `prefix` once per series.
    fn histogram_lines(
        &mut self,
        labels: Labels<'_>,
        histogram: &Histogram,
        counts: &[u64],
        sum: f64,
        prefix: &mut String,
    ) -> fmt::Result {
        prefix.clear();
        prefix.push_str(self.name);
        prefix.push_str("_bucket{");
        let labels_start = prefix.len();
        write_labels(prefix, labels)?;
        let labels_end = prefix.len();
        if labels_end > labels_start {
            prefix.push(',');
        }
        prefix.push_str("le=\"");

        let buckets = histogram.buckets();
        for (index, count) in counts.iter().enumerate() {
            let out = &mut *self.out;
            out.push_str(prefix);
            out.push_str(buckets.le(index));
            out.push_str("\"} ");
            out.push_str(itoa::Buffer::new().format(*count));
            if self.format.carries_exemplars() {
                if let Some(exemplar) = histogram.exemplar(index) {
                    write_exemplar(out, &exemplar);
                }
            }
            out.push('\n');
        }
        let labels = match prefix.get(labels_start..labels_end) {
            Some("") | None => Labels::None,
            Some(rendered) => Labels::Rendered(rendered),
        };
        self.sample("_sum", labels, None, Value::F64(sum), None)?;
        let count = counts.last().copied().unwrap_or(0);
        self.sample("_count", labels, None, Value::U64(count), None)
    }

    /// Appends text another encoder produced.
    pub(crate) fn push_raw(&mut self, text: &str) {
        self.out.push_str(text);
    }
}
