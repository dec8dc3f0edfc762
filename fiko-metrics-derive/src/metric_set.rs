//! `#[derive(MetricSet)]`: model → parse → validate → expand.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::meta::ParseNestedMeta;
use syn::spanned::Spanned;
use syn::{
    Data, DeriveInput, Expr, Fields, GenericArgument, Ident, LitStr, Path, PathArguments, Type,
};

use crate::attr::{self, Attr, Flag};
use crate::ctxt::Ctxt;
use crate::symbol::*;
use crate::valid;

/// The metric kinds, as read from a field's type.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Counter => "counter",
            Self::Gauge => "gauge",
            Self::Histogram => "histogram",
        }
    }
}

/// What a `#[metric(calls | durations | in_flight)]` field records for `#[timed]`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Calls,
    Durations,
    InFlight,
}

struct Container {
    ident: Ident,
    krate: Path,
    help: String,
    namespace: Option<LitStr>,
    subsystem: Option<LitStr>,
    external: bool,
}

struct Field<'a> {
    original: &'a syn::Field,
    ident: &'a Ident,
    ty: &'a Type,
    kind: Kind,
    labels: Option<&'a Type>,
    help: String,
    name: String,
    unit: Option<String>,
    buckets: Vec<f64>,
    native: Option<Native>,
    exemplars: bool,
    max_series: Option<usize>,
    roles: Vec<(Role, TokenStream)>,
    external: bool,
}

pub(crate) fn expand(input: &DeriveInput) -> TokenStream {
    let cx = Ctxt::new();
    let parsed = parse(&cx, input);
    match (cx.check(), parsed) {
        (Ok(()), Some((container, fields))) => emit(&container, &fields),
        (result, parsed) => {
            let errors = result.err().map(|e| e.to_compile_error());
            let krate = parsed.map_or_else(attr::default_crate, |(container, _)| container.krate);
            // A generic set gets no stand-in: it would only add errors about the generics.
            let fallback = input
                .generics
                .params
                .is_empty()
                .then(|| fallback(&input.ident, &krate));
            quote!(#errors #fallback)
        }
    }
}

fn parse<'a>(cx: &Ctxt, input: &'a DeriveInput) -> Option<(Container, Vec<Field<'a>>)> {
    let container = parse_container(cx, input);
    if !input.generics.params.is_empty() {
        cx.error_spanned_by(
            &input.generics,
            "metric sets cannot be generic: a set's names and descriptors are fixed at compile time; declare one set per concrete type",
        );
    }
    let fields = match &input.data {
        Data::Struct(data) => match &data.fields {
            Fields::Named(fields) => &fields.named,
            _ => {
                cx.error_spanned_by(
                    &input.ident,
                    "MetricSet needs a struct with named fields: each field is one metric",
                );
                return Some((container, Vec::new()));
            }
        },
        _ => {
            cx.error_spanned_by(
                &input.ident,
                "MetricSet can only be derived for a struct of metrics",
            );
            return Some((container, Vec::new()));
        }
    };
    let prefix = prefix(&container);
    let fields: Vec<Field<'a>> = fields
        .iter()
        .filter_map(|field| parse_field(cx, field, &prefix, container.external))
        .collect();
    validate(cx, &fields);
    Some((container, fields))
}

fn parse_container(cx: &Ctxt, input: &DeriveInput) -> Container {
    let mut namespace = Attr::none(cx, METRIC_SET, NAMESPACE);
    let mut subsystem = Attr::none(cx, METRIC_SET, SUBSYSTEM);
    let mut krate = Attr::none(cx, METRIC_SET, CRATE);
    let mut external = Flag::none(cx, METRIC_SET, EXTERNAL);
    attr::parse_attrs(cx, &input.attrs, METRIC_SET, |meta| {
        if meta.path == NAMESPACE {
            // #[metric_set(namespace = "fiko")]
            let lit = attr::string_value(meta)?;
            check_name_part(cx, &lit, "namespace");
            namespace.set(&meta.path, lit);
        } else if meta.path == SUBSYSTEM {
            // #[metric_set(subsystem = "ai")]
            let lit = attr::string_value(meta)?;
            check_name_part(cx, &lit, "subsystem");
            subsystem.set(&meta.path, lit);
        } else if meta.path == CRATE {
            // #[metric_set(crate = path::to::fiko_metrics)]
            krate.set(&meta.path, attr::path_value(meta)?);
        } else if meta.path == EXTERNAL {
            // #[metric_set(external)]
            external.set_true(&meta.path);
        } else {
            attr::unknown_key(cx, meta, METRIC_SET, METRIC_SET_KEYS)?;
        }
        Ok(())
    });
    Container {
        ident: input.ident.clone(),
        krate: krate.get().unwrap_or_else(attr::default_crate),
        help: attr::doc_comment(&input.attrs),
        namespace: namespace.get(),
        subsystem: subsystem.get(),
        external: external.get().is_some(),
    }
}

