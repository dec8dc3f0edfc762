//! The README's first example, the AI features' metric set: declared, registered, recorded
//! and exposed.

use fiko_metrics::{
    Counter, Family, Format, Gauge, Histogram, LabelSet, LabelValue, MetricKind, MetricSet,
    Registry,
};

#[derive(MetricSet)]
#[metric_set(namespace = "fiko", subsystem = "ai")]
/// The AI features' metrics.
pub struct AiMetrics {
    /// AI model requests, by model and outcome.
    requests: Family<AiLabels, Counter>,
    /// Tokens consumed, by model and kind (prompt/completion).
    #[metric(unit = "tokens")]
    tokens: Family<TokenLabels, Counter>,
    /// Model call latency.
    #[metric(buckets = [0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0])]
    duration_seconds: Family<ModelLabel, Histogram>,
    /// Requests waiting for a model.
    queued: Gauge,
    /// Money spent on tokens.
    #[metric(name = "cost", unit = "dollars")]
    spend: Counter<f64>,
}

#[derive(LabelSet)]
struct AiLabels {
    model: Model,
    status: Outcome,
}

#[derive(LabelSet)]
struct TokenLabels {
    model: Model,
    kind: TokenKind,
}

#[derive(LabelSet)]
struct ModelLabel {
    model: Model,
}

#[derive(LabelValue, Clone, Copy)]
#[label_value(rename_all = "kebab-case")]
enum Model {
    Gpt4o,
    ClaudeSonnet,
    #[label_value(rename = "local-echo")]
    Local,
}

#[derive(LabelValue)]
enum Outcome {
    Ok,
    Error,
    Timeout,
}

#[derive(LabelValue)]
enum TokenKind {
    Prompt,
    Completion,
}

#[test]
fn declared_set_exposes_exact_prometheus_text() {
    let registry = Registry::new();
    let ai = AiMetrics::register(&registry).expect("first registration");
    ai.requests
        .get_or_create(&AiLabels {
            model: Model::Gpt4o,
            status: Outcome::Ok,
        })
        .inc();
    ai.requests
        .get_or_create(&AiLabels {
            model: Model::Gpt4o,
            status: Outcome::Ok,
        })
        .inc();
    ai.requests
        .get_or_create(&AiLabels {
            model: Model::Local,
            status: Outcome::Timeout,
        })
        .inc();
    ai.tokens
        .get_or_create(&TokenLabels {
            model: Model::ClaudeSonnet,
            kind: TokenKind::Completion,
        })
        .inc_by(250);
    let latency = ai.duration_seconds.get_or_create(&ModelLabel {
        model: Model::Gpt4o,
    });
    latency.observe(0.3);
    latency.observe(0.5);
    latency.observe(42.0);
    ai.queued.set(-2);
    ai.spend.inc_by(0.25);

    let text = registry.encode(Format::Prometheus);
    let expected_lines = [
        "# HELP fiko_ai_requests_total AI model requests, by model and outcome.",
        "# TYPE fiko_ai_requests_total counter",
        r#"fiko_ai_requests_total{model="gpt4o",status="ok"} 2"#,
        r#"fiko_ai_requests_total{model="gpt4o",status="error"} 0"#,
        r#"fiko_ai_requests_total{model="local-echo",status="timeout"} 1"#,
        "# TYPE fiko_ai_tokens_total counter",
        r#"fiko_ai_tokens_total{model="claude-sonnet",kind="completion"} 250"#,
        "# TYPE fiko_ai_duration_seconds histogram",
        r#"fiko_ai_duration_seconds_bucket{model="gpt4o",le="0.1"} 0"#,
        r#"fiko_ai_duration_seconds_bucket{model="gpt4o",le="0.5"} 2"#,
        r#"fiko_ai_duration_seconds_bucket{model="gpt4o",le="30.0"} 2"#,
        r#"fiko_ai_duration_seconds_bucket{model="gpt4o",le="+Inf"} 3"#,
        r#"fiko_ai_duration_seconds_sum{model="gpt4o"} 42.8"#,
        r#"fiko_ai_duration_seconds_count{model="gpt4o"} 3"#,
        r#"fiko_ai_duration_seconds_count{model="local-echo"} 0"#,
        "# TYPE fiko_ai_queued gauge",
        "fiko_ai_queued -2",
        "# TYPE fiko_ai_cost_dollars_total counter",
        "fiko_ai_cost_dollars_total 0.25",
    ];
    for line in expected_lines {
        assert!(
            text.lines().any(|l| l == line),
            "missing line {line:?} in\n{text}"
        );
    }
    // Closed labels expose every combination: 3 models x 3 outcomes.
    assert_eq!(
        text.lines()
            .filter(|l| l.starts_with("fiko_ai_requests_total{"))
            .count(),
        9
    );
    assert!(
        !text.contains("# UNIT"),
        "the 0.0.4 format has no UNIT lines"
    );
    assert!(!text.contains("# EOF"));
}

