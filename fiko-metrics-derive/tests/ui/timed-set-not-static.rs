use std::sync::Arc;

use fiko_metrics::calls::{CallLabels, FunctionLabels};
use fiko_metrics::{Counter, Family, Histogram, MetricSet};

#[derive(MetricSet)]
struct Api {
    /// Calls.
    #[metric(calls)]
    calls: Family<CallLabels, Counter>,
    /// Call duration.
    #[metric(durations)]
    duration_seconds: Family<FunctionLabels, Histogram>,
}

struct Service {
    metrics: Arc<Api>,
}

impl Service {
    #[fiko_metrics::timed(metrics = self.metrics)]
    fn handle(&self) {}
}

fn main() {
    Service { metrics: Arc::new(Api::new()) }.handle();
}
