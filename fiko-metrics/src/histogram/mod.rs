//! Histograms: classic buckets with declared bounds, native (sparse exponential)
//! buckets, or both.

mod native;

use native::Native;
pub use native::{
    DEFAULT_MAX_BUCKETS, DEFAULT_SCHEMA, DEFAULT_ZERO_THRESHOLD, MAX_SCHEMA, MIN_SCHEMA,
    NativeConfig, NativeConfigError, NativeSnapshot,
};

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use crate::descriptor::Declaration;
use crate::descriptor::MetricKind;
use crate::encoding::{Labels, Visitor, write_float};
use crate::exemplar::{self, Exemplar, ExemplarLabels, Slot};
use crate::metric::Metric;

/// Prometheus' default buckets, for latencies in seconds.
pub const DEFAULT_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The upper bounds of a histogram's buckets, shared by every series of a family.
///
/// Bounds are finite and strictly increasing; the `+Inf` bucket is implicit.
#[derive(Clone)]
pub struct Buckets(Arc<Bounds>);

struct Bounds {
    bounds: Box<[f64]>,
    // Each bound as its `le` label value, rendered once: a scrape writes it on every
    // bucket line of every series.
    les: Box<[Box<str>]>,
}

impl Buckets {
    /// Checks and wraps a list of upper bounds.
    ///
    /// ```
    /// use fiko_metrics::histogram::{Buckets, BucketsError};
    ///
    /// assert!(Buckets::new(vec![0.1, 1.0]).is_ok());
    /// assert_eq!(Buckets::new(vec![1.0, 0.1]), Err(BucketsError::NotIncreasing { index: 1 }));
    /// ```
    pub fn new(bounds: impl Into<Arc<[f64]>>) -> Result<Self, BucketsError> {
        let bounds = bounds.into();
        if bounds.is_empty() {
            return Err(BucketsError::Empty);
        }
        let mut previous = f64::NEG_INFINITY;
        for (index, &bound) in bounds.iter().enumerate() {
            if !bound.is_finite() {
                return Err(BucketsError::NotFinite { index });
            }
            if previous >= bound {
                return Err(BucketsError::NotIncreasing { index });
            }
            previous = bound;
        }
        Ok(Self::from_bounds(&bounds))
    }

    /// No bounds: only the implicit `+Inf` bucket, for native-only histograms.
    fn none() -> Self {
        Self::from_bounds(&[])
    }

    /// Bounds already checked at compile time by `#[derive(MetricSet)]`.
    #[doc(hidden)]
    pub fn from_checked(bounds: &'static [f64]) -> Self {
        Self::from_bounds(bounds)
    }

    fn from_bounds(bounds: &[f64]) -> Self {
        let les = bounds
            .iter()
            .map(|&bound| {
                let mut le = String::new();
                write_float(&mut le, bound);
                le.into_boxed_str()
            })
            .collect();
        Self(Arc::new(Bounds {
            bounds: bounds.into(),
            les,
        }))
    }

    /// The upper bounds, without `+Inf`.
    pub fn bounds(&self) -> &[f64] {
        &self.0.bounds
    }

    /// The `le` label value of the bucket at `index`: its bound as the text formats write
    /// it, `+Inf` past the last bound.
    pub(crate) fn le(&self, index: usize) -> &str {
        self.0.les.get(index).map_or("+Inf", |le| le)
    }
}

impl fmt::Debug for Buckets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Buckets").field(&self.bounds()).finish()
    }
}

impl PartialEq for Buckets {
    fn eq(&self, other: &Self) -> bool {
        self.bounds() == other.bounds()
    }
}

impl Default for Buckets {
    fn default() -> Self {
        Self::from_checked(DEFAULT_BUCKETS)
    }
}

/// Why a list of bucket bounds was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BucketsError {
    /// No bounds at all.
    Empty,
    /// The bound at `index` is NaN or infinite (`+Inf` is always added by itself).
    NotFinite {
        /// Position of the bad bound.
        index: usize,
    },
    /// The bound at `index` is not greater than the one before it.
    NotIncreasing {
        /// Position of the bad bound.
        index: usize,
    },
}

