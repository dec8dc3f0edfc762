#[fiko_metrics::timed]
const fn answer() -> u32 {
    42
}

fn main() {}
