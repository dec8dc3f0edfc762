use fiko_metrics::LabelValue;

#[derive(LabelValue)]
enum Plan {
    Free,
    Paid(u32),
}

fn main() {}