fn check_name_part(cx: &Ctxt, lit: &LitStr, what: &str) {
    if let Some(problem) = valid::metric_name_problem(&lit.value()) {
        cx.error_spanned_by(
            lit,
            format!("invalid metric {what} `{}`: it {problem}", lit.value()),
        );
    }
}

fn prefix(container: &Container) -> String {
    [&container.namespace, &container.subsystem]
        .into_iter()
        .flatten()
        .map(|lit| lit.value())
        .filter(|part| !part.is_empty())
        .map(|part| part + "_")
        .collect()
}

/// Reads the kind (and label type) from the field's type, syntactically.
fn metric_type(ty: &Type) -> Option<(Kind, Option<&Type>)> {
    let last = match ty {
        Type::Path(path) if path.qself.is_none() => path.path.segments.last()?,
        _ => return None,
    };
    let kind_of = |ident: &Ident| match ident.to_string().as_str() {
        "Counter" => Some(Kind::Counter),
        "Gauge" => Some(Kind::Gauge),
        "Histogram" => Some(Kind::Histogram),
        _ => None,
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
        let (kind, _) = metric_type(types.next()?)?;
        return Some((kind, Some(labels)));
    }
    kind_of(&last.ident).map(|kind| (kind, None))
}

/// `#[metric(native(...))]`, checked: the runtime's `NativeConfig` fields.
#[derive(Clone, Copy)]
struct Native {
    schema: i8,
    zero_threshold: f64,
    max_buckets: u32,
    max_zero_threshold: f64,
    min_reset_seconds: u64,
}

impl Native {
    // The runtime's defaults (`NativeConfig::DEFAULT`).
    const DEFAULT: Self = Self {
        schema: 3,
        zero_threshold: 2.938_735_877_055_719e-39,
        max_buckets: 160,
        max_zero_threshold: 0.0,
        min_reset_seconds: 0,
    };
}

