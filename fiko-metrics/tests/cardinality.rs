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

#[test]
fn series_ids_name_the_same_series_as_their_labels() {
    let family = Family::<PathLabels, Counter>::new(fiko_metrics::NoConfig, 2);
    let labels = |path: &str| PathLabels {
        path: path.into(),
        kind: Kind::Read,
    };
    let a = family.series_id(&labels("/a"));
    let b = family.series_id(&labels("/b"));
    assert_ne!(a, b);
    assert_eq!(family.series_id(&labels("/a")), a, "an id is stable");
    // Past the limit, new values share the overflow series' id.
    let c = family.series_id(&labels("/c"));
    assert_eq!(family.series_id(&labels("/d")), c);
    assert_eq!(family.folded(), 2);
    family.series(a).inc_by(3);
    family.series(c).inc();
    assert_eq!(family.get_or_create(&labels("/a")).get(), 3);
    assert_eq!(family.get_or_create(&labels("/e")).get(), 1);

    // Dense families hand out ids too.
    let dense = Family::<KindOnly, Counter>::default();
    let write = dense.series_id(&KindOnly { kind: Kind::Write });
    dense.series(write).inc();
    assert_eq!(
        dense.get_or_create(&KindOnly { kind: Kind::Write }).get(),
        1
    );
    assert_eq!(dense.get_or_create(&KindOnly { kind: Kind::Read }).get(), 0);

    // An id from another family of the same type names no series there: no panic, and no
    // real series moves. (An id from a family of another label set, like `write` here,
    // does not compile: `fiko-metrics-derive/tests/ui/series-id-of-another-family.rs`.)
    let other = Family::<PathLabels, Counter>::default();
    other.series(c).inc();
    assert_eq!(other.len(), 0);

    // The typed id is as small as the untyped position it wraps.
    assert_eq!(
        std::mem::size_of::<fiko_metrics::SeriesId<PathLabels, Counter>>(),
        2 * std::mem::size_of::<usize>()
    );
    assert_eq!(
        std::mem::size_of::<fiko_metrics::SeriesId<KindOnly, Counter>>(),
        std::mem::size_of::<fiko_metrics::SeriesId<PathLabels, fiko_metrics::Histogram>>()
    );
}

#[derive(LabelSet)]
struct KindOnly {
    kind: Kind,
}

/// A hand-written closed label that breaks the trait's rule: its index lies outside VALUES.
struct Liar;

impl LabelValue for Liar {
    const VALUES: Option<&'static [&'static str]> = Some(&["a", "b"]);

    fn index(&self) -> usize {
        usize::MAX
    }

    fn with_str<R>(&self, f: impl FnOnce(&str) -> R) -> R {
        f("liar")
    }
}

#[derive(LabelSet)]
struct LiarLabels {
    kind: Kind,
    liar: Liar,
}

#[test]
fn a_closed_label_with_an_index_out_of_range_is_recorded_without_panicking() {
    let family = Family::<LiarLabels, Counter>::default();
    let labels = LiarLabels {
        kind: Kind::Write,
        liar: Liar,
    };
    family.get_or_create(&labels).inc();
    family.get_or_create(&labels).inc();
    // It lands in a series of its own, named by its text; the dense series stay untouched.
    assert_eq!(family.get_or_create(&labels).get(), 2);
    assert_eq!(family.len(), 4 + 1);

    // And a scrape shows it.
    let registry = Registry::new();
    let set = LiarSet::register(&registry).expect("registers");
    set.calls.get_or_create(&labels).inc();
    let text = registry.encode(Format::Prometheus);
    assert!(
        text.contains(r#"app_calls_total{kind="write",liar="liar"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"app_calls_total{kind="read",liar="a"} 0"#),
        "{text}"
    );
}

#[derive(MetricSet)]
#[metric_set(namespace = "app")]
struct LiarSet {
    /// Calls by a label that breaks its trait's rules.
    calls: Family<LiarLabels, Counter>,
}

mod registry_sample_names {
    use fiko_metrics::{
        Counter, Gauge, Histogram, MetricDescriptor, MetricKind, MetricSet, Registry, RegistryError,
    };

    #[derive(MetricSet)]
    struct Jobs {
        /// Jobs run.
        jobs: Counter,
        /// Job latency.
        job_seconds: Histogram,
    }

    #[derive(MetricSet)]
    struct JobCount {
        /// A gauge whose samples would be `job_seconds_count`, the histogram's.
        job_seconds_count: Gauge,
    }

    #[test]
    fn a_set_whose_sample_names_clash_with_a_registered_one_is_refused() {
        let registry = Registry::new();
        Jobs::register(&registry).expect("registers");
        // A metric appearing at run time (a facade gauge `jobs_total`) is refused too.
        let gauge = MetricDescriptor {
            name: "jobs_total",
            field: "jobs_total",
            kind: MetricKind::Gauge,
            help: "",
            unit: None,
            labels: &[],
            buckets: &[],
            native: None,
            exemplars: false,
            max_series: 1,
            external: false,
        };
        assert_eq!(
            registry.claim(&gauge),
            Err(RegistryError::DuplicateName { name: "jobs_total" })
        );
        assert_eq!(
            JobCount::register(&registry).err(),
            Some(RegistryError::DuplicateName {
                name: "job_seconds_count"
            })
        );
        // Nothing of the refused sets is exposed.
        let text = registry.encode(Default::default());
        assert_eq!(text.matches("# TYPE jobs_total ").count(), 1, "{text}");
        assert!(!text.contains("# TYPE job_seconds_count "), "{text}");
    }
}
