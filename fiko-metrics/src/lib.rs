//! Declare Prometheus metrics once, in Rust.
//!
//! fiko-metrics turns a struct of metrics into registered, exposed metrics — and into the
//! static descriptors that dashboards and alerts are generated from, so none of them can
//! drift from the code.
//!
//! ```
//! use fiko_metrics::{Counter, Family, Format, Histogram, LabelSet, LabelValue, MetricSet, Registry};
//!
//! #[derive(MetricSet)]
//! #[metric_set(namespace = "fiko", subsystem = "ai")] // names: fiko_ai_*
//! pub struct AiMetrics {
//!     /// AI model requests, by model and outcome.
//!     requests: Family<AiLabels, Counter>,
//!     /// Tokens consumed, by model and kind (prompt/completion).
//!     #[metric(unit = "tokens")]
//!     tokens: Family<TokenLabels, Counter>,
//!     /// Model call latency.
//!     #[metric(buckets = [0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0])]
//!     duration_seconds: Family<ModelLabel, Histogram>,
//! }
//!
//! #[derive(LabelSet)]
//! struct AiLabels { model: Model, status: Outcome }
//!
//! #[derive(LabelSet)]
//! struct TokenLabels { model: Model, kind: TokenKind }
//!
//! #[derive(LabelSet)]
//! struct ModelLabel { model: Model }
//!
//! #[derive(LabelValue)]
//! #[label_value(rename_all = "kebab-case")]
//! enum Model { Gpt4o, ClaudeSonnet, #[label_value(rename = "local")] LocalEcho }
//!
//! #[derive(LabelValue)]
//! enum Outcome { Ok, Error, Timeout }
//!
//! #[derive(LabelValue)]
//! enum TokenKind { Prompt, Completion }
//!
//! let registry = Registry::new();
//! let ai = AiMetrics::register(&registry)?;
//!
//! ai.requests.get_or_create(&AiLabels { model: Model::Gpt4o, status: Outcome::Ok }).inc();
//! ai.tokens.get_or_create(&TokenLabels { model: Model::Gpt4o, kind: TokenKind::Prompt }).inc_by(812);
//! ai.duration_seconds.get_or_create(&ModelLabel { model: Model::Gpt4o }).observe(0.42);
//!
//! let text = registry.encode(Format::Prometheus);
//! assert!(text.contains(r#"fiko_ai_requests_total{model="gpt4o",status="ok"} 1"#));
//! assert!(text.contains(r#"fiko_ai_tokens_total{model="gpt4o",kind="prompt"} 812"#));
//! assert!(text.contains(r#"fiko_ai_duration_seconds_bucket{model="gpt4o",le="0.5"} 1"#));
//!
//! // The same declaration, as data: what the dashboards generator reads.
//! let tokens = AiMetrics::DESCRIPTOR.metric("tokens").unwrap();
//! assert_eq!((tokens.name, tokens.unit), ("fiko_ai_tokens", Some("tokens")));
//! assert_eq!(tokens.labels[1].values, Some(&["prompt", "completion"][..]));
//! # Ok::<(), fiko_metrics::RegistryError>(())
//! ```
//!
//! # Attributes
//!
//! [`attributes`] is the reference of every attribute the derives and function macros
//! read — `#[metric_set(...)]`, `#[metric(...)]`, `#[label_set(...)]`, `#[label(...)]`,
//! `#[label_value(...)]`, `#[timed(...)]`, `#[counted(...)]` — with an example per key.
//!
//! # What the derives check at compile time
//!
//! Metric and label names follow Prometheus' rules; `le`, `quantile` and `__`-prefixed
//! labels are refused; counters get `_total` at exposition (never in the name); a unit is
//! a base unit and appears once, as the name's suffix; buckets are finite and strictly
//! increasing, and only on histograms; two metrics of a set never share an exposed series
//! name; every field is a metric and every label a label value. Each mistake is a compile
//! error pointing at the offending token.
//!
//! # Global or registered
//!
//! A set lives in a [`Registry`] the application creates ([`MetricSet::register`] returns
//! an `Arc<Set>`), or is the process-wide one in [`default_registry`]:
//! [`MetricSet::global`] borrows it (`Set::global().field.inc()`, `#[timed(metrics =
//! Set::global())]`) and [`MetricSet::shared`] hands out the same set as an `Arc<Set>`.
//! So code that records into "this set, global or registered" holds an `Arc<Set>` either
//! way, and likewise an `Arc<Registry>` for the registry it serves (`default_registry()`
//! is one). The integrations' `global()` constructors are their `new(Set::shared())`.
//!
//! # Speed
//!
//! A [`Family`] whose labels are all closed enums records with an index computation and
//! one relaxed atomic add. Open labels take a read lock on a map and are bounded by a
//! per-metric series limit (see [`family`]). Code that records into the same series again
//! and again (a middleware, per route) can look it up once: [`Family::series_id`] gives a
//! [`SeriesId`], and [`Family::series`] finds the series again with no hashing or lock.
//!
//! # Series lifecycle
//!
//! A long-running process whose open label values come and go can let a family drop the
//! series nobody writes any more, `#[metric(expire_after = "15m")]` (or
//! [`Family::expire_after`]), and drop one at once with [`Family::remove`]. Expiry is
//! applied at scrape; an expired or removed series stops being exposed and frees its place
//! under the series limit. Written again, through any path (a lookup, a cached
//! [`SeriesId`], a reference taken before), it comes back: a counter as a new series from
//! zero, which Prometheus reads as a reset. No recorded count is lost, and nothing is ever
//! recorded into a series that will not be exposed; the exact rules and their cost are in
//! [`family`](family#series-lifecycle).
//!
//! ```
//! use fiko_metrics::{Counter, Family, Format, LabelSet, MetricSet, Registry};
//!
//! #[derive(LabelSet)]
//! struct Tenant { tenant: String }
//!
//! #[derive(MetricSet)]
//! struct TenantMetrics {
//!     /// Requests, by tenant; a tenant idle for 15 minutes leaves the scrape.
//!     #[metric(expire_after = "15m")]
//!     requests: Family<Tenant, Counter>,
//! }
//!
//! let registry = Registry::new();
//! let metrics = TenantMetrics::register(&registry)?;
//! let acme = Tenant { tenant: "acme".into() };
//! metrics.requests.get_or_create(&acme).inc_by(3);
//! assert!(registry.encode(Format::Prometheus).contains(r#"requests_total{tenant="acme"} 3"#));
//!
//! // The tenant is deleted: its series goes now, not in 15 minutes.
//! assert!(metrics.requests.remove(&acme));
//! assert!(!registry.encode(Format::Prometheus).contains("acme"));
//!
//! // Recorded into again, it comes back as a new series, from zero.
//! metrics.requests.get_or_create(&acme).inc();
//! assert!(registry.encode(Format::Prometheus).contains(r#"requests_total{tenant="acme"} 1"#));
//! # Ok::<(), fiko_metrics::RegistryError>(())
//! ```
//!
//! # Functions
//!
//! [`timed`] and [`counted`] instrument functions, sync or async; see [`calls`].

