use fiko_metrics::{Counter, MetricSet};

#[derive(MetricSet)]
struct Metrics {
    requests: Counter,
}

fn main() {}