/// `native` or `native(schema = 3, zero_threshold = 1e-9, max_buckets = 160,
/// max_zero_threshold = 1e-3, min_reset_seconds = 3600)`, each key optional; a bad value is reported and the default kept, so parsing goes on.
fn parse_native(cx: &Ctxt, meta: &ParseNestedMeta<'_>) -> syn::Result<Native> {
    let mut native = Native::DEFAULT;
    if !meta.input.peek(syn::token::Paren) {
        return Ok(native);
    }
    let mut schema = Attr::none(cx, NATIVE, SCHEMA);
    let mut zero_threshold = Attr::none(cx, NATIVE, ZERO_THRESHOLD);
    let mut max_buckets = Attr::none(cx, NATIVE, MAX_BUCKETS);
    let mut max_zero_threshold = Attr::none(cx, NATIVE, MAX_ZERO_THRESHOLD);
    let mut min_reset_seconds = Attr::none(cx, NATIVE, MIN_RESET_SECONDS);
    meta.parse_nested_meta(|inner| {
        if inner.path == SCHEMA {
            // native(schema = 3)
            let expr: Expr = inner.value()?.parse()?;
            match attr::number(&expr) {
                Some(n) if n.fract() == 0.0 && (-4.0..=8.0).contains(&n) => {
                    schema.set(&inner.path, n as i8);
                }
                _ => cx.error_spanned_by(&expr, "`schema` must be a whole number from -4 to 8"),
            }
        } else if inner.path == ZERO_THRESHOLD {
            // native(zero_threshold = 1e-9)
            let expr: Expr = inner.value()?.parse()?;
            match attr::number(&expr) {
                Some(x) if x.is_finite() && x >= 0.0 => zero_threshold.set(&inner.path, x),
                _ => cx.error_spanned_by(
                    &expr,
                    "`zero_threshold` must be a finite number of at least 0",
                ),
            }
        } else if inner.path == MAX_BUCKETS {
            // native(max_buckets = 160)
            let lit: syn::LitInt = inner.value()?.parse()?;
            match lit.base10_parse::<u32>() {
                Ok(0) | Err(_) => cx.error_spanned_by(
                    &lit,
                    "`max_buckets` must be a whole number from 1 to 4294967295",
                ),
                Ok(n) => max_buckets.set(&inner.path, n),
            }
        } else if inner.path == MAX_ZERO_THRESHOLD {
            // native(max_zero_threshold = 1e-3)
            let expr: Expr = inner.value()?.parse()?;
            match attr::number(&expr) {
                Some(x) if x.is_finite() && x >= 0.0 => max_zero_threshold.set(&inner.path, x),
                _ => cx.error_spanned_by(
                    &expr,
                    "`max_zero_threshold` must be a finite number of at least 0",
                ),
            }
        } else if inner.path == MIN_RESET_SECONDS {
            // native(min_reset_seconds = 3600)
            let lit: syn::LitInt = inner.value()?.parse()?;
            match lit.base10_parse::<u64>() {
                Err(_) => cx.error_spanned_by(
                    &lit,
                    "`min_reset_seconds` must be a whole number of seconds (0: never reset)",
                ),
                Ok(n) => min_reset_seconds.set(&inner.path, n),
            }
        } else {
            attr::unknown_key(cx, &inner, NATIVE, NATIVE_KEYS)?;
        }
        Ok(())
    })?;
    native.schema = schema.get().unwrap_or(native.schema);
    native.zero_threshold = zero_threshold.get().unwrap_or(native.zero_threshold);
    native.max_buckets = max_buckets.get().unwrap_or(native.max_buckets);
    native.max_zero_threshold = max_zero_threshold
        .get()
        .unwrap_or(native.max_zero_threshold);
    native.min_reset_seconds = min_reset_seconds.get().unwrap_or(native.min_reset_seconds);
    Ok(native)
}

