//! Gauges: values that go up and down.

use std::fmt;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use crate::descriptor::MetricKind;
use crate::encoding::{Labels, Value, Visitor};
use crate::metric::{Metric, NoConfig};

/// A value that can go up and down: `Gauge` holds an `i64`, `Gauge<f64>` a float.
///
/// ```
/// use fiko_metrics::Gauge;
///
/// let sessions = Gauge::default();
/// sessions.inc();
/// {
///     let _in_flight = sessions.track(); // +1 now, -1 when dropped
///     assert_eq!(sessions.get(), 2);
/// }
/// assert_eq!(sessions.get(), 1);
///
/// let memory = Gauge::<f64>::default();
/// memory.set(0.75);
/// assert_eq!(memory.get(), 0.75);
/// ```
pub struct Gauge<N: GaugeNumber = i64> {
    cell: N::Cell,
}

/// A number a [`Gauge`] can hold: `i64` (the default) or `f64`.
pub trait GaugeNumber: sealed::Sealed + Copy + Send + Sync + 'static {
    #[doc(hidden)]
    type Cell: Default + Send + Sync;
}
impl GaugeNumber for i64 {
    type Cell = AtomicI64;
}
impl GaugeNumber for f64 {
    type Cell = AtomicU64;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for i64 {}
    impl Sealed for f64 {}
}

impl<N: GaugeNumber> Default for Gauge<N> {
    fn default() -> Self {
        Self {
            cell: N::Cell::default(),
        }
    }
}

impl Gauge<i64> {
    /// Adds one.
    #[inline]
    pub fn inc(&self) {
        self.add(1);
    }

    /// Subtracts one.
    #[inline]
    pub fn dec(&self) {
        self.add(-1);
    }

    /// Adds `n` (which may be negative). Wraps on overflow instead of panicking.
    #[inline]
    pub fn add(&self, n: i64) {
        self.cell.fetch_add(n, Ordering::Relaxed);
    }

    /// Sets the value.
    #[inline]
    pub fn set(&self, n: i64) {
        self.cell.store(n, Ordering::Relaxed);
    }

    /// The current value.
    pub fn get(&self) -> i64 {
        self.cell.load(Ordering::Relaxed)
    }

    /// Adds one now and subtracts it again when the returned guard drops, also on panic
    /// and when a future holding it is cancelled: the way to count things in flight.
    #[must_use = "the gauge goes back down as soon as the guard is dropped"]
    pub fn track(&self) -> GaugeGuard<'_> {
        self.inc();
        GaugeGuard { gauge: self }
    }
}

impl Gauge<f64> {
    /// Adds `delta` (which may be negative).
    #[inline]
    pub fn add(&self, delta: f64) {
        crate::atomic_f64::add(&self.cell, delta);
    }

    /// Sets the value.
    #[inline]
    pub fn set(&self, value: f64) {
        self.cell.store(value.to_bits(), Ordering::Relaxed);
    }

    /// The current value.
    pub fn get(&self) -> f64 {
        f64::from_bits(self.cell.load(Ordering::Relaxed))
    }
}

/// Decrements its [`Gauge`] when dropped; see [`Gauge::track`].
#[derive(Debug)]
pub struct GaugeGuard<'a> {
    gauge: &'a Gauge<i64>,
}

impl Drop for GaugeGuard<'_> {
    fn drop(&mut self) {
        self.gauge.dec();
    }
}

/// Reads a gauge as a sample [`Value`]; implemented for both number types.
#[doc(hidden)]
pub trait GaugeRead {
    /// The current value.
    fn value(&self) -> Value;
    /// The value's bit pattern.
    fn bits(&self) -> u64;
}

impl GaugeRead for Gauge<i64> {
    fn value(&self) -> Value {
        Value::I64(self.get())
    }

    fn bits(&self) -> u64 {
        u64::from_ne_bytes(self.get().to_ne_bytes())
    }
}

impl GaugeRead for Gauge<f64> {
    fn value(&self) -> Value {
        Value::F64(self.get())
    }

    fn bits(&self) -> u64 {
        self.cell.load(Ordering::Relaxed)
    }
}

impl<N: GaugeNumber> fmt::Debug for Gauge<N>
where
    Gauge<N>: GaugeRead,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gauge")
            .field("value", &self.value())
            .finish()
    }
}

impl<N: GaugeNumber> Metric for Gauge<N>
where
    Gauge<N>: GaugeRead,
{
    const KIND: MetricKind = MetricKind::Gauge;
    type Config = NoConfig;

    fn with_config(_: &NoConfig) -> Self {
        Self::default()
    }

    fn visit(&self, labels: Labels<'_>, visitor: &mut dyn Visitor) -> fmt::Result {
        visitor.gauge(labels, self.value())
    }

    fn fingerprint(&self) -> u64 {
        self.bits()
    }
}
