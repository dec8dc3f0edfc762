//! A small shop outside this repository's demo, as a user would write it: two metric sets
//! with their dashboard rows and one custom alert, a `#[timed]` function, and an axum
//! router with the HTTP metrics layer — all in the default registry. Its
//! `src/bin/monitoring.rs` generates its monitoring with `fiko-dashboards-gen`'s
//! public API only (the README's "Generate the monitoring for your own application").

use axum::Router;
use axum::routing::{get, post};
use fiko_dashboards::prelude::*;
use fiko_metrics::calls::FunctionMetrics;
use fiko_metrics::{Counter, Family, Gauge, Histogram, LabelSet, LabelValue, MetricSet};
use fiko_metrics_axum::{HttpMetricsLayer, HttpServerMetrics, MetricsEndpoints};

/// Orders and checkouts.
#[derive(MetricSet)]
#[metric_set(namespace = "shop")]
pub struct ShopMetrics {
    /// Orders, by outcome.
    pub orders: Family<OrderLabels, Counter>,
    /// Checkout latency.
    #[metric(buckets = [0.1, 0.5, 1.0, 2.0, 5.0])]
    pub checkout_duration_seconds: Histogram,
}

/// Payments taken.
#[derive(MetricSet)]
#[metric_set(namespace = "shop", subsystem = "payments")]
pub struct PaymentMetrics {
    /// Money taken, in dollars.
    #[metric(unit = "dollars")]
    pub revenue: Counter,
    /// Carts open now.
    pub open_carts: Gauge,
}

/// The labels of [`ShopMetrics::orders`].
#[derive(LabelSet)]
pub struct OrderLabels {
    /// How the order ended.
    pub outcome: Outcome,
}

/// How an order ended.
#[derive(LabelValue)]
pub enum Outcome {
    /// Paid.
    Paid,
    /// Payment refused.
    Failed,
}

impl Observe for ShopMetrics {
    fn rows() -> Vec<Row> {
        vec![
            Row::new("Shop")
                .panel(
                    Panel::timeseries("Orders by outcome")
                        .query(Self::ORDERS.rate().by([OrderLabels::OUTCOME]))
                        .stacked(),
                )
                .panel(
                    Panel::timeseries("Checkout latency")
                        .query_as("p50", Self::CHECKOUT_DURATION_SECONDS.quantile(0.5))
                        .query_as("p95", Self::CHECKOUT_DURATION_SECONDS.quantile(0.95)),
                ),
        ]
    }

    // The application's own alert.
    fn alerts() -> Vec<Alert> {
        let failed = Self::ORDERS.rate().filter(OrderLabels::OUTCOME, "failed");
        vec![
            Alert::warning(
                "CheckoutFailures",
                ratio(failed, Self::ORDERS.rate()).above(Percent(10.0)),
            )
            .for_(minutes(10))
            .summary("Checkouts fail on {{ $labels.instance }}")
            .description("More than {threshold} of orders failed for {for}."),
        ]
    }
}

impl Observe for PaymentMetrics {
    fn rows() -> Vec<Row> {
        vec![
            Row::new("Payments")
                .panel(Panel::stat("Revenue in the last hour").query(Self::REVENUE.increase()))
                .panel(Panel::timeseries("Open carts").query(Self::OPEN_CARTS.value().max())),
        ]
    }
}

// Lets the generator find the rows and alerts of the sets it reads from the registry.
fiko_dashboards::observed!(ShopMetrics, PaymentMetrics);

/// Takes a payment; timed by `#[timed]` into the runtime's `FunctionMetrics`.
#[fiko_metrics::timed(name = "charge")]
pub fn charge(cents: u64) -> Result<u64, String> {
    if cents == 0 {
        return Err("nothing to charge".to_owned());
    }
    PaymentMetrics::global().revenue.inc_by(cents / 100);
    Ok(cents)
}

/// Registers every set the application records in the default registry, so the first
/// scrape shows them all (and a generator reading the registry finds them).
pub fn register_metrics() {
    ShopMetrics::global();
    PaymentMetrics::global();
    HttpServerMetrics::global();
    FunctionMetrics::global();
}

async fn checkout() -> &'static str {
    let shop = ShopMetrics::global();
    let outcome = match charge(1999) {
        Ok(_) => Outcome::Paid,
        Err(_) => Outcome::Failed,
    };
    shop.orders.get_or_create(&OrderLabels { outcome }).inc();
    shop.checkout_duration_seconds.observe(0.2);
    "paid"
}

/// The application: `POST /checkout`, `GET /health`, and the metrics endpoint.
pub fn router() -> Router {
    register_metrics();
    Router::new()
        .route("/checkout", post(checkout))
        .route("/health", get(|| async { "ok" }))
        .merge(MetricsEndpoints::global().into_router())
        .layer(HttpMetricsLayer::global().exclude("/api/v1/metrics"))
}
