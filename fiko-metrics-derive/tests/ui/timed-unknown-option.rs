#[fiko_metrics::timed(inflight)]
fn work() {}

fn main() {}
