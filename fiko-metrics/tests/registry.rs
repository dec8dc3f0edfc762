//! Registration rules.

use fiko_metrics::{Counter, Gauge, MetricSet, Registry, RegistryError};

#[derive(MetricSet)]
#[metric_set(namespace = "shop")]
struct Orders {
    /// Orders placed.
    orders: Counter,
}

#[derive(MetricSet)]
#[metric_set(namespace = "shop")]
struct AlsoOrders {
    /// Orders, declared again elsewhere.
    orders: Gauge,
}

#[test]
fn the_same_set_type_registers_once() {
    let registry = Registry::new();
    let first = Orders::register(&registry).expect("first");
    assert_eq!(
        Orders::register(&registry).err(),
        Some(RegistryError::AlreadyRegistered { set: "Orders" })
    );
    let again = registry.get_or_register::<Orders>();
    assert!(std::sync::Arc::ptr_eq(&first, &again));
}

#[test]
fn clashing_names_are_refused() {
    let registry = Registry::new();
    Orders::register(&registry).expect("first");
    let Err(error) = AlsoOrders::register(&registry) else {
        panic!("a clashing name registered")
    };
    assert_eq!(
        error,
        RegistryError::DuplicateName {
            name: "shop_orders"
        }
    );
    assert_eq!(
        error.to_string(),
        "a metric named `shop_orders` is registered already"
    );
    assert_eq!(registry.metrics().len(), 1);
}

#[test]
fn global_is_one_registered_instance() {
    let global = Orders::global();
    global.orders.inc();
    assert!(std::ptr::eq(global, Orders::global()));
    let text = fiko_metrics::default_registry().encode(Default::default());
    assert!(text.contains("shop_orders_total 1"), "{text}");
}

#[derive(MetricSet)]
#[metric_set(namespace = "shop")]
struct Refunds {
    /// Refunds granted.
    refunds: Counter,
}

#[test]
fn shared_and_global_are_one_set() {
    let shared = Refunds::shared();
    assert!(std::ptr::eq(&*shared, Refunds::global()));
    assert!(std::sync::Arc::ptr_eq(&shared, &Refunds::shared()));
    shared.refunds.inc();
    Refunds::global().refunds.inc_by(2);
    assert_eq!(shared.refunds.get(), 3);
    assert_eq!(Refunds::global().refunds.get(), 3);
    // The default registry exposes that one set, once, with both recordings.
    let registered = fiko_metrics::default_registry().get_or_register::<Refunds>();
    assert!(std::sync::Arc::ptr_eq(&shared, &registered));
    let text = fiko_metrics::default_registry().encode(Default::default());
    assert!(text.contains("\nshop_refunds_total 3\n"), "{text}");
    assert_eq!(
        text.matches("# TYPE shop_refunds_total counter").count(),
        1,
        "{text}"
    );
}

#[derive(MetricSet)]
#[metric_set(namespace = "clash")]
struct Deliveries {
    /// Deliveries made.
    deliveries: Counter,
}

#[derive(MetricSet)]
#[metric_set(namespace = "clash")]
struct AlsoDeliveries {
    /// Deliveries, declared again as a gauge.
    deliveries: Gauge,
}

#[test]
fn a_global_set_the_default_registry_refuses_is_still_one_set() {
    Deliveries::global().deliveries.inc();
    // `AlsoDeliveries`' name is taken: its global instance is recorded into, not exposed,
    // and `shared()` still hands out that same instance rather than a new one.
    let shared = AlsoDeliveries::shared();
    shared.deliveries.set(7);
    assert!(std::ptr::eq(&*shared, AlsoDeliveries::global()));
    assert_eq!(AlsoDeliveries::global().deliveries.get(), 7);
    let text = fiko_metrics::default_registry().encode(Default::default());
    assert!(text.contains("\nclash_deliveries_total 1\n"), "{text}");
    assert!(!text.contains("clash_deliveries 7"), "{text}");
}
