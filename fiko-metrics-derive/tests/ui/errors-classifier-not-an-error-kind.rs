use fiko_metrics::LabelValue;

// A label value enum is an error kind only with `#[label_value(error_kind)]`.
#[derive(LabelValue)]
enum DbError {
    PoolTimeout,
}

fn classify(_: &std::io::Error) -> DbError {
    DbError::PoolTimeout
}

#[fiko_metrics::timed(errors = classify)]
fn query() -> Result<(), std::io::Error> {
    Ok(())
}

fn main() {
    let _ = query();
}
