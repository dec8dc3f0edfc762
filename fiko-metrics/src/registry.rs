//! The registry: what a scrape shows.

use std::any::{Any, TypeId};
use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, PoisonError, RwLock};

use crate::descriptor::{MetricDescriptor, OVERFLOW_METRIC, SetDescriptor};
use crate::encoding::{Exposition, Format, ProtobufEncoder, TextEncoder, Visitor};
use crate::set::MetricSet;

/// Something a registry asks for samples at every scrape: every [`MetricSet`], or a
/// hand-written collector such as one that reads the OS at scrape time.
pub trait Collect: Send + Sync + 'static {
    /// The metrics it shows, in order.
    fn metrics(&self) -> &'static [MetricDescriptor];

    /// The declared set it shows, if it shows one ([`Registry::sets`] lists these); `None`
    /// for a hand-written collector.
    fn set(&self) -> Option<&'static SetDescriptor> {
        None
    }

    /// Called once per scrape before any metric is visited: refresh values here.
    fn refresh(&self) {}

    /// Hands the samples of `metrics()[index]` to `visitor`.
    fn visit_metric(&self, index: usize, visitor: &mut dyn Visitor) -> fmt::Result;

    /// Hands metrics that appeared at run time to `visitor`, after those of `metrics()`:
    /// for each, [`Visitor::family`] with its descriptor, then its samples. For bridges
    /// from other metrics APIs (the `metrics` facade); every name shown here must have
    /// been claimed with [`Registry::claim`] first, so nothing is exposed twice.
    fn visit_dynamic(&self, visitor: &mut dyn Visitor) -> fmt::Result {
        let _ = visitor;
        Ok(())
    }
}

impl<S: MetricSet> Collect for S {
    fn metrics(&self) -> &'static [MetricDescriptor] {
        S::DESCRIPTOR.metrics
    }

    fn set(&self) -> Option<&'static SetDescriptor> {
        Some(S::DESCRIPTOR)
    }

    fn visit_metric(&self, index: usize, visitor: &mut dyn Visitor) -> fmt::Result {
        MetricSet::visit_metric(self, index, visitor)
    }
}

/// A [`MetricSet`] whose values are refreshed by a function at every scrape.
///
/// ```
/// use fiko_metrics::{Gauge, MetricSet, Refreshing, Registry};
/// use std::sync::Arc;
///
/// #[derive(MetricSet)]
/// struct Clock {
///     /// Seconds since the Unix epoch, read at scrape time.
///     now_seconds: Gauge<f64>,
/// }
///
/// let registry = Registry::new();
/// let clock = Arc::new(Clock::new());
/// registry.register_collector(Arc::new(Refreshing::new(clock, |clock: &Clock| {
///     let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
///     clock.now_seconds.set(now.map_or(0.0, |d| d.as_secs_f64()));
/// })))?;
/// assert!(!registry.encode(Default::default()).contains("now_seconds 0\n"));
/// # Ok::<(), fiko_metrics::RegistryError>(())
/// ```
pub struct Refreshing<S, F> {
    set: Arc<S>,
    refresh: F,
}

impl<S: MetricSet, F: Fn(&S) + Send + Sync + 'static> Refreshing<S, F> {
    /// Wraps `set`; `refresh` runs before every scrape.
    pub fn new(set: Arc<S>, refresh: F) -> Self {
        Self { set, refresh }
    }
}

impl<S: MetricSet, F: Fn(&S) + Send + Sync + 'static> Collect for Refreshing<S, F> {
    fn metrics(&self) -> &'static [MetricDescriptor] {
        S::DESCRIPTOR.metrics
    }

    fn set(&self) -> Option<&'static SetDescriptor> {
        Some(S::DESCRIPTOR)
    }

    fn refresh(&self) {
        (self.refresh)(&self.set);
    }

    fn visit_metric(&self, index: usize, visitor: &mut dyn Visitor) -> fmt::Result {
        self.set.visit_metric(index, visitor)
    }
}

/// Why a registration was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegistryError {
    /// Another registered metric already uses this name.
    DuplicateName {
        /// The metric family name.
        name: &'static str,
    },
    /// A set of this type is registered already (use [`Registry::get_or_register`]).
    AlreadyRegistered {
        /// The set's type name.
        set: &'static str,
    },
}

