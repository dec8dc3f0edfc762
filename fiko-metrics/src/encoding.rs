//! Text exposition: the Prometheus 0.0.4 format and OpenMetrics 1.0.

use std::fmt;

use crate::descriptor::{MetricDescriptor, MetricKind};
use crate::histogram::Histogram;
use crate::labels::LabelSink;

/// An exposition format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Format {
    /// The Prometheus text format, version 0.0.4: what every scraper understands.
    #[default]
    Prometheus,
    /// OpenMetrics 1.0 text (`# UNIT`, `# EOF`).
    OpenMetrics,
}

impl Format {
    /// The HTTP `Content-Type` of this format.
    pub const fn content_type(self) -> &'static str {
        match self {
            Self::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
            Self::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }

    /// Picks the format an HTTP `Accept` header asks for: OpenMetrics when it names
    /// `application/openmetrics-text`, the Prometheus text format otherwise.
    ///
    /// ```
    /// use fiko_metrics::Format;
    ///
    /// let accept = "application/openmetrics-text;version=1.0.0,text/plain;q=0.5";
    /// assert_eq!(Format::from_accept(accept), Format::OpenMetrics);
    /// assert_eq!(Format::from_accept("*/*"), Format::Prometheus);
    /// ```
    pub fn from_accept(accept: &str) -> Self {
        let wants_openmetrics = accept.split(',').any(|range| {
            let mut parts = range.split(';').map(str::trim);
            let media = parts.next().unwrap_or_default();
            let refused = parts.any(|param| {
                param.strip_prefix("q=").and_then(|q| q.parse::<f32>().ok()) == Some(0.0)
            });
            media.eq_ignore_ascii_case("application/openmetrics-text") && !refused
        });
        if wants_openmetrics {
            Self::OpenMetrics
        } else {
            Self::Prometheus
        }
    }
}

/// One sample value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value {
    /// A whole count.
    U64(u64),
    /// A signed whole value.
    I64(i64),
    /// A float.
    F64(f64),
}

/// Labels that can list themselves, unescaped.
pub trait LabelSource {
    /// Calls `sink` once per label, in order.
    fn for_each(&self, sink: &mut LabelSink<'_>) -> fmt::Result;
}

/// The labels of one series.
#[derive(Clone, Copy)]
pub enum Labels<'a> {
    /// No labels.
    None,
    /// Already rendered as `a="x",b="y"`, values escaped.
    Rendered(&'a str),
    /// Listed one by one.
    Source(&'a dyn LabelSource),
}

impl Labels<'_> {
    /// Calls `sink` with every label, unescaped.
    pub fn for_each(&self, sink: &mut LabelSink<'_>) -> fmt::Result {
        match self {
            Self::None => Ok(()),
            Self::Source(source) => source.for_each(sink),
            Self::Rendered(text) => for_each_rendered(text, sink),
        }
    }
}

impl fmt::Debug for Labels<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_map();
        let _ = self.for_each(&mut |name, value| {
            list.entry(&name, &value);
            Ok(())
        });
        list.finish()
    }
}

/// Walks `a="x",b="y"` as written by [`write_escaped_label_value`], unescaping values.
fn for_each_rendered(text: &str, sink: &mut LabelSink<'_>) -> fmt::Result {
    let mut rest = text;
    let mut value = String::new();
    while let Some((name, after)) = rest.split_once("=\"") {
        let name = name.trim_start_matches(',');
        value.clear();
        let mut chars = after.char_indices();
        let mut end = after.len();
        while let Some((at, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, escaped)) => value.push(escaped),
                    None => {}
                },
                '"' => {
                    end = at + 1;
                    break;
                }
                c => value.push(c),
            }
        }
        sink(name, &value)?;
        rest = &after[end..];
    }
    Ok(())
}

