use fiko_metrics::{Counter, Family, LabelSet, MetricSet};

#[derive(LabelSet)]
struct Route {
    route: String,
}

#[derive(MetricSet)]
struct Metrics {
    /// Orders.
    #[metric(exemplars)]
    orders: Counter,
    /// Requests by route.
    #[metric(max_series = 100, exemplars)]
    requests: Family<Route, Counter>,
}

fn main() {}