impl fmt::Display for RegistryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::DuplicateName { name } => {
                write!(f, "a metric named `{name}` is registered already")
            }
            Self::AlreadyRegistered { set } => {
                write!(f, "a `{set}` is registered already; use `get_or_register`")
            }
        }
    }
}

impl std::error::Error for RegistryError {}

/// Holds everything one `/metrics` endpoint exposes.
///
/// Registration checks names once; encoding walks the collectors in registration order.
/// Each scrape sizes its buffer from the last one of the same exposition, so a big
/// registry's output is written into one allocation rather than a doubling one.
#[derive(Default)]
pub struct Registry {
    inner: RwLock<Inner>,
    // The length of the last output of each exposition (`ScrapeSize::slot`).
    last_sizes: [AtomicUsize; 3],
}

/// The buffer a scrape starts with when no scrape of its exposition ran yet.
const FIRST_SCRAPE_CAPACITY: usize = 4096;

/// Which of [`Registry`]'s remembered output sizes an exposition uses.
#[derive(Clone, Copy)]
enum ScrapeSize {
    Text(Format),
    Protobuf,
}

impl ScrapeSize {
    fn slot(self) -> usize {
        match self {
            Self::Text(Format::Prometheus) => 0,
            Self::Text(Format::OpenMetrics) => 1,
            Self::Protobuf => 2,
        }
    }
}

#[derive(Default)]
struct Inner {
    collectors: Vec<Arc<dyn Collect>>,
    names: BTreeSet<&'static str>,
    // Every sample name exposed (`x_total`, `h_bucket`, ...), so a counter `x` and a gauge
    // `x_total`, or a histogram `h` and a gauge `h_count`, cannot both be registered.
    series: BTreeSet<String>,
    sets: HashMap<TypeId, Arc<dyn Any + Send + Sync>>,
    foreign: Vec<prometheus_client::registry::Registry>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = self.read();
        f.debug_struct("Registry")
            .field("metrics", &inner.names)
            .field("prometheus_client_registries", &inner.foreign.len())
            .finish()
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The capacity to start a scrape's buffer with: the last output of the same
    /// exposition and an eighth more (room for new series, so a registry that grew a
    /// little still fits in one allocation), or [`FIRST_SCRAPE_CAPACITY`] before any.
    fn scrape_capacity(&self, size: ScrapeSize) -> usize {
        let last = self
            .last_sizes
            .get(size.slot())
            .map_or(0, |last| last.load(Ordering::Relaxed));
        if last == 0 {
            FIRST_SCRAPE_CAPACITY
        } else {
            last.saturating_add(last / 8)
        }
    }

    fn remember_scrape_size(&self, size: ScrapeSize, len: usize) {
        if let Some(last) = self.last_sizes.get(size.slot()) {
            last.store(len, Ordering::Relaxed);
        }
    }

    /// Registers a set and hands it back, shared.
    pub fn register<S: MetricSet>(&self, set: S) -> Result<Arc<S>, RegistryError> {
        let set = Arc::new(set);
        self.register_shared(set.clone())?;
        Ok(set)
    }

    /// Registers a set that is already shared.
    pub fn register_shared<S: MetricSet>(&self, set: Arc<S>) -> Result<(), RegistryError> {
        self.register_set(TypeId::of::<S>(), S::DESCRIPTOR.type_name, set.clone(), set)
    }

    // `register_shared` without the set's type, so it is compiled once, not once per set:
    // the set as a collector, and as what `get_or_register` finds under `type_id`.
    fn register_set(
        &self,
        type_id: TypeId,
        type_name: &'static str,
        collector: Arc<dyn Collect>,
        set: Arc<dyn Any + Send + Sync>,
    ) -> Result<(), RegistryError> {
        let mut inner = self.write();
        if inner.sets.contains_key(&type_id) {
            return Err(RegistryError::AlreadyRegistered { set: type_name });
        }
        inner.add(collector)?;
        inner.sets.insert(type_id, set);
        Ok(())
    }

