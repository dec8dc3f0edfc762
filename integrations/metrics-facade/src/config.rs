//! The recorder's settings: histogram buckets by name, limits.

use fiko_metrics::histogram::Buckets;

/// Which facade histograms a bucket rule applies to, matched against the exposed name
/// (after `.` and other invalid characters became `_`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NamePattern {
    /// Exactly this name.
    Exact(String),
    /// Names starting with this.
    Prefix(String),
    /// Names ending with this (`_seconds`, `_bytes`).
    Suffix(String),
}

impl NamePattern {
    /// Whether `name` matches.
    pub fn matches(&self, name: &str) -> bool {
        match self {
            Self::Exact(exact) => name == exact,
            Self::Prefix(prefix) => name.starts_with(prefix.as_str()),
            Self::Suffix(suffix) => name.ends_with(suffix.as_str()),
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub(crate) rules: Vec<(NamePattern, Buckets)>,
    pub(crate) default_buckets: Buckets,
    pub(crate) max_series: usize,
    pub(crate) max_metrics: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            rules: Vec::new(),
            default_buckets: Buckets::default(),
            max_series: fiko_metrics::family::DEFAULT_MAX_SERIES,
            max_metrics: 1000,
        }
    }
}

impl Config {
    /// The buckets of the histogram exposed as `name`: an exact rule first, then the
    /// first prefix or suffix rule in the order they were given, then the defaults.
    pub(crate) fn buckets_for(&self, name: &str) -> Buckets {
        let exact = self
            .rules
            .iter()
            .find(|(pattern, _)| matches!(pattern, NamePattern::Exact(_)) && pattern.matches(name));
        exact
            .or_else(|| self.rules.iter().find(|(pattern, _)| pattern.matches(name)))
            .map_or_else(
                || self.default_buckets.clone(),
                |(_, buckets)| buckets.clone(),
            )
    }
}
