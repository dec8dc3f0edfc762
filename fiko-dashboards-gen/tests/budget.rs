//! The series budget from the declarations: each metric's worst case per target, times
//! the targets of the jobs exposing it, checked against a declared budget.

use fiko_dashboards_gen::{Error, Generator, ObservedSet, OverBudget};
use fiko_metrics::{Counter, Family, Gauge, Histogram, LabelSet, LabelValue, MetricSet};

#[derive(MetricSet)]
#[metric_set(namespace = "shop")]
struct ShopMetrics {
    /// Orders taken, no labels: 1 series.
    orders: Counter,
    /// Payments by method and outcome, both closed: 3 × 2 series.
    payments: Family<PaymentLabels, Counter>,
    /// Carts by customer tier (closed, 2) and region (open, at most 10): 10 + 2 overflow.
    #[metric(max_series = 10)]
    carts: Family<CartLabels, Gauge>,
    /// Checkout latency by method (3), 4 buckets: 3 × (4 + `+Inf` + `_sum` + `_count`).
    #[metric(buckets = [0.1, 0.5, 1.0, 5.0])]
    checkout_duration_seconds: Family<MethodLabel, Histogram>,
    /// Basket size, native and classic (2 buckets): 2 + 3 + 1 native.
    #[metric(native, buckets = [1.0, 10.0])]
    basket_items: Histogram,
}

#[derive(LabelSet)]
struct PaymentLabels {
    method: Method,
    outcome: Outcome,
}

#[derive(LabelSet)]
struct CartLabels {
    tier: Tier,
    region: String,
}

#[derive(LabelSet)]
struct MethodLabel {
    method: Method,
}

#[derive(LabelValue)]
enum Method {
    Card,
    Transfer,
    Wallet,
}

#[derive(LabelValue)]
enum Outcome {
    Ok,
    Declined,
}

#[derive(LabelValue)]
enum Tier {
    Free,
    Paid,
}

/// The shop's set, scraped as `shop-web` on `targets` instances.
fn shop(targets: usize) -> Generator {
    let hosts: Vec<String> = (0..targets).map(|i| format!("web-{i}:8000")).collect();
    let hosts: Vec<&str> = hosts.iter().map(String::as_str).collect();
    Generator::new("shop")
        .runbook_base("https://runbooks.example/")
        .observe_set(ObservedSet::declared(ShopMetrics::DESCRIPTOR))
        .scrape_app("web", "/metrics", &hosts)
}

#[test]
fn each_metrics_worst_case_follows_from_its_labels_and_buckets() {
    let artefacts = shop(3).generate().expect("generate");
    let cardinality = artefacts.cardinality();
    for (metric, per_target) in [
        ("shop_orders", 1),
        ("shop_payments", 6),
        ("shop_carts", 12),
        ("shop_checkout_duration_seconds", 21),
        ("shop_basket_items", 6),
    ] {
        assert_eq!(cardinality.per_target(metric), Some(per_target), "{metric}");
    }
    let shop_total: u64 = (1 + 6 + 12 + 21 + 6) * 3;
    let shop_rows: Vec<_> = cardinality
        .metrics
        .iter()
        .filter(|m| m.set == "ShopMetrics")
        .collect();
    assert!(shop_rows.iter().all(|m| m.targets == 3), "{shop_rows:?}");
    assert_eq!(shop_rows.iter().map(|m| m.total()).sum::<u64>(), shop_total);
    // Prometheus' `up` and its scrape series, once per target, are in the total too.
    assert!(cardinality.total() > shop_total);

    let report = artefacts.get("CARDINALITY.md").expect("CARDINALITY.md");
    assert!(
        report.contains(
            "| ShopMetrics | `shop_carts` | 12 | 3 | 36 | 10 series limit + 2 overflow |"
        ),
        "{report}"
    );
    assert!(
        report.contains("| ShopMetrics | `shop_checkout_duration_seconds` | 21 | 3 | 63 | 3 label values × 7 (4 buckets, +Inf, _sum, _count) |"),
        "{report}"
    );
    assert!(
        report.contains("| ShopMetrics | `shop_basket_items` | 6 | 3 | 18 | 1 × 6 (2 buckets, +Inf, _sum, _count, native) |"),
        "{report}"
    );
    assert!(report.contains("| shop-web | 3 | "), "{report}");
    assert!(report.contains("no budget declared"), "{report}");
}

#[test]
fn a_deployment_over_its_budget_fails_naming_the_largest_metrics() {
    let within = shop(3)
        .series_budget(10_000, OverBudget::Fail)
        .generate()
        .expect("within budget");
    assert!(within.warnings().is_empty());
    let total = within.cardinality().total();
    assert!(
        within.get("CARDINALITY.md").is_some_and(
            |report| report.contains(&format!("**{total}** series, budget 10000 (within it)"))
        ),
        "{:?}",
        within.get("CARDINALITY.md")
    );

    // Ten times the instances: over a budget the three fit in.
    match shop(30)
        .series_budget(total + 1, OverBudget::Fail)
        .generate()
    {
        Err(Error::Invalid(problems)) => {
            assert_eq!(problems.len(), 1, "{problems:?}");
            let line = &problems[0];
            assert!(
                line.starts_with("series budget: the declarations can expose ")
                    && line.contains(&format!("over the budget of {}", total + 1))
                    && line
                        .contains("(largest: shop_checkout_duration_seconds 630, shop_carts 360, "),
                "{line}"
            );
        }
        other => panic!("expected the budget to fail generation, got {other:?}"),
    }

    // Configured to warn: generated, with the same line as a warning.
    let warned = shop(30)
        .series_budget(total + 1, OverBudget::Warn)
        .generate()
        .expect("a warning only");
    assert_eq!(warned.warnings().len(), 1, "{:?}", warned.warnings());
    assert!(warned.warnings()[0].starts_with("series budget: "));
    assert!(
        warned
            .get("CARDINALITY.md")
            .is_some_and(|report| report.contains("over it: a warning")),
    );
}
