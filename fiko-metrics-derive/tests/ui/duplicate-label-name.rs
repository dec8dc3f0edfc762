use fiko_metrics::LabelSet;

#[derive(LabelSet)]
struct Labels {
    route: String,
    #[label(rename = "route")]
    path: String,
}

fn main() {}
