//! Open labels are bounded: past the limit, values fold into an overflow series.

use fiko_metrics::{Counter, Family, Format, LabelSet, LabelValue, MetricSet, Registry};

#[derive(LabelValue)]
enum Kind {
    Read,
    Write,
}

#[derive(LabelSet)]
struct PathLabels {
    path: String,
    kind: Kind,
}

#[derive(MetricSet)]
#[metric_set(namespace = "app")]
struct Requests {
    /// Requests by raw path (a bad idea, bounded anyway).
    #[metric(max_series = 100)]
    requests: Family<PathLabels, Counter>,
}

#[test]
fn a_hundred_thousand_distinct_values_stay_bounded() {
    let registry = Registry::new();
    let metrics = Requests::register(&registry).expect("registers");
    const DISTINCT: u64 = 100_000;
    for i in 0..DISTINCT {
        let kind = if i % 2 == 0 { Kind::Read } else { Kind::Write };
        metrics
            .requests
            .get_or_create(&PathLabels {
                path: format!("/user/{i}"),
                kind,
            })
            .inc();
    }
    // 100 real series, plus one overflow series per closed combination (read, write).
    assert_eq!(metrics.requests.len(), 102);
    assert_eq!(metrics.requests.folded(), DISTINCT - 100);

    let text = registry.encode(Format::Prometheus);
    let series: Vec<&str> = text
        .lines()
        .filter(|line| line.starts_with("app_requests_total{"))
        .collect();
    assert_eq!(series.len(), 102);
    let total: u64 = series
        .iter()
        .map(|line| {
            line.rsplit(' ')
                .next()
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0)
        })
        .sum();
    assert_eq!(total, DISTINCT, "no count is lost when values fold");
    assert!(
        text.contains(r#"app_requests_total{path="other",kind="read"} 49950"#),
        "{text}"
    );
    assert!(
        text.contains(r#"app_requests_total{path="other",kind="write"} 49950"#),
        "{text}"
    );
    assert!(
        text.contains(r#"fiko_metrics_label_overflow_total{metric="app_requests"} 99900"#),
        "{text}"
    );

    // A value seen before the limit keeps its own series.
    metrics
        .requests
        .get_or_create(&PathLabels {
            path: "/user/0".into(),
            kind: Kind::Read,
        })
        .inc();
    assert!(
        registry
            .encode(Format::Prometheus)
            .contains(r#"path="/user/0",kind="read"} 2"#)
    );
}

#[test]
fn limit_applies_per_family_with_the_default_of_a_thousand() {
    #[derive(LabelSet)]
    struct Tenant {
        tenant: u64,
    }
    let family = Family::<Tenant, Counter>::default();
    for tenant in 0..5_000 {
        family.get_or_create(&Tenant { tenant }).inc();
    }
    assert_eq!(family.len(), 1_001);
    assert_eq!(family.folded(), 4_000);
}