impl fmt::Display for BucketsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("a histogram needs at least one bucket bound"),
            Self::NotFinite { index } => write!(f, "bucket bound #{index} is not finite"),
            Self::NotIncreasing { index } => {
                write!(
                    f,
                    "bucket bound #{index} is not greater than the one before it"
                )
            }
        }
    }
}

impl std::error::Error for BucketsError {}

/// What the series of a histogram family are made of: classic buckets, native buckets,
/// or both (to migrate, and for stores that do not read native histograms).
///
/// ```
/// use fiko_metrics::histogram::{Buckets, HistogramConfig, NativeConfig};
///
/// let classic: HistogramConfig = Buckets::new(vec![0.1, 1.0])?.into();
/// let native = HistogramConfig::native(NativeConfig::DEFAULT);
/// let both = HistogramConfig::native_and_classic(NativeConfig::DEFAULT, Buckets::default());
/// assert!(classic.native_config().is_none() && native.classic_buckets().is_none());
/// assert!(both.native_config().is_some() && both.classic_buckets().is_some());
/// # Ok::<(), fiko_metrics::histogram::BucketsError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct HistogramConfig {
    classic: Option<Buckets>,
    native: Option<NativeConfig>,
}

impl HistogramConfig {
    /// Classic buckets only: what every scraper reads.
    pub fn classic(buckets: Buckets) -> Self {
        Self {
            classic: Some(buckets),
            native: None,
        }
    }

    /// Native buckets only: the text formats show only the `+Inf` bucket, `_sum` and
    /// `_count`; the buckets are exposed through protobuf.
    pub fn native(native: NativeConfig) -> Self {
        Self {
            classic: None,
            native: Some(native),
        }
    }

    /// Both: native buckets through protobuf, classic ones in every format.
    pub fn native_and_classic(native: NativeConfig, buckets: Buckets) -> Self {
        Self {
            classic: Some(buckets),
            native: Some(native),
        }
    }

    /// The classic buckets, if any.
    pub fn classic_buckets(&self) -> Option<&Buckets> {
        self.classic.as_ref()
    }

    /// The native configuration, if any.
    pub fn native_config(&self) -> Option<&NativeConfig> {
        self.native.as_ref()
    }
}

impl Default for HistogramConfig {
    fn default() -> Self {
        Self::classic(Buckets::default())
    }
}

impl From<Buckets> for HistogramConfig {
    fn from(buckets: Buckets) -> Self {
        Self::classic(buckets)
    }
}

impl From<NativeConfig> for HistogramConfig {
    fn from(native: NativeConfig) -> Self {
        Self::native(native)
    }
}

/// A histogram: counts observations into buckets and keeps their sum.
///
/// The count is not stored separately: it is the sum of the classic buckets (a native-only
/// histogram keeps just the `+Inf` one), so `_count` always equals the `+Inf` bucket in
/// every scrape, even while observations race with it.
///
/// A native histogram also counts each observation into its sparse exponential bucket
/// ([`NativeConfig`]); [`native_snapshot`](Self::native_snapshot) reads them.
///
/// ```
/// use fiko_metrics::Histogram;
/// use fiko_metrics::histogram::NativeConfig;
///
/// let latency = Histogram::native(NativeConfig::DEFAULT);
/// latency.observe(0.26); // (0.25, 0.25·2^(1/8)] at schema 3: bucket -15
/// latency.observe(0.27); // the same bucket
/// latency.observe(0.25); // a power of two closes its bucket: bucket -16
/// let native = latency.native_snapshot().unwrap();
/// assert_eq!((latency.count(), native.schema), (3, 3));
/// assert_eq!(native.positive, [(-16, 1), (-15, 2)]);
/// ```
///
/// ```
/// use fiko_metrics::{Histogram, histogram::Buckets};
///
/// let latency = Histogram::new(Buckets::new(vec![0.1, 0.5, 1.0])?);
/// latency.observe(0.3);
/// latency.observe(2.0);
/// assert_eq!(latency.count(), 2);
/// assert_eq!(latency.sum(), 2.3);
/// # Ok::<(), fiko_metrics::histogram::BucketsError>(())
/// ```
pub struct Histogram {
    buckets: Buckets,
    // One slot per bound plus the `+Inf` slot; counts are per bucket, not cumulative.
    counts: Box<[AtomicU64]>,
    sum_bits: AtomicU64,
    native: Option<Box<Native>>,
    // The latest exemplar of each classic slot, allocated at the first exemplar; `None`
    // when its declaration opts out of exemplars (it records none, never asks the source).
    exemplars: OnceLock<Option<Box<[Slot]>>>,
}

