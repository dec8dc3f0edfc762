use fiko_metrics::{Counter, MetricSet};

#[derive(MetricSet)]
struct Metrics {
    /// Requests.
    #[metric(max_series = 100)]
    requests: Counter,
}

fn main() {}
