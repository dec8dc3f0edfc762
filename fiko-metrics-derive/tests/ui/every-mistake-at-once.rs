use fiko_metrics::{Counter, Histogram, MetricSet};

#[derive(MetricSet)]
#[metric_set(namspace = "fiko")]
struct Metrics {
    /// Requests.
    #[metric(buckets = [1.0])]
    requests_total: Counter,
    /// Latency.
    #[metric(buckets = [2.0, 1.0])]
    latency_seconds: Histogram,
}

fn main() {}
