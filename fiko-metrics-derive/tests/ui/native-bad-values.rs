use fiko_metrics::{Histogram, MetricSet};

#[derive(MetricSet)]
struct Metrics {
    /// Latency.
    #[metric(native(schema = 9, zero_threshold = -1e-9, max_buckets = 0))]
    latency_seconds: Histogram,
    /// Sizes.
    #[metric(unit = "bytes", native(schema = 1.5))]
    size: Histogram,
    /// Queue wait.
    #[metric(native(max_zero_threshold = -0.5, min_reset_seconds = -60))]
    wait_seconds: Histogram,
}

fn main() {}