fn parse_field<'a>(
    cx: &Ctxt,
    field: &'a syn::Field,
    prefix: &str,
    external: bool,
) -> Option<Field<'a>> {
    let ident = field.ident.as_ref()?;
    let mut name = Attr::none(cx, METRIC, NAME);
    let mut unit = Attr::none(cx, METRIC, UNIT);
    let mut buckets = Attr::none(cx, METRIC, BUCKETS);
    let mut max_series = Attr::none(cx, METRIC, MAX_SERIES);
    let mut native = Attr::none(cx, METRIC, NATIVE);
    let mut calls = Flag::none(cx, METRIC, CALLS);
    let mut durations = Flag::none(cx, METRIC, DURATIONS);
    let mut in_flight = Flag::none(cx, METRIC, IN_FLIGHT);
    let mut exemplars = Flag::none(cx, METRIC, EXEMPLARS);
    attr::parse_attrs(cx, &field.attrs, METRIC, |meta| {
        if meta.path == NAME {
            // #[metric(name = "requests")]
            name.set(&meta.path, attr::string_value(meta)?);
        } else if meta.path == UNIT {
            // #[metric(unit = "seconds")]
            unit.set(&meta.path, attr::string_value(meta)?);
        } else if meta.path == BUCKETS {
            // #[metric(buckets = [0.1, 0.5, 1.0])] or exponential(start, factor, count)
            let expr: Expr = meta.value()?.parse()?;
            if let Some(bounds) = parse_buckets(cx, &expr) {
                buckets.set(&meta.path, (expr, bounds));
            }
        } else if meta.path == NATIVE {
            // #[metric(native)] or #[metric(native(schema = 3, zero_threshold = 1e-9,
            // max_buckets = 160))]
            let config = parse_native(cx, meta)?;
            native.set(&meta.path, config);
        } else if meta.path == MAX_SERIES {
            // #[metric(max_series = 5000)]
            let lit: syn::LitInt = meta.value()?.parse()?;
            match lit.base10_parse::<usize>() {
                Ok(0) | Err(_) => {
                    cx.error_spanned_by(&lit, "`max_series` must be a whole number of at least 1")
                }
                Ok(n) => max_series.set(&meta.path, (lit, n)),
            }
        } else if meta.path == CALLS {
            // #[metric(calls)]
            calls.set_true(&meta.path);
        } else if meta.path == DURATIONS {
            // #[metric(durations)]
            durations.set_true(&meta.path);
        } else if meta.path == IN_FLIGHT {
            // #[metric(in_flight)]
            in_flight.set_true(&meta.path);
        } else if meta.path == EXEMPLARS {
            // #[metric(exemplars)]
            exemplars.set_true(&meta.path);
        } else {
            attr::unknown_key(cx, meta, METRIC, METRIC_KEYS)?;
        }
        Ok(())
    });

    let Some((kind, labels)) = metric_type(&field.ty) else {
        cx.error_spanned_by(
            &field.ty,
            "not a metric type: a metric set field is `Counter`, `Gauge`, `Histogram` or `Family<Labels, Counter | Gauge | Histogram>`",
        );
        return None;
    };

    let help = attr::doc_comment(&field.attrs);
    if help.is_empty() {
        cx.error_spanned_by(
            ident,
            format!("metric `{ident}` needs a doc comment: it is the metric's HELP text"),
        );
    }

    let base = match name.get() {
        Some(lit) => {
            if let Some(problem) = valid::metric_name_problem(&lit.value()) {
                cx.error_spanned_by(
                    &lit,
                    format!("invalid metric name `{}`: it {problem}", lit.value()),
                );
            }
            (lit.value(), lit.span())
        }
        None => (
            ident.to_string().trim_start_matches("r#").to_owned(),
            ident.span(),
        ),
    };
    let full = check_naming(cx, kind, &base, unit.get(), prefix, external);

    let buckets = match buckets.get_with_tokens() {
        Some((key, (_, bounds))) if kind != Kind::Histogram => {
            cx.error_spanned_by(
                key,
                format!(
                    "`buckets` only applies to histograms, and `{ident}` is a {}",
                    kind.as_str()
                ),
            );
            bounds
        }
        Some((_, (_, bounds))) => bounds,
        None => Vec::new(),
    };
    let native = match native.get_with_tokens() {
        Some((key, _)) if kind != Kind::Histogram => {
            cx.error_spanned_by(
                key,
                format!(
                    "`native` only applies to histograms, and `{ident}` is a {}",
                    kind.as_str()
                ),
            );
            None
        }
        other => other.map(|(_, native)| native),
    };
    let exemplars = match exemplars.get() {
        Some(key) if kind == Kind::Gauge => {
            cx.error_spanned_by(
                key,
                format!("`exemplars` apply to counters and histograms, and `{ident}` is a gauge"),
            );
            false
        }
        other => other.is_some(),
    };
    let max_series = match max_series.get() {
        Some((lit, _)) if labels.is_none() => {
            cx.error_spanned_by(
                lit,
                format!("`max_series` limits labelled series, and `{ident}` has no labels"),
            );
            None
        }
        other => other.map(|(_, n)| n),
    };
    let roles = [
        (Role::Calls, calls.get()),
        (Role::Durations, durations.get()),
        (Role::InFlight, in_flight.get()),
    ]
    .into_iter()
    .filter_map(|(role, tokens)| tokens.map(|tokens| (role, tokens)))
    .collect();

    Some(Field {
        original: field,
        ident,
        ty: &field.ty,
        kind,
        labels,
        help,
        name: full.0,
        buckets,
        native,
        exemplars,
        max_series,
        roles,
        external,
        unit: full.1,
    })
}

/// Applies the Prometheus naming conventions; returns the full name and the unit.
fn check_naming(
    cx: &Ctxt,
    kind: Kind,
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
            .or_else(|| valid::inferred_unit(base).map(str::to_owned));
        return (format!("{prefix}{base}"), unit);
    }
    if kind == Kind::Counter && base.ends_with("_total") {
        cx.error_at(span, format!("counter `{base}` must not end in `_total`: it is added at exposition; drop the suffix"));
    } else if kind != Kind::Counter && base.ends_with("_total") {
        cx.error_at(
            span,
            format!(
                "only counters end in `_total`, and `{base}` is a {}",
                kind.as_str()
            ),
        );
    }
    if kind == Kind::Histogram {
        for suffix in ["_bucket", "_count", "_sum"] {
            if base.ends_with(suffix) {
                cx.error_at(span, format!("histogram `{base}` must not end in `{suffix}`: Prometheus adds it to the series"));
            }
        }
    }
    if let Some((bad, good)) = valid::non_base_suffix(base) {
        cx.error_at(
            span,
            format!("`{base}` ends in `{bad}`, which is not a base unit: use `{good}`"),
        );
    }
    let mut full = format!("{prefix}{base}");
    let unit = match unit {
        Some(lit) => {
            let value = lit.value();
            if let Some(good) = valid::non_base_unit(&value) {
                cx.error_spanned_by(&lit, format!("`{value}` is not a base unit: use `{good}` (Prometheus metrics use base units)"));
            } else if valid::metric_name_problem(&value).is_some() || value.starts_with('_') {
                cx.error_spanned_by(&lit, format!("invalid unit `{value}`: a unit is a lowercase word such as `seconds` or `bytes`"));
            } else if base.ends_with(&format!("_{value}")) {
                cx.error_spanned_by(&lit, format!("`{base}` already ends in the unit `{value}`: drop the suffix from the name or leave out `unit`"));
            } else if base != &value {
                // A name that is the unit itself (`tokens`) already carries it once.
                full = format!("{full}_{value}");
            }
            Some(value)
        }
        None => valid::inferred_unit(base).map(str::to_owned),
    };
    (full, unit)
}

