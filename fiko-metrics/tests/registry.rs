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
