//! Native histograms: Prometheus' sparse exponential buckets.
//!
//! A bucket of schema `s` with key `k` holds the observations in `(b^(k-1), b^k]`, where
//! `b = 2^(2^-s)`: each power of two is cut into `2^s` buckets, so the relative width of
//! a bucket (and the worst relative error of a quantile read from it) is fixed by the
//! schema alone, whatever the values. Only buckets that received an observation exist.
//! Past `max_buckets` buckets the histogram halves its resolution (the schema drops by
//! one and neighbouring buckets merge), as Prometheus' Go client does, so memory and
//! exposition size stay bounded whatever is observed.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, PoisonError, RwLock};

/// The finest schema Prometheus accepts: each power of two cut into 256 buckets.
pub const MAX_SCHEMA: i8 = 8;
/// The coarsest schema: a bucket spans a factor of 2^16.
pub const MIN_SCHEMA: i8 = -4;
/// The default schema, 3: a bucket spans a factor of 2^(1/8), about 9%.
pub const DEFAULT_SCHEMA: i8 = 3;
/// The default zero threshold, 2^-128 (that of Prometheus' Go client): only values that
/// are zero to any practical precision go into the zero bucket.
pub const DEFAULT_ZERO_THRESHOLD: f64 = 2.938_735_877_055_719e-39;
/// The default bound on the number of buckets, that of Prometheus' Go client's examples.
pub const DEFAULT_MAX_BUCKETS: u32 = 160;

/// The shape of a native histogram: its starting schema, the breadth of its zero bucket
/// and the bound on its bucket count.
///
/// ```
/// use fiko_metrics::histogram::NativeConfig;
///
/// let fine = NativeConfig::new(5, 1e-9, 300)?;
/// assert_eq!((fine.schema(), fine.zero_threshold(), fine.max_buckets()), (5, 1e-9, 300));
/// assert!(NativeConfig::new(9, 0.0, 160).is_err());
/// # Ok::<(), fiko_metrics::histogram::NativeConfigError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NativeConfig {
    schema: i8,
    zero_threshold: f64,
    max_buckets: u32,
}

impl NativeConfig {
    /// Schema 3, zero threshold 2^-128, at most 160 buckets.
    pub const DEFAULT: Self = Self {
        schema: DEFAULT_SCHEMA,
        zero_threshold: DEFAULT_ZERO_THRESHOLD,
        max_buckets: DEFAULT_MAX_BUCKETS,
    };

    /// Checks and builds a configuration: `schema` from -4 to 8, `zero_threshold` finite
    /// and not negative, `max_buckets` at least 1.
    pub fn new(
        schema: i32,
        zero_threshold: f64,
        max_buckets: u32,
    ) -> Result<Self, NativeConfigError> {
        let schema = i8::try_from(schema)
            .ok()
            .filter(|schema| (MIN_SCHEMA..=MAX_SCHEMA).contains(schema))
            .ok_or(NativeConfigError::Schema(schema))?;
        if !(zero_threshold.is_finite() && zero_threshold >= 0.0) {
            return Err(NativeConfigError::ZeroThreshold(zero_threshold));
        }
        if max_buckets == 0 {
            return Err(NativeConfigError::MaxBuckets);
        }
        Ok(Self {
            schema,
            zero_threshold,
            max_buckets,
        })
    }

    /// A configuration already checked at compile time by `#[derive(MetricSet)]`.
    #[doc(hidden)]
    pub const fn from_checked(schema: i8, zero_threshold: f64, max_buckets: u32) -> Self {
        Self {
            schema,
            zero_threshold,
            max_buckets,
        }
    }

    /// The starting schema (the histogram may coarsen it to stay within `max_buckets`).
    pub const fn schema(&self) -> i8 {
        self.schema
    }

    /// Observations whose magnitude is at most this go into the zero bucket.
    pub const fn zero_threshold(&self) -> f64 {
        self.zero_threshold
    }

    /// The most buckets (positive and negative together) a series keeps.
    pub const fn max_buckets(&self) -> u32 {
        self.max_buckets
    }