    /// The registered set of type `S`, registering a new one if there is none.
    ///
    /// If the new set's names clash with another registered metric it is returned but not
    /// exposed; [`MetricSet::global`] uses this, so it never fails.
    pub fn get_or_register<S: MetricSet>(&self) -> Arc<S> {
        let set = self.get_or_register_set(TypeId::of::<S>(), &|| {
            let set = Arc::new(S::new());
            (set.clone(), set)
        });
        match set.downcast::<S>() {
            Ok(set) => set,
            // Never: what is registered under `S`'s `TypeId` is an `S`.
            Err(_) => Arc::new(S::new()),
        }
    }

    // `get_or_register` without the set's type: the set registered under `type_id`, or
    // the one `make` creates (as a collector, and as the value kept under `type_id`),
    // registered unless its names clash.
    fn get_or_register_set(
        &self,
        type_id: TypeId,
        make: &dyn Fn() -> (Arc<dyn Collect>, Arc<dyn Any + Send + Sync>),
    ) -> Arc<dyn Any + Send + Sync> {
        if let Some(set) = self.read().sets.get(&type_id) {
            return set.clone();
        }
        let mut inner = self.write();
        if let Some(existing) = inner.sets.get(&type_id) {
            return existing.clone();
        }
        let (collector, set) = make();
        if inner.add(collector).is_ok() {
            inner.sets.insert(type_id, set.clone());
        }
        set
    }

    /// Registers a hand-written collector, e.g. a [`Refreshing`] set.
    pub fn register_collector(&self, collector: Arc<dyn Collect>) -> Result<(), RegistryError> {
        self.write().add(collector)
    }

    /// Reserves `metric`'s name (and the sample names it exposes) for a metric that
    /// appears at run time, shown by a collector's [`Collect::visit_dynamic`].
    ///
    /// Fails like a registration when a registered or claimed metric already exposes one
    /// of those names; once claimed, a set exposing one of them is refused in turn.
    ///
    /// ```
    /// use fiko_metrics::{Counter, MetricDescriptor, MetricKind, MetricSet, Registry, RegistryError};
    ///
    /// #[derive(MetricSet)]
    /// struct Shop {
    ///     /// Orders placed.
    ///     orders: Counter,
    /// }
    ///
    /// const fn counter(name: &'static str) -> MetricDescriptor {
    ///     MetricDescriptor {
    ///         name, field: "", kind: MetricKind::Counter, help: "", unit: None, labels: &[],
    ///         buckets: &[], native: None, exemplars: false, max_series: 1000, external: false,
    ///     }
    /// }
    ///
    /// let registry = Registry::new();
    /// Shop::register(&registry)?;
    /// assert_eq!(registry.claim(&counter("orders")), Err(RegistryError::DuplicateName { name: "orders" }));
    /// registry.claim(&counter("refunds"))?;
    /// # Ok::<(), RegistryError>(())
    /// ```
    pub fn claim(&self, metric: &MetricDescriptor) -> Result<(), RegistryError> {
        let mut inner = self.write();
        inner.check(std::slice::from_ref(metric))?;
        inner.insert_names(std::slice::from_ref(metric));
        Ok(())
    }

    /// Exposes an existing `prometheus_client` registry after fiko's own metrics.
    ///
    /// prometheus-client metrics are cheap handles: keep clones of them to record.
    pub fn include_prometheus_client(&self, registry: prometheus_client::registry::Registry) {
        self.write().foreign.push(registry);
    }

