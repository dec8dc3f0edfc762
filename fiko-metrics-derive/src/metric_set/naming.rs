//! The Prometheus naming conventions for one metric: suffixes, base units, the full name.
//! The rules themselves are `fiko_metrics_naming`'s, shared with the runtime.

use fiko_metrics_naming::MetricKind;
use proc_macro2::Span;
use syn::LitStr;

use crate::ctxt::Ctxt;

/// Applies the Prometheus naming conventions; returns the full name and the unit.
pub(super) fn check_naming(
    cx: &Ctxt,
    kind: MetricKind,
    (base, span): &(String, Span),
    unit: Option<LitStr>,
    prefix: &str,
    external: bool,
) -> (String, Option<String>) {
    let span = *span;
    if external {
        // Another program's names are what they are; only the unit is recorded.
        let unit = unit
            .map(|lit| lit.value())
            .or_else(|| fiko_metrics_naming::inferred_unit(base).map(str::to_owned));
        return (format!("{prefix}{base}"), unit);
    }
    if kind == MetricKind::Counter && base.ends_with("_total") {
        cx.error_at(span, format!("counter `{base}` must not end in `_total`: it is added at exposition; drop the suffix"));
    } else if kind != MetricKind::Counter && base.ends_with("_total") {
        cx.error_at(
            span,
            format!(
                "only counters end in `_total`, and `{base}` is a {}",
                kind.as_str()
            ),
        );
    }
    if kind == MetricKind::Histogram {
        for suffix in ["_bucket", "_count", "_sum"] {
            if base.ends_with(suffix) {
                cx.error_at(span, format!("histogram `{base}` must not end in `{suffix}`: Prometheus adds it to the series"));
            }
        }
    }
    if let Some((bad, good)) = fiko_metrics_naming::non_base_suffix(base) {
        cx.error_at(
            span,
            format!("`{base}` ends in `{bad}`, which is not a base unit: use `{good}`"),
        );
    }
    let mut full = format!("{prefix}{base}");
    let unit = match unit {
        Some(lit) => {
            let value = lit.value();
            if let Some(good) = fiko_metrics_naming::non_base_unit(&value) {
                cx.error_spanned_by(&lit, format!("`{value}` is not a base unit: use `{good}` (Prometheus metrics use base units)"));
            } else if fiko_metrics_naming::metric_name_problem(&value).is_some()
                || value.starts_with('_')
            {
                cx.error_spanned_by(&lit, format!("invalid unit `{value}`: a unit is a lowercase word such as `seconds` or `bytes`"));
            } else if base.ends_with(&format!("_{value}")) {
                cx.error_spanned_by(&lit, format!("`{base}` already ends in the unit `{value}`: drop the suffix from the name or leave out `unit`"));
            } else if base != &value {
                // A name that is the unit itself (`tokens`) already carries it once.
                full = format!("{full}_{value}");
            }
            Some(value)
        }
        None => fiko_metrics_naming::inferred_unit(base).map(str::to_owned),
    };
    (full, unit)
}
