use fiko_metrics::{Counter, MetricSet};

#[derive(MetricSet)]
struct Metrics {
    /// Payload.
    #[metric(unit = "bytes", unit = "bytes")]
    payload: Counter,
}

fn main() {}
