//! Attribute keywords.

use std::fmt;

use syn::{Ident, Path};

/// One attribute keyword.
#[derive(Clone, Copy)]
pub(crate) struct Symbol(pub(crate) &'static str);

// #[metric_set(...)], #[metric(...)], #[label_set(...)], #[label(...)], #[label_value(...)]
pub(crate) const METRIC_SET: Symbol = Symbol("metric_set");
pub(crate) const METRIC: Symbol = Symbol("metric");
pub(crate) const LABEL_SET: Symbol = Symbol("label_set");
pub(crate) const LABEL: Symbol = Symbol("label");
pub(crate) const LABEL_VALUE: Symbol = Symbol("label_value");
// #[timed(...)], #[counted(...)]
pub(crate) const TIMED: Symbol = Symbol("timed");
pub(crate) const COUNTED: Symbol = Symbol("counted");

// keys
pub(crate) const NAMESPACE: Symbol = Symbol("namespace");
pub(crate) const SUBSYSTEM: Symbol = Symbol("subsystem");
pub(crate) const CRATE: Symbol = Symbol("crate");
pub(crate) const NAME: Symbol = Symbol("name");
pub(crate) const UNIT: Symbol = Symbol("unit");
pub(crate) const BUCKETS: Symbol = Symbol("buckets");
pub(crate) const MAX_SERIES: Symbol = Symbol("max_series");
pub(crate) const EXPIRE_AFTER: Symbol = Symbol("expire_after");
pub(crate) const CALLS: Symbol = Symbol("calls");
pub(crate) const DURATIONS: Symbol = Symbol("durations");
pub(crate) const IN_FLIGHT: Symbol = Symbol("in_flight");
pub(crate) const RENAME: Symbol = Symbol("rename");
pub(crate) const RENAME_ALL: Symbol = Symbol("rename_all");
pub(crate) const ERROR_KIND: Symbol = Symbol("error_kind");
pub(crate) const SPARSE: Symbol = Symbol("sparse");
pub(crate) const METRICS: Symbol = Symbol("metrics");
pub(crate) const ERRORS: Symbol = Symbol("errors");
pub(crate) const EXTERNAL: Symbol = Symbol("external");
pub(crate) const NATIVE: Symbol = Symbol("native");
pub(crate) const EXEMPLARS: Symbol = Symbol("exemplars");
pub(crate) const SCHEMA: Symbol = Symbol("schema");
pub(crate) const ZERO_THRESHOLD: Symbol = Symbol("zero_threshold");
pub(crate) const MAX_BUCKETS: Symbol = Symbol("max_buckets");
pub(crate) const MAX_ZERO_THRESHOLD: Symbol = Symbol("max_zero_threshold");
pub(crate) const MIN_RESET_SECONDS: Symbol = Symbol("min_reset_seconds");

// The keys each attribute accepts, in the order "expected one of ..." lists them. These are
// the one list of keys: the parsers' unknown-key errors name them, a unit test checks each is
// accepted, and another that `fiko_metrics::attributes` documents each with an example.

/// `#[metric_set(...)]` on a `MetricSet` struct.
pub(crate) const METRIC_SET_KEYS: &[Symbol] = &[NAMESPACE, SUBSYSTEM, EXTERNAL, CRATE];
/// `#[metric(...)]` on a metric set's field.
pub(crate) const METRIC_KEYS: &[Symbol] = &[
    NAME,
    UNIT,
    BUCKETS,
    NATIVE,
    EXEMPLARS,
    MAX_SERIES,
    EXPIRE_AFTER,
    CALLS,
    DURATIONS,
    IN_FLIGHT,
];
/// `native(...)` inside `#[metric(...)]`.
pub(crate) const NATIVE_KEYS: &[Symbol] = &[
    SCHEMA,
    ZERO_THRESHOLD,
    MAX_BUCKETS,
    MAX_ZERO_THRESHOLD,
    MIN_RESET_SECONDS,
];
/// `#[label_set(...)]` on a `LabelSet` struct.
pub(crate) const LABEL_SET_KEYS: &[Symbol] = &[SPARSE, CRATE];
/// `#[label(...)]` on a label set's field.
pub(crate) const LABEL_KEYS: &[Symbol] = &[RENAME];
/// `#[label_value(...)]` on a `LabelValue` enum.
pub(crate) const LABEL_VALUE_KEYS: &[Symbol] = &[RENAME_ALL, ERROR_KIND, CRATE];
/// `#[label_value(...)]` on a variant of that enum.
pub(crate) const LABEL_VALUE_VARIANT_KEYS: &[Symbol] = &[RENAME];
/// `#[timed(...)]` and `#[counted(...)]`.
pub(crate) const FUNCTION_KEYS: &[Symbol] = &[METRICS, IN_FLIGHT, ERRORS, NAME, CRATE];

impl PartialEq<Symbol> for Ident {
    fn eq(&self, word: &Symbol) -> bool {
        self == word.0
    }
}

impl PartialEq<Symbol> for &Path {
    fn eq(&self, word: &Symbol) -> bool {
        self.is_ident(word.0)
    }
}

impl PartialEq<Symbol> for Path {
    fn eq(&self, word: &Symbol) -> bool {
        self.is_ident(word.0)
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}
