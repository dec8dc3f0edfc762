//! Labelled metrics.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, PoisonError, RwLock};

use crate::descriptor::MetricDescriptor;
use crate::encoding::{LabelSource, Labels, Visitor, write_escaped_label_value};
use crate::labels::{Dynamic, DynamicLabels, LabelSet, LabelSink};
use crate::metric::Metric;

/// The default series limit of a family with open labels.
pub const DEFAULT_MAX_SERIES: usize = 1000;

/// The open-series index: label text to slot. foldhash is seeded per process, and the map
/// holds at most `max_series` keys, so crafted values cannot degrade it much.
type Index = HashMap<Arc<str>, usize, foldhash::fast::RandomState>;

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
/// `fiko_metrics_label_overflow_total`. Series are never removed, so `get_or_create`
/// hands out a plain reference.
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
    dense: Box<[M]>,
    // One bit per dense series of a sparse label set (`#[label_set(sparse)]`): set the
    // first time the series is recorded or looked up; a scrape shows only those. Empty
    // for a dense label set, which shows every combination.
    touched: Box<[AtomicU64]>,
    // Open series live in an append-only vector, so a series handed out stays put and a
    // scrape walks them without any lock; the map only finds a series by its labels.
    index: RwLock<Index>,
    open: boxcar::Vec<(Arc<str>, M)>,
    // Stands in for a series that does not exist (see `Family::fallback`); it keeps
    // `series` free of panics without an `expect`.
    fallback: OnceLock<M>,
    config: M::Config,
    // Whether its series record exemplars (a declaration without `#[metric(exemplars)]`
    // opts them out).
    exemplars: bool,
    max_series: usize,
    folded: AtomicU64,
    labels: std::marker::PhantomData<fn(&L)>,
}

impl<L: LabelSet, M: Metric> Family<L, M> {
    /// A family whose series are created from `config` (histogram buckets, or nothing),
    /// with at most `max_series` series from open labels.
    ///
    /// Its series record exemplars when asked; one declared in a `#[derive(MetricSet)]`
    /// records them only with `#[metric(exemplars)]`.
    pub fn new(config: M::Config, max_series: usize) -> Self {
        Self::declared(config, max_series, true)
    }

    /// A family as a declaration makes it: `exemplars` is `#[metric(exemplars)]`.
    pub(crate) fn declared(config: M::Config, max_series: usize, exemplars: bool) -> Self {
        let dense: Box<[M]> = (0..L::DENSE.unwrap_or(0))
            .map(|_| Self::make(&config, exemplars))
            .collect();
        let words = if L::SPARSE {
            dense.len().div_ceil(64)
        } else {
            0
        };
        Self {
            dense,
            touched: (0..words).map(|_| AtomicU64::new(0)).collect(),
            index: RwLock::new(Index::default()),
            open: boxcar::Vec::new(),
            fallback: OnceLock::new(),
            config,
            exemplars,
            max_series,
            folded: AtomicU64::new(0),
            labels: std::marker::PhantomData,
        }
    }

    fn make(config: &M::Config, exemplars: bool) -> M {
        let series = M::with_config(config);
        if !exemplars {
            series.refuse_exemplars();
        }
        series
    }

    /// Whether the family's series record exemplars: `false` for a family declared in a
    /// `#[derive(MetricSet)]` without `#[metric(exemplars)]`, `true` otherwise. Wrappers
    /// that read the exemplar source before they know the series ask this first (or
    /// [`exemplar_from_source`](Self::exemplar_from_source)).
    #[inline]
    pub fn records_exemplars(&self) -> bool {
        self.exemplars
    }

    /// The labels the installed [`exemplar::set_source`](crate::exemplar::set_source)
    /// gives now, if the family records exemplars; the source is not asked otherwise.
    #[inline]
    pub fn exemplar_from_source(&self) -> Option<crate::exemplar::ExemplarLabels> {
        if self.exemplars {
            crate::exemplar::from_source()
        } else {
            None
        }
    }

