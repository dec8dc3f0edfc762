//! Labelled metrics.
//!
//! # Series lifecycle
//!
//! A family keeps every series it made unless told otherwise. For a long-running process
//! whose open label values come and go (tenants, pods, customers), a family can drop the
//! open series nobody writes any more, [`Family::expire_after`], and drop one series now,
//! [`Family::remove`] (or [`Family::remove_dynamic`]). Closed-label series (the dense
//! array) are never dropped.
//!
//! ```
//! use std::time::Duration;
//! use fiko_metrics::{Counter, Family, LabelSet};
//!
//! #[derive(LabelSet)]
//! struct Tenant { tenant: String }
//!
//! // Series not written for 15 minutes leave the scrape and free their place under the
//! // series limit for new values.
//! let requests = Family::<Tenant, Counter>::new(Default::default(), 1000)
//!     .expire_after(Duration::from_secs(15 * 60));
//! let acme = Tenant { tenant: "acme".into() };
//! requests.get_or_create(&acme).inc();
//!
//! // A tenant that is gone can be dropped at once; an unknown one is not there to drop.
//! assert!(requests.remove(&acme));
//! assert!(!requests.remove(&Tenant { tenant: "nobody".into() }));
//! ```
//!
//! The rules, which hold for every way of recording (a reference from
//! [`Family::get_or_create`], a cached [`SeriesId`], a reference held for a long time):
//!
//! - **Written** means looked up through [`get_or_create`](Family::get_or_create),
//!   [`series_id`](Family::series_id) or [`series`](Family::series) (so a gauge set to the
//!   value it already had counts), or a value that changed since the last scrape showed it
//!   (so a write through a reference held across scrapes counts too; only a write there
//!   that leaves the value as it was goes unseen). Scrapes notice writes, reading the clock
//!   as they run: a series expires at the first scrape that finds it unwritten for the
//!   whole duration, so its last value was always shown by an earlier scrape.
//! - An expired or removed series is no longer exposed and no longer counts against
//!   `max_series`: a new label value takes its place rather than folding into `other`.
//! - **It comes back when written again**, in the same slot, through any path: looked up
//!   again, recorded into through an old [`SeriesId`] (which never records into a series
//!   that is not exposed), or through a reference taken before it left (that write is
//!   noticed and the series brought back at the next scrape). A counter comes back as a
//!   new series: it starts from zero plus whatever it recorded after the last scrape that
//!   showed it, which Prometheus reads as a counter reset (a reset it can only see if the
//!   first value shown is below the last one before, as it almost always is). A gauge
//!   comes back with its current value, a histogram with its cumulative buckets (the same
//!   series continuing).
//! - **Nothing recorded is lost**: every increment is in the last value shown of the
//!   series it went into, or still in a series that will show it when it comes back. A
//!   series removed with increments no scrape showed yet keeps them for its comeback (as
//!   with client_golang's `Delete`, they are not exposed unless it comes back).
//! - **Within the limit.** A series comes back in the place a new value would take: when
//!   the family is at its `max_series`, a lookup or an old [`SeriesId`] records into the
//!   overflow series instead (counted as a fold, like a new value), and a series written
//!   through a held reference stays hidden, its count kept, until a scrape finds room.
//! - **Memory.** A series' label values and atomics stay allocated after it expires or is
//!   removed (the append-only storage is what keeps every reference valid, without any
//!   `unsafe`): its slot (the series' size plus 48 bytes: 56 for a counter; slots come in
//!   chunks of 32), its rendered labels and its index entry (5 bytes: the slot's number
//!   and a control byte), once per distinct label set ever seen, since a label set that
//!   comes back reuses its slot. A family whose label values never repeat (request ids)
//!   still grows without bound; such values do not belong in labels.
//! - **Cost.** Recording into an open series reads one state byte beside it (a relaxed
//!   load): in a family without expiry it always says "live", and recording goes on as
//!   before. With expiry, the first write after each scrape also sets a flag there. A scrape of such a family compares each open series with what the last one
//!   showed and holds the index's lock while it shows them (exclusively only when it
//!   retired or brought back a series): recording through a [`SeriesId`] or a reference
//!   never waits for it; a lookup by labels may wait for the walk to end.

use std::fmt;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError, RwLock};
use std::time::{Duration, Instant};

use crate::descriptor::{Declaration, LabelDescriptor, MetricDescriptor};
use crate::encoding::{LabelSource, Labels, Visitor, write_escaped_label_value};
use crate::labels::{Dynamic, DynamicLabels, LabelSet, LabelSink, OVERFLOW_VALUE};
use crate::metric::Metric;

/// The default series limit of a family with open labels.
pub const DEFAULT_MAX_SERIES: usize = 1000;

/// The open-series index: label text to slot. It holds only the slots' numbers (4 bytes
/// each: a family makes at most `u32::MAX` open slots, see `insert_or_revive`); a
/// slot's key is its series' rendered labels, so the text is kept once. foldhash is seeded
/// per process, and the table holds at most `max_series` live keys, so crafted values
/// cannot degrade it much (a family whose series expire also keeps the keys of those that
/// left, to give them their slot back).
#[derive(Default)]
struct Index {
    slots: hashbrown::HashTable<u32>,
    hasher: foldhash::fast::RandomState,
}

/// Where a series sits in a `Family<L, M>`: [`Family::series`] records into it again
/// without looking its labels up, for wrappers that keep a series across calls (a handle
/// with no lifetime, unlike the reference from [`Family::get_or_create`]). It is how every
/// integration caches its series: per route, per pool, per cache name, per task.
///
/// The id is typed by the family's label set and metric, so handing it to a family of
/// other labels or another metric type does not compile. It is as small as the untyped
/// position it wraps (two words) and `Copy`.
///
/// An id is only meaningful for the family that made it: handed to another family of the
/// same type it names some other series of that family (never a panic, never undefined
/// behaviour).
pub struct SeriesId<L, M> {
    slot: Slot,
    family: std::marker::PhantomData<fn(&L, &M)>,
}

