//! Turning the facade's free-form names into Prometheus names.
//!
//! `metrics` accepts any string (`http.requests`, `db-pool size`); Prometheus does not.
//! Invalid characters become `_`, as metrics-exporter-prometheus does, so the usual
//! dotted names keep their shape (`http.requests` → `http_requests`).

use std::borrow::Cow;

use fiko_metrics::MetricKind;
use fiko_metrics::labels::is_valid_label_name;

/// The exposed family name of a facade metric named `name`, or `None` when nothing valid
/// is left of it (an empty name, or one reserved for Prometheus' own use: `__*`).
///
/// Counters lose a trailing `_total`: the runtime adds it at exposition, as it does for
/// declared counters, so `requests_total` is exposed as `requests_total`, not
/// `requests_total_total`.
pub(crate) fn metric_name(name: &str, kind: MetricKind) -> Option<String> {
    let mut out = String::with_capacity(name.len() + 1);
    for (index, c) in name.chars().enumerate() {
        if index == 0 && c.is_ascii_digit() {
            out.push('_');
        }
        out.push(if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
            c
        } else {
            '_'
        });
    }
    if kind == MetricKind::Counter {
        if let Some(stripped) = out.strip_suffix("_total") {
            out.truncate(stripped.len());
        }
    }
    if out.is_empty() || out.starts_with("__") || out.chars().all(|c| c == '_') {
        return None;
    }
    Some(out)
}

/// A valid, unreserved label name for the facade label `name`: invalid characters become
/// `_`; names Prometheus reserves (`le`, `quantile`, `__*`) or that are empty get an
/// `exported_` prefix, as Prometheus does for clashing target labels.
pub(crate) fn label_name(name: &str) -> Cow<'_, str> {
    if is_valid_label_name(name) {
        return Cow::Borrowed(name);
    }
    let mut out = String::with_capacity(name.len() + 9);
    for (index, c) in name.chars().enumerate() {
        if index == 0 && c.is_ascii_digit() {
            out.push('_');
        }
        out.push(if c.is_ascii_alphanumeric() || c == '_' {
            c
        } else {
            '_'
        });
    }
    if !is_valid_label_name(&out) {
        out.insert_str(0, "exported_");
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_names_are_made_valid() {
        let counter = |name| metric_name(name, MetricKind::Counter);
        let gauge = |name| metric_name(name, MetricKind::Gauge);
        assert_eq!(counter("http.requests").as_deref(), Some("http_requests"));
        assert_eq!(counter("requests_total").as_deref(), Some("requests"));
        assert_eq!(gauge("queue_total").as_deref(), Some("queue_total"));
        assert_eq!(gauge("9lives").as_deref(), Some("_9lives"));
        assert_eq!(gauge("a:b-c d").as_deref(), Some("a:b_c_d"));
        assert_eq!(gauge("ünï").as_deref(), Some("_n_"));
        assert_eq!(gauge(""), None);
        assert_eq!(gauge("__internal"), None);
        assert_eq!(gauge("..."), None);
        assert_eq!(counter("_total"), None);
    }

    #[test]
    fn label_names_are_made_valid_and_unreserved() {
        assert_eq!(label_name("route"), "route");
        assert_eq!(label_name("http.method"), "http_method");
        assert_eq!(label_name("le"), "exported_le");
        assert_eq!(label_name("quantile"), "exported_quantile");
        assert_eq!(label_name("__name__"), "exported___name__");
        assert_eq!(label_name(""), "exported_");
        assert_eq!(label_name("1st"), "_1st");
        for name in ["le", "", "__x", "a b", "9", "ö"] {
            assert!(is_valid_label_name(&label_name(name)), "{name:?}");
        }
    }
}
