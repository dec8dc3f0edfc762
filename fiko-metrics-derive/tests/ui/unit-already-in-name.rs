use fiko_metrics::{Counter, MetricSet};

#[derive(MetricSet)]
struct Metrics {
    /// Bytes sent.
    #[metric(unit = "bytes")]
    sent_bytes: Counter,
}

fn main() {}
