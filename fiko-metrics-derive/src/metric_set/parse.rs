//! Reads the struct and its `#[metric_set(...)]` / `#[metric(...)]` attributes into the
//! model, reporting every mistake (naming, buckets and cross-field rules included).

use syn::{Data, DeriveInput, Expr, Fields, LitStr};

use fiko_metrics_naming::MetricKind;

use super::buckets::parse_buckets;
use super::check::validate;
use super::model::{Container, Field, MetricType, Role, metric_type};
use super::naming::check_naming;
use super::native::parse_native;
use crate::attr::{self, Attr, Flag};
use crate::ctxt::Ctxt;
use crate::symbol::*;

pub(super) fn parse<'a>(cx: &Ctxt, input: &'a DeriveInput) -> Option<(Container, Vec<Field<'a>>)> {
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
    if let Some(problem) = fiko_metrics_naming::metric_name_problem(&lit.value()) {
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
    let mut expire_after = Attr::none(cx, METRIC, EXPIRE_AFTER);
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
        } else if meta.path == EXPIRE_AFTER {
            // #[metric(expire_after = "15m")]
            let lit = attr::string_value(meta)?;
            match parse_duration(&lit.value()) {
                Ok(millis) => expire_after.set(&meta.path, (lit, millis)),
                Err(problem) => cx.error_spanned_by(
                    &lit,
                    format!(
                        "invalid `expire_after` duration `{}`: {problem}; write it as Prometheus does, e.g. \"90s\", \"15m\", \"1h30m\" (units ms, s, m, h, d, w)",
                        lit.value()
                    ),
                ),
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

    let Some(MetricType {
        kind,
        labels,
        keeps_exemplars,
    }) = metric_type(&field.ty)
    else {
        cx.error_spanned_by(
            &field.ty,
            "not a metric type: a metric set field is `Counter`, `CounterWithExemplar`, `Gauge`, `Histogram` or `Family<Labels, Counter | CounterWithExemplar | Gauge | Histogram>`",
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
            if let Some(problem) = fiko_metrics_naming::metric_name_problem(&lit.value()) {
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
        Some((key, (_, bounds))) if kind != MetricKind::Histogram => {
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
        Some((key, _)) if kind != MetricKind::Histogram => {
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
    // A histogram opts in with the key; a counter by its type, which the key cannot change.
    let exemplars = match exemplars.get() {
        Some(key) if kind == MetricKind::Gauge => {
            cx.error_spanned_by(
                key,
                format!("`exemplars` apply to counters and histograms, and `{ident}` is a gauge"),
            );
            false
        }
        Some(key) if kind == MetricKind::Counter && !keeps_exemplars => {
            cx.error_spanned_by(
                key,
                format!("a `Counter` keeps no exemplars: declare `{ident}` as a `CounterWithExemplar` (in a family, `Family<_, CounterWithExemplar>`), which needs no `exemplars`"),
            );
            false
        }
        other => other.is_some() || keeps_exemplars,
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
    let expire_after = match expire_after.get() {
        Some((lit, _)) if labels.is_none() => {
            cx.error_spanned_by(
                &lit,
                format!("`expire_after` drops labelled series, and `{ident}` has no labels"),
            );
            None
        }
        other => other,
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
        expire_after,
        roles,
        external,
        unit: full.1,
    })
}

/// Reads a Prometheus-style duration (`90s`, `15m`, `1h30m`, `500ms`): one or more whole
/// numbers, each followed by a unit, largest unit first. Returns milliseconds, at least 1.
pub(super) fn parse_duration(text: &str) -> Result<u64, String> {
    const UNITS: &[(&str, u64)] = &[
        ("w", 7 * 24 * 3_600_000),
        ("d", 24 * 3_600_000),
        ("h", 3_600_000),
        ("ms", 1),
        ("m", 60_000),
        ("s", 1_000),
    ];
    if text.is_empty() {
        return Err("it is empty".to_owned());
    }
    let mut rest = text;
    let mut total: u64 = 0;
    let mut previous = u64::MAX;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(format!("expected a number at `{rest}`"));
        }
        let (number, after) = rest.split_at(digits);
        let Some(&(unit, scale)) = UNITS.iter().find(|(unit, _)| after.starts_with(unit)) else {
            return Err(format!("`{number}` needs a unit"));
        };
        if scale >= previous {
            return Err(format!(
                "the unit `{unit}` comes after a smaller or equal one"
            ));
        }
        previous = scale;
        let part = number
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(scale))
            .ok_or_else(|| "it is too long".to_owned())?;
        total = total
            .checked_add(part)
            .ok_or_else(|| "it is too long".to_owned())?;
        rest = after.strip_prefix(unit).unwrap_or_default();
    }
    if total == 0 {
        return Err("it must be longer than zero".to_owned());
    }
    Ok(total)
}

#[cfg(test)]
mod duration_tests {
    use super::parse_duration;

    #[test]
    fn durations_read_as_prometheus_writes_them() {
        assert_eq!(parse_duration("90s"), Ok(90_000));
        assert_eq!(parse_duration("15m"), Ok(900_000));
        assert_eq!(parse_duration("1h30m"), Ok(5_400_000));
        assert_eq!(parse_duration("500ms"), Ok(500));
        assert_eq!(parse_duration("1m500ms"), Ok(60_500));
        assert_eq!(parse_duration("2d"), Ok(172_800_000));
        assert_eq!(parse_duration("1w"), Ok(604_800_000));
    }

    #[test]
    fn bad_durations_say_why() {
        assert_eq!(parse_duration(""), Err("it is empty".to_owned()));
        assert_eq!(parse_duration("15"), Err("`15` needs a unit".to_owned()));
        assert_eq!(
            parse_duration("15 minutes"),
            Err("`15` needs a unit".to_owned())
        );
        assert_eq!(
            parse_duration("m"),
            Err("expected a number at `m`".to_owned())
        );
        assert_eq!(
            parse_duration("30s1m"),
            Err("the unit `m` comes after a smaller or equal one".to_owned())
        );
        assert_eq!(
            parse_duration("0s"),
            Err("it must be longer than zero".to_owned())
        );
        assert_eq!(
            parse_duration("99999999999999999999w"),
            Err("it is too long".to_owned())
        );
    }
}