impl<L, M> SeriesId<L, M> {
    const fn new(slot: Slot) -> Self {
        Self {
            slot,
            family: std::marker::PhantomData,
        }
    }

    /// The same slot, as an id of a family of another metric type: for a caller that
    /// keeps ids of two kinds of family in one place and knows which family each is of.
    pub(crate) const fn recast<N>(self) -> SeriesId<L, N> {
        SeriesId::new(self.slot)
    }
}

// Written by hand: derived impls would require `L` and `M` to be `Copy`, `Eq`...
impl<L, M> Clone for SeriesId<L, M> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<L, M> Copy for SeriesId<L, M> {}

impl<L, M> PartialEq for SeriesId<L, M> {
    fn eq(&self, other: &Self) -> bool {
        self.slot == other.slot
    }
}

impl<L, M> Eq for SeriesId<L, M> {}

impl<L, M> std::hash::Hash for SeriesId<L, M> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.slot.hash(state);
    }
}

impl<L, M> fmt::Debug for SeriesId<L, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SeriesId").field(&self.slot).finish()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Slot {
    Dense(usize),
    Open(usize),
}

/// A metric with labels: one series of `M` per label set `L`.
///
/// When every label of `L` is a closed enum, the series sit in a dense array indexed at
/// compile time: recording is an index computation and an atomic add. Open labels
/// (strings, numbers) go through a read-mostly index holding at most `max_series` series;
/// past it, values fold into one overflow series per closed-label combination, counted by
/// `fiko_metrics_label_overflow_total`. Open series can expire or be removed (see
/// [Series lifecycle](crate::family#series-lifecycle)); a reference from `get_or_create`
/// stays valid and never names another label set.
///
/// ```
/// use fiko_metrics::{Counter, Family, LabelSet, LabelValue};
///
/// #[derive(LabelValue)]
/// enum Outcome { Ok, Error }
///
/// #[derive(LabelSet)]
/// struct Labels { model: String, outcome: Outcome }
///
/// let requests = Family::<Labels, Counter>::default();
/// requests.get_or_create(&Labels { model: "gpt-4o".into(), outcome: Outcome::Ok }).inc();
/// ```
pub struct Family<L: LabelSet, M: Metric> {
    // Everything but the label type: code that does not need it is compiled once per
    // metric type, not once per label set (a crate declaring 50 sets of 10 metrics
    // compiled the lookup, fold and scrape paths 350 times when they lived here).
    core: Core<M>,
    labels: std::marker::PhantomData<fn(&L)>,
}

/// How a label set writes itself (`LabelSet::write`), as the open-series paths take it: a
/// typed label set through [`Typed`], run-time labels as they are.
type WriteLabels<'a> = dyn DynamicLabels + 'a;

/// A family without its label type: the series, the open-series index, the lifecycle.
struct Core<M: Metric> {
    dense: Box<[M]>,
    // One bit per dense series of a sparse label set (`#[label_set(sparse)]`): set the
    // first time the series is recorded or looked up; a scrape shows only those. Empty
    // for a dense label set, which shows every combination.
    touched: Box<[AtomicU64]>,
    // Open series live in an append-only vector, so a series handed out stays put and a
    // scrape walks them without any lock; the map only finds a series by its labels. A
    // label set keeps its slot for the family's life, exposed or not.
    index: RwLock<Index>,
    open: Slots<Entry<M>>,
    // Open series exposed now, and those of them that count against `max_series` (all but
    // the overflow series). Changed under the index's exclusive lock.
    live: AtomicUsize,
    bounded: AtomicUsize,
    // Whether open series can be retired: set from the start by `expire_after`, and by
    // the first `remove`. Until then a scrape takes the lock-free path of old.
    lifecycle: AtomicBool,
    expiry: Option<Duration>,
    clock: fn() -> Instant,
    // The instant lifecycle times count from: the first scrape's.
    epoch: OnceLock<Instant>,
    // Serialises scrapes (and `remove` against them); recording never takes it.
    scrape: Mutex<()>,
    // Stands in for a series that does not exist (see `Family::fallback`); it keeps
    // `series` free of panics without an `expect`.
    fallback: OnceLock<M>,
    config: M::Config,
    // Whether its series record exemplars: never for a kind that keeps none (`Counter`,
    // `Gauge`), and not for a histogram declared without `#[metric(exemplars)]`.
    exemplars: bool,
    max_series: usize,
    folded: AtomicU64,
    // The label set's descriptors (`L::LABELS`): which labels an overflow key replaces.
    descriptors: &'static [LabelDescriptor],
}

/// One open series: its rendered labels (the index key), the series, its lifecycle state.
struct Entry<M> {
    key: Box<str>,
    series: M,
    // An overflow series: not bounded by `max_series`.
    overflow: bool,
    // `TOUCHED`: looked up since the last scrape of a family with expiry (always set in a
    // family without: nothing clears it). `RETIRED`: expired or removed, not exposed, not
    // in the count of live series (changed under the index's exclusive lock). Recording
    // finds `TOUCHED` alone and goes straight to the series: one load.
    state: AtomicU8,
    // What the last scrape that showed the series saw ([`Metric::visit_shown`]); for a
    // counter, the value a comeback restarts from.
    shown: AtomicU64,
    // While retired, the fingerprint when it left: a retired series whose fingerprint
    // moved on was written through a reference taken before it left. While live in a
    // family with expiry, when a scrape last found it written, in nanoseconds from the
    // family's epoch. One word serves both, as each state writes it before it is read:
    // retiring writes the fingerprint, and a series comes back `TOUCHED`, so the next
    // scrape writes the time before comparing it (which saves a word in every slot).
    mark: AtomicU64,
}

/// How many open series a chunk of [`Slots`] holds.
const CHUNK: usize = 32;

