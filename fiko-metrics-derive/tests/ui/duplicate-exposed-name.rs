use fiko_metrics::{Counter, Gauge, MetricSet};

#[derive(MetricSet)]
struct Metrics {
    /// Requests.
    requests: Counter,
    /// Requests, again.
    #[metric(name = "requests")]
    requests_now: Gauge,
}

fn main() {}