impl Histogram {
    /// A classic histogram with the given bucket bounds.
    pub fn new(buckets: Buckets) -> Self {
        Self::from_config(&HistogramConfig::classic(buckets))
    }

    /// A native histogram, without classic buckets.
    pub fn native(native: NativeConfig) -> Self {
        Self::from_config(&HistogramConfig::native(native))
    }

    /// A histogram made as `config` says.
    pub fn from_config(config: &HistogramConfig) -> Self {
        Self::from_config_with_clock(config, Instant::now)
    }

    /// A histogram made as `config` says, reading time from `clock` rather than
    /// [`Instant::now`]: for tests and simulations of a native histogram's resets
    /// ([`NativeConfig::with_min_reset_duration`]), the only use of time it makes.
    ///
    /// ```
    /// use std::sync::LazyLock;
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use std::time::{Duration, Instant};
    /// use fiko_metrics::Histogram;
    /// use fiko_metrics::histogram::{HistogramConfig, NativeConfig};
    ///
    /// static START: LazyLock<Instant> = LazyLock::new(Instant::now);
    /// static MINUTES: AtomicU64 = AtomicU64::new(0);
    /// fn clock() -> Instant {
    ///     *START + Duration::from_secs(60 * MINUTES.load(Ordering::Relaxed))
    /// }
    ///
    /// let native = NativeConfig::new(0, 0.0, 2)?.with_min_reset_duration(Duration::from_secs(300));
    /// let h = Histogram::from_config_with_clock(&HistogramConfig::native(native), clock);
    /// h.observe(1.0);
    /// h.observe(2.0);
    /// h.observe(4.0); // a third bucket, too early to reset: schema 0 becomes -1
    /// assert_eq!((h.count(), h.native_snapshot().unwrap().schema), (3, -1));
    /// MINUTES.store(5, Ordering::Relaxed);
    /// // The reset is due: the next observation (or scrape) starts over, at schema 0.
    /// h.observe(8.0);
    /// assert_eq!((h.count(), h.sum(), h.native_snapshot().unwrap().schema), (1, 8.0, 0));
    /// # Ok::<(), fiko_metrics::histogram::NativeConfigError>(())
    /// ```
    pub fn from_config_with_clock(config: &HistogramConfig, clock: fn() -> Instant) -> Self {
        let buckets = config.classic.clone().unwrap_or_else(Buckets::none);
        let counts = (0..=buckets.bounds().len())
            .map(|_| AtomicU64::new(0))
            .collect();
        Self {
            buckets,
            counts,
            sum_bits: AtomicU64::new(0),
            native: config
                .native
                .map(|native| Box::new(Native::new(native, clock))),
            exemplars: OnceLock::new(),
        }
    }

    /// Records one observation. NaN lands in the `+Inf` bucket (and makes the sum NaN), as
    /// in the Go client.
    #[inline]
    pub fn observe(&self, value: f64) {
        match &self.native {
            None => self.record(self.slot(value), value),
            Some(native) => self.observe_native(native, value),
        }
    }

    /// [`observe`](Self::observe) of a native histogram, out of line so that the classic
    /// path stays as short as it was before native histograms. The classic count and sum
    /// are recorded under the native buckets' lock, so a reset never splits an observation.
    #[inline(never)]
    fn observe_native(&self, native: &Native, value: f64) {
        let slot = self.slot(value);
        native.observe(value, || self.record(slot, value), || self.clear());
    }

    #[inline]
    fn record(&self, slot: usize, value: f64) {
        if let Some(count) = self.counts.get(slot) {
            count.fetch_add(1, Ordering::Relaxed);
        }
        // Zero, common for sizes (an empty body), leaves the sum as it is: skip its CAS loop.
        if value != 0.0 {
            crate::atomic_f64::add(&self.sum_bits, value);
        }
    }

