use fiko_metrics::{Histogram, MetricSet};

#[derive(MetricSet)]
struct Metrics {
    /// Latency.
    #[metric(buckets = [0.1, 1.0, f64::INFINITY])]
    latency_seconds: Histogram,
}

fn main() {}