/// Append-only storage for a family's open series, in chunks of [`CHUNK`] slots allocated
/// as they fill: a series handed out never moves, reading one takes no lock, and a family
/// pays for at most `CHUNK - 1` empty slots (a vector of doubling buckets leaves up to
/// half of them empty).
struct Slots<T> {
    chunks: boxcar::Vec<Box<[OnceLock<T>; CHUNK]>>,
    // Slots handed out so far, the empty ones of an unfinished push included.
    len: AtomicUsize,
}

impl<T> Default for Slots<T> {
    fn default() -> Self {
        Self {
            chunks: boxcar::Vec::new(),
            len: AtomicUsize::new(0),
        }
    }
}

impl<T> Slots<T> {
    #[inline(always)]
    fn get(&self, slot: usize) -> Option<&T> {
        self.cell(slot)?.get()
    }

    // The cell of `slot`, if its chunk was made.
    #[inline(always)]
    fn cell(&self, slot: usize) -> Option<&OnceLock<T>> {
        self.chunks.get(slot / CHUNK)?.get(slot % CHUNK)
    }

    /// Stores `value` in the next slot and returns its number, under the index's exclusive
    /// lock (which `_index` proves), so pushes never race.
    fn push(&self, value: T, _index: &mut Index) -> usize {
        let slot = self.len.fetch_add(1, Ordering::Relaxed);
        while self.chunks.count() <= slot / CHUNK {
            self.chunks
                .push(Box::new(std::array::from_fn(|_| OnceLock::new())));
        }
        // Always there and empty: the slot is new and its chunk was made above.
        if let Some(cell) = self.cell(slot) {
            let _ = cell.set(value);
        }
        slot
    }

    /// The number of slots handed out.
    fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every stored value with its slot, in the order they were pushed.
    fn iter(&self) -> impl Iterator<Item = (usize, &T)> {
        self.chunks.iter().flat_map(|(chunk, cells)| {
            cells
                .iter()
                .enumerate()
                .filter_map(move |(i, cell)| Some((chunk * CHUNK + i, cell.get()?)))
        })
    }
}

/// A slot no series has: recording through it goes to the fallback series.
const NOWHERE: usize = usize::MAX;

const TOUCHED: u8 = 1;
const RETIRED: u8 = 2;

impl<M> Entry<M> {
    #[inline(always)]
    fn touch(&self) {
        if self.state.load(Ordering::Relaxed) & TOUCHED == 0 {
            self.state.fetch_or(TOUCHED, Ordering::Relaxed);
        }
    }

    #[inline(always)]
    fn retired(&self) -> bool {
        self.state.load(Ordering::Relaxed) & RETIRED != 0
    }

    fn touched(&self) -> bool {
        self.state.load(Ordering::Relaxed) & TOUCHED != 0
    }
}

impl<L: LabelSet, M: Metric> Family<L, M> {
    /// A family whose series are created from `config` (histogram buckets, or nothing),
    /// with at most `max_series` series from open labels.
    ///
    /// Its series record exemplars when asked, if their kind keeps them
    /// ([`CounterWithExemplar`](crate::CounterWithExemplar),
    /// [`Histogram`](crate::Histogram)); a histogram family declared in a
    /// `#[derive(MetricSet)]` records them only with `#[metric(exemplars)]`.
    pub fn new(config: M::Config, max_series: usize) -> Self {
        Self {
            core: Core::new(
                config,
                (max_series, true),
                (L::DENSE.unwrap_or(0), L::SPARSE),
                L::LABELS,
            ),
            labels: std::marker::PhantomData,
        }
    }

    /// A family as a `#[derive(MetricSet)]` declaration makes it (its config, limit,
    /// exemplars and expiry), built by code compiled once per metric type.
    pub(crate) fn from_declaration(declaration: &Declaration) -> Self {
        Self {
            core: Core::declare(declaration, (L::DENSE.unwrap_or(0), L::SPARSE), L::LABELS),
            labels: std::marker::PhantomData,
        }
    }

    /// The same family, whose open series expire once no scrape has found them written
    /// for `duration`: they are no longer exposed and leave their place under
    /// `max_series` to new label values. What "written" means, and what happens to a
    /// series written again after it expired, is in
    /// [Series lifecycle](crate::family#series-lifecycle). Closed-label series (the
    /// dense array) never expire. In a declaration: `#[metric(expire_after = "15m")]`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use fiko_metrics::{Family, Gauge, LabelSet};
    ///
    /// #[derive(LabelSet)]
    /// struct Queue { queue: String }
    ///
    /// let depth = Family::<Queue, Gauge>::default().expire_after(Duration::from_secs(600));
    /// assert_eq!(depth.expires_after(), Some(Duration::from_secs(600)));
    /// ```
    #[must_use]
    pub fn expire_after(mut self, duration: Duration) -> Self {
        self.core.expire_after(duration);
        self
    }

    /// How long an open series may go unwritten before it expires, if it does.
    pub fn expires_after(&self) -> Option<Duration> {
        self.core.expiry
    }

    /// The same family, reading the time of its scrapes from `clock` (tests move time by
    /// hand; see also [`visit_at`](Self::visit_at)).
    #[doc(hidden)]
    #[must_use]
    pub fn with_clock(mut self, clock: fn() -> Instant) -> Self {
        self.core.clock = clock;
        self
    }

    /// Whether the family's series record exemplars: `false` for a family of
    /// [`Counter`](crate::Counter)s or [`Gauge`](crate::Gauge)s and for a histogram family
    /// declared in a `#[derive(MetricSet)]` without `#[metric(exemplars)]`, `true`
    /// otherwise. Wrappers
    /// that read the exemplar source before they know the series ask this first (or
    /// [`exemplar_from_source`](Self::exemplar_from_source)).
    #[inline]
    pub fn records_exemplars(&self) -> bool {
        self.core.exemplars
    }

    /// The labels the installed [`exemplar::set_source`](crate::exemplar::set_source)
    /// gives now, if the family records exemplars; the source is not asked otherwise.
    #[inline]
    pub fn exemplar_from_source(&self) -> Option<crate::exemplar::ExemplarLabels> {
        if self.core.exemplars {
            crate::exemplar::from_source()
        } else {
            None
        }
    }

