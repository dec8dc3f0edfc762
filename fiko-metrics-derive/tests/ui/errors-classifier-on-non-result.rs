fn classify(_: &std::io::Error) -> &'static str {
    "io"
}

#[fiko_metrics::timed(errors = classify)]
fn work() -> u32 {
    1
}

fn main() {
    work();
}
