//! Exemplars are opted in, and the opt-in controls recording, not only dashboards: a
//! `CounterWithExemplar` (a plain `Counter` keeps none) and a histogram declared with
//! `#[metric(exemplars)]` ask the installed source; a histogram declared without it (the
//! default) never does and records no exemplar, whatever call is made. Metrics made
//! outside a declaration record the exemplars they are given.

// The helpers fail the test by panicking (they are not `#[test]` fns: rust-clippy#13981).
#![allow(clippy::expect_used)]

use std::sync::atomic::{AtomicU64, Ordering};

use fiko_metrics::calls::{CallLabels, FunctionLabels};
use fiko_metrics::exemplar::{self, ExemplarLabels};
use fiko_metrics::{
    Counter, CounterWithExemplar, Family, Format, Histogram, LabelSet, MetricSet, Registry,
};

#[derive(LabelSet)]
struct Route {
    route: String,
}

#[derive(MetricSet)]
struct Shop {
    /// Orders, opted in by their type (the key changes nothing on it).
    #[metric(exemplars)]
    orders: CounterWithExemplar,
    /// Refunds, without exemplars (the default).
    refunds: Counter,
    /// Revenue, opted out.
    revenue: Counter<f64>,
    /// Checkout latency, opted in.
    #[metric(exemplars, buckets = [0.1, 1.0])]
    checkout_seconds: Histogram,
    /// Search latency, opted out.
    #[metric(buckets = [0.1, 1.0])]
    search_seconds: Histogram,
    /// Requests by route, opted in by their type alone.
    requests: Family<Route, CounterWithExemplar>,
    /// Page views by route, without exemplars.
    views: Family<Route, Counter>,
    /// Request latency by route, opted out.
    #[metric(buckets = [0.1, 1.0])]
    request_seconds: Family<Route, Histogram>,
}

/// `#[timed]` families without `#[metric(exemplars)]`.
#[derive(MetricSet)]
struct PlainCalls {
    /// Calls.
    #[metric(calls)]
    plain_calls: Family<CallLabels, Counter>,
    /// Call time.
    #[metric(durations, buckets = [0.1, 1.0])]
    plain_call_seconds: Family<FunctionLabels, Histogram>,
}

/// `#[timed]` families with it.
#[derive(MetricSet)]
struct TracedCalls {
    /// Calls.
    #[metric(calls)]
    traced_calls: Family<CallLabels, CounterWithExemplar>,
    /// Call time.
    #[metric(durations, exemplars, buckets = [0.1, 1.0])]
    traced_call_seconds: Family<FunctionLabels, Histogram>,
}

#[fiko_metrics::timed(metrics = PlainCalls::global())]
fn plain_work() {}

#[fiko_metrics::timed(metrics = TracedCalls::global())]
fn traced_work() {}

static ASKED: AtomicU64 = AtomicU64::new(0);

fn asked() -> u64 {
    ASKED.load(Ordering::SeqCst)
}

fn trace(id: &str) -> ExemplarLabels {
    ExemplarLabels::new(&[("trace_id", id)]).expect("valid labels")
}

