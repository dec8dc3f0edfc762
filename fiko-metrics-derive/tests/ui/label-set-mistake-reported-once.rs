use fiko_metrics::{Family, Histogram, LabelSet, MetricSet};

// The label set's mistake is reported on the label, and not again by the family using it.
#[derive(LabelSet)]
struct Buckets {
    le: &'static str,
}

#[derive(MetricSet)]
struct Metrics {
    /// Latency.
    latency_seconds: Family<Buckets, Histogram>,
}

fn main() {
    Metrics::global().latency_seconds.get_or_create(&Buckets { le: "1" }).observe(0.5);
}