/// Receives the samples of declared metrics: the text encoder, the prometheus-client
/// bridge, or a test's own collector.
pub trait Visitor {
    /// Starts a metric family; the samples that follow belong to it.
    fn family(&mut self, metric: &MetricDescriptor) -> fmt::Result;
    /// One counter sample.
    fn counter(&mut self, labels: Labels<'_>, value: Value) -> fmt::Result;
    /// One gauge sample.
    fn gauge(&mut self, labels: Labels<'_>, value: Value) -> fmt::Result;
    /// One histogram series.
    fn histogram(&mut self, labels: Labels<'_>, histogram: &Histogram) -> fmt::Result;
    /// How many label values of a family with open labels were folded into its overflow
    /// series (reported once per such family, after its samples).
    fn overflow(&mut self, metric: &MetricDescriptor, folded: u64) -> fmt::Result {
        let _ = (metric, folded);
        Ok(())
    }
}

/// Escapes a label value into `out`: `\` `"` and newline.
pub fn write_escaped_label_value(out: &mut String, value: &str) {
    if !value.bytes().any(|b| matches!(b, b'\\' | b'"' | b'\n')) {
        out.push_str(value);
        return;
    }
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn write_escaped_help(out: &mut String, help: &str, format: Format) {
    for c in help.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if format == Format::OpenMetrics => out.push_str("\\\""),
            c => out.push(c),
        }
    }
}

/// Writes a float the way Prometheus parses it: `NaN`, `+Inf`, `-Inf`, or the shortest
/// round-tripping decimal.
pub fn write_float(out: &mut String, value: f64) {
    if value.is_nan() {
        out.push_str("NaN");
    } else if value.is_infinite() {
        out.push_str(if value > 0.0 { "+Inf" } else { "-Inf" });
    } else {
        out.push_str(ryu::Buffer::new().format_finite(value));
    }
}

fn write_value(out: &mut String, value: Value) {
    match value {
        Value::U64(n) => out.push_str(itoa::Buffer::new().format(n)),
        Value::I64(n) => out.push_str(itoa::Buffer::new().format(n)),
        Value::F64(x) => write_float(out, x),
    }
}

/// The text encoder behind [`Registry::encode`](crate::Registry::encode).
pub(crate) struct TextEncoder<'a> {
    out: &'a mut String,
    format: Format,
    name: &'static str,
    scratch: Vec<u64>,
    pub(crate) overflows: Vec<(&'static str, u64)>,
}

impl<'a> TextEncoder<'a> {
    pub(crate) fn new(out: &'a mut String, format: Format) -> Self {
        Self {
            out,
            format,
            name: "",
            scratch: Vec::new(),
            overflows: Vec::new(),
        }
    }

    fn sample_start(&mut self, suffix: &str) {
        self.out.push_str(self.name);
        self.out.push_str(suffix);
    }

    /// Writes `{labels,extra}` (nothing when both are empty), then a space.
    fn labels(&mut self, labels: Labels<'_>, extra: Option<(&str, &str)>) -> fmt::Result {
        let out = &mut *self.out;
        let start = out.len();
        out.push('{');
        match labels {
            Labels::None => {}
            Labels::Rendered(text) => out.push_str(text),
            Labels::Source(source) => source.for_each(&mut |name, value| {
                if out.len() > start + 1 {
                    out.push(',');
                }
                out.push_str(name);
                out.push_str("=\"");
                write_escaped_label_value(out, value);
                out.push('"');
                Ok(())
            })?,
        }
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
        let counter_in_text = kind == MetricKind::Counter && self.format == Format::Prometheus;
        for (keyword, value) in [
            ("HELP", Some(help)),
            ("TYPE", Some(kind.as_str())),
            ("UNIT", unit),
        ] {
            let Some(value) = value else { continue };
            if keyword == "UNIT" && self.format == Format::Prometheus {
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
            let metric = &crate::registry::OVERFLOW_METRIC;
            self.header(metric.name, metric.kind, metric.help, metric.unit);
            self.name = metric.name;
            let overflows = std::mem::take(&mut self.overflows);
            for (name, folded) in overflows {
                self.sample_start("_total");
                let _ = self.labels(Labels::None, Some(("metric", name)));
                write_value(self.out, Value::U64(folded));
                self.out.push('\n');
            }
        }
        if self.format == Format::OpenMetrics {
            self.out.push_str("# EOF\n");
        }
    }
}

impl Visitor for TextEncoder<'_> {
    fn family(&mut self, metric: &MetricDescriptor) -> fmt::Result {
        self.header(metric.name, metric.kind, metric.help, metric.unit);
        self.name = metric.name;
        Ok(())
    }

    fn counter(&mut self, labels: Labels<'_>, value: Value) -> fmt::Result {
        self.sample_start("_total");
        self.labels(labels, None)?;
        write_value(self.out, value);
        self.out.push('\n');
        Ok(())
    }

    fn gauge(&mut self, labels: Labels<'_>, value: Value) -> fmt::Result {
        self.sample_start("");
        self.labels(labels, None)?;
        write_value(self.out, value);
        self.out.push('\n');
        Ok(())
    }

    fn histogram(&mut self, labels: Labels<'_>, histogram: &Histogram) -> fmt::Result {
        let mut counts = std::mem::take(&mut self.scratch);
        let sum = histogram.snapshot(&mut counts);
        let bounds = histogram.buckets().bounds();
        let mut le = String::new();
        for (index, count) in counts.iter().enumerate() {
            le.clear();
            match bounds.get(index) {
                Some(bound) => write_float(&mut le, *bound),
                None => le.push_str("+Inf"),
            }
            self.sample_start("_bucket");
            self.labels(labels, Some(("le", &le)))?;
            write_value(self.out, Value::U64(*count));
            self.out.push('\n');
        }
        self.sample_start("_sum");
        self.labels(labels, None)?;
        write_float(self.out, sum);
        self.out.push('\n');
        self.sample_start("_count");
        self.labels(labels, None)?;
        write_value(self.out, Value::U64(counts.last().copied().unwrap_or(0)));
        self.out.push('\n');
        self.scratch = counts;
        Ok(())
    }

    fn overflow(&mut self, metric: &MetricDescriptor, folded: u64) -> fmt::Result {
        self.overflows.push((metric.name, folded));
        Ok(())
    }
}

impl TextEncoder<'_> {
    /// Appends text another encoder produced.
    pub(crate) fn push_raw(&mut self, text: &str) {
        self.out.push_str(text);
    }
}
