//! The protobuf exposition format: length-delimited `io.prometheus.client.MetricFamily`
//! messages, what Prometheus asks for to scrape native histograms.
//!
//! The messages are prost's, generated from the official `metrics.proto` (see
//! [`proto`](super::proto)); this module only fills them in.

use std::fmt;

use prost::Message;

use super::proto;
use super::{Labels, Value, Visitor};
use crate::descriptor::{MetricDescriptor, MetricKind, OVERFLOW_METRIC};
use crate::exemplar::Exemplar;
use crate::histogram::{Histogram, NativeSnapshot};

/// The `Content-Type` of the protobuf exposition format.
pub const PROTOBUF_CONTENT_TYPE: &str =
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited";

/// Builds one `MetricFamily` at a time and appends it, length-delimited, to `out`.
pub(crate) struct ProtobufEncoder<'a> {
    out: &'a mut Vec<u8>,
    family: Option<proto::MetricFamily>,
    scratch: Vec<u64>,
    overflows: Vec<(&'static str, u64)>,
}

impl<'a> ProtobufEncoder<'a> {
    pub(crate) fn new(out: &'a mut Vec<u8>) -> Self {
        Self {
            out,
            family: None,
            scratch: Vec::new(),
            overflows: Vec::new(),
        }
    }

    /// Writes the family being built. A family without series is left out: Prometheus'
    /// protobuf parser reads a family's first series to tell a native histogram from a
    /// classic one, and the Go client never sends empty families either.
    fn flush(&mut self) {
        if let Some(family) = self.family.take() {
            if !family.metric.is_empty() {
                // Encoding into a `Vec` only fails when it cannot grow, which aborts anyway.
                let _ = family.encode_length_delimited(self.out);
            }
        }
    }

    fn push(&mut self, labels: Labels<'_>, fill: impl FnOnce(&mut proto::Metric)) -> fmt::Result {
        let mut metric = proto::Metric::default();
        labels.for_each(&mut |name, value| {
            metric.label.push(proto::LabelPair {
                name: Some(name.to_owned()),
                value: Some(value.to_owned()),
            });
            Ok(())
        })?;
        fill(&mut metric);
        if let Some(family) = &mut self.family {
            family.metric.push(metric);
        }
        Ok(())
    }

    pub(crate) fn finish(mut self) {
        self.flush();
        if self.overflows.is_empty() {
            return;
        }
        let metric = &OVERFLOW_METRIC;
        let _ = self.family(metric);
        for (name, folded) in std::mem::take(&mut self.overflows) {
            let mut series = proto::Metric {
                label: vec![proto::LabelPair {
                    name: Some("metric".to_owned()),
                    value: Some(name.to_owned()),
                }],
                ..Default::default()
            };
            series.counter = Some(counter(Value::U64(folded)));
            if let Some(family) = &mut self.family {
                family.metric.push(series);
            }
        }
        self.flush();
    }
}

/// A sample value as the double every protobuf sample carries (counts past 2^53 round to
/// the nearest double, as in every Prometheus client).
fn as_f64(value: Value) -> f64 {
    match value {
        Value::U64(n) => n as f64,
        Value::I64(n) => n as f64,
        Value::F64(x) => x,
    }
}

