//! Rules across the fields of a set: unique exposed names, one field per role, the kind
//! each role needs.

use fiko_metrics_naming::MetricKind;

use super::model::{Field, Role};
use crate::ctxt::Ctxt;

/// Rules across fields: unique exposed names, one field per role, role kinds.
pub(super) fn validate(cx: &Ctxt, fields: &[Field<'_>]) {
    for (index, field) in fields.iter().enumerate() {
        let mine = exposed_names(field);
        for earlier in fields.iter().take(index) {
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
                Role::Calls => (MetricKind::Counter, "calls"),
                Role::Durations => (MetricKind::Histogram, "durations"),
                Role::InFlight => (MetricKind::Gauge, "in_flight"),
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
            if fields
                .iter()
                .take(index)
                .any(|earlier| earlier.roles.iter().any(|(r, _)| r == role))
            {
                cx.error_spanned_by(tokens, format!("only one field of a set can be `{key}`"));
            }
        }
    }
}

pub(super) fn capitalise(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

/// The family name and every series name the field exposes (the runtime's rule).
fn exposed_names(field: &Field<'_>) -> Vec<String> {
    fiko_metrics_naming::exposed_names(
        field.kind,
        &field.name,
        field.external,
        field.native.is_some(),
    )
}
