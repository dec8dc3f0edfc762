//! Interop with prometheus-client, both ways.

use std::sync::Arc;

use fiko_metrics::{Counter, Family, Format, Histogram, LabelSet, LabelValue, MetricSet, Registry};
use prometheus_client::encoding::text::encode;

#[derive(LabelValue)]
enum Plan {
    Free,
    Pro,
}

#[derive(LabelSet)]
struct PlanLabels {
    plan: Plan,
    region: String,
}

#[derive(MetricSet)]
#[metric_set(namespace = "billing")]
struct Billing {
    /// Billing transactions.
    transactions: Family<PlanLabels, Counter>,
    /// Revenue.
    #[metric(unit = "dollars")]
    revenue: Counter<f64>,
    /// Payment latency.
    #[metric(buckets = [0.5, 1.0])]
    payment_seconds: Histogram,
}

#[test]
fn a_fiko_set_registers_into_a_prometheus_client_registry() {
    let mut registry = prometheus_client::registry::Registry::default();
    let legacy = prometheus_client::metrics::counter::Counter::<u64>::default();
    registry.register("legacy_jobs", "Jobs counted the old way", legacy.clone());
    let billing = Arc::new(Billing::new());
    billing.register_into_prometheus_client(&mut registry);

    legacy.inc();
    billing
        .transactions
        .get_or_create(&PlanLabels {
            plan: Plan::Pro,
            region: "eu \"west\"".into(),
        })
        .inc_by(3);
    billing.revenue.inc_by(19.5);
    billing.payment_seconds.observe(0.7);

    let mut text = String::new();
    encode(&mut text, &registry).expect("encodes");
    for line in [
        "legacy_jobs_total 1",
        "# TYPE billing_transactions counter",
        r#"billing_transactions_total{plan="pro",region="eu \"west\""} 3"#,
        "# UNIT billing_revenue_dollars dollars",
        "billing_revenue_dollars_total 19.5",
        r#"billing_payment_seconds_bucket{le="0.5"} 0"#,
        r#"billing_payment_seconds_bucket{le="1.0"} 1"#,
        r#"billing_payment_seconds_bucket{le="+Inf"} 1"#,
        "billing_payment_seconds_count 1",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
}

#[test]
fn fiko_exposition_includes_a_prometheus_client_registry() {
    let mut legacy = prometheus_client::registry::Registry::default();
    let jobs = prometheus_client::metrics::counter::Counter::<u64>::default();
    legacy.register("legacy_jobs", "Jobs counted the old way", jobs.clone());

    let registry = Registry::new();
    let billing = Billing::register(&registry).expect("registers");
    registry.include_prometheus_client(legacy);
    jobs.inc_by(5);
    billing.revenue.inc_by(1.0);

    let text = registry.encode(Format::Prometheus);
    assert!(
        text.contains("# TYPE legacy_jobs_total counter\nlegacy_jobs_total 5\n"),
        "{text}"
    );
    assert!(text.contains("billing_revenue_dollars_total 1.0"), "{text}");
    assert!(!text.contains("# EOF"));

    let open = registry.encode(Format::OpenMetrics);
    assert!(open.contains("legacy_jobs_total 5"), "{open}");
    assert_eq!(open.matches("# EOF").count(), 1, "{open}");
    assert!(open.ends_with("# EOF\n"));
}
