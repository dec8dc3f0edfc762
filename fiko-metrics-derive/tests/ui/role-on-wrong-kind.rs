use fiko_metrics::calls::FunctionLabels;
use fiko_metrics::{Counter, Family, MetricSet};

#[derive(MetricSet)]
struct Metrics {
    /// Calls in flight.
    #[metric(in_flight)]
    running: Family<FunctionLabels, Counter>,
}

fn main() {}