    /// The series for `labels`, created on first use.
    ///
    /// Never blocks for long and never panics: a closed label set is an array index; an
    /// open one renders its labels into a per-thread buffer and takes a shared lock on the
    /// index, and the exclusive one only to insert a new series (or bring back one that
    /// expired or was removed).
    #[inline(always)]
    pub fn get_or_create(&self, labels: &L) -> &M {
        self.series(self.series_id(labels))
    }

    /// The id of the series for `labels` (created on first use, like
    /// [`get_or_create`](Self::get_or_create)), to record into it later with
    /// [`series`](Self::series) without another lookup.
    ///
    /// ```
    /// use fiko_metrics::{Counter, Family, LabelSet};
    ///
    /// #[derive(LabelSet)]
    /// struct Route { route: String }
    ///
    /// let requests = Family::<Route, Counter>::default();
    /// let users = requests.series_id(&Route { route: "/users/{id}".into() });
    /// for _ in 0..3 {
    ///     requests.series(users).inc();
    /// }
    /// assert_eq!(requests.get_or_create(&Route { route: "/users/{id}".into() }).get(), 3);
    /// ```
    #[inline(always)]
    pub fn series_id(&self, labels: &L) -> SeriesId<L, M> {
        if L::DENSE.is_some() {
            let index = labels.dense_index();
            if index < self.core.dense.len() {
                if L::SPARSE {
                    self.core.touch(index);
                }
                return SeriesId::new(Slot::Dense(index));
            }
        }
        SeriesId::new(Slot::Open(self.core.open_slot(&Typed(labels))))
    }

    /// The series `id` names: an array index or an append-only vector read, no hashing and
    /// no lock. The id of a series that expired or was removed names the series of the
    /// same labels now: brought back (a counter from zero), or the overflow series when
    /// the family is at its limit (see [Series lifecycle](crate::family#series-lifecycle)).
    #[inline(always)]
    pub fn series(&self, id: SeriesId<L, M>) -> &M {
        self.core.series(id.slot)
    }

    /// Removes the open series of `labels` now: the next scrape no longer shows it, and its
    /// place under the limit goes to new values. Returns `false` when there is no such
    /// series: never created, already gone, or a closed-label series (those are never
    /// removed).
    ///
    /// Recording into it again brings it back (a counter from zero, plus whatever it
    /// recorded after the last scrape showed it); see
    /// [Series lifecycle](crate::family#series-lifecycle).
    ///
    /// ```
    /// use fiko_metrics::{Counter, Family, LabelSet};
    ///
    /// #[derive(LabelSet)]
    /// struct Pod { pod: String }
    ///
    /// let restarts = Family::<Pod, Counter>::default();
    /// let web = Pod { pod: "web-1".into() };
    /// restarts.get_or_create(&web).inc();
    /// assert!(restarts.remove(&web));
    /// assert!(!restarts.remove(&web));
    /// assert_eq!(restarts.len(), 0);
    /// ```
    pub fn remove(&self, labels: &L) -> bool {
        if L::DENSE.is_some() && labels.dense_index() < self.core.dense.len() {
            return false;
        }
        self.core.remove_rendered(&Typed(labels))
    }

    /// How many label values were folded into the overflow series so far.
    pub fn folded(&self) -> u64 {
        self.core.folded.load(Ordering::Relaxed)
    }

    /// The number of series exposed now: every combination of a dense closed label set,
    /// the recorded ones of a sparse one, and the open series that have not expired or
    /// been removed.
    pub fn len(&self) -> usize {
        let dense = if L::SPARSE {
            self.core
                .touched
                .iter()
                .map(|word| word.load(Ordering::Relaxed).count_ones() as usize)
                .sum()
        } else {
            self.core.dense.len()
        };
        dense + self.core.live.load(Ordering::Relaxed)
    }

    /// Whether the family has no series yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Hands every series to `visitor`, in creation order; `metric` describes the family.
    /// Recording threads never wait for a scrape. A family with expiry applies it first
    /// (see [Series lifecycle](crate::family#series-lifecycle)).
    pub fn visit(&self, metric: &MetricDescriptor, visitor: &mut dyn Visitor) -> fmt::Result {
        self.visit_at(metric, visitor, (self.core.clock)())
    }

    /// [`visit`](Self::visit) as if the scrape happened at `now`, for tests of expiry.
    #[doc(hidden)]
    pub fn visit_at(
        &self,
        metric: &MetricDescriptor,
        visitor: &mut dyn Visitor,
        now: Instant,
    ) -> fmt::Result {
        self.core.visit_at(
            metric,
            visitor,
            now,
            (L::DENSE.is_some(), L::SPARSE),
            L::write_dense,
        )
    }
}

// A typed label set as the open-series paths take it (`WriteLabels`): one small vtable
// per label set, not a closure per family (`Family<L, M>`).
struct Typed<'a, L>(&'a L);

impl<L: LabelSet> DynamicLabels for Typed<'_, L> {
    fn write(&self, overflowed: bool, sink: &mut LabelSink<'_>) -> fmt::Result {
        self.0.write(overflowed, sink)
    }
}

impl<M: Metric> Core<M> {
    // What `Family::from_declaration` builds, without the label type.
    fn declare(
        declaration: &Declaration,
        dense: (usize, bool),
        descriptors: &'static [LabelDescriptor],
    ) -> Self {
        let mut core = Self::new(
            M::declared_config(declaration),
            (declaration.max_series, declaration.exemplars),
            dense,
            descriptors,
        );
        if let Some(duration) = declaration.expire_after {
            core.expire_after(duration);
        }
        core
    }

    // Open series expire once unwritten for `duration` (see `Family::expire_after`).
    fn expire_after(&mut self, duration: Duration) {
        self.expiry = Some(duration);
        *self.lifecycle.get_mut() = true;
    }

