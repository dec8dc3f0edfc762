//! Monotonic counters: [`Counter`], one atomic; [`CounterWithExemplar`], which also keeps
//! the latest exemplar.

use std::fmt;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::descriptor::MetricKind;
use crate::encoding::{Labels, Value, Visitor};
use crate::exemplar::{self, Exemplar, ExemplarLabels, Slot};
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

/// A monotonically increasing counter, exposed with the `_total` suffix: one atomic, 8
/// bytes, and an increment is one atomic add.
///
/// `Counter` counts whole events in a `u64`; `Counter<f64>` counts amounts such as revenue.
/// A counter that should link to traces is a [`CounterWithExemplar`].
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
/// assert_eq!(std::mem::size_of::<Counter>(), 8);
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

#[doc(hidden)]
pub trait CounterRead {
    /// The current value.
    fn value(&self) -> Value;
    /// The value whose bit pattern is `bits`.
    fn value_of(bits: u64) -> Value;
    /// Subtracts the value whose bit pattern is `bits` (a restart, see
    /// [`Metric::restart`]).
    fn subtract(&self, bits: u64);
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

    fn value_of(bits: u64) -> Value {
        Value::U64(bits)
    }

    fn subtract(&self, bits: u64) {
        self.bits.fetch_sub(bits, Ordering::Relaxed);
    }
}

impl Counter<f64> {
    /// Adds `amount`. Negative, NaN and infinite amounts are ignored: a counter never goes
    /// down and never panics.
    #[inline]
    pub fn inc_by(&self, amount: f64) {
        if counts(amount) {
            crate::atomic_f64::add(&self.bits, amount);
        }
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

// Whether a `Counter<f64>` adds `amount`: a finite, positive one.
#[inline]
fn counts(amount: f64) -> bool {
    amount.is_finite() && amount > 0.0
}

impl CounterRead for Counter<f64> {
    fn value(&self) -> Value {
        Value::F64(self.get())
    }

    fn value_of(bits: u64) -> Value {
        Value::F64(f64::from_bits(bits))
    }

    fn subtract(&self, bits: u64) {
        crate::atomic_f64::add(&self.bits, -f64::from_bits(bits));
    }
}

impl<N: CounterNumber> Counter<N>
where
    Counter<N>: CounterRead,
{
    // Reads the count once: the value shown is exactly the one returned.
    fn show(
        &self,
        labels: Labels<'_>,
        exemplar: Option<Exemplar>,
        visitor: &mut dyn Visitor,
    ) -> Result<u64, fmt::Error> {
        let bits = self.bits.load(Ordering::Relaxed);
        let value = Self::value_of(bits);
        match exemplar {
            Some(exemplar) => visitor.counter_with_exemplar(labels, value, &exemplar)?,
            None => visitor.counter(labels, value)?,
        }
        Ok(bits)
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
        self.show(labels, None, visitor).map(|_| ())
    }

    fn fingerprint(&self) -> u64 {
        self.bits.load(Ordering::Relaxed)
    }

    fn visit_shown(
        &self,
        labels: Labels<'_>,
        visitor: &mut dyn Visitor,
    ) -> Result<u64, fmt::Error> {
        self.show(labels, None, visitor)
    }

    fn restart(&self, shown: u64) {
        self.subtract(shown);
    }
}

/// A [`Counter`] that also keeps the latest exemplar recorded on it (a trace id), shown in
/// the OpenMetrics and protobuf expositions.
///
/// Declaring a field of this type in a `#[derive(MetricSet)]` is what opts it in to
/// exemplars (dashboards show them on its panels); a plain `Counter` keeps none, so it
/// stays one atomic. The exemplar's storage is allocated at the first exemplar, and `inc`
/// never looks at it.
///
/// ```
/// use fiko_metrics::CounterWithExemplar;
/// use fiko_metrics::exemplar::ExemplarLabels;
///
/// let orders = CounterWithExemplar::default();
/// orders.inc();
/// orders.inc_with_exemplar(&ExemplarLabels::new(&[("trace_id", "abc")])?);
/// let exemplar = orders.exemplar().unwrap();
/// assert_eq!((orders.get(), exemplar.value), (2, 1.0));
/// # Ok::<(), fiko_metrics::exemplar::ExemplarError>(())
/// ```
pub struct CounterWithExemplar<N: CounterNumber = u64> {
    counter: Counter<N>,
    exemplar: OnceLock<Box<Slot>>,
}

impl<N: CounterNumber> Default for CounterWithExemplar<N> {
    fn default() -> Self {
        Self {
            counter: Counter::default(),
            exemplar: OnceLock::new(),
        }
    }
}

impl<N: CounterNumber> fmt::Debug for CounterWithExemplar<N>
where
    Counter<N>: CounterRead,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CounterWithExemplar")
            .field("value", &self.counter.value())
            .field("exemplar", &self.exemplar())
            .finish()
    }
}

