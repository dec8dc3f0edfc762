use fiko_metrics::{Counter, Family, LabelSet, LabelValue, MetricSet};

#[derive(LabelValue)]
enum Outcome {
    Ok,
    Error,
}

#[derive(LabelSet)]
struct OutcomeLabels {
    outcome: Outcome,
}

#[derive(MetricSet)]
struct Metrics {
    /// Requests, by outcome.
    #[metric(expire_after = "15m")]
    requests: Family<OutcomeLabels, Counter>,
}

fn main() {}