    /// The worst relative error of a quantile estimated from a bucket at `schema`: half the
    /// bucket's relative width, `(b - 1) / (b + 1)` with `b = 2^(2^-schema)`.
    pub fn relative_error(schema: i8) -> f64 {
        let base = (2f64).powf((2f64).powi(-i32::from(schema)));
        (base - 1.0) / (base + 1.0)
    }
}

impl Default for NativeConfig {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Why a native histogram configuration was rejected.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum NativeConfigError {
    /// The schema is outside -4..=8.
    Schema(i32),
    /// The zero threshold is negative, NaN or infinite.
    ZeroThreshold(f64),
    /// `max_buckets` is 0.
    MaxBuckets,
}

impl fmt::Display for NativeConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Schema(schema) => write!(
                f,
                "native histogram schema {schema} is outside {MIN_SCHEMA}..={MAX_SCHEMA}"
            ),
            Self::ZeroThreshold(threshold) => write!(
                f,
                "native histogram zero threshold {threshold} is not a finite number ≥ 0"
            ),
            Self::MaxBuckets => f.write_str("a native histogram needs `max_buckets` ≥ 1"),
        }
    }
}

impl std::error::Error for NativeConfigError {}

/// A consistent-enough copy of a native histogram's buckets, for encoders: keys sorted,
/// counts per bucket (not cumulative), only buckets that hold observations.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NativeSnapshot {
    /// The current schema (at most the configured one).
    pub schema: i8,
    /// The zero bucket's breadth.
    pub zero_threshold: f64,
    /// Observations in the zero bucket.
    pub zero_count: u64,
    /// Buckets of positive observations: `(key, count)`, keys increasing.
    pub positive: Vec<(i32, u64)>,
    /// Buckets of negative observations, by the key of their magnitude, keys increasing.
    pub negative: Vec<(i32, u64)>,
}

impl NativeSnapshot {
    /// The upper bound of bucket `key` at this snapshot's schema (the lower bound is that
    /// of `key - 1`).
    pub fn upper_bound(&self, key: i32) -> f64 {
        (2f64).powf(f64::from(key) * (2f64).powi(-i32::from(self.schema)))
    }
}

/// The sparse buckets of one series.
pub(crate) struct Native {
    config: NativeConfig,
    zero_count: AtomicU64,
    // Recording takes the shared lock: an existing bucket is a map lookup and an atomic
    // add, so observers never wait for each other; the exclusive lock is taken only to
    // add a bucket (a value of a new magnitude) or to coarsen the schema, both rare once a
    // series has seen its range. A scrape takes the shared lock too.
    buckets: RwLock<Sparse>,
}

type Map = HashMap<i32, AtomicU64, foldhash::fast::RandomState>;

struct Sparse {
    schema: i8,
    positive: Map,
    negative: Map,
}

impl Native {
    pub(crate) fn new(config: NativeConfig) -> Self {
        Self {
            config,
            zero_count: AtomicU64::new(0),
            buckets: RwLock::new(Sparse {
                schema: config.schema,
                positive: Map::default(),
                negative: Map::default(),
            }),
        }
    }

    pub(crate) fn config(&self) -> &NativeConfig {
        &self.config
    }

    /// Counts `value` in its bucket. NaN goes into no bucket (the histogram's count and sum
    /// still show it), as in Prometheus' Go client.
    #[inline]
    pub(crate) fn observe(&self, value: f64) {
        if value.is_nan() {
            return;
        }
        let magnitude = value.abs();
        if magnitude <= self.config.zero_threshold {
            // Release: a scrape that sees this count sees the classic count before it.
            self.zero_count.fetch_add(1, Ordering::Release);
            return;
        }
        let positive = value > 0.0;
        {
            let sparse = self.buckets.read().unwrap_or_else(PoisonError::into_inner);
            let key = key(magnitude, sparse.schema);
            let side = if positive {
                &sparse.positive
            } else {
                &sparse.negative
            };
            if let Some(count) = side.get(&key) {
                count.fetch_add(1, Ordering::Release);
                return;
            }
        }
        self.insert(magnitude, positive);
    }

