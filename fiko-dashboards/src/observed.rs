//! Sets whose [`Observe`] impl a generator finds by itself, through the runtime's
//! [`Registry::sets`](fiko_metrics::Registry::sets): an application registers its sets
//! once and the generator reads their rows and alerts from the registry, without a
//! second list of types.
//!
//! [`observed!`](crate::observed) records a set's impl at link time (a `linkme`
//! distributed slice: Linux, macOS, Windows, the BSDs, illumos and WebAssembly).

use fiko_metrics::SetDescriptor;
use fiko_metrics::calls::FunctionMetrics;

use crate::{Alert, Observe, Row, Slo};

/// A set's [`Observe`] impl, as plain function pointers.
#[derive(Clone, Copy, Debug)]
pub struct Observed {
    /// What the set declares.
    pub descriptor: &'static SetDescriptor,
    /// [`Observe::service`].
    pub service: fn() -> &'static str,
    /// [`Observe::rows`].
    pub rows: fn() -> Vec<Row>,
    /// [`Observe::alerts`].
    pub alerts: fn() -> Vec<Alert>,
    /// [`Observe::slos`].
    pub slos: fn() -> Vec<Slo>,
}

impl Observed {
    /// The impl of `S`.
    pub const fn of<S: Observe>() -> Self {
        Self {
            descriptor: S::DESCRIPTOR,
            service: S::service,
            rows: S::rows,
            alerts: S::alerts,
            slos: S::slos,
        }
    }

    /// The impl recorded with [`observed!`](crate::observed) for the set `descriptor`
    /// describes, if any.
    pub fn find(descriptor: &SetDescriptor) -> Option<&'static Self> {
        // This crate's own sets are listed here: the workspace forbids `unsafe_code`, and
        // a distributed slice element is a `#[link_section]` static, which that lint
        // refuses in the crate that writes it (it does not look into other crates'
        // macros, such as `observed!` used by an integration).
        static BUILT_IN: [Observed; 1] = [Observed::of::<FunctionMetrics>()];
        // Compared by value: a `const` descriptor may live at several addresses.
        BUILT_IN
            .iter()
            .chain(crate::__private::OBSERVED.iter())
            .find(|observed| observed.descriptor == descriptor)
    }
}

/// Records the [`Observe`] impls of the listed sets so that a generator reading a
/// [`Registry`](fiko_metrics::Registry) finds their rows and alerts (see
/// `fiko_dashboards_gen::Generator::observe_registered`). Write it once, next to the impls.
///
/// ```
/// use fiko_dashboards::prelude::*;
/// use fiko_dashboards::Observed;
/// use fiko_metrics::{Counter, MetricSet};
///
/// #[derive(MetricSet)]
/// #[metric_set(namespace = "shop")]
/// pub struct ShopMetrics {
///     /// Orders placed.
///     orders: Counter,
/// }
///
/// impl Observe for ShopMetrics {
///     fn rows() -> Vec<Row> {
///         vec![Row::new("Shop").panel(Panel::timeseries("Orders").query(Self::ORDERS.rate()))]
///     }
/// }
///
/// fiko_dashboards::observed!(ShopMetrics);
///
/// let found = Observed::find(ShopMetrics::DESCRIPTOR).expect("recorded");
/// assert_eq!((found.rows)()[0].title, "Shop");
/// ```
#[macro_export]
macro_rules! observed {
    ($($set:ty),+ $(,)?) => {
        $(
            const _: () = {
                #[$crate::__private::linkme::distributed_slice($crate::__private::OBSERVED)]
                #[linkme(crate = $crate::__private::linkme)]
                static OBSERVED: $crate::Observed = $crate::Observed::of::<$set>();
            };
        )+
    };
}