fn parse_buckets(cx: &Ctxt, expr: &Expr) -> Option<Vec<f64>> {
    match expr {
        // buckets = [0.1, 0.5, 1.0]
        Expr::Array(array) => {
            if array.elems.is_empty() {
                cx.error_spanned_by(
                    array,
                    "a histogram needs at least one bucket bound (`+Inf` is added by itself)",
                );
                return None;
            }
            let mut bounds = Vec::new();
            let mut ok = true;
            for elem in &array.elems {
                match attr::number(elem) {
                    Some(bound) if bound.is_finite() => {
                        if let Some(previous) = bounds.last() {
                            if bound <= *previous {
                                cx.error_spanned_by(elem, format!("bucket bounds must be strictly increasing: {bound:?} does not exceed {previous:?}"));
                                ok = false;
                            }
                        }
                        bounds.push(bound);
                    }
                    _ => {
                        cx.error_spanned_by(
                            elem,
                            "a bucket bound is a finite number literal (`+Inf` is added by itself)",
                        );
                        ok = false;
                    }
                }
            }
            ok.then_some(bounds)
        }
        // buckets = exponential(0.005, 2, 12) | linear(0.1, 0.1, 10)
        Expr::Call(call) => {
            let func = match &*call.func {
                Expr::Path(path) => path.path.get_ident().map(Ident::to_string),
                _ => None,
            };
            let args: Vec<Option<f64>> = call.args.iter().map(attr::number).collect();
            let generated = match (func.as_deref(), args.as_slice()) {
                (Some("exponential"), [Some(start), Some(factor), Some(count)])
                    if *start > 0.0
                        && *factor > 1.0
                        && *count >= 1.0
                        && count.fract() == 0.0
                        && *count <= 64.0 =>
                {
                    Some((0..*count as i32).map(|i| start * factor.powi(i)).collect())
                }
                (Some("linear"), [Some(start), Some(width), Some(count)])
                    if *width > 0.0 && *count >= 1.0 && count.fract() == 0.0 && *count <= 256.0 =>
                {
                    Some(
                        (0..*count as i32)
                            .map(|i| start + width * f64::from(i))
                            .collect(),
                    )
                }
                _ => None,
            };
            if generated.is_none() {
                cx.error_spanned_by(
                    call,
                    "expected `exponential(start > 0, factor > 1, count 1..=64)` or `linear(start, width > 0, count 1..=256)`",
                );
            }
            generated
        }
        other => {
            cx.error_spanned_by(other, "expected a list of bucket bounds such as `[0.1, 0.5, 1.0]`, `exponential(...)` or `linear(...)`");
            None
        }
    }
}