/// An exemplar as `metrics.proto` has it: labels, value, timestamp.
fn exemplar(exemplar: &Exemplar) -> proto::Exemplar {
    let since = exemplar
        .timestamp
        .duration_since(std::time::SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    proto::Exemplar {
        label: exemplar
            .labels
            .pairs()
            .map(|(name, value)| proto::LabelPair {
                name: Some(name.to_owned()),
                value: Some(value.to_owned()),
            })
            .collect(),
        value: Some(exemplar.value),
        timestamp: Some(prost_types::Timestamp {
            seconds: i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
            // Below 10^9: fits.
            nanos: i32::try_from(since.subsec_nanos()).unwrap_or(0),
        }),
    }
}

fn counter(value: Value) -> proto::Counter {
    proto::Counter {
        value: Some(as_f64(value)),
        ..Default::default()
    }
}

impl Visitor for ProtobufEncoder<'_> {
    fn family(&mut self, metric: &MetricDescriptor) -> fmt::Result {
        self.flush();
        let r#type = match metric.kind {
            MetricKind::Counter => proto::MetricType::Counter,
            MetricKind::Gauge => proto::MetricType::Gauge,
            MetricKind::Histogram => proto::MetricType::Histogram,
        };
        self.family = Some(proto::MetricFamily {
            // The series name: a counter's carries `_total`, as in the text format.
            name: Some(metric.sample_name()),
            help: Some(metric.help.to_owned()),
            r#type: Some(r#type as i32),
            metric: Vec::new(),
            unit: metric.unit.map(str::to_owned),
        });
        Ok(())
    }

    fn counter(&mut self, labels: Labels<'_>, value: Value) -> fmt::Result {
        self.push(labels, |metric| metric.counter = Some(counter(value)))
    }

    fn counter_with_exemplar(
        &mut self,
        labels: Labels<'_>,
        value: Value,
        recorded: &Exemplar,
    ) -> fmt::Result {
        self.push(labels, |metric| {
            metric.counter = Some(proto::Counter {
                exemplar: Some(exemplar(recorded)),
                ..counter(value)
            });
        })
    }

    fn gauge(&mut self, labels: Labels<'_>, value: Value) -> fmt::Result {
        self.push(labels, |metric| {
            metric.gauge = Some(proto::Gauge {
                value: Some(as_f64(value)),
            });
        })
    }

    fn histogram(&mut self, labels: Labels<'_>, histogram: &Histogram) -> fmt::Result {
        // The native buckets are read before the count: an observation counts into the
        // classic slots first, so every native bucket count read is within the count
        // read after it (Prometheus refuses a native histogram whose buckets hold more
        // than its count).
        let mut counts = std::mem::take(&mut self.scratch);
        let (sum, native) = histogram.snapshot_with_native(&mut counts);
        let count = counts.last().copied().unwrap_or(0);
        let mut message = proto::Histogram {
            sample_count: Some(count),
            sample_sum: Some(sum),
            // The `+Inf` bucket is implied by the count, as the Go client leaves it out.
            bucket: histogram
                .buckets()
                .bounds()
                .iter()
                .zip(&counts)
                .enumerate()
                .map(|(slot, (bound, cumulative))| proto::Bucket {
                    cumulative_count: Some(*cumulative),
                    upper_bound: Some(*bound),
                    exemplar: histogram.exemplar(slot).as_ref().map(exemplar),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        let infinity = histogram.buckets().bounds().len();
        let infinity_exemplar = histogram.exemplar(infinity);
        if let (Some(recorded), true) = (&infinity_exemplar, histogram.has_classic_buckets()) {
            // The `+Inf` bucket is written only to carry its exemplar, as the Go client does.
            message.bucket.push(proto::Bucket {
                cumulative_count: Some(count),
                upper_bound: Some(f64::INFINITY),
                exemplar: Some(exemplar(recorded)),
                ..Default::default()
            });
        }
        if let Some(native) = native {
            fill_native(&mut message, &native);
            // A native histogram's exemplars go in their own list (each with a timestamp,
            // as `metrics.proto` requires): every bucket's latest, by value.
            let mut exemplars: Vec<Exemplar> = (0..=infinity)
                .filter_map(|slot| histogram.exemplar(slot))
                .collect();
            exemplars.sort_by(|a, b| a.value.total_cmp(&b.value));
            message.exemplars = exemplars.iter().map(exemplar).collect();
        }
        self.scratch = counts;
        self.push(labels, |metric| metric.histogram = Some(message))
    }

    fn overflow(&mut self, metric: &MetricDescriptor, folded: u64) -> fmt::Result {
        self.overflows.push((metric.name, folded));
        Ok(())
    }
}

/// Writes a native histogram's buckets as spans of consecutive keys and count deltas.
fn fill_native(message: &mut proto::Histogram, native: &NativeSnapshot) {
    message.schema = Some(i32::from(native.schema));
    message.zero_threshold = Some(native.zero_threshold);
    message.zero_count = Some(native.zero_count);
    (message.positive_span, message.positive_delta) = spans(&native.positive);
    (message.negative_span, message.negative_delta) = spans(&native.negative);
    if message.positive_span.is_empty() && message.negative_span.is_empty() {
        // What metrics.proto asks for: without it a native histogram with no observations
        // and a zero threshold of 0 would read as a classic one.
        message.positive_span.push(proto::BucketSpan {
            offset: Some(0),
            length: Some(0),
        });
    }
}

/// Spans of consecutive keys (the first at its key, the next ones at their gap from the
/// previous span's end) and each bucket's count as a delta from the previous bucket's.
/// A gap of one or two keys is filled with empty buckets rather than opening a span (it
/// is shorter on the wire), as `metrics.proto` suggests and Prometheus' Go client does.
fn spans(buckets: &[(i32, u64)]) -> (Vec<proto::BucketSpan>, Vec<i64>) {
    let mut spans: Vec<proto::BucketSpan> = Vec::new();
    let mut deltas = Vec::with_capacity(buckets.len());
    let mut next_key = 0i32;
    let mut previous = 0i64;
    for &(key, count) in buckets {
        let gap = key.saturating_sub(next_key);
        match spans.last_mut() {
            Some(span) if gap <= 2 => {
                for _ in 0..gap {
                    deltas.push(-previous);
                    previous = 0;
                }
                let added = u32::try_from(gap).unwrap_or(0).saturating_add(1);
                span.length = Some(span.length().saturating_add(added));
            }
            _ => spans.push(proto::BucketSpan {
                offset: Some(gap),
                length: Some(1),
            }),
        }
        // Counts past i64::MAX cannot be written as deltas; they would take centuries.
        let count = i64::try_from(count).unwrap_or(i64::MAX);
        deltas.push(count.wrapping_sub(previous));
        previous = count;
        next_key = key.saturating_add(1);
    }
    (spans, deltas)
}
