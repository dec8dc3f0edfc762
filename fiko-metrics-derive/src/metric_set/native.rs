//! `#[metric(native)]` and `#[metric(native(schema = .., zero_threshold = .., max_buckets = ..,
//! max_zero_threshold = .., min_reset_seconds = ..))]`.

use syn::Expr;
use syn::meta::ParseNestedMeta;

use super::model::Native;
use crate::attr::{self, Attr};
use crate::ctxt::Ctxt;
use crate::symbol::*;

/// `native` or `native(schema = 3, zero_threshold = 1e-9, max_buckets = 160,
/// max_zero_threshold = 1e-3, min_reset_seconds = 3600)`, each key optional; a bad value is
/// reported and the default kept, so parsing goes on.
pub(super) fn parse_native(cx: &Ctxt, meta: &ParseNestedMeta<'_>) -> syn::Result<Native> {
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
