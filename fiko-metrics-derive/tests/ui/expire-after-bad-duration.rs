use fiko_metrics::{Counter, Family, Gauge, LabelSet, MetricSet};

#[derive(LabelSet)]
struct Tenant {
    tenant: String,
}

#[derive(MetricSet)]
struct Metrics {
    /// Requests, by tenant.
    #[metric(expire_after = "15 minutes")]
    requests: Family<Tenant, Counter>,
    /// Sessions, by tenant.
    #[metric(expire_after = "0s")]
    sessions: Family<Tenant, Gauge>,
    /// Errors.
    #[metric(expire_after = "15m")]
    errors: Counter,
}

fn main() {}
