use fiko_metrics::{Counter, Family, MetricSet};

#[derive(MetricSet)]
struct Metrics {
    /// Requests by route.
    requests: Family<String, Counter>,
}

fn main() {}
