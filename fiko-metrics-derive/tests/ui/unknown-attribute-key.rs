use fiko_metrics::{Counter, MetricSet};

#[derive(MetricSet)]
struct Metrics {
    /// Requests.
    #[metric(colour = "red")]
    requests: Counter,
}

fn main() {}
