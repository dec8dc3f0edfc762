//! The shop every case of this folder makes its mistake against.

use fiko_metrics::{Counter, Family, Gauge, Histogram, LabelSet, LabelValue, MetricSet};

#[derive(MetricSet)]
#[metric_set(namespace = "shop")]
pub struct ShopMetrics {
    /// Orders, by outcome.
    orders: Family<OrderLabels, Counter>,
    /// Checkout latency.
    #[metric(buckets = [0.1, 0.5, 1.0, 2.0, 5.0])]
    checkout_duration_seconds: Histogram,
    /// Cart memory.
    cart_memory_bytes: Gauge,
}

#[derive(LabelSet)]
pub struct OrderLabels {
    outcome: Outcome,
}

#[derive(LabelSet)]
pub struct RegionLabels {
    region: String,
}

#[derive(LabelValue)]
pub enum Outcome {
    Paid,
    Failed,
}
