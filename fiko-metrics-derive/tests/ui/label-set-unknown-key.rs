use fiko_metrics::{LabelSet, LabelValue};

#[derive(LabelValue)]
enum Command {
    Get,
    Set,
}

#[derive(LabelSet)]
#[label_set(sprase)]
struct CommandLabels {
    command: Command,
}

fn main() {}
