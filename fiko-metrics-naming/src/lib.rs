//! The Prometheus naming rules of fiko-metrics, read by its derive at compile time and by
//! its runtime at run time, so each rule has one owner.
//!
//! ```
//! use fiko_metrics_naming::{MetricKind, exposed_names, metric_name_problem};
//!
//! assert_eq!(metric_name_problem("my-shop"), Some("may only contain ASCII letters, digits and `_`"));
//! assert_eq!(
//!     exposed_names(MetricKind::Counter, "shop_orders", false, false),
//!     ["shop_orders", "shop_orders_total"],
//! );
//! ```

use std::fmt;

/// The kind of a metric, as exposed in `# TYPE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MetricKind {
    /// Monotonic; exposed with the `_total` suffix.
    Counter,
    /// Goes up and down.
    Gauge,
    /// Buckets, `_sum` and `_count`.
    Histogram,
}

impl MetricKind {
    /// The `# TYPE` keyword.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Counter => "counter",
            Self::Gauge => "gauge",
            Self::Histogram => "histogram",
        }
    }
}

impl fmt::Display for MetricKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why `name` is not a valid metric name (or name part), if it is not.
pub fn metric_name_problem(name: &str) -> Option<&'static str> {
    // Bytes, not chars: a byte of a non-ASCII character is no ASCII letter either.
    let mut bytes = name.bytes();
    match bytes.next() {
        None => Some("is empty"),
        Some(c) if !(c.is_ascii_alphabetic() || c == b'_') => {
            Some("must start with a letter or `_`")
        }
        _ if !bytes.all(|c| c.is_ascii_alphanumeric() || c == b'_') => {
            Some("may only contain ASCII letters, digits and `_`")
        }
        _ if name.starts_with("__") => Some("must not start with `__` (reserved by Prometheus)"),
        _ => None,
    }
}

/// Why `name` is not a label name users may declare, if it is not: a valid Prometheus
/// name that is not reserved (`le` for histogram buckets, `quantile` for summaries).
pub fn label_name_problem(name: &str) -> Option<&'static str> {
    if let Some(problem) = metric_name_problem(name) {
        return Some(problem);
    }
    match name {
        "le" => Some("is reserved: histograms use `le` for bucket bounds"),
        "quantile" => Some("is reserved: summaries use `quantile`"),
        _ => None,
    }
}

/// Units fiko knows as Prometheus base units, inferred from a name's suffix.
pub const BASE_UNITS: &[&str] = &[
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

/// The base unit to use instead of `unit`, when `unit` is not one.
pub fn non_base_unit(unit: &str) -> Option<&'static str> {
    NON_BASE_UNITS
        .iter()
        .find(|(bad, _)| *bad == unit)
        .map(|(_, good)| *good)
}

/// The non-base unit `name` ends in (as `_unit`), with the base unit to use.
pub fn non_base_suffix(name: &str) -> Option<(&'static str, &'static str)> {
    NON_BASE_UNITS
        .iter()
        .find(|(bad, _)| ends_in_word(name, bad))
        .copied()
}

/// The base unit `name` ends in (as `_unit`).
pub fn inferred_unit(name: &str) -> Option<&'static str> {
    BASE_UNITS
        .iter()
        .find(|unit| ends_in_word(name, unit))
        .copied()
}

fn ends_in_word(name: &str, word: &str) -> bool {
    name.strip_suffix(word)
        .is_some_and(|rest| rest.ends_with('_'))
}

/// The marker type in `fiko_metrics::unit` that types a metric with this unit (the `U` of
/// `Declared<L, K, U>`): `Seconds`, `Bytes`, `Ratio`, `Other` for any other unit, and
/// `Unitless` for none.
pub fn unit_marker(unit: Option<&str>) -> &'static str {
    match unit {
        Some("seconds") => "Seconds",
        Some("bytes") => "Bytes",
        Some("ratio") => "Ratio",
        Some(_) => "Other",
        None => "Unitless",
    }
}

/// The name a metric's samples carry: `name_total` for counters (but not another program's,
/// `external`, which keep their name as it is), `name` otherwise (a histogram's samples add
/// `_bucket`, `_sum` and `_count` to it).
pub fn sample_name(kind: MetricKind, name: &str, external: bool) -> String {
    match kind {
        MetricKind::Counter if !external => format!("{name}_total"),
        _ => name.to_owned(),
    }
}

/// Every series name a scrape shows for a metric: the sample name, or a histogram's
/// `_bucket`, `_sum` and `_count` (and its bare name when it is `native`: Prometheus stores
/// a native histogram under it).
pub fn series_names(kind: MetricKind, name: &str, external: bool, native: bool) -> Vec<String> {
    match kind {
        MetricKind::Counter | MetricKind::Gauge => vec![sample_name(kind, name, external)],
        MetricKind::Histogram => {
            let mut names: Vec<String> = ["bucket", "sum", "count"]
                .iter()
                .map(|suffix| format!("{name}_{suffix}"))
                .collect();
            if native {
                names.push(name.to_owned());
            }
            names
        }
    }
}

/// Every name a metric takes in an exposition: its family name (`# TYPE name ...`) and its
/// [`series_names`]. Two metrics of a set must not share any.
pub fn exposed_names(kind: MetricKind, name: &str, external: bool, native: bool) -> Vec<String> {
    let mut names = vec![name.to_owned()];
    for series in series_names(kind, name, external, native) {
        if !names.contains(&series) {
            names.push(series);
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_names_follow_prometheus_and_skip_the_reserved_ones() {
        for good in ["route", "_private", "http_method2"] {
            assert_eq!(label_name_problem(good), None, "{good}");
        }
        for bad in ["", "2xx", "my-label", "__name__", "le", "quantile"] {
            assert!(label_name_problem(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn units_are_read_from_a_whole_suffix() {
        assert_eq!(inferred_unit("request_duration_seconds"), Some("seconds"));
        assert_eq!(inferred_unit("seconds"), None);
        assert_eq!(inferred_unit("kilobytes"), None);
        assert_eq!(non_base_suffix("latency_ms"), Some(("ms", "seconds")));
        assert_eq!(non_base_suffix("items"), None);
        assert_eq!(non_base_unit("percent"), Some("ratio"));
        assert_eq!(non_base_unit("seconds"), None);
    }

    #[test]
    fn every_kind_exposes_its_family_and_series_names() {
        assert_eq!(
            exposed_names(MetricKind::Counter, "c", false, false),
            ["c", "c_total"]
        );
        assert_eq!(
            exposed_names(MetricKind::Counter, "c_total", true, false),
            ["c_total"]
        );
        assert_eq!(exposed_names(MetricKind::Gauge, "g", false, false), ["g"]);
        assert_eq!(
            exposed_names(MetricKind::Histogram, "h", false, false),
            ["h", "h_bucket", "h_sum", "h_count"]
        );
        assert_eq!(
            exposed_names(MetricKind::Histogram, "h", false, true),
            ["h", "h_bucket", "h_sum", "h_count"]
        );
        assert_eq!(
            series_names(MetricKind::Histogram, "h", false, true),
            ["h_bucket", "h_sum", "h_count", "h"]
        );
    }

    #[test]
    fn each_base_unit_with_a_marker_has_its_own() {
        assert_eq!(unit_marker(Some("seconds")), "Seconds");
        assert_eq!(unit_marker(Some("bytes")), "Bytes");
        assert_eq!(unit_marker(Some("ratio")), "Ratio");
        assert_eq!(unit_marker(Some("celsius")), "Other");
        assert_eq!(unit_marker(None), "Unitless");
    }
}
