use fiko_metrics::LabelSet;

#[derive(LabelSet)]
struct Labels {
    #[label(rename = "http-route")]
    route: String,
}

fn main() {}