    // `Family::visit_at` without the label type: `closed` and `sparse` are the label
    // set's `DENSE.is_some()` and `SPARSE`, `write_dense` its `LabelSet::write_dense`.
    fn visit_at(
        &self,
        metric: &MetricDescriptor,
        visitor: &mut dyn Visitor,
        now: Instant,
        (closed, sparse): (bool, bool),
        write_dense: fn(usize, &mut LabelSink<'_>) -> fmt::Result,
    ) -> fmt::Result {
        for (index, series) in self.dense.iter().enumerate() {
            if !self.exposed(index, sparse) {
                continue;
            }
            let labels = DenseLabels { index, write_dense };
            series.visit(Labels::Source(&labels), visitor)?;
        }
        // A closed family has open series only if a hand-written `LabelValue` reported an
        // index outside its values (see `series_id`); those are shown like open ones.
        if closed && self.open.is_empty() {
            return Ok(());
        }
        self.visit_open(metric, visitor, now)
    }

    // Whether the dense series at `index` is exposed: always for a dense label set, once
    // recorded or looked up for a sparse one.
    fn exposed(&self, index: usize, sparse: bool) -> bool {
        !sparse
            || self
                .touched
                .get(index / 64)
                .is_some_and(|word| word.load(Ordering::Relaxed) & (1_u64 << (index % 64)) != 0)
    }

    fn new(
        config: M::Config,
        (max_series, exemplars): (usize, bool),
        (dense, sparse): (usize, bool),
        descriptors: &'static [LabelDescriptor],
    ) -> Self {
        let dense: Box<[M]> = (0..dense).map(|_| Self::make(&config, exemplars)).collect();
        let words = if sparse { dense.len().div_ceil(64) } else { 0 };
        Self {
            dense,
            touched: (0..words).map(|_| AtomicU64::new(0)).collect(),
            index: RwLock::new(Index::default()),
            open: Slots::default(),
            live: AtomicUsize::new(0),
            bounded: AtomicUsize::new(0),
            lifecycle: AtomicBool::new(false),
            expiry: None,
            clock: Instant::now,
            epoch: OnceLock::new(),
            scrape: Mutex::new(()),
            fallback: OnceLock::new(),
            config,
            exemplars: exemplars && M::EXEMPLARS,
            max_series,
            folded: AtomicU64::new(0),
            descriptors,
        }
    }

    fn make(config: &M::Config, exemplars: bool) -> M {
        let series = M::with_config(config);
        if !exemplars {
            series.refuse_exemplars();
        }
        series
    }

    // Marks the dense series at `index` as exposed (a sparse label set): a relaxed load,
    // and a `fetch_or` only the first time. Still no lock and no hashing.
    #[inline(always)]
    fn touch(&self, index: usize) {
        if let Some(word) = self.touched.get(index / 64) {
            let bit = 1_u64 << (index % 64);
            if word.load(Ordering::Relaxed) & bit == 0 {
                word.fetch_or(bit, Ordering::Relaxed);
            }
        }
    }

    #[inline(always)]
    fn series(&self, slot: Slot) -> &M {
        let series = match slot {
            Slot::Dense(index) => self.dense.get(index),
            Slot::Open(slot) => match self.open.get(slot) {
                Some(entry) if self.lifecycle.load(Ordering::Relaxed) => {
                    return self.live_series(slot, entry);
                }
                entry => entry.map(|entry| &entry.series),
            },
        };
        match series {
            Some(series) => series,
            None => self.fallback(),
        }
    }

    // The series to record into for the open `entry` of a family with lifecycle: the
    // entry itself, marked as written, unless it left the scrape.
    #[inline(always)]
    fn live_series<'a>(&'a self, slot: usize, entry: &'a Entry<M>) -> &'a M {
        if entry.retired() {
            return self.reenter(slot);
        }
        entry.touch();
        &entry.series
    }

    // An id (or a lookup that raced with a scrape) names a series that expired or was
    // removed: bring it back if the limit allows, else record into its overflow series
    // (found under the shared lock when it exists, as a lookup folds).
    #[cold]
    #[inline(never)]
    fn reenter(&self, slot: usize) -> &M {
        let Some(entry) = self.open.get(slot) else {
            return self.fallback();
        };
        let full = || !entry.overflow && self.bounded.load(Ordering::Relaxed) >= self.max_series;
        let slot = with_key_buffer(|key| {
            {
                let index = self.read_index();
                if !entry.retired() {
                    return slot;
                }
                if full() {
                    overflow_key(&entry.key, self.descriptors, key);
                    if let Some(overflow) = self.find(&index, key) {
                        if self.usable(overflow) {
                            self.folded.fetch_add(1, Ordering::Relaxed);
                            return overflow;
                        }
                    }
                }
            }
            let mut index = self.write_index();
            if !entry.retired() {
                return slot;
            }
            if !full() {
                self.revive(entry, &mut index);
                return slot;
            }
            self.folded.fetch_add(1, Ordering::Relaxed);
            overflow_key(&entry.key, self.descriptors, key);
            self.insert_or_revive(&mut index, key, true)
        });
        match self.open.get(slot) {
            Some(entry) => {
                entry.touch();
                &entry.series
            }
            None => self.fallback(),
        }
    }

    // Stands in for a series that does not exist: an id from another family, or a slot
    // the vector cannot return (which cannot happen for this family's own ids).
    #[cold]
    fn fallback(&self) -> &M {
        self.fallback
            .get_or_init(|| Self::make(&self.config, self.exemplars))
    }

    // Whether the open series at `slot` can be recorded into as it is (a family without
    // lifecycle: always), marking it written.
    #[inline(always)]
    fn usable(&self, slot: usize) -> bool {
        match self.open.get(slot) {
            Some(entry) if entry.retired() => false,
            Some(entry) => {
                entry.touch();
                true
            }
            None => true,
        }
    }

    // Takes the labels' writer as a trait object, so the lookup and fold are compiled once
    // per metric type whatever the label set, and a family of run-time labels
    // (`Family<Dynamic, M>`) shares them.
    #[inline(never)]
    fn open_slot(&self, labels: &WriteLabels<'_>) -> usize {
        with_key_buffer(|key| {
            render(labels, false, key);
            // Most lookups end here; so does folding into an existing overflow series, so a
            // flood of new values past the limit never takes the exclusive lock.
            let mut folded = false;
            {
                let index = self.read_index();
                match self.find(&index, key) {
                    Some(slot) if self.usable(slot) => return slot,
                    // Retired: brought back (or folded) under the exclusive lock.
                    Some(_) => {}
                    None if self.bounded.load(Ordering::Relaxed) >= self.max_series => {
                        folded = true;
                        self.folded.fetch_add(1, Ordering::Relaxed);
                        render(labels, true, key);
                        if let Some(slot) = self.find(&index, key) {
                            if self.usable(slot) {
                                return slot;
                            }
                        }
                    }
                    None => {}
                }
            }
            let mut index = self.write_index();
            if !folded {
                if let Some(slot) = self.find(&index, key) {
                    match self.open.get(slot) {
                        Some(entry) if entry.retired() => {
                            if entry.overflow
                                || self.bounded.load(Ordering::Relaxed) < self.max_series
                            {
                                self.revive(entry, &mut index);
                                return slot;
                            }
                        }
                        _ => return slot,
                    }
                }
                if self.bounded.load(Ordering::Relaxed) >= self.max_series {
                    folded = true;
                    self.folded.fetch_add(1, Ordering::Relaxed);
                    render(labels, true, key);
                }
            }
            self.insert_or_revive(&mut index, key, folded)
        })
    }

    // The slot of `key` under the exclusive lock: brought back if it left the scrape
    // (the caller checked the limit), created if new.
    fn insert_or_revive(&self, index: &mut Index, key: &str, overflow: bool) -> usize {
        if let Some(slot) = self.find(index, key) {
            if let Some(entry) = self.open.get(slot) {
                if entry.retired() {
                    self.revive(entry, index);
                }
            }
            return slot;
        }
        // The index keeps 4-byte slot numbers. A family that has made that many slots (for
        // as many label sets, hundreds of gigabytes of them) records new ones nowhere: into
        // the fallback, which no scrape shows.
        let Ok(number) = u32::try_from(self.open.len()) else {
            return NOWHERE;
        };
        let slot = self.open.push(
            Entry {
                key: key.into(),
                series: Self::make(&self.config, self.exemplars),
                overflow,
                state: AtomicU8::new(TOUCHED),
                shown: AtomicU64::new(0),
                mark: AtomicU64::new(0),
            },
            index,
        );
        let Index { slots, hasher } = index;
        let rehash = |&slot: &u32| hasher.hash_one(self.key(slot as usize));
        slots.insert_unique(hasher.hash_one(key), number, rehash);
        self.count_live(overflow, true);
        slot
    }

    // The slot whose series has the labels `key`.
    #[inline]
    fn find(&self, index: &Index, key: &str) -> Option<usize> {
        let hash = index.hasher.hash_one(key);
        index
            .slots
            .find(hash, |&slot| self.key(slot as usize) == key)
            .map(|&slot| slot as usize)
    }

    // The rendered labels of the open series at `slot` (every slot in the index has one).
    #[inline]
    fn key(&self, slot: usize) -> &str {
        self.open.get(slot).map_or("", |entry| &entry.key)
    }

    // Brings back a retired series (under the exclusive lock, which `_index` proves): a
    // counter restarts from what it recorded since its last exposed value.
    fn revive(&self, entry: &Entry<M>, _index: &mut Index) {
        entry.series.restart(entry.shown.load(Ordering::Relaxed));
        entry.shown.store(0, Ordering::Relaxed);
        entry.state.store(TOUCHED, Ordering::Relaxed);
        self.count_live(entry.overflow, true);
    }

    // Takes a series out of the scrape (under the exclusive lock): its place under the
    // limit goes back to new values.
    fn retire(&self, entry: &Entry<M>, _index: &mut Index) {
        entry
            .mark
            .store(entry.series.fingerprint(), Ordering::Relaxed);
        entry.state.fetch_or(RETIRED, Ordering::Relaxed);
        self.count_live(entry.overflow, false);
    }

    fn count_live(&self, overflow: bool, up: bool) {
        let step = |count: &AtomicUsize| {
            if up {
                count.fetch_add(1, Ordering::Relaxed);
            } else {
                count.fetch_sub(1, Ordering::Relaxed);
            }
        };
        step(&self.live);
        if !overflow {
            step(&self.bounded);
        }
    }

    fn read_index(&self) -> std::sync::RwLockReadGuard<'_, Index> {
        self.index.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write_index(&self) -> std::sync::RwLockWriteGuard<'_, Index> {
        self.index.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn remove_rendered(&self, labels: &WriteLabels<'_>) -> bool {
        with_key_buffer(|key| {
            render(labels, false, key);
            // Against scrapes: one that started before lifecycle was on must end first.
            let _scrape = self.scrape.lock().unwrap_or_else(PoisonError::into_inner);
            let mut index = self.write_index();
            let entry = self.find(&index, key).and_then(|slot| self.open.get(slot));
            match entry {
                Some(entry) if !entry.retired() => {
                    self.lifecycle.store(true, Ordering::Relaxed);
                    self.retire(entry, &mut index);
                    true
                }
                _ => false,
            }
        })
    }

    // The open series' part of a scrape (a family with lifecycle settles them first), and
    // the overflow count.
    fn visit_open(
        &self,
        metric: &MetricDescriptor,
        visitor: &mut dyn Visitor,
        now: Instant,
    ) -> fmt::Result {
        {
            let _scrape = self.scrape.lock().unwrap_or_else(PoisonError::into_inner);
            if self.lifecycle.load(Ordering::Relaxed) {
                // Locked while the series are shown, so that none is brought back (and
                // restarted) between showing it and noting what was shown, nor in the
                // scrape that retired it: exclusively when this scrape retired or brought
                // back series, shared otherwise.
                let _index = match self.settle(now) {
                    Some(exclusive) => Ok(exclusive),
                    None => Err(self.read_index()),
                };
                for (_, entry) in self.open.iter() {
                    if !entry.retired() {
                        self.show(entry, visitor)?;
                    }
                }
            } else {
                for (_, entry) in self.open.iter() {
                    self.show(entry, visitor)?;
                }
            }
        }
        visitor.overflow(metric, self.folded.load(Ordering::Relaxed))
    }

    fn show(&self, entry: &Entry<M>, visitor: &mut dyn Visitor) -> fmt::Result {
        let shown = entry
            .series
            .visit_shown(Labels::Rendered(&entry.key), visitor)?;
        entry.shown.store(shown, Ordering::Relaxed);
        Ok(())
    }

    // A scrape's first pass over the open series of a family with lifecycle: notes which
    // were written, retires those unwritten for the expiry duration, and brings back the
    // retired ones written since they left (through a reference taken before) when the
    // limit has room. Decides without a lock; takes the exclusive one only to change
    // something, checks again under it, and returns it.
    fn settle(&self, now: Instant) -> Option<std::sync::RwLockWriteGuard<'_, Index>> {
        let epoch = *self.epoch.get_or_init(|| now);
        let now = nanos(now.saturating_duration_since(epoch));
        let expiry = self.expiry.map(nanos);
        let mut retire = Vec::new();
        let mut revive = Vec::new();
        for (slot, entry) in self.open.iter() {
            if entry.retired() {
                if self.written_since_left(entry) {
                    revive.push(slot);
                }
                continue;
            }
            let Some(expiry) = expiry else { continue };
            let touched = entry.touched();
            if touched {
                entry.state.fetch_and(!TOUCHED, Ordering::Relaxed);
            }
            if touched || self.written_since_shown(entry) {
                entry.mark.store(now, Ordering::Relaxed);
            } else if now.saturating_sub(entry.mark.load(Ordering::Relaxed)) >= expiry {
                retire.push(slot);
            }
        }
        if retire.is_empty() && revive.is_empty() {
            return None;
        }
        let mut index = self.write_index();
        for entry in retire.into_iter().filter_map(|slot| self.open.get(slot)) {
            if !entry.retired() && !entry.touched() && !self.written_since_shown(entry) {
                self.retire(entry, &mut index);
            }
        }
        for entry in revive.into_iter().filter_map(|slot| self.open.get(slot)) {
            if entry.retired()
                && (entry.overflow || self.bounded.load(Ordering::Relaxed) < self.max_series)
            {
                self.revive(entry, &mut index);
            }
        }
        Some(index)
    }

