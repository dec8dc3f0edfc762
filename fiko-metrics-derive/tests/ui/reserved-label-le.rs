use fiko_metrics::LabelSet;

#[derive(LabelSet)]
struct Labels {
    le: String,
}

fn main() {}