impl<N: CounterNumber> CounterWithExemplar<N> {
    /// The latest exemplar recorded on this counter, if any.
    pub fn exemplar(&self) -> Option<Exemplar> {
        self.exemplar.get()?.get()
    }

    /// The count alone, for code that takes a [`Counter`].
    #[inline]
    pub fn counter(&self) -> &Counter<N> {
        &self.counter
    }

    #[inline]
    fn store_exemplar(&self, labels: &ExemplarLabels, value: f64) {
        self.exemplar.get_or_init(Box::default).store(labels, value);
    }
}

impl CounterWithExemplar<u64> {
    /// Adds one, without an exemplar.
    #[inline]
    pub fn inc(&self) {
        self.counter.inc();
    }

    /// Adds `n`, without an exemplar.
    #[inline]
    pub fn inc_by(&self, n: u64) {
        self.counter.inc_by(n);
    }

    /// Adds one and keeps `labels` as the counter's exemplar (value 1). `labels` is an
    /// [`&ExemplarLabels`](ExemplarLabels) or an `Option` of one, for code that reads a
    /// request's labels once and records into several series: `None` adds one alone.
    #[inline]
    pub fn inc_with_exemplar<'a>(&self, labels: impl Into<Option<&'a ExemplarLabels>>) {
        self.inc_by_with_exemplar(1, labels);
    }

    /// Adds `n` and keeps `labels` (if any) as the counter's exemplar, with value `n`.
    #[inline]
    pub fn inc_by_with_exemplar<'a>(&self, n: u64, labels: impl Into<Option<&'a ExemplarLabels>>) {
        self.counter.inc_by(n);
        if let Some(labels) = labels.into() {
            // Counts past 2^53 round, as every sample value does.
            self.store_exemplar(labels, n as f64);
        }
    }

    /// Adds one, with the exemplar the installed [`exemplar::set_source`] gives now, if
    /// any (without a source this costs one load more than [`inc`](Self::inc)).
    #[inline]
    pub fn inc_with_source(&self) {
        self.inc_with_exemplar(exemplar::from_source().as_ref());
    }

    /// The current count.
    pub fn get(&self) -> u64 {
        self.counter.get()
    }
}

impl CounterWithExemplar<f64> {
    /// Adds `amount` (as [`Counter::<f64>::inc_by`](Counter::inc_by) does), without an
    /// exemplar.
    #[inline]
    pub fn inc_by(&self, amount: f64) {
        self.counter.inc_by(amount);
    }

    /// Adds `amount` and keeps `labels` (if any: an `Option` is taken too) as the
    /// counter's exemplar, with value `amount`; an amount `inc_by` ignores records nothing.
    #[inline]
    pub fn inc_by_with_exemplar<'a>(
        &self,
        amount: f64,
        labels: impl Into<Option<&'a ExemplarLabels>>,
    ) {
        if counts(amount) {
            self.counter.inc_by(amount);
            if let Some(labels) = labels.into() {
                self.store_exemplar(labels, amount);
            }
        }
    }

    /// Adds `amount`, with the exemplar the installed [`exemplar::set_source`] gives now.
    #[inline]
    pub fn inc_by_with_source(&self, amount: f64) {
        self.inc_by_with_exemplar(amount, exemplar::from_source().as_ref());
    }

    /// The current amount.
    pub fn get(&self) -> f64 {
        self.counter.get()
    }
}

impl<N: CounterNumber> Metric for CounterWithExemplar<N>
where
    Counter<N>: CounterRead,
{
    const KIND: MetricKind = MetricKind::Counter;
    const EXEMPLARS: bool = true;
    type Config = NoConfig;

    fn with_config(_: &NoConfig) -> Self {
        Self::default()
    }

    fn visit(&self, labels: Labels<'_>, visitor: &mut dyn Visitor) -> fmt::Result {
        self.visit_shown(labels, visitor).map(|_| ())
    }

    fn fingerprint(&self) -> u64 {
        self.counter.fingerprint()
    }

    fn visit_shown(
        &self,
        labels: Labels<'_>,
        visitor: &mut dyn Visitor,
    ) -> Result<u64, fmt::Error> {
        self.counter.show(labels, self.exemplar(), visitor)
    }

    fn restart(&self, shown: u64) {
        self.counter.restart(shown);
    }
}