    fn written_since_left(&self, entry: &Entry<M>) -> bool {
        entry.series.fingerprint() != entry.mark.load(Ordering::Relaxed)
    }

    fn written_since_shown(&self, entry: &Entry<M>) -> bool {
        entry.series.fingerprint() != entry.shown.load(Ordering::Relaxed)
    }
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// Families whose label names are known only at run time: bridges from other metrics APIs
/// (the `metrics` facade) record through the same bounded index, overflow series and
/// overflow count as declared families.
impl<M: Metric> Family<Dynamic, M> {
    /// The id of the series for `labels` (created on first use): every label is open, so
    /// past the family's series limit the values fold into the overflow series of the same
    /// label names, and the fold is counted.
    ///
    /// `labels` must list each label name once, in the same order every time (sorted, say):
    /// the series key is the labels as written.
    ///
    /// ```
    /// use fiko_metrics::{Counter, Family};
    /// use fiko_metrics::labels::{Dynamic, DynamicLabels, LabelSink};
    ///
    /// struct Pairs<'a>(&'a [(&'a str, &'a str)]);
    ///
    /// impl DynamicLabels for Pairs<'_> {
    ///     fn write(&self, overflowed: bool, sink: &mut LabelSink<'_>) -> std::fmt::Result {
    ///         for (name, value) in self.0 {
    ///             sink(name, if overflowed { "other" } else { value })?;
    ///         }
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let calls = Family::<Dynamic, Counter>::new(Default::default(), 2);
    /// for user in ["ann", "bob", "cy", "dee"] {
    ///     let id = calls.dynamic_series_id(&Pairs(&[("user", user)]));
    ///     calls.series(id).inc();
    /// }
    /// assert_eq!((calls.len(), calls.folded()), (3, 2)); // ann, bob, other
    /// assert_eq!(calls.series(calls.dynamic_series_id(&Pairs(&[("user", "other")]))).get(), 2);
    ///
    /// // Removing one makes room for the next new value.
    /// assert!(calls.remove_dynamic(&Pairs(&[("user", "ann")])));
    /// calls.series(calls.dynamic_series_id(&Pairs(&[("user", "eve")]))).inc();
    /// assert_eq!((calls.len(), calls.folded()), (3, 2)); // bob, other, eve
    /// ```
    pub fn dynamic_series_id(&self, labels: &dyn DynamicLabels) -> SeriesId<Dynamic, M> {
        SeriesId::new(Slot::Open(self.core.open_slot(labels)))
    }

