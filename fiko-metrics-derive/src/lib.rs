//! Procedural macros of [fiko-metrics](https://docs.rs/fiko-metrics); use them through
//! its re-exports (`fiko_metrics::MetricSet`, `fiko_metrics::timed`, …).
//!
//! ```
//! use fiko_metrics::{Counter, Family, LabelSet, LabelValue, MetricSet};
//!
//! #[derive(LabelValue)]
//! #[label_value(rename_all = "lowercase")]
//! enum Plan { Free, Pro }
//!
//! #[derive(LabelSet)]
//! struct Signup { plan: Plan }
//!
//! #[derive(MetricSet)]
//! #[metric_set(namespace = "fiko", subsystem = "users")]
//! struct UserMetrics {
//!     /// User registrations, by plan.
//!     registrations: Family<Signup, Counter>,
//! }
//!
//! #[fiko_metrics::timed(in_flight)]
//! async fn register(plan: Plan) -> Result<(), String> {
//!     UserMetrics::global().registrations.get_or_create(&Signup { plan }).inc();
//!     Ok(())
//! }
//!
//! assert_eq!(UserMetrics::REGISTRATIONS.descriptor.name, "fiko_users_registrations");
//! ```
//!
//! Every attribute these macros read, with an example per key, is documented in
//! [`fiko_metrics::attributes`](https://docs.rs/fiko-metrics/latest/fiko_metrics/attributes/index.html).
//!
//! Each derive is one module that models its input, parses attributes (collecting every
//! error, see `ctxt`), validates them against the naming rules of `fiko_metrics_naming` (shared with the runtime), and expands.

mod attr;
mod ctxt;
mod label_set;
mod label_value;
mod metric_set;
mod rename;
mod symbol;
#[cfg(test)]
mod tests;

/// The crate README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
mod timed;

use proc_macro::TokenStream;
use syn::{DeriveInput, parse_macro_input};

/// Derives `fiko_metrics::MetricSet`; the keys of `#[metric_set(...)]` and `#[metric(...)]`
/// are in [`fiko_metrics::attributes`](https://docs.rs/fiko-metrics/latest/fiko_metrics/attributes/index.html#metric_set).
#[proc_macro_derive(MetricSet, attributes(metric_set, metric))]
pub fn derive_metric_set(input: TokenStream) -> TokenStream {
    metric_set::expand(&parse_macro_input!(input as DeriveInput)).into()
}

/// Derives `fiko_metrics::LabelSet` for a struct of labels; the keys of `#[label_set(...)]`
/// and `#[label(...)]` are in [`fiko_metrics::attributes`](https://docs.rs/fiko-metrics/latest/fiko_metrics/attributes/index.html#label_set).
#[proc_macro_derive(LabelSet, attributes(label_set, label))]
pub fn derive_label_set(input: TokenStream) -> TokenStream {
    label_set::expand(&parse_macro_input!(input as DeriveInput)).into()
}

/// Derives `fiko_metrics::LabelValue` for an enum of unit variants; the keys of
/// `#[label_value(...)]` are in [`fiko_metrics::attributes`](https://docs.rs/fiko-metrics/latest/fiko_metrics/attributes/index.html#label_value).
#[proc_macro_derive(LabelValue, attributes(label_value))]
pub fn derive_label_value(input: TokenStream) -> TokenStream {
    label_value::expand(&parse_macro_input!(input as DeriveInput)).into()
}

/// Records calls, duration and outcome of a function; its keys are in
/// [`fiko_metrics::attributes`](https://docs.rs/fiko-metrics/latest/fiko_metrics/attributes/index.html#timed).
#[proc_macro_attribute]
pub fn timed(args: TokenStream, item: TokenStream) -> TokenStream {
    timed::expand(timed::Mode::Timed, args.into(), item.into()).into()
}

/// Counts calls of a function by outcome; its keys are in
/// [`fiko_metrics::attributes`](https://docs.rs/fiko-metrics/latest/fiko_metrics/attributes/index.html#counted).
#[proc_macro_attribute]
pub fn counted(args: TokenStream, item: TokenStream) -> TokenStream {
    timed::expand(timed::Mode::Counted, args.into(), item.into()).into()
}
