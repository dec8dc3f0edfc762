//! Native histograms: Prometheus' sparse exponential buckets.
//!
//! A bucket of schema `s` with key `k` holds the observations in `(b^(k-1), b^k]`, where
//! `b = 2^(2^-s)`: each power of two is cut into `2^s` buckets, so the relative width of
//! a bucket (and the worst relative error of a quantile read from it) is fixed by the
//! schema alone, whatever the values. Only buckets that received an observation exist.
//! Past `max_buckets` buckets the histogram resets, widens its zero bucket or halves its
//! resolution (the schema drops by one and neighbouring buckets merge), as Prometheus' Go
//! client does ([`NativeConfig`]), so memory and exposition size stay bounded whatever is
//! observed.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, PoisonError, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

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

/// The shape of a native histogram: its starting schema, the breadth of its zero bucket,
/// the bound on its bucket count and how that bound is kept.
///
/// When an observation opens a bucket past `max_buckets`, the histogram does what
/// Prometheus' Go client does (`NativeHistogramMaxBucketNumber`,
/// `NativeHistogramMinResetDuration`, `NativeHistogramMaxZeroThreshold`): if it was last
/// reset at least [`min_reset_duration`](Self::min_reset_duration) ago it starts over
/// (every count, the sum and the classic buckets too: scrapers see a counter reset) with
/// just that observation; otherwise it widens the zero bucket to swallow the bucket
/// closest to zero, if that keeps the zero threshold within
/// [`max_zero_threshold`](Self::max_zero_threshold); otherwise it halves its resolution.
/// Once the resolution or zero bucket was given up, a reset follows as soon as
/// `min_reset_duration` has passed since the last one, restoring the configured shape.
/// With the defaults (no reset, no widening) only halving happens.
///
/// ```
/// use std::time::Duration;
/// use fiko_metrics::histogram::NativeConfig;
///
/// let fine = NativeConfig::new(5, 1e-9, 300)?
///     .with_max_zero_threshold(1e-3)?
///     .with_min_reset_duration(Duration::from_secs(3600));
/// assert_eq!((fine.schema(), fine.zero_threshold(), fine.max_buckets()), (5, 1e-9, 300));
/// assert_eq!(fine.max_zero_threshold(), 1e-3);
/// assert_eq!(fine.min_reset_duration(), Duration::from_secs(3600));
/// assert!(NativeConfig::new(9, 0.0, 160).is_err());
/// assert!(NativeConfig::DEFAULT.with_max_zero_threshold(f64::NAN).is_err());
/// # Ok::<(), fiko_metrics::histogram::NativeConfigError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NativeConfig {
    schema: i8,
    zero_threshold: f64,
    max_buckets: u32,
    max_zero_threshold: f64,
    min_reset_duration: Duration,
}

impl NativeConfig {
    /// Schema 3, zero threshold 2^-128, at most 160 buckets, kept by halving the
    /// resolution only (no widening of the zero bucket, no reset).
    pub const DEFAULT: Self = Self {
        schema: DEFAULT_SCHEMA,
        zero_threshold: DEFAULT_ZERO_THRESHOLD,
        max_buckets: DEFAULT_MAX_BUCKETS,
        max_zero_threshold: 0.0,
        min_reset_duration: Duration::ZERO,
    };

