use fiko_metrics::{Counter, MetricSet};

#[derive(MetricSet)]
struct Metrics {
    /// Requests.
    #[metric(buckets = [0.1, 1.0])]
    requests: Counter,
}

fn main() {}