/// Rules across fields: unique exposed names, one field per role, role kinds.
fn validate(cx: &Ctxt, fields: &[Field<'_>]) {
    for (index, field) in fields.iter().enumerate() {
        let mine = exposed_names(field);
        for earlier in &fields[..index] {
            if let Some(name) = mine
                .iter()
                .find(|name| exposed_names(earlier).contains(name))
            {
                cx.error_spanned_by(
                    field.ident,
                    format!("`{}` exposes `{name}`, which `{}` exposes already: give one of them another name", field.ident, earlier.ident),
                );
            }
        }
        for (role, tokens) in &field.roles {
            let (needed, key) = match role {
                Role::Calls => (Kind::Counter, "calls"),
                Role::Durations => (Kind::Histogram, "durations"),
                Role::InFlight => (Kind::Gauge, "in_flight"),
            };
            if field.kind != needed || field.labels.is_none() {
                cx.error_spanned_by(
                    tokens,
                    format!(
                        "the `{key}` field must be a `Family<_, {}>`",
                        capitalise(needed.as_str())
                    ),
                );
            }
            if fields[..index]
                .iter()
                .any(|earlier| earlier.roles.iter().any(|(r, _)| r == role))
            {
                cx.error_spanned_by(tokens, format!("only one field of a set can be `{key}`"));
            }
        }
    }
}

fn capitalise(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

/// The family name and every series name the field exposes.
fn exposed_names(field: &Field<'_>) -> Vec<String> {
    let name = &field.name;
    match field.kind {
        Kind::Counter if field.external => vec![name.clone()],
        Kind::Counter => vec![name.clone(), format!("{name}_total")],
        Kind::Gauge => vec![name.clone()],
        Kind::Histogram => vec![
            name.clone(),
            format!("{name}_bucket"),
            format!("{name}_sum"),
            format!("{name}_count"),
        ],
    }
}

fn emit(container: &Container, fields: &[Field<'_>]) -> TokenStream {
    let Container {
        ident,
        krate,
        help,
        namespace,
        subsystem,
        external,
    } = container;
    let type_name = ident.to_string();
    let option = |lit: &Option<LitStr>| match lit {
        Some(lit) => quote!(::core::option::Option::Some(#lit)),
        None => quote!(::core::option::Option::None),
    };
    let namespace = option(namespace);
    let subsystem = option(subsystem);

    let declarations: Vec<TokenStream> = fields
        .iter()
        .map(|field| {
            let buckets = &field.buckets;
            // A histogram without `buckets` gets the defaults, and says so in its descriptor;
            // a native one without `buckets` has no classic buckets at all.
            let buckets = if field.kind == Kind::Histogram && buckets.is_empty() && field.native.is_none() {
                quote!(#krate::histogram::DEFAULT_BUCKETS)
            } else {
                quote!(&[#(#buckets),*])
            };
            let max_series = field.max_series.unwrap_or(1000);
            let native = match field.native {
                Some(Native {
                    schema,
                    zero_threshold,
                    max_buckets,
                    max_zero_threshold,
                    min_reset_seconds,
                }) => quote!(::core::option::Option::Some(
                    #krate::histogram::NativeConfig::from_checked(
                        #schema, #zero_threshold, #max_buckets, #max_zero_threshold, #min_reset_seconds
                    )
                )),
                None => quote!(::core::option::Option::None),
            };
            let exemplars = field.exemplars;
            quote!(#krate::__private::Declaration {
                buckets: #buckets,
                max_series: #max_series,
                native: #native,
                exemplars: #exemplars,
            })
        })
        .collect();

    let descriptors = fields
        .iter()
        .zip(&declarations)
        .map(|(field, declaration)| {
            let Field {
                ty,
                help,
                name,
                external,
                ..
            } = field;
            let field_name = field.ident.to_string();
            let span = field.ty.span();
            let unit = match &field.unit {
                Some(unit) => quote!(::core::option::Option::Some(#unit)),
                None => quote!(::core::option::Option::None),
            };
            let labels = match field.labels {
                Some(labels) => {
                    quote_spanned!(labels.span()=> <#labels as #krate::LabelSet>::LABELS)
                }
                None => quote!(&[]),
            };
            quote_spanned! {span=>
                #krate::MetricDescriptor {
                    name: #name,
                    field: #field_name,
                    kind: <#ty as #krate::MetricField>::KIND,
                    help: #help,
                    unit: #unit,
                    labels: #labels,
                    buckets: #declaration.buckets,
                    native: #declaration.native,
                    exemplars: #declaration.exemplars,
                    max_series: #declaration.max_series,
                    external: #external,
                }
            }
        });

    let idents: Vec<&Ident> = fields.iter().map(|field| field.ident).collect();
    let constructors = fields
        .iter()
        .zip(&declarations)
        .map(|(field, declaration)| {
            let ty = field.ty;
            quote_spanned!(ty.span()=> <#ty as #krate::MetricField>::declare(&#declaration))
        });
    let indices = 0..fields.len();

    let roles = fields.iter().flat_map(|field| {
        let field_ident = field.ident;
        let span = field.original.span();
        field.roles.iter().map(move |(role, _)| match role {
            Role::Calls => quote_spanned! {span=>
                impl #krate::calls::RecordCalls for #ident {
                    fn calls(&self) -> &#krate::Family<#krate::calls::CallLabels, #krate::Counter> {
                        &self.#field_ident
                    }
                }
            },
            Role::Durations => quote_spanned! {span=>
                impl #krate::calls::RecordDurations for #ident {
                    fn durations(&self) -> &#krate::Family<#krate::calls::FunctionLabels, #krate::Histogram> {
                        &self.#field_ident
                    }
                }
            },
            Role::InFlight => quote_spanned! {span=>
                impl #krate::calls::RecordInFlight for #ident {
                    fn in_flight(&self) -> &#krate::Family<#krate::calls::FunctionLabels, #krate::Gauge> {
                        &self.#field_ident
                    }
                }
            },
        })
    });

    let declared = fields.iter().enumerate().map(|(index, field)| {
        let constant = format_ident!("{}", field.ident.to_string().trim_start_matches("r#").to_uppercase());
        let labels = match field.labels {
            Some(labels) => quote!(#labels),
            None => quote!(()),
        };
        let kind = format_ident!("{}", capitalise(field.kind.as_str()));
        let unit = match field.unit.as_deref() {
            Some("seconds") => quote!(Seconds),
            Some("bytes") => quote!(Bytes),
            Some("ratio") => quote!(Ratio),
            Some(_) => quote!(Other),
            None => quote!(Unitless),
        };
        let doc = format!("The declared metric `{}` (`{}`), for dashboards and alerts.", field.ident, field.name);
        quote! {
            #[doc = #doc]
            pub const #constant: #krate::Declared<#labels, #krate::kind::#kind, #krate::unit::#unit> =
                #krate::Declared::new(&<Self as #krate::MetricSet>::DESCRIPTOR.metrics[#index]);
        }
    });

    let global = format_ident!("__FIKO_GLOBAL_{}", ident.to_string().to_uppercase());
    quote! {
        impl #krate::MetricSet for #ident {
            const DESCRIPTOR: &'static #krate::SetDescriptor = &#krate::SetDescriptor {
                type_name: #type_name,
                help: #help,
                namespace: #namespace,
                subsystem: #subsystem,
                external: #external,
                metrics: &[#(#descriptors),*],
            };

            fn new() -> Self {
                Self { #(#idents: #constructors),* }
            }

            fn visit_metric(
                &self,
                index: usize,
                visitor: &mut dyn #krate::encoding::Visitor,
            ) -> ::core::fmt::Result {
                let metrics = <Self as #krate::MetricSet>::DESCRIPTOR.metrics;
                match index {
                    #(#indices => match metrics.get(#indices) {
                        ::core::option::Option::Some(metric) => {
                            #krate::MetricField::visit_field(&self.#idents, metric, visitor)
                        }
                        ::core::option::Option::None => ::core::result::Result::Ok(()),
                    },)*
                    _ => ::core::result::Result::Ok(()),
                }
            }

            fn global() -> &'static Self {
                static #global: #krate::__private::std::sync::OnceLock<
                    #krate::__private::std::sync::Arc<#ident>,
                > = #krate::__private::std::sync::OnceLock::new();
                #global.get_or_init(|| #krate::default_registry().get_or_register::<#ident>())
            }
        }

        #[allow(dead_code)]
        impl #ident {
            #(#declared)*
        }

        #(#roles)*
    }
}

/// Keeps one mistake from causing a cascade of "no function `register`" errors.
fn fallback(ident: &Ident, krate: &Path) -> TokenStream {
    quote! {
        impl #krate::MetricSet for #ident {
            const DESCRIPTOR: &'static #krate::SetDescriptor = &#krate::SetDescriptor {
                type_name: "",
                help: "",
                namespace: ::core::option::Option::None,
                subsystem: ::core::option::Option::None,
                external: false,
                metrics: &[],
            };
            fn new() -> Self {
                ::core::unreachable!()
            }
            fn visit_metric(&self, _: usize, _: &mut dyn #krate::encoding::Visitor) -> ::core::fmt::Result {
                ::core::unreachable!()
            }
            fn global() -> &'static Self {
                ::core::unreachable!()
            }
        }
    }
}
