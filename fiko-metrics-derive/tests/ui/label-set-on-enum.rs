use fiko_metrics::LabelSet;

#[derive(LabelSet)]
enum Labels {
    Get,
    Post,
}

fn main() {}