    /// [`remove`](Family::remove) for labels given at run time: removes the series of
    /// `labels` now, `false` if there is none.
    pub fn remove_dynamic(&self, labels: &dyn DynamicLabels) -> bool {
        self.core.remove_rendered(labels)
    }
}

impl<L: LabelSet, M: Metric> Default for Family<L, M> {
    fn default() -> Self {
        Self::new(M::Config::default(), DEFAULT_MAX_SERIES)
    }
}

impl<L: LabelSet, M: Metric> fmt::Debug for Family<L, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Family")
            .field("series", &self.len())
            .field("max_series", &self.core.max_series)
            .field("folded", &self.folded())
            .finish()
    }
}

// The labels of the dense series at `index`, written by the label set's `write_dense`.
struct DenseLabels {
    index: usize,
    write_dense: fn(usize, &mut LabelSink<'_>) -> fmt::Result,
}

impl LabelSource for DenseLabels {
    fn for_each(&self, sink: &mut LabelSink<'_>) -> fmt::Result {
        (self.write_dense)(self.index, sink)
    }
}

/// Renders `labels` as `a="x",b="y"` (escaped), the key of an open series.
fn render(labels: &WriteLabels<'_>, overflowed: bool, key: &mut String) {
    key.clear();
    // Writing into a `String` cannot fail.
    let _ = labels.write(overflowed, &mut |name, value| {
        if !key.is_empty() {
            key.push(',');
        }
        key.push_str(name);
        key.push_str("=\"");
        write_escaped_label_value(key, value);
        key.push('"');
        Ok(())
    });
}

/// Renders into `out` the key of the overflow series that the open series `key` folds
/// into: its open labels (per `labels`; all of them for run-time labels) read
/// [`OVERFLOW_VALUE`], as [`LabelSet::write`] writes them when overflowed.
fn overflow_key(key: &str, labels: &[LabelDescriptor], out: &mut String) {
    out.clear();
    let mut position = 0;
    // A key is rendered by this crate, so it always reads back.
    let _ = Labels::Rendered(key).for_each(&mut |name, value| {
        let open = labels
            .get(position)
            .is_none_or(|label| label.values.is_none());
        position += 1;
        if !out.is_empty() {
            out.push(',');
        }
        out.push_str(name);
        out.push_str("=\"");
        write_escaped_label_value(out, if open { OVERFLOW_VALUE } else { value });
        out.push('"');
        Ok(())
    });
}

/// Runs `f` with a per-thread buffer, so looking up an existing series allocates nothing.
fn with_key_buffer<R>(f: impl FnOnce(&mut String) -> R) -> R {
    thread_local! {
        static KEY: std::cell::Cell<String> = const { std::cell::Cell::new(String::new()) };
    }
    // Taken out and put back (not borrowed), so it also works during thread teardown.
    let mut key = KEY.try_with(std::cell::Cell::take).unwrap_or_default();
    let result = f(&mut key);
    let _ = KEY.try_with(|cell| cell.set(key));
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Counter;
    use crate::metric::NoConfig;

    /// What the module docs say an open series costs for its slot, kept or not.
    #[test]
    fn an_open_slot_takes_its_series_size_plus_48_bytes() {
        fn slot<M>() -> usize {
            std::mem::size_of::<OnceLock<Entry<M>>>()
        }
        assert_eq!(slot::<Counter>(), 56);
        for (size, series) in [
            (
                slot::<crate::CounterWithExemplar>(),
                std::mem::size_of::<crate::CounterWithExemplar>(),
            ),
            (slot::<crate::Gauge>(), std::mem::size_of::<crate::Gauge>()),
            (
                slot::<crate::Histogram>(),
                std::mem::size_of::<crate::Histogram>(),
            ),
        ] {
            assert_eq!(size, series + 48);
        }
    }

    /// Slots fill their chunks in order, keep their place as chunks are added, and come
    /// back in the order they were pushed.
    #[test]
    fn slots_keep_their_place_across_chunks() {
        let slots = Slots::default();
        let mut index = Index::default();
        assert!(slots.is_empty());
        assert_eq!(slots.get(0), None);
        let n = CHUNK * 3 + 5;
        for i in 0..n {
            assert_eq!(slots.push(i * 10, &mut index), i);
        }
        assert!(!slots.is_empty());
        assert_eq!(slots.chunks.count(), 4, "chunks are made only as they fill");
        assert!((0..n).all(|i| slots.get(i) == Some(&(i * 10))));
        assert_eq!(slots.get(n), None, "the unfilled rest of the last chunk");
        assert_eq!(slots.get(CHUNK * 4), None, "past the last chunk");
        let all: Vec<_> = slots.iter().map(|(slot, &value)| (slot, value)).collect();
        assert_eq!(all, (0..n).map(|i| (i, i * 10)).collect::<Vec<_>>());
    }

    /// The index keeps slots only and finds their keys in the series: every label set
    /// must still find its own series after the table has grown many times over (each
    /// growth rehashes the slots through their series' keys).
    #[test]
    fn each_of_many_open_label_sets_finds_its_own_series_after_the_index_grew() {
        struct User(usize);
        impl DynamicLabels for User {
            fn write(&self, _: bool, sink: &mut LabelSink<'_>) -> fmt::Result {
                sink("user", &format!("u{}", self.0))?;
                sink("team", &format!("t{}", self.0 % 7))
            }
        }
        let family = Family::<Dynamic, Counter>::new(NoConfig, 10_000);
        for i in 0..5_000 {
            let id = family.dynamic_series_id(&User(i));
            family.series(id).inc_by(i as u64);
        }
        assert_eq!((family.len(), family.folded()), (5_000, 0));
        for i in (0..5_000).step_by(7) {
            let id = family.dynamic_series_id(&User(i));
            assert_eq!(family.series(id).get(), i as u64, "label set {i}");
        }
        assert_eq!(family.len(), 5_000, "looking up created nothing");
    }

    #[test]
    fn overflow_keys_replace_only_open_values() {
        const LABELS: &[LabelDescriptor] = &[
            LabelDescriptor {
                name: "tenant",
                values: None,
            },
            LabelDescriptor {
                name: "outcome",
                values: Some(&["ok", "error"]),
            },
        ];
        let mut out = String::new();
        overflow_key(r#"tenant="a\"b,c=\\",outcome="error""#, LABELS, &mut out);
        assert_eq!(out, r#"tenant="other",outcome="error""#);
        // Run-time labels have no descriptors: every value is open.
        overflow_key(r#"user="ann",team="x""#, &[], &mut out);
        assert_eq!(out, r#"user="other",team="other""#);
    }
}