#[test]
fn only_opted_in_metrics_ask_the_source_and_record_exemplars() {
    exemplar::set_source(|| {
        let n = ASKED.fetch_add(1, Ordering::SeqCst);
        Some(trace(&format!("trace-{n}")))
    })
    .expect("first source");
    let registry = Registry::new();
    let shop = Shop::register(&registry).expect("register");

    // What dashboards are told: exemplars where they are recorded.
    let declared = |name: &str| {
        Shop::DESCRIPTOR
            .metrics
            .iter()
            .find(|metric| metric.name == name)
            .expect("declared")
            .exemplars
    };
    assert!(declared("orders") && declared("requests") && declared("checkout_seconds"));
    assert!(!declared("refunds") && !declared("views") && !declared("search_seconds"));
    assert!(shop.checkout_seconds.records_exemplars());
    assert!(shop.requests.records_exemplars());
    assert!(!shop.views.records_exemplars());
    assert!(!shop.search_seconds.records_exemplars());
    assert!(!shop.request_seconds.records_exemplars());

    // Opted out: recorded, the source never asked, no exemplar kept.
    shop.refunds.inc();
    shop.revenue.inc_by(9.5);
    shop.search_seconds.observe_with_source(0.05);
    let route = Route {
        route: "/cart".into(),
    };
    shop.request_seconds
        .get_or_create(&route)
        .observe_with_source(0.05);
    assert_eq!(shop.request_seconds.exemplar_from_source(), None);
    assert_eq!(shop.views.exemplar_from_source(), None);
    assert_eq!(asked(), 0, "an opted-out metric asked the source");
    // Explicit labels are refused too.
    shop.search_seconds
        .observe_with_exemplar(0.05, &trace("explicit"));
    assert_eq!(
        (shop.refunds.get(), shop.revenue.get()),
        (1, 9.5),
        "the values are recorded"
    );
    assert_eq!(shop.search_seconds.count(), 2);
    assert!((0..3).all(|slot| shop.search_seconds.exemplar(slot).is_none()));
    assert!(
        shop.request_seconds
            .get_or_create(&route)
            .exemplar(0)
            .is_none()
    );

    // Opted in: each call asks the source once and keeps what it gave.
    shop.orders.inc_with_source();
    assert_eq!(asked(), 1);
    shop.checkout_seconds.observe_with_source(0.05);
    assert_eq!(asked(), 2);
    shop.requests.get_or_create(&route).inc_with_source();
    assert_eq!(asked(), 3);
    let labels = |exemplar: Option<fiko_metrics::exemplar::Exemplar>| {
        exemplar
            .expect("an exemplar")
            .labels
            .pairs()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
    };
    assert_eq!(labels(shop.orders.exemplar()), ["trace_id=trace-0"]);
    assert_eq!(
        labels(shop.checkout_seconds.exemplar(0)),
        ["trace_id=trace-1"]
    );
    assert_eq!(
        labels(shop.requests.get_or_create(&route).exemplar()),
        ["trace_id=trace-2"]
    );
    assert!(
        shop.requests.exemplar_from_source().is_some(),
        "an opted-in family asks"
    );
    assert_eq!(asked(), 4);

    let text = registry.encode(Format::OpenMetrics);
    assert!(
        text.contains(r#"orders_total 1 # {trace_id="trace-0"} 1.0 "#),
        "{text}"
    );
    for line in text.lines().filter(|line| {
        ["refunds", "revenue", "search", "views"]
            .iter()
            .any(|name| line.starts_with(name))
    }) {
        assert!(!line.contains(" # {"), "{line}");
    }

    // `#[timed]` asks the source as a call starts only for opted-in families.
    plain_work();
    assert_eq!(
        asked(),
        4,
        "#[timed] asked the source for opted-out families"
    );
    let plain = PlainCalls::global()
        .plain_call_seconds
        .get_or_create(&FunctionLabels::of("plain_work", module_path!()));
    assert_eq!(plain.count(), 1);
    assert!(plain.exemplar(0).is_none());
    let call = |function: &'static str| CallLabels {
        function,
        module: module_path!(),
        outcome: fiko_metrics::calls::Outcome::Ok,
        error: "",
    };
    let plain_calls = &PlainCalls::global().plain_calls;
    assert_eq!(plain_calls.get_or_create(&call("plain_work")).get(), 1);
    traced_work();
    assert_eq!(asked(), 5, "#[timed] asks once per call");
    let traced = TracedCalls::global()
        .traced_call_seconds
        .get_or_create(&FunctionLabels::of("traced_work", module_path!()));
    assert_eq!(labels(traced.exemplar(0)), ["trace_id=trace-4"]);
    let traced_calls = TracedCalls::global()
        .traced_calls
        .get_or_create(&call("traced_work"));
    assert_eq!(traced_calls.get(), 1);
    assert_eq!(labels(traced_calls.exemplar()), ["trace_id=trace-4"]);

    // Outside a declaration, a metric records what it is given.
    let standalone = CounterWithExemplar::default();
    standalone.inc_with_exemplar(&trace("standalone"));
    assert_eq!(labels(standalone.exemplar()), ["trace_id=standalone"]);
    let family = Family::<Route, Histogram>::default();
    assert!(family.records_exemplars());
    assert!(Family::<Route, CounterWithExemplar>::default().records_exemplars());
    assert!(!Family::<Route, Counter>::default().records_exemplars());
}
