use fiko_metrics::{Histogram, MetricSet};

#[derive(MetricSet)]
struct Metrics {
    /// Latency.
    #[metric(unit = "milliseconds")]
    latency: Histogram,
}

fn main() {}
