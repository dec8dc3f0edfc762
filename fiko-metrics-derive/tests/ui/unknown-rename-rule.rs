use fiko_metrics::LabelValue;

#[derive(LabelValue)]
#[label_value(rename_all = "Title Case")]
enum Plan {
    Free,
    Paid,
}

fn main() {}