    /// Empties the classic counts and the sum (a native histogram's reset).
    fn clear(&self) {
        for count in self.counts.iter() {
            count.store(0, Ordering::Relaxed);
        }
        self.sum_bits.store(0, Ordering::Relaxed);
    }

    /// The classic slot `value` goes into. Bounds are inclusive (`le`); NaN compares false
    /// with all of them and goes to `+Inf`.
    #[inline]
    fn slot(&self, value: f64) -> usize {
        self.buckets
            .bounds()
            .partition_point(|bound| *bound < value || value.is_nan())
    }

    /// Records one observation and keeps `labels` as the exemplar of the classic bucket it
    /// lands in (the `+Inf` one for a native-only histogram), shown in the OpenMetrics and
    /// protobuf expositions. `labels` may be an `Option` too, for code that reads a
    /// request's labels once and records into several series: `None` records the
    /// observation alone.
    ///
    /// ```
    /// use fiko_metrics::exemplar::ExemplarLabels;
    /// use fiko_metrics::{Histogram, histogram::Buckets};
    ///
    /// let latency = Histogram::new(Buckets::new(vec![0.1, 1.0])?);
    /// let trace = ExemplarLabels::new(&[("trace_id", "abc")])?;
    /// latency.observe_with_exemplar(0.25, &trace);
    /// latency.observe_with_exemplar(0.05, None);
    /// assert_eq!(latency.exemplar(1).unwrap().value, 0.25); // the `le="1"` bucket
    /// assert!(latency.exemplar(0).is_none());
    /// assert_eq!(latency.count(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline]
    pub fn observe_with_exemplar<'a>(
        &self,
        value: f64,
        labels: impl Into<Option<&'a ExemplarLabels>>,
    ) {
        self.observe(value);
        let Some(labels) = labels.into() else {
            return;
        };
        let slot = self.slot(value);
        let slots = self
            .exemplars
            .get_or_init(|| Some((0..self.counts.len()).map(|_| Slot::default()).collect()));
        if let Some(exemplar) = slots.as_ref().and_then(|slots| slots.get(slot)) {
            exemplar.store(labels, value);
        }
    }

    /// Whether this histogram records exemplars: `false` for one declared in a
    /// `#[derive(MetricSet)]` without `#[metric(exemplars)]`, whose `_with_exemplar` calls
    /// record none and whose `_with_source` calls never ask the source; `true` otherwise.
    #[inline]
    pub fn records_exemplars(&self) -> bool {
        !matches!(self.exemplars.get(), Some(None))
    }

    /// The labels the installed source gives now, if this histogram records exemplars
    /// (see [`records_exemplars`](Self::records_exemplars)); the source is not asked
    /// otherwise.
    #[inline]
    pub fn exemplar_from_source(&self) -> Option<ExemplarLabels> {
        if self.records_exemplars() {
            exemplar::from_source()
        } else {
            None
        }
    }

    /// Records one observation, with the exemplar the installed
    /// [`exemplar::set_source`] gives now, if any (without a source this costs one load
    /// more than [`observe`](Self::observe)).
    #[inline]
    pub fn observe_with_source(&self, value: f64) {
        self.observe_with_exemplar(value, self.exemplar_from_source().as_ref());
    }

    /// The latest exemplar of classic bucket `slot` (`0..=bounds.len()`, the last being
    /// `+Inf`), if one was recorded.
    pub fn exemplar(&self, slot: usize) -> Option<Exemplar> {
        self.exemplars.get()?.as_ref()?.get(slot)?.get()
    }

    /// Records the seconds elapsed since `start`.
    #[inline]
    pub fn observe_since(&self, start: Instant) {
        self.observe(start.elapsed().as_secs_f64());
    }

    /// Starts a timer that observes the elapsed seconds when dropped.
    #[must_use = "the timer observes when it is dropped"]
    pub fn start_timer(&self) -> HistogramTimer<'_> {
        HistogramTimer {
            histogram: self,
            start: Instant::now(),
        }
    }

    /// The number of observations.
    pub fn count(&self) -> u64 {
        self.counts.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }

    /// The sum of all observations.
    pub fn sum(&self) -> f64 {
        f64::from_bits(self.sum_bits.load(Ordering::Relaxed))
    }

    /// The classic bucket bounds (none for a native-only histogram).
    pub fn buckets(&self) -> &Buckets {
        &self.buckets
    }

    /// Whether this histogram has classic bucket bounds (besides `+Inf`).
    pub fn has_classic_buckets(&self) -> bool {
        !self.buckets.bounds().is_empty()
    }

    /// The native configuration, for a native histogram.
    pub fn native_config(&self) -> Option<&NativeConfig> {
        self.native.as_deref().map(Native::config)
    }

    /// The native buckets now, for a native histogram.
    pub fn native_snapshot(&self) -> Option<NativeSnapshot> {
        let native = self.native.as_deref()?;
        Some(native.snapshot(&native.read(|| self.clear())))
    }

    /// Writes the cumulative bucket counts into `out` (one per bound, then `+Inf`) and
    /// returns the sum; one pass, so the counts are consistent with each other.
    pub fn snapshot(&self, out: &mut Vec<u64>) -> f64 {
        match self.native.as_deref() {
            Some(native) => {
                let _consistent = native.read(|| self.clear());
                self.classic_snapshot(out)
            }
            None => self.classic_snapshot(out),
        }
    }

    /// [`snapshot`](Self::snapshot) and [`native_snapshot`](Self::native_snapshot) at
    /// once, so that they agree (no reset between them): the native buckets are read
    /// first, and every observation counts into the classic slots first, so the native
    /// buckets never hold more than the count read after them.
    pub fn snapshot_with_native(&self, out: &mut Vec<u64>) -> (f64, Option<NativeSnapshot>) {
        match self.native.as_deref() {
            Some(native) => {
                let sparse = native.read(|| self.clear());
                let snapshot = native.snapshot(&sparse);
                (self.classic_snapshot(out), Some(snapshot))
            }
            None => (self.classic_snapshot(out), None),
        }
    }

    fn classic_snapshot(&self, out: &mut Vec<u64>) -> f64 {
        out.clear();
        let mut cumulative = 0u64;
        for count in self.counts.iter() {
            cumulative = cumulative.wrapping_add(count.load(Ordering::Relaxed));
            out.push(cumulative);
        }
        self.sum()
    }
}

