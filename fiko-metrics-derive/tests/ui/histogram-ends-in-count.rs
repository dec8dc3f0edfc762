use fiko_metrics::{Histogram, MetricSet};

#[derive(MetricSet)]
struct Metrics {
    /// Request sizes.
    request_count: Histogram,
}

fn main() {}