    /// Checks and builds a configuration: `schema` from -4 to 8, `zero_threshold` finite
    /// and not negative, `max_buckets` at least 1. The bucket bound is kept by halving
    /// the resolution only; see [`with_max_zero_threshold`](Self::with_max_zero_threshold)
    /// and [`with_min_reset_duration`](Self::with_min_reset_duration) for the other ways.
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
            ..Self::DEFAULT
        })
    }

    /// Lets the zero bucket widen up to `max` (finite, ≥ 0) to stay within the bucket
    /// bound before the resolution is halved. At or below the zero threshold (0, the
    /// default), the zero bucket never widens.
    pub fn with_max_zero_threshold(self, max: f64) -> Result<Self, NativeConfigError> {
        if !(max.is_finite() && max >= 0.0) {
            return Err(NativeConfigError::MaxZeroThreshold(max));
        }
        Ok(Self {
            max_zero_threshold: max,
            ..self
        })
    }

    /// Lets the histogram reset (start over with the configured shape) to stay within the
    /// bucket bound, at most once per `duration`. Zero, the default, never resets.
    pub const fn with_min_reset_duration(self, duration: Duration) -> Self {
        Self {
            min_reset_duration: duration,
            ..self
        }
    }

    /// A configuration already checked at compile time by `#[derive(MetricSet)]`.
    #[doc(hidden)]
    pub const fn from_checked(
        schema: i8,
        zero_threshold: f64,
        max_buckets: u32,
        max_zero_threshold: f64,
        min_reset_seconds: u64,
    ) -> Self {
        Self {
            schema,
            zero_threshold,
            max_buckets,
            max_zero_threshold,
            min_reset_duration: Duration::from_secs(min_reset_seconds),
        }
    }

    /// The starting schema (the histogram may coarsen it to stay within `max_buckets`).
    pub const fn schema(&self) -> i8 {
        self.schema
    }

    /// Observations whose magnitude is at most this go into the zero bucket (the
    /// histogram may widen it up to [`max_zero_threshold`](Self::max_zero_threshold)).
    pub const fn zero_threshold(&self) -> f64 {
        self.zero_threshold
    }

    /// The most buckets (positive and negative together) a series keeps, as far as
    /// halving down to schema -4 allows.
    pub const fn max_buckets(&self) -> u32 {
        self.max_buckets
    }

    /// How far the zero bucket may widen to stay within `max_buckets`.
    pub const fn max_zero_threshold(&self) -> f64 {
        self.max_zero_threshold
    }

    /// The least time between two resets made to stay within `max_buckets` (zero: never).
    pub const fn min_reset_duration(&self) -> Duration {
        self.min_reset_duration
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
    /// The maximum zero threshold is negative, NaN or infinite.
    MaxZeroThreshold(f64),
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
            Self::MaxZeroThreshold(threshold) => write!(
                f,
                "native histogram maximum zero threshold {threshold} is not a finite number ≥ 0"
            ),
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
    // Read at creation and, when a reset is configured, at a bucket-limit overflow and at
    // every observation while a reset is pending (after the resolution or zero bucket
    // was given up): never on the fast path otherwise.
    clock: fn() -> Instant,
    zero_count: AtomicU64,
    // Recording takes the shared lock: an existing bucket (or the zero bucket) is a map
    // lookup and atomic adds, so observers never wait for each other; the exclusive lock
    // is taken only to add a bucket (a value of a new magnitude) and keep the bucket
    // bound, rare once a series has seen its range. The histogram's classic counts and
    // sum are recorded under the same lock, so a reset (exclusive) never splits an
    // observation, and a scrape (shared) sees counts that agree with each other.
    buckets: RwLock<Sparse>,
}

type Map = HashMap<i32, AtomicU64, foldhash::fast::RandomState>;

pub(crate) struct Sparse {
    schema: i8,
    zero_threshold: f64,
    positive: Map,
    negative: Map,
    last_reset: Instant,
    // Set when the resolution or zero bucket was given up while a reset was not yet
    // allowed: the time of the reset that restores them (the Go client's scheduled reset).
    reset_due: Option<Instant>,
}

impl Native {
    pub(crate) fn new(config: NativeConfig, clock: fn() -> Instant) -> Self {
        Self {
            config,
            clock,
            zero_count: AtomicU64::new(0),
            buckets: RwLock::new(Sparse {
                schema: config.schema,
                zero_threshold: config.zero_threshold,
                positive: Map::default(),
                negative: Map::default(),
                last_reset: clock(),
                reset_due: None,
            }),
        }
    }

    pub(crate) fn config(&self) -> &NativeConfig {
        &self.config
    }

    fn due(&self, sparse: &Sparse) -> bool {
        sparse.reset_due.is_some_and(|due| (self.clock)() >= due)
    }

    /// Counts `value` in its bucket, calling `record` (the classic count and sum) under
    /// the same lock; `clear` empties the classic counts and sum at a reset. NaN goes into
    /// no bucket (the histogram's count and sum still show it), as in Prometheus' Go
    /// client.
    #[inline]
    pub(crate) fn observe(&self, value: f64, record: impl Fn(), clear: impl Fn()) {
        {
            let sparse = self.buckets.read().unwrap_or_else(PoisonError::into_inner);
            if sparse.reset_due.is_none() || !self.due(&sparse) {
                let magnitude = value.abs();
                if value.is_nan() {
                    record();
                    return;
                }
                if magnitude <= sparse.zero_threshold {
                    record();
                    // Release: a scrape that sees this count sees the classic count before it.
                    self.zero_count.fetch_add(1, Ordering::Release);
                    return;
                }
                let key = key(magnitude, sparse.schema);
                let side = if value > 0.0 {
                    &sparse.positive
                } else {
                    &sparse.negative
                };
                if let Some(count) = side.get(&key) {
                    record();
                    count.fetch_add(1, Ordering::Release);
                    return;
                }
            }
        }
        self.insert(value, record, clear);
    }

    /// The slow path: a due reset, a new bucket, and keeping the bucket bound.
    #[cold]
    #[inline(never)]
    fn insert(&self, value: f64, record: impl Fn(), clear: impl Fn()) {
        let mut sparse = self.buckets.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(due) = sparse.reset_due.filter(|_| self.due(&sparse)) {
            // The reset the Go client schedules with a timer happens here, at the first
            // observation or scrape after it was due, as if made at `due`.
            self.reset(&mut sparse, &clear, due);
        }
        record();
        // The bucket may exist now, the zero threshold or schema may have changed since
        // the shared lock was released: decide again.
        if !self.count(&mut sparse, value) {
            return;
        }
        let limit = usize::try_from(self.config.max_buckets).unwrap_or(usize::MAX);
        if sparse.positive.len() + sparse.negative.len() <= limit {
            return;
        }
        let reset_allowed = !self.config.min_reset_duration.is_zero();
        if reset_allowed && sparse.reset_due.is_none() {
            let now = (self.clock)();
            if now.saturating_duration_since(sparse.last_reset) >= self.config.min_reset_duration {
                // Start over, keeping just this observation.
                self.reset(&mut sparse, &clear, now);
                record();
                self.count(&mut sparse, value);
                return;
            }
            sparse.reset_due = Some(sparse.last_reset + self.config.min_reset_duration);
        }
        if sparse.widen_zero_bucket(self.config.max_zero_threshold, &self.zero_count) {
            return;
        }
        while sparse.positive.len() + sparse.negative.len() > limit && sparse.schema > MIN_SCHEMA {
            sparse.coarsen();
        }
    }

