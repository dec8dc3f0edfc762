//! Monotonic counters.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::descriptor::MetricKind;
use crate::encoding::{Labels, Value, Visitor};
use crate::metric::{Metric, NoConfig};

/// A number a [`Counter`] can count in: `u64` (the default) or `f64`.
///
/// Sealed: the atomics behind it are chosen by fiko-metrics.
pub trait CounterNumber: sealed::Sealed + Copy + Send + Sync + 'static {}
impl CounterNumber for u64 {}
impl CounterNumber for f64 {}

mod sealed {
    pub trait Sealed {}
    impl Sealed for u64 {}
    impl Sealed for f64 {}
}

/// A monotonically increasing counter, exposed with the `_total` suffix.
///
/// `Counter` counts whole events in a `u64`; `Counter<f64>` counts amounts such as revenue.
///
/// ```
/// use fiko_metrics::Counter;
///
/// let requests = Counter::default();
/// requests.inc();
/// requests.inc_by(2);
/// assert_eq!(requests.get(), 3);
///
/// let revenue = Counter::<f64>::default();
/// revenue.inc_by(9.99);
/// assert_eq!(revenue.get(), 9.99);
/// ```
pub struct Counter<N: CounterNumber = u64> {
    // Both number types live in 64 bits; an `f64` is stored as its bit pattern.
    bits: AtomicU64,
    number: std::marker::PhantomData<N>,
}

impl<N: CounterNumber> Default for Counter<N> {
    fn default() -> Self {
        Self {
            bits: AtomicU64::new(0),
            number: std::marker::PhantomData,
        }
    }
}

impl<N: CounterNumber> fmt::Debug for Counter<N>
where
    Counter<N>: CounterRead,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Counter")
            .field("value", &self.value())
            .finish()
    }
}

/// Reads a counter as a sample [`Value`]; implemented for both number types.
#[doc(hidden)]
pub trait CounterRead {
    /// The current value.
    fn value(&self) -> Value;
}

impl Counter<u64> {
    /// Adds one.
    #[inline]
    pub fn inc(&self) {
        self.bits.fetch_add(1, Ordering::Relaxed);
    }

    /// Adds `n`. Wraps around at `u64::MAX` (which Prometheus reads as a counter reset).
    #[inline]
    pub fn inc_by(&self, n: u64) {
        self.bits.fetch_add(n, Ordering::Relaxed);
    }

    /// Sets the count to `total`: for collectors that mirror a count kept elsewhere (the
    /// OS's CPU time, a pool's lifetime acquisitions). Recording code uses `inc`.
    pub fn set_total(&self, total: u64) {
        self.bits.store(total, Ordering::Relaxed);
    }

    /// Raises the count to `total` if it is lower, never lowering it: for bridges whose
    /// callers report a running total (the `metrics` facade's `absolute`), safe when several
    /// threads report at once.
    ///
    /// ```
    /// let polls = fiko_metrics::Counter::default();
    /// polls.raise_to(10);
    /// polls.raise_to(7);
    /// assert_eq!(polls.get(), 10);
    /// ```
    #[inline]
    pub fn raise_to(&self, total: u64) {
        self.bits.fetch_max(total, Ordering::Relaxed);
    }

    /// The current count.
    pub fn get(&self) -> u64 {
        self.bits.load(Ordering::Relaxed)
    }
}

impl CounterRead for Counter<u64> {
    fn value(&self) -> Value {
        Value::U64(self.get())
    }
}

impl Counter<f64> {
    /// Adds `amount`. Negative, NaN and infinite amounts are ignored: a counter never goes
    /// down and never panics.
    #[inline]
    pub fn inc_by(&self, amount: f64) {
        if !(amount.is_finite() && amount > 0.0) {
            return;
        }
        crate::atomic_f64::add(&self.bits, amount);
    }

    /// Sets the amount to `total` (ignored unless finite and not negative): for collectors
    /// that mirror an amount kept elsewhere, such as the CPU seconds the OS reports.
    pub fn set_total(&self, total: f64) {
        if total.is_finite() && total >= 0.0 {
            self.bits.store(total.to_bits(), Ordering::Relaxed);
        }
    }

    /// The current amount.
    pub fn get(&self) -> f64 {
        f64::from_bits(self.bits.load(Ordering::Relaxed))
    }
}

impl CounterRead for Counter<f64> {
    fn value(&self) -> Value {
        Value::F64(self.get())
    }
}

impl<N: CounterNumber> Metric for Counter<N>
where
    Counter<N>: CounterRead,
{
    const KIND: MetricKind = MetricKind::Counter;
    type Config = NoConfig;

    fn with_config(_: &NoConfig) -> Self {
        Self::default()
    }

    fn visit(&self, labels: Labels<'_>, visitor: &mut dyn Visitor) -> fmt::Result {
        visitor.counter(labels, self.value())
    }
}
