//! What the recorder keeps: one runtime [`Family`] per facade metric, found by name.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

use fiko_metrics::encoding::{Labels, Visitor};
use fiko_metrics::histogram::Buckets;
use fiko_metrics::labels::{Dynamic, DynamicLabels};
use fiko_metrics::{
    Collect, Counter, Family, Gauge, Histogram, Metric, MetricDescriptor, MetricKind, Registry,
};

use crate::config::Config;
use crate::metrics::{FacadeMetrics, Reason, RejectedLabels};
use crate::names::metric_name;

/// The HELP of a facade metric nobody described.
pub(crate) const UNDESCRIBED_HELP: &str =
    "Recorded through the `metrics` facade; not declared and not described.";

/// A series that hands out `metrics` handles: the runtime's metric behind an `Arc`, so a
/// handle is an `Arc` clone, like metrics-exporter-prometheus' own.
pub(crate) struct Shared<M>(pub(crate) Arc<Cell<M>>);

/// The runtime's metric, in a type of this crate so it can implement `metrics`' traits.
pub(crate) struct Cell<M>(pub(crate) M);

impl<M: Metric> Metric for Shared<M> {
    const KIND: MetricKind = M::KIND;
    type Config = M::Config;

    fn with_config(config: &Self::Config) -> Self {
        Self(Arc::new(Cell(M::with_config(config))))
    }

    fn visit(&self, labels: Labels<'_>, visitor: &mut dyn Visitor) -> fmt::Result {
        self.0.0.visit(labels, visitor)
    }

    // The series lifecycle's hooks (expiry and removal), forwarded like `visit`.
    fn fingerprint(&self) -> u64 {
        self.0.0.fingerprint()
    }

    fn visit_shown(
        &self,
        labels: Labels<'_>,
        visitor: &mut dyn Visitor,
    ) -> Result<u64, fmt::Error> {
        self.0.0.visit_shown(labels, visitor)
    }

    fn restart(&self, shown: u64) {
        self.0.0.restart(shown);
    }
}

impl metrics::CounterFn for Cell<Counter> {
    fn increment(&self, value: u64) {
        self.0.inc_by(value);
    }

    fn absolute(&self, value: u64) {
        self.0.raise_to(value);
    }
}

impl metrics::GaugeFn for Cell<Gauge<f64>> {
    fn increment(&self, value: f64) {
        self.0.add(value);
    }

    fn decrement(&self, value: f64) {
        self.0.add(-value);
    }

    fn set(&self, value: f64) {
        self.0.set(value);
    }
}

impl metrics::HistogramFn for Cell<Histogram> {
    fn record(&self, value: f64) {
        self.0.observe(value);
    }
}

/// The series of one facade metric.
pub(crate) enum Series {
    Counter(Family<Dynamic, Shared<Counter>>),
    Gauge(Family<Dynamic, Shared<Gauge<f64>>>),
    Histogram(Family<Dynamic, Shared<Histogram>>),
}

impl Series {
    fn kind(&self) -> MetricKind {
        match self {
            Self::Counter(_) => MetricKind::Counter,
            Self::Gauge(_) => MetricKind::Gauge,
            Self::Histogram(_) => MetricKind::Histogram,
        }
    }

    fn visit(&self, metric: &MetricDescriptor, visitor: &mut dyn Visitor) -> fmt::Result {
        match self {
            Self::Counter(family) => family.visit(metric, visitor),
            Self::Gauge(family) => family.visit(metric, visitor),
            Self::Histogram(family) => family.visit(metric, visitor),
        }
    }
}

/// One facade metric the registry exposes.
pub(crate) struct Entry {
    // Leaked once per metric (twice when described after its first use): the runtime's
    // descriptors are `'static`, and the number of metrics is bounded by `max_metrics`.
    descriptor: RwLock<&'static MetricDescriptor>,
    described: std::sync::atomic::AtomicBool,
    pub(crate) series: Series,
}

