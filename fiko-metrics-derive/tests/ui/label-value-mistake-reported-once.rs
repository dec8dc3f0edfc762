use fiko_metrics::{Counter, Family, LabelSet, LabelValue, MetricSet};

// The enum's mistake is reported on the enum, and not again where the enum is used.
#[derive(LabelValue)]
#[label_value(rename_all = "Title Case")]
enum Plan {
    Free,
}

#[derive(LabelSet)]
struct Signup {
    plan: Plan,
}

#[derive(MetricSet)]
struct Metrics {
    /// Signups, by plan.
    signups: Family<Signup, Counter>,
}

fn main() {
    Metrics::global().signups.get_or_create(&Signup { plan: Plan::Free }).inc();
}
