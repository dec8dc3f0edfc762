use fiko_metrics::{Histogram, MetricSet};

#[derive(MetricSet)]
struct Metrics {
    /// Latency.
    #[metric(buckets = [0.1, 0.5, 0.5, 0.25])]
    latency_seconds: Histogram,
}

fn main() {}
