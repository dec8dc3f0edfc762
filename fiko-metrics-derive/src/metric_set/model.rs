//! The model of a `#[derive(MetricSet)]` struct: the container, its fields, and what
//! each field's type says about the metric.

use fiko_metrics_naming::MetricKind;
use proc_macro2::TokenStream;
use syn::{GenericArgument, Ident, LitStr, Path, PathArguments, Type};

/// What a `#[metric(calls | durations | in_flight)]` field records for `#[timed]`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    Calls,
    Durations,
    InFlight,
}

/// The struct: its name, the runtime's path, its HELP text and the name prefix parts.
pub(super) struct Container {
    pub(super) ident: Ident,
    pub(super) krate: Path,
    pub(super) help: String,
    pub(super) namespace: Option<LitStr>,
    pub(super) subsystem: Option<LitStr>,
    pub(super) external: bool,
}

/// One field, i.e. one metric: its type and what its attributes and the naming rules make
/// of it (`name` is the full name, prefix included).
pub(super) struct Field<'a> {
    pub(super) original: &'a syn::Field,
    pub(super) ident: &'a Ident,
    pub(super) ty: &'a Type,
    pub(super) kind: MetricKind,
    pub(super) labels: Option<&'a Type>,
    pub(super) help: String,
    pub(super) name: String,
    pub(super) unit: Option<String>,
    pub(super) buckets: Vec<f64>,
    pub(super) native: Option<Native>,
    pub(super) exemplars: bool,
    pub(super) max_series: Option<usize>,
    /// `#[metric(expire_after = "15m")]`: the literal (for spans) and the milliseconds.
    pub(super) expire_after: Option<(LitStr, u64)>,
    pub(super) roles: Vec<(Role, TokenStream)>,
    pub(super) external: bool,
}

/// `#[metric(native(...))]`, checked: the runtime's `NativeConfig` fields.
#[derive(Clone, Copy)]
pub(super) struct Native {
    pub(super) schema: i8,
    pub(super) zero_threshold: f64,
    pub(super) max_buckets: u32,
    pub(super) max_zero_threshold: f64,
    pub(super) min_reset_seconds: u64,
}

impl Native {
    // The runtime's defaults (`NativeConfig::DEFAULT`).
    pub(super) const DEFAULT: Self = Self {
        schema: 3,
        zero_threshold: 2.938_735_877_055_719e-39,
        max_buckets: 160,
        max_zero_threshold: 0.0,
        min_reset_seconds: 0,
    };
}

/// What a field's type says, read syntactically: the kind, the label type of a family, and
/// whether its series keep exemplars (`CounterWithExemplar`).
pub(super) struct MetricType<'a> {
    pub(super) kind: MetricKind,
    pub(super) labels: Option<&'a Type>,
    pub(super) keeps_exemplars: bool,
}

/// Reads the kind (and label type) from the field's type, syntactically.
pub(super) fn metric_type(ty: &Type) -> Option<MetricType<'_>> {
    let last = match ty {
        Type::Path(path) if path.qself.is_none() => path.path.segments.last()?,
        _ => return None,
    };
    if last.ident == "Family" {
        let PathArguments::AngleBracketed(args) = &last.arguments else {
            return None;
        };
        let mut types = args.args.iter().filter_map(|arg| match arg {
            GenericArgument::Type(ty) => Some(ty),
            _ => None,
        });
        let labels = types.next()?;
        let series = metric_type(types.next()?)?;
        return Some(MetricType {
            labels: Some(labels),
            ..series
        });
    }
    let (kind, keeps_exemplars) = match last.ident.to_string().as_str() {
        "Counter" => (MetricKind::Counter, false),
        "CounterWithExemplar" => (MetricKind::Counter, true),
        "Gauge" => (MetricKind::Gauge, false),
        "Histogram" => (MetricKind::Histogram, false),
        _ => return None,
    };
    Some(MetricType {
        kind,
        labels: None,
        keeps_exemplars,
    })
}