    /// The descriptors of every registered metric, in exposition order.
    pub fn metrics(&self) -> Vec<&'static MetricDescriptor> {
        self.read()
            .collectors
            .iter()
            .flat_map(|collector| collector.metrics())
            .collect()
    }

    /// The declared sets registered here (each [`MetricSet`], [`Refreshing`] set, or
    /// collector whose [`Collect::set`] names one), in registration order: what a
    /// dashboards generator reads so an application lists its sets once.
    ///
    /// ```
    /// use fiko_metrics::{Counter, MetricSet, Registry};
    ///
    /// #[derive(MetricSet)]
    /// struct Shop {
    ///     /// Orders placed.
    ///     orders: Counter,
    /// }
    ///
    /// let registry = Registry::new();
    /// Shop::register(&registry)?;
    /// let sets = registry.sets();
    /// assert_eq!(sets.len(), 1);
    /// assert_eq!(sets[0].type_name, "Shop");
    /// # Ok::<(), fiko_metrics::RegistryError>(())
    /// ```
    pub fn sets(&self) -> Vec<&'static SetDescriptor> {
        self.read()
            .collectors
            .iter()
            .filter_map(|collector| collector.set())
            .collect()
    }

    /// Encodes every registered set and collector as length-delimited protobuf
    /// `MetricFamily` messages: classic and native histogram buckets alike.
    ///
    /// prometheus-client registries included with
    /// [`include_prometheus_client`](Self::include_prometheus_client) have no encoder for
    /// this format and are left out: [`negotiate`](Self::negotiate) answers such a
    /// registry's scrapes in text.
    ///
    /// ```
    /// use fiko_metrics::encoding::proto::MetricFamily;
    /// use fiko_metrics::{Counter, MetricSet, Registry};
    /// use fiko_metrics::encoding::prost::Message;
    ///
    /// #[derive(MetricSet)]
    /// struct Shop {
    ///     /// Orders placed.
    ///     orders: Counter,
    /// }
    ///
    /// let registry = Registry::new();
    /// Shop::register(&registry)?.orders.inc();
    /// let bytes = registry.encode_protobuf();
    /// let family = MetricFamily::decode_length_delimited(&bytes[..]).unwrap();
    /// assert_eq!(family.name(), "orders_total");
    /// assert_eq!(family.metric[0].counter.as_ref().unwrap().value(), 1.0);
    /// # Ok::<(), fiko_metrics::RegistryError>(())
    /// ```
    pub fn encode_protobuf(&self) -> Vec<u8> {
        let collectors = self.read().collectors.clone();
        let mut out = Vec::with_capacity(self.scrape_capacity(ScrapeSize::Protobuf));
        let mut encoder = ProtobufEncoder::new(&mut out);
        visit_all(&collectors, &mut encoder);
        encoder.finish();
        self.remember_scrape_size(ScrapeSize::Protobuf, out.len());
        out
    }

    /// What to answer a scrape whose `Accept` header is `accept` with
    /// ([`Exposition::from_accept`]), falling back to text when prometheus-client
    /// registries are included, since those can only be encoded as text.
    pub fn negotiate(&self, accept: &str) -> Exposition {
        match Exposition::from_accept(accept) {
            Exposition::Protobuf if !self.read().foreign.is_empty() => {
                Exposition::Text(Format::from_accept(accept))
            }
            exposition => exposition,
        }
    }

    /// Encodes everything as `exposition` says.
    pub fn encode_exposition(&self, exposition: Exposition) -> Vec<u8> {
        match exposition {
            Exposition::Text(format) => self.encode(format).into_bytes(),
            Exposition::Protobuf => self.encode_protobuf(),
        }
    }

    /// Encodes everything in `format`.
    ///
    /// The buffer is allocated once, at the size of the last scrape in `format` and an
    /// eighth more; the first scrape starts small and grows.
    ///
    /// ```
    /// use fiko_metrics::{Counter, Family, Format, LabelSet, MetricSet, Registry};
    ///
    /// #[derive(LabelSet)]
    /// struct Tenant { tenant: String }
    ///
    /// #[derive(MetricSet)]
    /// struct Usage {
    ///     /// Requests by tenant.
    ///     requests: Family<Tenant, Counter>,
    /// }
    ///
    /// let registry = Registry::new();
    /// let usage = Usage::register(&registry)?;
    /// for tenant in 0..500 {
    ///     usage.requests.get_or_create(&Tenant { tenant: tenant.to_string() }).inc();
    /// }
    /// let first = registry.encode(Format::Prometheus);
    /// let second = registry.encode(Format::Prometheus);
    /// assert_eq!(first, second);
    /// assert!(second.capacity() <= second.len() + second.len() / 8);
    /// # Ok::<(), fiko_metrics::RegistryError>(())
    /// ```
    pub fn encode(&self, format: Format) -> String {
        let mut out = String::new();
        self.encode_into(&mut out, format);
        out
    }

    /// Appends everything, encoded in `format`, to `out`, reserving room for it first as
    /// [`encode`](Self::encode) does.
    pub fn encode_into(&self, out: &mut String, format: Format) {
        let start = out.len();
        out.reserve(self.scrape_capacity(ScrapeSize::Text(format)));
        // Clone the handles so registration never waits for a scrape.
        let (collectors, foreign_text) = {
            let inner = self.read();
            let mut foreign = String::new();
            for registry in &inner.foreign {
                // Writing into a `String` cannot fail.
                let _ = match format {
                    Format::Prometheus => {
                        prometheus_client::encoding::prometheus_text::encode(&mut foreign, registry)
                    }
                    Format::OpenMetrics => {
                        prometheus_client::encoding::text::encode_registry(&mut foreign, registry)
                    }
                };
            }
            (inner.collectors.clone(), foreign)
        };
        let mut encoder = TextEncoder::new(&mut *out, format);
        visit_all(&collectors, &mut encoder);
        encoder.push_raw(&foreign_text);
        encoder.finish();
        self.remember_scrape_size(ScrapeSize::Text(format), out.len().saturating_sub(start));
    }
}