impl Entry {
    fn descriptor(&self) -> &'static MetricDescriptor {
        *self
            .descriptor
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// A facade name the registry does not expose, and why.
#[derive(Clone)]
struct Refused {
    name: Arc<str>,
    reason: Reason,
}

enum Slot {
    Live(Arc<Entry>),
    Refused(Refused),
}

/// `describe_*` calls: the unit and help of a name, the first description winning.
#[derive(Clone)]
struct Description {
    unit: Option<metrics::Unit>,
    help: String,
}

#[derive(Default)]
struct Maps {
    by_name: HashMap<Box<str>, Slot, foldhash::fast::RandomState>,
    // Exposition order: creation order.
    entries: Vec<Arc<Entry>>,
    descriptions: HashMap<Box<str>, Description, foldhash::fast::RandomState>,
}

/// The recorder's state, shared with the registry as a collector.
pub(crate) struct State {
    config: Config,
    maps: RwLock<Maps>,
    pub(crate) self_metrics: Arc<FacadeMetrics>,
}

impl State {
    pub(crate) fn new(config: Config, self_metrics: Arc<FacadeMetrics>) -> Self {
        Self {
            config,
            maps: RwLock::new(Maps::default()),
            self_metrics,
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Maps> {
        self.maps.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Maps> {
        self.maps.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn refuse(&self, refused: &Refused) {
        self.self_metrics
            .rejected_calls
            .get_or_create(&RejectedLabels {
                metric: refused.name.clone(),
                reason: refused.reason,
            })
            .inc();
    }

    /// Runs `f` on the metric named `name` (as the facade gave it) of `kind`, created and
    /// claimed in `registry` on first use; `None` (and the call counted as rejected) when
    /// it cannot be exposed.
    ///
    /// An existing metric is used under the map's read lock, without touching its
    /// reference count: threads recording into the same metric share no written cache line
    /// here.
    pub(crate) fn with_entry<R>(
        &self,
        registry: &Registry,
        name: &str,
        kind: MetricKind,
        f: impl FnOnce(&Entry) -> R,
    ) -> Option<R> {
        let found = {
            let maps = self.read();
            match maps.by_name.get(name) {
                Some(Slot::Live(entry)) if entry.series.kind() == kind => return Some(f(entry)),
                Some(Slot::Live(entry)) => Some(Ok(entry.clone())),
                Some(Slot::Refused(refused)) => Some(Err(refused.clone())),
                None => None,
            }
        };
        // The read guard is gone: `create` takes the write lock.
        let entry = match found {
            Some(found) => self.checked(found, name, kind),
            None => self.create(registry, name, kind),
        };
        entry.map(|entry| f(&entry))
    }

    fn checked(
        &self,
        found: Result<Arc<Entry>, Refused>,
        name: &str,
        kind: MetricKind,
    ) -> Option<Arc<Entry>> {
        match found {
            Ok(entry) if entry.series.kind() == kind => Some(entry),
            Ok(_) => {
                self.refuse(&Refused {
                    name: Arc::from(name),
                    reason: Reason::KindMismatch,
                });
                None
            }
            Err(refused) => {
                self.refuse(&refused);
                None
            }
        }
    }

    #[cold]
    fn create(&self, registry: &Registry, name: &str, kind: MetricKind) -> Option<Arc<Entry>> {
        let mut maps = self.write();
        let found = match maps.by_name.get(name) {
            Some(Slot::Live(entry)) => Ok(entry.clone()),
            Some(Slot::Refused(refused)) => Err(refused.clone()),
            None => match self.new_entry(&maps, registry, name, kind) {
                Ok(entry) => {
                    maps.entries.push(entry.clone());
                    maps.by_name.insert(name.into(), Slot::Live(entry.clone()));
                    return Some(entry);
                }
                Err(refused) => {
                    // Past the limit nothing more is remembered, so the map stays bounded.
                    if refused.reason != Reason::TooManyMetrics {
                        maps.by_name
                            .insert(name.into(), Slot::Refused(refused.clone()));
                    }
                    Err(refused)
                }
            },
        };
        drop(maps);
        self.checked(found, name, kind)
    }

    fn new_entry(
        &self,
        maps: &Maps,
        registry: &Registry,
        name: &str,
        kind: MetricKind,
    ) -> Result<Arc<Entry>, Refused> {
        let refused = |reason| Refused {
            name: Arc::from(name),
            reason,
        };
        if maps.by_name.len() >= self.config.max_metrics {
            return Err(refused(Reason::TooManyMetrics));
        }
        let exposed = metric_name(name, kind).ok_or_else(|| refused(Reason::InvalidName))?;
        let description = maps.descriptions.get(name);
        let descriptor = describe(&exposed, kind, description, self.config.max_series);
        registry
            .claim(&descriptor)
            .map_err(|_| refused(Reason::Conflict))?;
        let max_series = self.config.max_series;
        let series = match kind {
            MetricKind::Counter => Series::Counter(Family::new(Default::default(), max_series)),
            MetricKind::Gauge => Series::Gauge(Family::new(Default::default(), max_series)),
            MetricKind::Histogram => {
                let buckets: Buckets = self.config.buckets_for(&exposed);
                Series::Histogram(Family::new(buckets.into(), max_series))
            }
        };
        Ok(Arc::new(Entry {
            descriptor: RwLock::new(Box::leak(Box::new(descriptor))),
            described: std::sync::atomic::AtomicBool::new(description.is_some()),
            series,
        }))
    }

    /// Records a `describe_*` call: the first description of a name wins.
    pub(crate) fn describe(&self, name: &str, unit: Option<metrics::Unit>, help: &str) {
        let mut maps = self.write();
        if !maps.descriptions.contains_key(name) {
            if maps.descriptions.len() >= self.config.max_metrics {
                return;
            }
            let description = Description {
                unit,
                help: help.to_owned(),
            };
            maps.descriptions.insert(name.into(), description);
        }
        // A metric used before it was described takes its description now, once.
        let Some(Slot::Live(entry)) = maps.by_name.get(name) else {
            return;
        };
        if entry
            .described
            .swap(true, std::sync::atomic::Ordering::Relaxed)
        {
            return;
        }
        let old = entry.descriptor();
        let descriptor = describe(
            old.name,
            old.kind,
            maps.descriptions.get(name),
            old.max_series,
        );
        *entry
            .descriptor
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Box::leak(Box::new(descriptor));
    }

    /// The facade names refused so far (not exposed), with the reason.
    pub(crate) fn refused(&self) -> Vec<(String, Reason)> {
        let mut out: Vec<(String, Reason)> = self
            .read()
            .by_name
            .values()
            .filter_map(|slot| match slot {
                Slot::Refused(refused) => Some((refused.name.to_string(), refused.reason)),
                Slot::Live(_) => None,
            })
            .collect();
        out.sort();
        out
    }

    /// Finds (or creates) the series of `labels` and hands out its handle.
    pub(crate) fn series<M: Metric>(
        family: &Family<Dynamic, Shared<M>>,
        labels: &dyn DynamicLabels,
    ) -> Arc<Cell<M>> {
        family.series(family.dynamic_series_id(labels)).0.clone()
    }
}

/// The descriptor of a facade metric: leaked strings, bounded by the metric limit.
fn describe(
    exposed: &str,
    kind: MetricKind,
    description: Option<&Description>,
    max_series: usize,
) -> MetricDescriptor {
    let name: &'static str = Box::leak(exposed.to_owned().into_boxed_str());
    // OpenMetrics wants a unit only as the name's suffix (`_seconds`); any other unit the
    // facade names is kept, in words, in the HELP text.
    let unit = description.and_then(|d| d.unit).filter(|unit| {
        matches!(unit, metrics::Unit::Seconds | metrics::Unit::Bytes)
            && name.ends_with(&format!("_{}", unit.as_str()))
    });
    let help: &'static str = match description {
        None => UNDESCRIBED_HELP,
        Some(description) => {
            let mut help = description.help.clone();
            if let Some(given) = description.unit {
                if unit.is_none() && given != metrics::Unit::Count {
                    help.push_str(&format!(" (unit: {})", given.as_str()));
                }
            }
            Box::leak(help.into_boxed_str())
        }
    };
    MetricDescriptor {
        name,
        field: name,
        kind,
        help,
        unit: unit.map(|unit| unit.as_str()),
        labels: &[],
        buckets: &[],
        native: None,
        exemplars: false,
        max_series,
        external: false,
    }
}

impl Collect for State {
    fn metrics(&self) -> &'static [MetricDescriptor] {
        &[]
    }

    fn visit_metric(&self, _: usize, _: &mut dyn Visitor) -> fmt::Result {
        Ok(())
    }

    fn visit_dynamic(&self, visitor: &mut dyn Visitor) -> fmt::Result {
        // Cloned out so recording threads creating metrics never wait for a scrape.
        let entries = self.read().entries.clone();
        for entry in entries {
            let descriptor = entry.descriptor();
            visitor.family(descriptor)?;
            entry.series.visit(descriptor, visitor)?;
        }
        Ok(())
    }
}
