use fiko_metrics::{Histogram, MetricSet};

#[derive(MetricSet)]
struct Metrics {
    /// Latency.
    #[metric(buckets = [])]
    latency_seconds: Histogram,
}

fn main() {}