    /// Counts a value in the zero bucket or a sparse one (creating it); true when a
    /// bucket was created.
    fn count(&self, sparse: &mut Sparse, value: f64) -> bool {
        let magnitude = value.abs();
        if value.is_nan() {
            return false;
        }
        if magnitude <= sparse.zero_threshold {
            self.zero_count.fetch_add(1, Ordering::Release);
            return false;
        }
        let key = key(magnitude, sparse.schema);
        let side = if value > 0.0 {
            &mut sparse.positive
        } else {
            &mut sparse.negative
        };
        let mut created = false;
        side.entry(key)
            .or_insert_with(|| {
                created = true;
                AtomicU64::new(0)
            })
            .fetch_add(1, Ordering::Release);
        created
    }

    /// Empties everything and restores the configured shape, as of `at`.
    fn reset(&self, sparse: &mut Sparse, clear: &impl Fn(), at: Instant) {
        clear();
        self.zero_count.store(0, Ordering::Release);
        sparse.positive.clear();
        sparse.negative.clear();
        sparse.schema = self.config.schema;
        sparse.zero_threshold = self.config.zero_threshold;
        sparse.last_reset = at;
        sparse.reset_due = None;
    }

    /// The shared lock, for a scrape: classic and native counts read under it agree. A
    /// reset that fell due is made first (`clear` empties the classic counts and sum).
    pub(crate) fn read(&self, clear: impl Fn()) -> RwLockReadGuard<'_, Sparse> {
        let sparse = self.buckets.read().unwrap_or_else(PoisonError::into_inner);
        if !self.due(&sparse) {
            return sparse;
        }
        drop(sparse);
        {
            let mut sparse = self.buckets.write().unwrap_or_else(PoisonError::into_inner);
            if let Some(due) = sparse.reset_due.filter(|_| self.due(&sparse)) {
                self.reset(&mut sparse, &clear, due);
            }
        }
        self.buckets.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// The native buckets, read under `sparse` (from [`read`](Self::read)).
    pub(crate) fn snapshot(&self, sparse: &Sparse) -> NativeSnapshot {
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
            zero_threshold: sparse.zero_threshold,
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

    /// Widens the zero bucket to the upper bound of the bucket closest to zero (on either
    /// side, both if they share the key) and moves that bucket's count into it, unless
    /// the new threshold would pass `max`. True when it widened.
    fn widen_zero_bucket(&mut self, max: f64, zero_count: &AtomicU64) -> bool {
        if self.zero_threshold >= max {
            return false;
        }
        let Some(smallest) = self
            .positive
            .keys()
            .chain(self.negative.keys())
            .min()
            .copied()
        else {
            return false;
        };
        let threshold = upper_bound(smallest, self.schema);
        if threshold > max {
            return false;
        }
        for side in [&mut self.positive, &mut self.negative] {
            if let Some(count) = side.remove(&smallest) {
                zero_count.fetch_add(count.into_inner(), Ordering::Release);
            }
        }
        self.zero_threshold = threshold;
        true
    }
}

/// The upper bound of bucket `key` at `schema`, from the same bounds [`key`] sorts values
/// by, so a value equal to it lands in the bucket (or, once it is the zero threshold, in
/// the zero bucket). The last finite bucket's bound is `f64::MAX`, not `+Inf`.
fn upper_bound(key: i32, schema: i8) -> f64 {
    let bound = if schema > 0 {
        let bounds = BOUNDS
            .get(usize::from(schema.unsigned_abs()) - 1)
            .map_or(&[] as &[f64], |bounds| &**bounds);
        let per_power = bounds.len() as i32;
        let frac = bounds
            .get(key.rem_euclid(per_power.max(1)) as usize)
            .copied()
            .unwrap_or(0.5);
        ldexp(frac, key.div_euclid(per_power.max(1)).saturating_add(1))
    } else {
        ldexp(1.0, key.saturating_mul(1 << schema.unsigned_abs()))
    };
    if bound.is_infinite() && key <= self::key(f64::MAX, schema) {
        f64::MAX
    } else {
        bound
    }
}

/// `frac * 2^exp`, in two steps so that neither factor overflows or underflows early.
fn ldexp(frac: f64, exp: i32) -> f64 {
    let half = exp / 2;
    frac * (2f64).powi(half) * (2f64).powi(exp - half)
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