#[test]
fn declared_set_exposes_openmetrics() {
    let registry = Registry::new();
    let ai = AiMetrics::register(&registry).expect("first registration");
    ai.tokens
        .get_or_create(&TokenLabels {
            model: Model::Gpt4o,
            kind: TokenKind::Prompt,
        })
        .inc();
    let text = registry.encode(Format::OpenMetrics);
    for line in [
        "# TYPE fiko_ai_tokens counter",
        "# UNIT fiko_ai_tokens tokens",
        r#"fiko_ai_tokens_total{model="gpt4o",kind="prompt"} 1"#,
        "# TYPE fiko_ai_duration_seconds histogram",
        "# UNIT fiko_ai_duration_seconds seconds",
        "# TYPE fiko_ai_cost_dollars counter",
        "# UNIT fiko_ai_cost_dollars dollars",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing line {line:?} in\n{text}"
        );
    }
    assert!(text.ends_with("# EOF\n"));
}

#[test]
fn descriptors_describe_the_declaration_without_an_instance() {
    let set = AiMetrics::DESCRIPTOR;
    assert_eq!(set.type_name, "AiMetrics");
    assert_eq!(set.help, "The AI features' metrics.");
    assert_eq!((set.namespace, set.subsystem), (Some("fiko"), Some("ai")));
    let names: Vec<_> = set.metrics.iter().map(|m| m.name).collect();
    assert_eq!(
        names,
        [
            "fiko_ai_requests",
            "fiko_ai_tokens",
            "fiko_ai_duration_seconds",
            "fiko_ai_queued",
            "fiko_ai_cost_dollars"
        ]
    );

    let requests = set.metric("requests").expect("declared");
    assert_eq!(requests.kind, MetricKind::Counter);
    assert_eq!(requests.help, "AI model requests, by model and outcome.");
    assert_eq!(requests.sample_name(), "fiko_ai_requests_total");
    assert_eq!(requests.labels[0].name, "model");
    assert_eq!(
        requests.labels[0].values,
        Some(&["gpt4o", "claude-sonnet", "local-echo"][..])
    );
    assert_eq!(
        requests.labels[1].values,
        Some(&["ok", "error", "timeout"][..])
    );
    assert!(requests.is_closed());

    let latency = AiMetrics::DURATION_SECONDS.descriptor;
    assert_eq!(latency.kind, MetricKind::Histogram);
    assert_eq!(latency.unit, Some("seconds"));
    assert_eq!(latency.buckets, &[0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0]);
    assert_eq!(
        latency.series_names(),
        [
            "fiko_ai_duration_seconds_bucket",
            "fiko_ai_duration_seconds_sum",
            "fiko_ai_duration_seconds_count"
        ]
    );
    assert_eq!(AiMetrics::SPEND.descriptor.unit, Some("dollars"));
    assert_eq!(AiMetrics::TOKENS.descriptor.unit, Some("tokens"));
    assert_eq!(AiLabels::STATUS.name(), "status");
    assert_eq!(AiMetrics::QUEUED.descriptor.labels.len(), 0);
}

#[test]
fn escaping_of_help_and_label_values() {
    #[derive(MetricSet)]
    struct Odd {
        /// A "quoted" help with a back\slash.
        events: Family<Free, Counter>,
    }
    #[derive(LabelSet)]
    struct Free {
        value: String,
    }
    let registry = Registry::new();
    let odd = Odd::register(&registry).expect("registers");
    odd.events
        .get_or_create(&Free {
            value: "a \"b\" \\ c\nd".into(),
        })
        .inc();
    let text = registry.encode(Format::Prometheus);
    assert!(
        text.contains(r#"# HELP events_total A "quoted" help with a back\\slash."#),
        "{text}"
    );
    assert!(
        text.contains(r#"events_total{value="a \"b\" \\ c\nd"} 1"#),
        "{text}"
    );
    let open = registry.encode(Format::OpenMetrics);
    assert!(
        open.contains(r#"# HELP events A \"quoted\" help with a back\\slash."#),
        "{open}"
    );
}

#[test]
fn a_histogram_without_buckets_declares_the_defaults() {
    #[derive(MetricSet)]
    struct Latency {
        /// Latency.
        latency_seconds: Histogram,
    }
    let metric = Latency::LATENCY_SECONDS.descriptor;
    assert_eq!(metric.buckets, fiko_metrics::histogram::DEFAULT_BUCKETS);
    let registry = Registry::new();
    Latency::register(&registry).expect("registers");
    let text = registry.encode(Format::Prometheus);
    let exposed = text
        .lines()
        .filter(|l| l.starts_with("latency_seconds_bucket{"))
        .count();
    assert_eq!(
        exposed,
        metric.buckets.len() + 1,
        "every declared bound and +Inf"
    );
}
