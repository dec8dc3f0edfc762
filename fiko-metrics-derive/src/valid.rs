//! The naming rules, in one place.

/// Units fiko knows as Prometheus base units, inferred from a name's suffix.
pub(crate) const BASE_UNITS: &[&str] = &[
    "seconds", "bytes", "ratio", "celsius", "meters", "grams", "joules", "volts", "amperes",
];

/// Units that are not base units, with the base unit to use instead.
const NON_BASE_UNITS: &[(&str, &str)] = &[
    ("milliseconds", "seconds"),
    ("millis", "seconds"),
    ("ms", "seconds"),
    ("microseconds", "seconds"),
    ("us", "seconds"),
    ("nanoseconds", "seconds"),
    ("ns", "seconds"),
    ("minutes", "seconds"),
    ("hours", "seconds"),
    ("days", "seconds"),
    ("kilobytes", "bytes"),
    ("kb", "bytes"),
    ("megabytes", "bytes"),
    ("mb", "bytes"),
    ("gigabytes", "bytes"),
    ("gb", "bytes"),
    ("bits", "bytes"),
    ("percent", "ratio"),
    ("kilometers", "meters"),
    ("kilograms", "grams"),
];

/// Why `name` is not a valid metric name part, if it is not.
pub(crate) fn metric_name_problem(name: &str) -> Option<&'static str> {
    let mut chars = name.chars();
    match chars.next() {
        None => Some("is empty"),
        Some(c) if !(c.is_ascii_alphabetic() || c == '_') => {
            Some("must start with a letter or `_`")
        }
        _ if !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') => {
            Some("may only contain ASCII letters, digits and `_`")
        }
        _ if name.starts_with("__") => Some("must not start with `__` (reserved by Prometheus)"),
        _ => None,
    }
}

/// Why `name` is not a label name users may declare, if it is not.
pub(crate) fn label_name_problem(name: &str) -> Option<String> {
    if let Some(problem) = metric_name_problem(name) {
        return Some(problem.to_owned());
    }
    match name {
        "le" => Some("is reserved: histograms use `le` for bucket bounds".to_owned()),
        "quantile" => Some("is reserved: summaries use `quantile`".to_owned()),
        _ => None,
    }
}

/// The base unit to use instead of `unit`, when `unit` is not one.
pub(crate) fn non_base_unit(unit: &str) -> Option<&'static str> {
    NON_BASE_UNITS
        .iter()
        .find(|(bad, _)| *bad == unit)
        .map(|(_, good)| *good)
}

/// The non-base unit `name` ends in, with the base unit to use.
pub(crate) fn non_base_suffix(name: &str) -> Option<(&'static str, &'static str)> {
    NON_BASE_UNITS
        .iter()
        .find(|(bad, _)| {
            name.strip_suffix(bad)
                .is_some_and(|rest| rest.ends_with('_'))
        })
        .copied()
}

/// The base unit `name` ends in.
pub(crate) fn inferred_unit(name: &str) -> Option<&'static str> {
    BASE_UNITS
        .iter()
        .find(|unit| {
            name.strip_suffix(*unit)
                .is_some_and(|rest| rest.ends_with('_'))
        })
        .copied()
}
