use fiko_metrics::{Histogram, MetricSet};

#[derive(MetricSet)]
struct Metrics {
    /// Latency.
    #[metric(native(scheme = 3))]
    latency_seconds: Histogram,
}

fn main() {}
