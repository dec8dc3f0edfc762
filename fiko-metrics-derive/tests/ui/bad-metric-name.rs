use fiko_metrics::{Counter, MetricSet};

#[derive(MetricSet)]
struct Metrics {
    /// Requests.
    #[metric(name = "9lives")]
    requests: Counter,
}

fn main() {}
