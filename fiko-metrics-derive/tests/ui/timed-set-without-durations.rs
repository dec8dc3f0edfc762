use fiko_metrics::calls::CallLabels;
use fiko_metrics::{Counter, Family, MetricSet};

#[derive(MetricSet)]
struct Jobs {
    /// Job runs.
    #[metric(calls)]
    runs: Family<CallLabels, Counter>,
}

#[fiko_metrics::timed(metrics = Jobs::global())]
fn run_job() {}

fn main() {
    run_job();
}
