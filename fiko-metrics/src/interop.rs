//! The bridge into `prometheus_client` registries.

use std::fmt;
use std::sync::Arc;

use prometheus_client::encoding::{
    DescriptorEncoder, EncodeLabelSet, LabelSetEncoder, MetricEncoder, NoLabelSet,
};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Unit;

use crate::descriptor::MetricKind;
use crate::encoding::{Labels, Value, Visitor};
use crate::histogram::Histogram;
use crate::registry::Collect;

/// Registered into a `prometheus_client` registry as a collector.
pub(crate) struct Bridge<C: ?Sized>(pub(crate) Arc<C>);

impl<C: ?Sized> fmt::Debug for Bridge<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("fiko_metrics::Bridge")
    }
}

impl<C: Collect + ?Sized> prometheus_client::collector::Collector for Bridge<C> {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        self.0.refresh();
        for (index, metric) in self.0.metrics().iter().enumerate() {
            // prometheus-client appends the unit to the name itself.
            let unit = metric.unit.map(|unit| Unit::Other(unit.to_owned()));
            let name = match metric.unit {
                Some(unit) => metric
                    .name
                    .strip_suffix(unit)
                    .and_then(|name| name.strip_suffix('_'))
                    .unwrap_or(metric.name),
                None => metric.name,
            };
            let metric_type = match metric.kind {
                MetricKind::Counter => MetricType::Counter,
                MetricKind::Gauge => MetricType::Gauge,
                MetricKind::Histogram => MetricType::Histogram,
            };
            let mut family =
                encoder.encode_descriptor(name, metric.help, unit.as_ref(), metric_type)?;
            self.0.visit_metric(
                index,
                &mut BridgeVisitor {
                    family: &mut family,
                },
            )?;
        }
        Ok(())
    }
}

struct BridgeVisitor<'a, 'b> {
    family: &'a mut MetricEncoder<'b>,
}

struct BridgeLabels<'a>(Labels<'a>);

impl EncodeLabelSet for BridgeLabels<'_> {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> fmt::Result {
        self.0.for_each(&mut |name, value| {
            use std::fmt::Write;
            let mut label = encoder.encode_label();
            let mut key = label.encode_label_key()?;
            key.write_str(name)?;
            let mut value_encoder = key.encode_label_value()?;
            value_encoder.write_str(value)?;
            value_encoder.finish()
        })
    }
}

impl BridgeVisitor<'_, '_> {
    fn with_labels(
        &mut self,
        labels: Labels<'_>,
        write: impl FnOnce(&mut MetricEncoder<'_>) -> fmt::Result,
    ) -> fmt::Result {
        match labels {
            Labels::None => write(self.family),
            labels => write(&mut self.family.encode_family(&BridgeLabels(labels))?),
        }
    }
}

impl Visitor for BridgeVisitor<'_, '_> {
    fn family(&mut self, _: &crate::MetricDescriptor) -> fmt::Result {
        Ok(())
    }

    fn counter(&mut self, labels: Labels<'_>, value: Value) -> fmt::Result {
        self.with_labels(labels, |family| match value {
            Value::U64(n) => family.encode_counter::<NoLabelSet, _, u64>(&n, None),
            Value::F64(x) => family.encode_counter::<NoLabelSet, _, f64>(&x, None),
            Value::I64(n) => {
                family.encode_counter::<NoLabelSet, _, u64>(&u64::try_from(n).unwrap_or(0), None)
            }
        })
    }

    fn gauge(&mut self, labels: Labels<'_>, value: Value) -> fmt::Result {
        self.with_labels(labels, |family| match value {
            Value::U64(n) => family.encode_gauge(&n),
            Value::I64(n) => family.encode_gauge(&n),
            Value::F64(x) => family.encode_gauge(&x),
        })
    }

    fn histogram(&mut self, labels: Labels<'_>, histogram: &Histogram) -> fmt::Result {
        let mut cumulative = Vec::new();
        let sum = histogram.snapshot(&mut cumulative);
        let count = cumulative.last().copied().unwrap_or(0);
        let bounds = histogram
            .buckets()
            .bounds()
            .iter()
            .copied()
            .chain([f64::INFINITY]);
        let mut previous = 0;
        let buckets: Vec<(f64, u64)> = bounds
            .zip(cumulative)
            .map(|(bound, total)| {
                let in_bucket = total.wrapping_sub(previous);
                previous = total;
                (bound, in_bucket)
            })
            .collect();
        self.with_labels(labels, |family| {
            family.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)
        })
    }
}
