use fiko_metrics::{Counter, MetricSet};

#[derive(MetricSet)]
struct Plain {
    /// Something else.
    things: Counter,
}

#[fiko_metrics::counted(metrics = Plain::global())]
fn work() {}

fn main() {
    work();
}
