use fiko_metrics::{Counter, MetricSet};

#[derive(MetricSet)]
#[metric_set(namespace = "fiko-backend")]
struct Metrics {
    /// Requests.
    requests: Counter,
}

fn main() {}
