//! Labelled metrics.

use std::collections::HashMap;
use std::fmt;
use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use crate::descriptor::MetricDescriptor;
use crate::encoding::{LabelSource, Labels, Visitor, write_escaped_label_value};
use crate::labels::{LabelSet, LabelSink};
use crate::metric::Metric;

/// The default series limit of a family with open labels.
pub const DEFAULT_MAX_SERIES: usize = 1000;

/// A metric with labels: one series of `M` per label set `L`.
///
/// When every label of `L` is a closed enum, the series sit in a dense array indexed at
/// compile time: recording is an index computation and an atomic add. Open labels
/// (strings, numbers) go through a read-mostly map holding at most `max_series` series;
/// past it, values fold into one overflow series per closed-label combination, counted by
/// `fiko_metrics_label_overflow_total`.
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
    open: RwLock<HashMap<Box<str>, Arc<M>>>,
    config: M::Config,
    max_series: usize,
    folded: AtomicU64,
    labels: std::marker::PhantomData<fn(&L)>,
}

impl<L: LabelSet, M: Metric> Family<L, M> {
    /// A family whose series are created from `config` (histogram buckets, or nothing),
    /// with at most `max_series` series from open labels.
    pub fn new(config: M::Config, max_series: usize) -> Self {
        let dense = (0..L::DENSE.unwrap_or(0))
            .map(|_| M::with_config(&config))
            .collect();
        Self {
            dense,
            open: RwLock::new(HashMap::new()),
            config,
            max_series,
            folded: AtomicU64::new(0),
            labels: std::marker::PhantomData,
        }
    }

    /// The series for `labels`, created on first use.
    ///
    /// Never blocks for long and never panics: a closed label set is an array index; an
    /// open one takes a shared lock, and the exclusive one only to insert a new series.
    #[inline]
    pub fn get_or_create(&self, labels: &L) -> MetricRef<'_, M> {
        if L::DENSE.is_some() {
            if let Some(series) = self.dense.get(labels.dense_index()) {
                return MetricRef(Inner::Borrowed(series));
            }
        }
        MetricRef(Inner::Shared(self.open_series(labels)))
    }

    fn open_series(&self, labels: &L) -> Arc<M> {
        with_key_buffer(|key| {
            render(labels, false, key);
            if let Some(series) = self.read_open().get(key.as_str()) {
                return series.clone();
            }
            let mut open = self.open.write().unwrap_or_else(PoisonError::into_inner);
            if let Some(series) = open.get(key.as_str()) {
                return series.clone();
            }
            if open.len() >= self.max_series {
                self.folded.fetch_add(1, Ordering::Relaxed);
                render(labels, true, key);
                if let Some(series) = open.get(key.as_str()) {
                    return series.clone();
                }
            }
            let series = Arc::new(M::with_config(&self.config));
            open.insert(key.as_str().into(), series.clone());
            series
        })
    }

    fn read_open(&self) -> std::sync::RwLockReadGuard<'_, HashMap<Box<str>, Arc<M>>> {
        self.open.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many label values were folded into the overflow series so far.
    pub fn folded(&self) -> u64 {
        self.folded.load(Ordering::Relaxed)
    }

    /// The number of series that exist now.
    pub fn len(&self) -> usize {
        self.dense.len() + self.read_open().len()
    }

    /// Whether the family has no series yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Hands every series to `visitor`; `metric` describes the family.
    pub fn visit(&self, metric: &MetricDescriptor, visitor: &mut dyn Visitor) -> fmt::Result {
        for (index, series) in self.dense.iter().enumerate() {
            series.visit(Labels::Source(&DenseLabels::<L>::new(index)), visitor)?;
        }
        if L::DENSE.is_some() {
            return Ok(());
        }
        // Copy the handles out so recording threads never wait on a slow scrape.
        let mut open: Vec<(Box<str>, Arc<M>)> = self
            .read_open()
            .iter()
            .map(|(key, series)| (key.clone(), series.clone()))
            .collect();
        open.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        for (key, series) in &open {
            series.visit(Labels::Rendered(key), visitor)?;
        }
        visitor.overflow(metric, self.folded())
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

/// A borrowed or shared handle to one series of a [`Family`]; dereferences to the metric.
pub struct MetricRef<'a, M>(Inner<'a, M>);

enum Inner<'a, M> {
    Borrowed(&'a M),
    Shared(Arc<M>),
}

impl<M> MetricRef<'_, M> {
    /// A handle that outlives the family borrow (for series of open label sets it is the
    /// same series; closed ones are copied out by reference only while borrowed).
    pub fn into_shared(self) -> Option<Arc<M>> {
        match self.0 {
            Inner::Borrowed(_) => None,
            Inner::Shared(series) => Some(series),
        }
    }
}

impl<M> Deref for MetricRef<'_, M> {
    type Target = M;

    #[inline]
    fn deref(&self) -> &M {
        match &self.0 {
            Inner::Borrowed(series) => series,
            Inner::Shared(series) => series,
        }
    }
}

impl<M: fmt::Debug> fmt::Debug for MetricRef<'_, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
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
fn render<L: LabelSet>(labels: &L, overflowed: bool, key: &mut String) {
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
