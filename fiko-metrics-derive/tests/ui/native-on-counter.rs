use fiko_metrics::{Counter, MetricSet};

#[derive(MetricSet)]
struct Metrics {
    /// Requests.
    #[metric(native)]
    requests: Counter,
}

fn main() {}
