use fiko_metrics::{Gauge, MetricSet};

#[derive(MetricSet)]
struct Metrics {
    /// Replication lag.
    replication_lag_ms: Gauge,
}

fn main() {}