    #[cold]
    fn insert(&self, magnitude: f64, positive: bool) {
        let mut sparse = self.buckets.write().unwrap_or_else(PoisonError::into_inner);
        // The schema may have dropped since the shared lock was released.
        let key = key(magnitude, sparse.schema);
        let side = if positive {
            &mut sparse.positive
        } else {
            &mut sparse.negative
        };
        side.entry(key).or_default().fetch_add(1, Ordering::Release);
        let limit = usize::try_from(self.config.max_buckets).unwrap_or(usize::MAX);
        while sparse.positive.len() + sparse.negative.len() > limit && sparse.schema > MIN_SCHEMA {
            sparse.coarsen();
        }
    }

    pub(crate) fn snapshot(&self) -> NativeSnapshot {
        let sparse = self.buckets.read().unwrap_or_else(PoisonError::into_inner);
        let sorted = |map: &Map| {
            let mut buckets: Vec<(i32, u64)> = map
                .iter()
                .map(|(key, count)| (*key, count.load(Ordering::Acquire)))
                .collect();
            buckets.sort_unstable_by_key(|(key, _)| *key);
            buckets
        };
        NativeSnapshot {
            schema: sparse.schema,
            zero_threshold: self.config.zero_threshold,
            zero_count: self.zero_count.load(Ordering::Acquire),
            positive: sorted(&sparse.positive),
            negative: sorted(&sparse.negative),
        }
    }
}

impl Sparse {
    /// Halves the resolution: schema `s - 1`, bucket `k` merging into `ceil(k / 2)`.
    fn coarsen(&mut self) {
        self.schema -= 1;
        for side in [&mut self.positive, &mut self.negative] {
            let old = std::mem::take(side);
            for (key, count) in old {
                // `(k + 1) >> 1` is `ceil(k / 2)` for negative keys too (arithmetic shift).
                side.entry(key.saturating_add(1) >> 1)
                    .or_default()
                    .fetch_add(count.into_inner(), Ordering::Relaxed);
            }
        }
    }
}

/// `(frac, exp)` with `value = frac * 2^exp` and `frac` in `[0.5, 1)`, for a finite
/// positive `value` (C's `frexp`).
fn frexp(value: f64) -> (f64, i32) {
    let bits = value.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    if biased == 0 {
        // Subnormal: scale into the normal range first.
        let (frac, exp) = frexp(value * f64::from_bits(0x43f0_0000_0000_0000)); // 2^64
        return (frac, exp - 64);
    }
    let frac = f64::from_bits((bits & !(0x7ff << 52)) | (1022 << 52));
    (frac, biased - 1022)
}

/// The bucket bounds within one power of two, `2^(i / 2^s) / 2` for `i` in `0..2^s`, per
/// positive schema `s` (index `s - 1`).
static BOUNDS: LazyLock<[Box<[f64]>; MAX_SCHEMA as usize]> = LazyLock::new(|| {
    std::array::from_fn(|index| {
        let per_power = 1usize << (index + 1);
        (0..per_power)
            .map(|i| (2f64).powf(i as f64 / per_power as f64) / 2.0)
            .collect()
    })
});

/// The key of the bucket holding `magnitude` (> 0) at `schema`; +Inf gets the key past
/// the largest finite value's.
pub(crate) fn key(magnitude: f64, schema: i8) -> i32 {
    if magnitude.is_infinite() {
        return key(f64::MAX, schema).saturating_add(1);
    }
    let (frac, exp) = frexp(magnitude);
    if schema > 0 {
        let bounds = BOUNDS
            .get(usize::from(schema.unsigned_abs()) - 1)
            .map_or(&[] as &[f64], |bounds| &**bounds);
        let within = bounds.partition_point(|bound| *bound < frac) as i32;
        within + (exp - 1) * bounds.len() as i32
    } else {
        // Bounds are exact powers of two: a value of exactly 2^(exp-1) closes bucket exp-1.
        let exp = if frac == 0.5 { exp - 1 } else { exp };
        let shift = u32::from(schema.unsigned_abs());
        let offset = (1i32 << shift) - 1;
        (exp + offset) >> shift
    }
}
