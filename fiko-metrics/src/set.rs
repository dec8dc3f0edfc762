//! Metric sets: the structs `#[derive(MetricSet)]` turns into registered metrics.

use std::fmt;
use std::sync::{Arc, OnceLock};

use crate::counter::{Counter, CounterNumber, CounterRead, CounterWithExemplar};
use crate::descriptor::{Declaration, MetricDescriptor, MetricKind, SetDescriptor};
use crate::encoding::{Labels, Visitor};
use crate::family::Family;
use crate::gauge::{Gauge, GaugeNumber, GaugeRead};
use crate::histogram::Histogram;
use crate::labels::LabelSet;
use crate::metric::Metric;
use crate::registry::{Registry, RegistryError};

/// A struct of metrics declared with `#[derive(MetricSet)]`.
///
/// ```
/// use fiko_metrics::{Counter, MetricSet, Registry};
///
/// #[derive(MetricSet)]
/// #[metric_set(namespace = "shop")]
/// struct ShopMetrics {
///     /// Orders placed.
///     orders: Counter,
/// }
///
/// let registry = Registry::new();
/// let shop = ShopMetrics::register(&registry)?;
/// shop.orders.inc();
/// assert!(registry.encode(Default::default()).contains("shop_orders_total 1"));
/// assert_eq!(ShopMetrics::DESCRIPTOR.metrics[0].name, "shop_orders");
/// # Ok::<(), fiko_metrics::RegistryError>(())
/// ```
pub trait MetricSet: Send + Sync + Sized + 'static {
    /// What the set declares: names, kinds, help, units, labels, buckets.
    const DESCRIPTOR: &'static SetDescriptor;

    /// A fresh, unregistered set with every metric at zero.
    fn new() -> Self;

    /// Hands the samples of metric `index` (of [`DESCRIPTOR`](Self::DESCRIPTOR)`.metrics`)
    /// to `visitor`.
    fn visit_metric(&self, index: usize, visitor: &mut dyn Visitor) -> fmt::Result;

    /// The process-wide instance, registered in [`default_registry`](crate::default_registry)
    /// on first use: the same set as [`shared`](Self::shared), borrowed for the whole
    /// program (what `#[timed(metrics = ...)]` takes).
    fn global() -> &'static Self;

    /// The process-wide instance as an `Arc`: the same set as [`global`](Self::global),
    /// shaped like the one [`register`](Self::register) returns, so a type holding "this
    /// set, global or registered" stores an `Arc<Self>` either way.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use fiko_metrics::{Counter, Format, MetricSet, Registry};
    ///
    /// #[derive(MetricSet)]
    /// struct Mailer {
    ///     /// Mails sent.
    ///     sent: Counter,
    /// }
    ///
    /// struct Outbox {
    ///     metrics: Arc<Mailer>,
    /// }
    ///
    /// let global = Outbox { metrics: Mailer::shared() };
    /// let registry = Registry::new();
    /// let registered = Outbox { metrics: Mailer::register(&registry)? };
    ///
    /// global.metrics.sent.inc();
    /// assert_eq!(Mailer::global().sent.get(), 1);
    /// assert!(fiko_metrics::default_registry().encode(Format::Prometheus).contains("sent_total 1\n"));
    /// assert_eq!(registered.metrics.sent.get(), 0);
    /// # Ok::<(), fiko_metrics::RegistryError>(())
    /// ```
    fn shared() -> Arc<Self>;

    /// Creates a set and registers it in `registry`, in one call.
    fn register(registry: &Registry) -> Result<Arc<Self>, RegistryError> {
        let set = Arc::new(Self::new());
        registry.register_shared(set.clone())?;
        Ok(set)
    }

    /// Registers this set into a plain `prometheus_client` registry, so it can live beside
    /// metrics declared with prometheus-client directly.
    fn register_into_prometheus_client(
        self: &Arc<Self>,
        registry: &mut prometheus_client::registry::Registry,
    ) {
        registry.register_collector(Box::new(crate::interop::Bridge(self.clone())));
    }
}

/// Where a derived set keeps its process-wide instance ([`MetricSet::global`] and
/// [`MetricSet::shared`] read the same one): created and registered in the
/// [`default_registry`](crate::default_registry) on first use.
#[doc(hidden)]
pub struct GlobalSet<S>(OnceLock<Arc<S>>);

impl<S: MetricSet> GlobalSet<S> {
    /// Nothing created yet.
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Self {
        Self(OnceLock::new())
    }

    /// The instance, created on the first call. If its names clash with metrics already in
    /// the default registry it is still created and recorded into, but not exposed.
    pub fn get(&'static self) -> &'static Arc<S> {
        self.0
            .get_or_init(|| crate::default_registry().get_or_register::<S>())
    }
}

/// A field type of a metric set: a metric, or a [`Family`] of them.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a metric type",
    label = "not a metric",
    note = "metric set fields are `Counter`, `CounterWithExemplar`, `Gauge`, `Histogram` or a `Family<Labels, _>` of one of them"
)]
pub trait MetricField: Send + Sync + 'static {
    /// The kind of the metric.
    const KIND: MetricKind;

    /// Creates the field as declared.
    fn declare(declaration: &Declaration) -> Self;

    /// Hands every series of the field to `visitor`.
    fn visit_field(&self, metric: &MetricDescriptor, visitor: &mut dyn Visitor) -> fmt::Result;
}

impl<N: CounterNumber> MetricField for Counter<N>
where
    Counter<N>: CounterRead,
{
    const KIND: MetricKind = MetricKind::Counter;

    fn declare(_: &Declaration) -> Self {
        Self::default()
    }

    fn visit_field(&self, _: &MetricDescriptor, visitor: &mut dyn Visitor) -> fmt::Result {
        self.visit(Labels::None, visitor)
    }
}

impl<N: CounterNumber> MetricField for CounterWithExemplar<N>
where
    Counter<N>: CounterRead,
{
    const KIND: MetricKind = MetricKind::Counter;

    fn declare(_: &Declaration) -> Self {
        Self::default()
    }

    fn visit_field(&self, _: &MetricDescriptor, visitor: &mut dyn Visitor) -> fmt::Result {
        self.visit(Labels::None, visitor)
    }
}

impl<N: GaugeNumber> MetricField for Gauge<N>
where
    Gauge<N>: GaugeRead,
{
    const KIND: MetricKind = MetricKind::Gauge;

    fn declare(_: &Declaration) -> Self {
        Self::default()
    }

    fn visit_field(&self, _: &MetricDescriptor, visitor: &mut dyn Visitor) -> fmt::Result {
        self.visit(Labels::None, visitor)
    }
}

impl MetricField for Histogram {
    const KIND: MetricKind = MetricKind::Histogram;

    fn declare(declaration: &Declaration) -> Self {
        let histogram = Self::with_config(&Self::declared_config(declaration));
        if !declaration.exemplars {
            histogram.refuse_exemplars();
        }
        histogram
    }

    fn visit_field(&self, _: &MetricDescriptor, visitor: &mut dyn Visitor) -> fmt::Result {
        self.visit(Labels::None, visitor)
    }
}

impl<L: LabelSet, M: Metric> MetricField for Family<L, M> {
    const KIND: MetricKind = M::KIND;

    fn declare(declaration: &Declaration) -> Self {
        Self::from_declaration(declaration)
    }

    fn visit_field(&self, metric: &MetricDescriptor, visitor: &mut dyn Visitor) -> fmt::Result {
        self.visit(metric, visitor)
    }
}
