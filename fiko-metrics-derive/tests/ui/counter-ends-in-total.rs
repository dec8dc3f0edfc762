use fiko_metrics::{Counter, MetricSet};

#[derive(MetricSet)]
struct Metrics {
    /// Requests.
    requests_total: Counter,
}

fn main() {}