extern crate self as fiko_metrics;

mod atomic_f64;
pub mod attributes;
pub mod calls;
mod counter;
pub mod descriptor;
pub mod encoding;
pub mod exemplar;
pub mod family;
mod gauge;
pub mod histogram;
mod interop;
pub mod labels;
mod metric;
mod registry;
mod set;
pub mod testing;

pub use counter::{Counter, CounterNumber, CounterWithExemplar};
pub use descriptor::{
    Declared, LabelDescriptor, LabelRef, MetricDescriptor, MetricKind, OVERFLOW_METRIC,
    SetDescriptor, kind, unit,
};
pub use encoding::{Exposition, Format};
pub use family::{Family, SeriesId};
pub use gauge::{Gauge, GaugeGuard, GaugeNumber};
pub use histogram::Histogram;
pub use labels::{LabelSet, LabelValue};
pub use metric::{Metric, NoConfig};
pub use registry::{Collect, Refreshing, Registry, RegistryError, default_registry};
pub use set::{MetricField, MetricSet};

/// Instruments a function: calls by outcome, duration, optionally in-flight calls.
///
/// ```
/// #[fiko_metrics::timed]
/// async fn fetch_profile(id: u64) -> Result<String, std::io::Error> {
///     Ok(format!("user {id}"))
/// }
/// ```
///
/// Options: `metrics = EXPR` (a set with `#[metric(calls)]` and `#[metric(durations)]`
/// fields, by default [`calls::FunctionMetrics::global()`]), `in_flight` (also track calls
/// in flight), `errors = PATH` (a `fn(&E) -> K` classifying `Err` values, see
/// [`calls::ErrorKind`]), `name = "..."` (the `function` label; the fn name by default),
/// `crate = PATH`; each with an example in [`attributes`](attributes#timed).
pub use fiko_metrics_derive::timed;

/// Counts the calls of a function by outcome; the options of [`timed`] but no duration
/// (see [`attributes`](attributes#counted)).
///
/// ```
/// #[fiko_metrics::counted(name = "login")]
/// fn log_in(user: &str) -> Result<(), String> {
///     if user.is_empty() { Err("no user".into()) } else { Ok(()) }
/// }
/// ```
pub use fiko_metrics_derive::counted;

/// Declares a metric set; see [`MetricSet`], the crate example, and the
/// [`#[metric_set(...)]`](attributes#metric_set) and [`#[metric(...)]`](attributes#metric)
/// reference.
pub use fiko_metrics_derive::MetricSet;

/// Declares a struct of labels; see [`LabelSet`] and the
/// [`#[label_set(...)]`](attributes#label_set) and [`#[label(...)]`](attributes#label)
/// reference.
pub use fiko_metrics_derive::LabelSet;

/// Declares a closed enum of label values; see [`LabelValue`] and the
/// [`#[label_value(...)]`](attributes#label_value) reference.
pub use fiko_metrics_derive::LabelValue;

/// The repository README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;

/// The crate README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct CrateReadmeDoctests;

/// What the macros' output needs; not a public API. Versioned (as thiserror does): when its
/// contents change incompatibly the number goes up, so a derive paired with a runtime of
/// another version fails on the missing path instead of on a confusing type error.
#[doc(hidden)]
pub mod __private01 {
    pub use crate::calls::outcome::{PlainOutcome, Probe, ResultOutcome, classified};
    pub use crate::calls::{CallGuard, CallSite, ErrorKind};
    pub use crate::descriptor::Declaration;
    pub use crate::labels::derive_support::{dense_cardinality, dense_step, write_dense};
    pub use crate::labels::{LabelSink, OVERFLOW_VALUE};
    pub use crate::set::GlobalSet;
    pub use core;
    pub use std;
}
