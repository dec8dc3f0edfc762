use fiko_metrics::LabelSet;

#[derive(LabelSet)]
struct Labels {
    #[label(rename = "__name__")]
    name: String,
}

fn main() {}
