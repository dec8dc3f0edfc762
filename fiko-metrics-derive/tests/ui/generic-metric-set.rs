use fiko_metrics::{Counter, MetricSet};

#[derive(MetricSet)]
struct Metrics<T> {
    /// Requests.
    requests: Counter,
    marker: std::marker::PhantomData<T>,
}

fn main() {}