impl Inner {
    fn add(&mut self, collector: Arc<dyn Collect>) -> Result<(), RegistryError> {
        let metrics = collector.metrics();
        self.check(metrics)?;
        self.insert_names(metrics);
        self.collectors.push(collector);
        Ok(())
    }

    /// Refuses `metrics` if one of them shares a name or a sample name with a registered
    /// metric, the overflow self-metric or another of `metrics`.
    fn check(&self, metrics: &[MetricDescriptor]) -> Result<(), RegistryError> {
        let overflow = OVERFLOW_METRIC.series_names();
        for (index, metric) in metrics.iter().enumerate() {
            let series = metric.series_names();
            let taken = self.names.contains(metric.name)
                || metric.name == OVERFLOW_METRIC.name
                || series
                    .iter()
                    .any(|name| self.series.contains(name) || overflow.contains(name))
                || metrics.iter().take(index).any(|other| {
                    other.name == metric.name
                        || other
                            .series_names()
                            .iter()
                            .any(|name| series.contains(name))
                });
            if taken {
                return Err(RegistryError::DuplicateName { name: metric.name });
            }
        }
        Ok(())
    }

    fn insert_names(&mut self, metrics: &[MetricDescriptor]) {
        for metric in metrics {
            self.names.insert(metric.name);
            self.series.extend(metric.series_names());
        }
    }
}

/// One scrape: each collector refreshed, then its metrics and its dynamic ones handed to
/// `visitor`, in registration order. An encoder into memory cannot fail, so a visitor's
/// `fmt::Error` is not looked at.
fn visit_all(collectors: &[Arc<dyn Collect>], visitor: &mut dyn Visitor) {
    for collector in collectors {
        collector.refresh();
        for (index, metric) in collector.metrics().iter().enumerate() {
            let _ = visitor.family(metric);
            let _ = collector.visit_metric(index, visitor);
        }
        let _ = collector.visit_dynamic(visitor);
    }
}

/// The process-wide registry that [`MetricSet::global`] registers into.
///
/// An `Arc`, like a registry an application creates, so a type serving "this registry,
/// the default or its own" stores an `Arc<Registry>` either way (`.clone()` it); it
/// derefs to the [`Registry`] for everything else.
///
/// ```
/// use std::sync::Arc;
/// use fiko_metrics::{Counter, Format, MetricSet, Registry};
///
/// #[derive(MetricSet)]
/// struct Signups {
///     /// Accounts created.
///     signups: Counter,
/// }
///
/// let served: Arc<Registry> = fiko_metrics::default_registry().clone();
/// Signups::global().signups.inc();
/// assert!(served.encode(Format::Prometheus).contains("signups_total 1\n"));
/// ```
pub fn default_registry() -> &'static Arc<Registry> {
    static DEFAULT: LazyLock<Arc<Registry>> = LazyLock::new(Arc::default);
    &DEFAULT
}
