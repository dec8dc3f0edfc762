use fiko_metrics::LabelValue;

#[derive(LabelValue)]
enum Plan {
    Free,
    #[label_value(rename = "free")]
    Trial,
}

fn main() {}
