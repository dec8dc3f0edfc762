use fiko_metrics::{Gauge, MetricSet};

#[derive(MetricSet)]
struct Metrics {
    /// Sessions.
    sessions_total: Gauge,
}

fn main() {}
