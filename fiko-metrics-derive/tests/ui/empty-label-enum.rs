use fiko_metrics::LabelValue;

#[derive(LabelValue)]
enum Plan {}

fn main() {}
