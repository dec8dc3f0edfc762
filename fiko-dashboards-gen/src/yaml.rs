//! Just enough YAML writing: every string is a JSON string, which YAML reads as a
//! double-quoted scalar, so no value can break the document.

/// A quoted YAML scalar.
pub(crate) fn q(text: &str) -> String {
    serde_json::Value::String(text.to_owned()).to_string()
}

/// A number as YAML (and PromQL) reads it.
pub(crate) fn num(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        format!("{value}")
    }
}
