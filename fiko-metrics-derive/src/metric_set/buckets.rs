//! `#[metric(buckets = ...)]`: a list of bounds, or `exponential(...)` / `linear(...)`.

use syn::{Expr, Ident};

use crate::attr;
use crate::ctxt::Ctxt;

/// The bucket bounds `expr` declares, or `None` after reporting why they are not valid.
pub(super) fn parse_buckets(cx: &Ctxt, expr: &Expr) -> Option<Vec<f64>> {
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
