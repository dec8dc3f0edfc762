use fiko_metrics::LabelSet;

#[derive(LabelSet)]
struct Labels {
    route: String,
    payload: Vec<u8>,
}

fn main() {}