    /// The series for `labels`, created on first use.
    ///
    /// Never blocks for long and never panics: a closed label set is an array index; an
    /// open one renders its labels into a per-thread buffer and takes a shared lock on the
    /// index, and the exclusive one only to insert a new series.
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
            if index < self.dense.len() {
                if L::SPARSE {
                    self.touch(index);
                }
                return SeriesId::new(Slot::Dense(index));
            }
        }
        SeriesId::new(Slot::Open(
            self.open_slot(|overflowed, sink| labels.write(overflowed, sink)),
        ))
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

    // Whether the dense series at `index` is exposed: always for a dense label set, once
    // recorded or looked up for a sparse one.
    fn exposed(&self, index: usize) -> bool {
        !L::SPARSE
            || self
                .touched
                .get(index / 64)
                .is_some_and(|word| word.load(Ordering::Relaxed) & (1_u64 << (index % 64)) != 0)
    }

    /// The series `id` names: an array index or an append-only vector read, no hashing and
    /// no lock.
    #[inline(always)]
    pub fn series(&self, id: SeriesId<L, M>) -> &M {
        let series = match id.slot {
            Slot::Dense(index) => self.dense.get(index),
            Slot::Open(slot) => self.open.get(slot).map(|(_, series)| series),
        };
        match series {
            Some(series) => series,
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

    // Generic over how the labels are written, so the typed path stays monomorphic and a
    // family of run-time labels (`Family<Dynamic, M>`) shares the same lookup and fold.
    #[inline(never)]
    fn open_slot<W>(&self, labels: W) -> usize
    where
        W: Fn(bool, &mut LabelSink<'_>) -> fmt::Result,
    {
        with_key_buffer(|key| {
            render(&labels, false, key);
            // Most lookups end here; so does folding into an existing overflow series, so a
            // flood of new values past the limit never takes the exclusive lock.
            let mut folded = false;
            {
                let index = self.read_index();
                if let Some(&slot) = index.get(key.as_str()) {
                    return slot;
                }
                if index.len() >= self.max_series {
                    folded = true;
                    self.folded.fetch_add(1, Ordering::Relaxed);
                    render(&labels, true, key);
                    if let Some(&slot) = index.get(key.as_str()) {
                        return slot;
                    }
                }
            }
            let mut index = self.index.write().unwrap_or_else(PoisonError::into_inner);
            if let Some(&slot) = index.get(key.as_str()) {
                return slot;
            }
            if !folded && index.len() >= self.max_series {
                self.folded.fetch_add(1, Ordering::Relaxed);
                render(&labels, true, key);
                if let Some(&slot) = index.get(key.as_str()) {
                    return slot;
                }
            }
            let key: Arc<str> = Arc::from(key.as_str());
            let series = Self::make(&self.config, self.exemplars);
            let slot = self.open.push((key.clone(), series));
            index.insert(key, slot);
            slot
        })
    }

    fn read_index(&self) -> std::sync::RwLockReadGuard<'_, Index> {
        self.index.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many label values were folded into the overflow series so far.
    pub fn folded(&self) -> u64 {
        self.folded.load(Ordering::Relaxed)
    }

    /// The number of series that exist now: every combination of a dense closed label
    /// set, the recorded ones of a sparse one, and the open series.
    pub fn len(&self) -> usize {
        let dense = if L::SPARSE {
            self.touched
                .iter()
                .map(|word| word.load(Ordering::Relaxed).count_ones() as usize)
                .sum()
        } else {
            self.dense.len()
        };
        dense + self.open.count()
    }

    /// Whether the family has no series yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Hands every series to `visitor`, in creation order; `metric` describes the family.
    /// Takes no lock: recording threads never wait for a scrape.
    pub fn visit(&self, metric: &MetricDescriptor, visitor: &mut dyn Visitor) -> fmt::Result {
        for (index, series) in self.dense.iter().enumerate() {
            if !self.exposed(index) {
                continue;
            }
            series.visit(Labels::Source(&DenseLabels::<L>::new(index)), visitor)?;
        }
        // A closed family has open series only if a hand-written `LabelValue` reported an
        // index outside its values (see `series_id`); those are shown like open ones.
        if L::DENSE.is_some() && self.open.count() == 0 {
            return Ok(());
        }
        for (_, (key, series)) in self.open.iter() {
            series.visit(Labels::Rendered(key), visitor)?;
        }
        visitor.overflow(metric, self.folded())
    }
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
    /// ```
    pub fn dynamic_series_id(&self, labels: &dyn DynamicLabels) -> SeriesId<Dynamic, M> {
        SeriesId::new(Slot::Open(
            self.open_slot(|overflowed, sink| labels.write(overflowed, sink)),
        ))
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
            .field("max_series", &self.max_series)
            .field("folded", &self.folded())
            .finish()
    }
}

struct DenseLabels<L> {
    index: usize,
    labels: std::marker::PhantomData<fn(&L)>,
}

impl<L> DenseLabels<L> {
    fn new(index: usize) -> Self {
        Self {
            index,
            labels: std::marker::PhantomData,
        }
    }
}

impl<L: LabelSet> LabelSource for DenseLabels<L> {
    fn for_each(&self, sink: &mut LabelSink<'_>) -> fmt::Result {
        L::write_dense(self.index, sink)
    }
}

/// Renders `labels` as `a="x",b="y"` (escaped), the key of an open series.
fn render<W>(labels: &W, overflowed: bool, key: &mut String)
where
    W: Fn(bool, &mut LabelSink<'_>) -> fmt::Result,
{
    key.clear();
    // Writing into a `String` cannot fail.
    let _ = labels(overflowed, &mut |name, value| {
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