impl fmt::Debug for Histogram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Histogram")
            .field("bounds", &self.buckets.bounds())
            .field("count", &self.count())
            .field("sum", &self.sum())
            .finish()
    }
}

impl Default for Histogram {
    fn default() -> Self {
        Self::new(Buckets::default())
    }
}

/// Observes the seconds since it was started when dropped; see [`Histogram::start_timer`].
#[derive(Debug)]
pub struct HistogramTimer<'a> {
    histogram: &'a Histogram,
    start: Instant,
}

impl Drop for HistogramTimer<'_> {
    fn drop(&mut self) {
        self.histogram.observe_since(self.start);
    }
}

impl Metric for Histogram {
    const KIND: MetricKind = MetricKind::Histogram;
    const EXEMPLARS: bool = true;
    type Config = HistogramConfig;

    fn with_config(config: &HistogramConfig) -> Self {
        Self::from_config(config)
    }

    fn refuse_exemplars(&self) {
        let _ = self.exemplars.set(None);
    }

    fn declared_config(declaration: &Declaration) -> HistogramConfig {
        let classic = if declaration.buckets.is_empty() {
            Buckets::default()
        } else {
            Buckets::from_checked(declaration.buckets)
        };
        match declaration.native {
            // A native declaration without `buckets` is native only.
            Some(native) if declaration.buckets.is_empty() => HistogramConfig::native(native),
            Some(native) => HistogramConfig::native_and_classic(native, classic),
            None => HistogramConfig::classic(classic),
        }
    }

    fn visit(&self, labels: Labels<'_>, visitor: &mut dyn Visitor) -> fmt::Result {
        visitor.histogram(labels, self)
    }

    // Every observation adds one to a classic slot (a native one too) and its value to
    // the sum.
    fn fingerprint(&self) -> u64 {
        self.count() ^ self.sum_bits.load(Ordering::Relaxed).rotate_left(32)
    }
}
