use fiko_metrics::{Counter, MetricSet};

#[derive(MetricSet)]
struct Metrics {
    /// Requests.
    requests: Counter,
    /// The service name.
    service: String,
}

fn main() {}
