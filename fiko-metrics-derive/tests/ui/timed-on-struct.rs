#[fiko_metrics::timed]
struct Handler;

fn main() {}
