//! Generation refuses the mistakes types cannot catch, and handles every alert shape the
//! model offers (quantiles, ratios of one counter, `by` labels) with passing promtool tests.

// The helpers fail the test by panicking (they are not `#[test]` fns: rust-clippy#13981).
#![allow(clippy::expect_used, clippy::panic)]

use fiko_testkit::promtool;

use fiko_dashboards::prelude::*;
use fiko_dashboards_gen::{Error, Generator};
use fiko_metrics::{Counter, Family, Gauge, Histogram, LabelSet, LabelValue, MetricSet};

#[derive(MetricSet)]
#[metric_set(namespace = "shop")]
struct ShopMetrics {
    /// Requests, by route and status class.
    requests: Family<RequestLabels, Counter>,
    /// Request latency, by route.
    #[metric(buckets = [0.1, 0.5, 1.0, 2.0, 5.0])]
    request_duration_seconds: Family<RouteLabels, Histogram>,
    /// Default-bucket latency.
    default_duration_seconds: Histogram,
    /// Queue length, by queue.
    queue_length: Family<QueueLabels, Gauge>,
}

#[derive(LabelSet)]
struct RequestLabels {
    route: String,
    status_class: StatusClass,
}

#[derive(LabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(LabelSet)]
struct QueueLabels {
    queue: String,
}

#[derive(LabelValue)]
enum StatusClass {
    #[label_value(rename = "2xx")]
    Success,
    #[label_value(rename = "5xx")]
    ServerError,
}

#[derive(MetricSet)]
#[metric_set(namespace = "native")]
struct NativeMetrics {
    /// Request latency, native buckets, by route.
    #[metric(native)]
    request_duration_seconds: Family<RouteLabels, Histogram>,
    /// Queue wait, classic buckets, with exemplars.
    #[metric(exemplars, buckets = [0.1, 0.5, 1.0])]
    queue_wait_seconds: Histogram,
    /// Jobs done.
    jobs: Counter,
}

fn run_promtool(dir: &std::path::Path, args: &[&str]) {
    let report = promtool::run_in(dir, args).expect("promtool");
    assert!(report.success, "promtool {args:?}: {}", report.text());
}

#[test]
fn native_histograms_are_queried_natively_and_exemplars_shown_where_declared() {
    let slow = Alert::warning(
        "NativeSlow",
        NativeMetrics::REQUEST_DURATION_SECONDS
            .quantile(0.95)
            .by([RouteLabels::ROUTE])
            .above(Seconds(1.7)),
    )
    .summary("slow")
    .description("p95 above {threshold}.");
    let waiting = Alert::warning(
        "QueueWaitLong",
        NativeMetrics::QUEUE_WAIT_SECONDS
            .quantile(0.9)
            .above(Seconds(0.5)),
    )
    .for_(minutes(5))
    .summary("long waits")
    .description("p90 above {threshold}.");
    let generator = Generator::new("shop")
        .runbook_base("https://runbooks.example/")
        .observe_set(fiko_dashboards_gen::ObservedSet {
            descriptor: NativeMetrics::DESCRIPTOR,
            service: "shop".to_owned(),
            rows: vec![
                Row::new("Latency")
                    .panel(
                        Panel::timeseries("p95")
                            .query(NativeMetrics::REQUEST_DURATION_SECONDS.quantile(0.95)),
                    )
                    .panel(
                        Panel::timeseries("Requests")
                            .query(NativeMetrics::REQUEST_DURATION_SECONDS.rate()),
                    )
                    .panel(
                        Panel::timeseries("Queue wait p90")
                            .query(NativeMetrics::QUEUE_WAIT_SECONDS.quantile(0.9)),
                    )
                    .panel(
                        Panel::stat("Queue wait now")
                            .query(NativeMetrics::QUEUE_WAIT_SECONDS.quantile(0.5)),
                    )
                    .panel(Panel::timeseries("Jobs").query(NativeMetrics::JOBS.rate())),
            ],
            alerts: vec![slow, waiting],
        });
    let artefacts = match generator.generate() {
        Ok(artefacts) => artefacts,
        Err(error) => panic!("a native quantile alert off any boundary is sound: {error}"),
    };
    let file = |name: &str| {
        artefacts
            .get(name)
            .unwrap_or_else(|| panic!("no {name}"))
            .to_owned()
    };
    let alerts = file("prometheus/alerts.yml");
    assert!(
        alerts.contains("histogram_quantile(0.95, sum by (job, instance, route) (rate(native_request_duration_seconds[5m]))) > 1.7"),
        "{alerts}"
    );
    assert!(
        !alerts.contains("native_request_duration_seconds_bucket"),
        "{alerts}"
    );
    let tests = file("prometheus/alerts.test.yml");
    assert!(
        tests.contains("# NativeSlow: reads the native histogram `native_request_duration_seconds`, which promtool 2.42 cannot load as test series; it is proven against a real Prometheus instead."),
        "{tests}"
    );
    assert!(tests.contains("QueueWaitLong"), "{tests}");

    // Panels: `histogram_quantile` over the native series without `le`, the native rate
    // through `histogram_count`; exemplars on the graphs of the opted-in metric only.
    let dashboard: serde_json::Value =
        serde_json::from_str(&file("grafana/dashboards/shop-overview.json")).expect("json");
    let mut targets = Vec::new();
    let mut stack = vec![&dashboard];
    while let Some(value) = stack.pop() {
        if let Some(panels) = value["panels"].as_array() {
            stack.extend(panels);
        }
        if let Some(list) = value["targets"].as_array() {
            for target in list {
                targets.push((
                    value["title"].as_str().unwrap_or("").to_owned(),
                    target["expr"].as_str().unwrap_or("").to_owned(),
                    target.get("exemplar").cloned(),
                ));
            }
        }
    }
    let expr = |title: &str| {
        targets
            .iter()
            .find(|(t, _, _)| t == title)
            .unwrap_or_else(|| panic!("no panel {title} in {targets:?}"))
            .clone()
    };
    let (_, p95, exemplar) = expr("p95");
    assert_eq!(
        p95,
        "histogram_quantile(0.95, sum (rate(native_request_duration_seconds{job=~\"$job\", instance=~\"$instance\"}[$__rate_interval])))"
    );
    assert_eq!(exemplar, None);
    let (_, requests, _) = expr("Requests");
    assert!(
        requests.starts_with("sum (histogram_count(rate(native_request_duration_seconds{"),
        "{requests}"
    );
    let (_, wait, exemplar) = expr("Queue wait p90");
    assert!(
        wait.contains("rate(native_queue_wait_seconds_bucket{"),
        "{wait}"
    );
    assert_eq!(exemplar, Some(serde_json::Value::Bool(true)));
    // A stat shows one number: no exemplars there.
    assert_eq!(expr("Queue wait now").2, None);
    assert_eq!(expr("Jobs").2, None);

    // What Prometheus loads: the rules parse, the generated unit tests pass.
    let dir = tempfile::tempdir().expect("dir");
    artefacts.write_to(dir.path()).expect("write");
    let prometheus = dir.path().join("prometheus");
    run_promtool(
        &prometheus,
        &["check", "rules", "alerts.yml", "recording.yml"],
    );
    run_promtool(&prometheus, &["test", "rules", "alerts.test.yml"]);
}

fn shop(alerts: Vec<Alert>, rows: Vec<Row>) -> Generator {
    Generator::new("shop")
        .runbook_base("https://runbooks.example/")
        .observe_set(fiko_dashboards_gen::ObservedSet {
            descriptor: ShopMetrics::DESCRIPTOR,
            service: "shop".to_owned(),
            rows,
            alerts,
        })
}

fn problems(generator: Generator) -> String {
    match generator.generate() {
        Err(Error::Invalid(problems)) => problems.join("\n"),
        Err(other) => panic!("unexpected error {other}"),
        Ok(_) => panic!("generation should have failed"),
    }
}

fn sound_alerts() -> Vec<Alert> {
    let errors = ShopMetrics::REQUESTS
        .rate()
        .filter(RequestLabels::STATUS_CLASS, "5xx");
    vec![
        Alert::critical(
            "ShopErrors",
            ratio(errors, ShopMetrics::REQUESTS.rate())
                .by([RequestLabels::ROUTE])
                .above(Percent(5.0)),
        )
        .for_(minutes(5))
        .summary("5xx above {threshold} on {{ $labels.route }}")
        .description("Route {{ $labels.route }} of {{ $labels.instance }} fails for {for}."),
        Alert::warning(
            "ShopSlow",
            ShopMetrics::REQUEST_DURATION_SECONDS
                .quantile(0.95)
                .by([RouteLabels::ROUTE])
                .above(Seconds(2.0)),
        )
        .for_(minutes(10))
        .summary("p95 above {threshold} on {{ $labels.route }}")
        .description("Slow route."),
        Alert::warning(
            "ShopDefaultBucketsSlow",
            ShopMetrics::DEFAULT_DURATION_SECONDS
                .quantile(0.99)
                .above(Seconds(2.5)),
        )
        .summary("slow")
        .description("p99 above {threshold}."),
        Alert::warning(
            "ShopBusy",
            ShopMetrics::REQUESTS.rate().above(PerSecond(1000.0)),
        )
        .for_(minutes(1))
        .summary("busy")
        .description("More than {threshold}."),
        Alert::warning(
            "ShopBacklog",
            ShopMetrics::QUEUE_LENGTH
                .value()
                .by([QueueLabels::QUEUE])
                .max()
                .above(Count(1000.0)),
        )
        .summary("Backlog on {{ $labels.queue }}")
        .description("More than {threshold} queued for {for}."),
        Alert::warning(
            "ShopFinishedErrors",
            ratio(
                ShopMetrics::REQUESTS
                    .rate()
                    .filter(RequestLabels::STATUS_CLASS, "5xx"),
                ShopMetrics::REQUESTS
                    .rate()
                    .filter_regex(RequestLabels::STATUS_CLASS, "2xx|5xx"),
            )
            .above(Percent(10.0)),
        )
        .summary("errors")
        .description("More than {threshold} of finished requests failed."),
        Alert::warning(
            "ShopErrorsPerSuccess",
            ratio(
                ShopMetrics::REQUESTS
                    .rate()
                    .filter(RequestLabels::STATUS_CLASS, "5xx"),
                ShopMetrics::REQUESTS
                    .rate()
                    .filter(RequestLabels::STATUS_CLASS, "2xx"),
            )
            .above(Percent(20.0)),
        )
        .summary("errors")
        .description("More than {threshold} errors per success."),
        Alert::warning(
            "ShopHourlyErrors",
            ShopMetrics::REQUESTS
                .increase_over(hours(1))
                .filter(RequestLabels::STATUS_CLASS, "5xx")
                .above(Count(100.0)),
        )
        .summary("errors")
        .description("More than {threshold} errors in an hour."),
        Alert::critical(
            "ShopIdle",
            ShopMetrics::REQUESTS.rate().below(PerSecond(1.0)),
        )
        .for_(minutes(3))
        .summary("idle")
        .description("Fewer than {threshold}."),
    ]
}

#[test]
fn every_alert_shape_gets_promtool_tests_that_pass() {
    let artefacts = shop(sound_alerts(), Vec::new())
        .generate()
        .expect("sound alerts generate");
    let dir = tempfile::tempdir().expect("dir");
    artefacts.write_to(dir.path()).expect("write");
    let output = promtool::run_in(
        &dir.path().join("prometheus"),
        &["test", "rules", "alerts.test.yml"],
    )
    .expect("promtool");
    let tests = artefacts.get("prometheus/alerts.test.yml").expect("tests");
    assert!(output.success, "{}\n{tests}", output.text());
    let alerts = artefacts.get("prometheus/alerts.yml").expect("alerts");
    assert!(alerts.contains(
        r#"expr: "(sum by (job, instance, route) (rate(shop_requests_total{status_class=\"5xx\"}[5m]))) / (sum by (job, instance, route) (rate(shop_requests_total[5m])) > 0) > 0.05""#
    ), "{alerts}");
    assert!(alerts.contains(
        r#"histogram_quantile(0.95, sum by (le, job, instance, route) (rate(shop_request_duration_seconds_bucket[5m]))) > 2"#
    ), "{alerts}");
    assert!(
        alerts.contains(r#"summary: "5xx above 5% on {{ $labels.route }}""#),
        "{alerts}"
    );
    // An alert compared with a threshold shows its current value in the query's unit, and
    // each firing case expects the text Prometheus renders for it (promtool passed above).
    for template in [
        r#"value: "{{ $value | humanizePercentage }}""#,
        r#"value: "{{ $value | humanizeDuration }}""#,
        r#"value: "{{ $value | humanize }}/s""#,
        r#"value: "{{ $value | humanize }}""#,
    ] {
        assert!(alerts.contains(template), "{template}\n{alerts}");
    }
    for value in [
        "value: \"52.5%\"",
        "value: \"2k/s\"",
        "value: \"2k\"",
        "value: \"4.85s\"",
        "value: \"500m/s\"",
    ] {
        assert!(tests.contains(value), "{value}\n{tests}");
    }
    // Three cases per alert with `for` of 2m or more, two otherwise, and the Watchdog's one.
    assert_eq!(tests.matches("- name:").count(), 8 * 3 + 2 + 1, "{tests}");
    // promtool evaluates the recording group before the alerts that read it.
    assert!(
        tests.contains("group_eval_order:\n  - \"shop.recording@"),
        "{tests}"
    );
}

#[test]
fn latency_threshold_off_the_buckets_is_refused() {
    let off = Alert::warning(
        "Off",
        ShopMetrics::REQUEST_DURATION_SECONDS
            .quantile(0.95)
            .above(Seconds(1.5)),
    )
    .summary("s")
    .description("d");
    let last = Alert::warning(
        "Last",
        ShopMetrics::REQUEST_DURATION_SECONDS
            .quantile(0.95)
            .above(Seconds(5.0)),
    )
    .summary("s")
    .description("d");
    let default = Alert::warning(
        "DefaultOff",
        ShopMetrics::DEFAULT_DURATION_SECONDS
            .quantile(0.95)
            .above(Seconds(2.0)),
    )
    .summary("s")
    .description("d");
    let text = problems(shop(vec![off, last, default], Vec::new()));
    assert!(text.contains("alert Off: threshold 1.5 of a quantile of `shop_request_duration_seconds` is not a bucket boundary"), "{text}");
    assert!(
        text.contains("alert Last: threshold 5 is the last bucket"),
        "{text}"
    );
    assert!(text.contains("alert DefaultOff: threshold 2 of a quantile of `shop_default_duration_seconds` is not a bucket boundary"), "{text}");
}

#[test]
fn raw_promql_may_name_only_declared_metrics() {
    let panel = |title: &str, promql: &str| {
        Row::new("Raw")
            .panel(Panel::<fiko_metrics::unit::Unitless>::timeseries(title).query(raw(promql)))
    };
    let ok = shop(
        Vec::new(),
        vec![panel(
            "ok",
            "sum(rate(shop_requests_total[$__rate_interval])) + sum(shop_queue_length)",
        )],
    );
    ok.generate().expect("declared names pass");
    let text = problems(shop(
        Vec::new(),
        vec![
            panel("typo", "sum(rate(shop_requets_total[5m]))"),
            panel("broken", "sum(rate(shop_requests_total[5m])"),
        ],
    ));
    assert!(
        text.contains("names `shop_requets_total`, which no listed metric set declares"),
        "{text}"
    );
    assert!(text.contains("panel `broken`"), "{text}");
    assert!(text.contains("does not parse"), "{text}");
}

#[test]
fn tuning_an_unknown_alert_is_refused() {
    let text = problems(
        shop(sound_alerts(), Vec::new()).tune("ShopErorrs", |alert| {
            alert.set_threshold(0.1);
        }),
    );
    assert_eq!(text, "tune: no alert named `ShopErorrs`");
}

#[test]
fn tuning_changes_threshold_and_for() {
    let artefacts = shop(sound_alerts(), Vec::new())
        .tune("ShopErrors", |alert| {
            alert.set_threshold(0.1).set_for(minutes(15));
        })
        .generate()
        .expect("generate");
    let alerts = artefacts.get("prometheus/alerts.yml").expect("alerts");
    assert!(alerts.contains("[5m])) > 0) > 0.1\""), "{alerts}");
    assert!(alerts.contains("for: \"15m\""), "{alerts}");
    assert!(alerts.contains("5xx above 10% on"), "{alerts}");
}

#[test]
fn annotation_templates_are_checked() {
    let value = Alert::warning("Value", ShopMetrics::REQUESTS.rate().above(PerSecond(1.0)))
        .summary("{{ $value }} requests")
        .description("d");
    let missing = Alert::warning(
        "Missing",
        ShopMetrics::REQUESTS.rate().above(PerSecond(1.0)),
    )
    .summary("on {{ $labels.route }}")
    .description("d");
    let empty = Alert::warning("Empty", ShopMetrics::REQUESTS.rate().above(PerSecond(1.0)));
    let text = problems(shop(vec![value, missing, empty], Vec::new()));
    assert!(
        text.contains("alert Value: annotation template `{{ $value }}` is not supported"),
        "{text}"
    );
    assert!(text.contains("alert Missing: annotation uses `$labels.route`, a label the alert's result does not have (it has: instance, job)"), "{text}");
    assert!(
        text.contains("alert Empty: summary and description are required"),
        "{text}"
    );
}

#[test]
fn duplicate_names_and_impossible_filters_are_refused() {
    let twice = || {
        Alert::warning("Twice", ShopMetrics::REQUESTS.rate().above(PerSecond(1.0)))
            .summary("s")
            .description("d")
    };
    let filter = Alert::warning(
        "Filter",
        ShopMetrics::REQUESTS
            .rate()
            .filter(RequestLabels::STATUS_CLASS, "500")
            .above(PerSecond(1.0)),
    )
    .summary("s")
    .description("d");
    let text = problems(shop(vec![twice(), twice(), filter], Vec::new()));
    assert!(text.contains("two alerts are named `Twice`"), "{text}");
    assert!(
        text.contains(
            "filters label `status_class` on `500`, a value it never takes (one of: 2xx, 5xx)"
        ),
        "{text}"
    );
}

#[test]
fn a_hand_written_test_of_an_alert_showing_its_value_says_the_value() {
    let busy = || {
        Alert::warning(
            "ShopBusy",
            ShopMetrics::REQUESTS.rate().above(PerSecond(1000.0)),
        )
        .summary("busy")
        .description("More than {threshold}.")
    };
    let series = r#"shop_requests_total{job="shop",instance="shop:1"}"#;
    let test = AlertTest::new()
        .firing(series, "0+90000x20")
        .silent(series, "0+60x20")
        .label("job", "shop")
        .label("instance", "shop:1");
    let text = problems(shop(vec![busy().tested_with(test.clone())], Vec::new()));
    assert!(
        text.contains("alert ShopBusy: its annotations show the value, so its hand-written test must say which (`AlertTest::value`)"),
        "{text}"
    );
    let artefacts = shop(vec![busy().tested_with(test.value(1500.0))], Vec::new())
        .generate()
        .expect("generate");
    let tests = artefacts.get("prometheus/alerts.test.yml").expect("tests");
    assert!(tests.contains("value: \"1.5k/s\""), "{tests}");
    let dir = tempfile::tempdir().expect("dir");
    artefacts.write_to(dir.path()).expect("write");
    run_promtool(
        &dir.path().join("prometheus"),
        &["test", "rules", "alerts.test.yml"],
    );
}

#[test]
fn raw_alert_conditions_need_and_use_hand_written_tests() {
    let untested = Alert::warning("Untested", raw_condition("shop_queue_length > 5"))
        .summary("s")
        .description("d");
    let undeclared = Alert::warning("Undeclared", raw_condition("shop_queue_lenght > 5"))
        .summary("s")
        .description("d")
        .tested_with(AlertTest::new());
    let text = problems(shop(vec![untested, undeclared], Vec::new()));
    assert!(
        text.contains("alert Untested: a raw PromQL condition needs hand-written test series"),
        "{text}"
    );
    assert!(
        text.contains("alert Undeclared: `shop_queue_lenght > 5` names `shop_queue_lenght`"),
        "{text}"
    );

    let stuck = Alert::critical(
        "QueueStuck",
        raw_condition("max by (job, queue) (shop_queue_length) > 5 and max by (job, queue) (delta(shop_queue_length[$__rate_interval])) >= 0"),
    )
    .for_(minutes(2))
    .summary("Queue {{ $labels.queue }} is stuck")
    .description("It keeps more than 5 items.")
    .tested_with(
        AlertTest::new()
            .firing(r#"shop_queue_length{job="w",instance="w:1",queue="mail"}"#, "10+0x20")
            .silent(r#"shop_queue_length{job="w",instance="w:1",queue="mail"}"#, "1+0x20")
            .label("job", "w")
            .label("queue", "mail"),
    );
    let artefacts = shop(vec![stuck], Vec::new()).generate().expect("generate");
    let alerts = artefacts.get("prometheus/alerts.yml").expect("alerts");
    assert!(
        alerts.contains("delta(shop_queue_length[5m])) >= 0\""),
        "{alerts}"
    );
    let dir = tempfile::tempdir().expect("dir");
    artefacts.write_to(dir.path()).expect("write");
    run_promtool(
        &dir.path().join("prometheus"),
        &["test", "rules", "alerts.test.yml"],
    );
    let tests = artefacts.get("prometheus/alerts.test.yml").expect("tests");
    assert!(
        tests.contains("summary: \"Queue mail is stuck\""),
        "{tests}"
    );
    // The raw alert's cases, and the Watchdog's, which every generation has.
    assert_eq!(tests.matches("- name:").count(), 4, "{tests}");
    assert!(tests.contains("alertname: \"Watchdog\""), "{tests}");
}

/// An unknown `tune` no longer stops generation early: every problem is reported, one
/// per line, each naming the set, panel or alert at fault.
#[test]
fn every_problem_is_reported_at_once_one_per_line() {
    let unsound = Alert::warning(
        "Unsound",
        ShopMetrics::REQUEST_DURATION_SECONDS
            .quantile(0.95)
            .above(Seconds(0.7)),
    )
    .summary("s")
    .description("d");
    let empty = Alert::warning("Empty", ShopMetrics::REQUESTS.rate().above(PerSecond(1.0)));
    let rows =
        vec![Row::new("Shop").panel(
            Panel::timeseries("Raw").query(raw::<fiko_metrics::unit::Unitless>("shop_nope")),
        )];
    let generator = shop(vec![unsound, empty], rows).tune("NoSuchAlert", |_| {});
    let error = generator.generate().expect_err("problems");
    let Error::Invalid(problems) = &error else {
        panic!("{error}");
    };
    let text = error.to_string();
    assert_eq!(text.lines().count(), problems.len(), "{text}");
    for expected in [
        "tune: no alert named `NoSuchAlert`",
        "ShopMetrics: alert Unsound: threshold 0.7 of a quantile of `shop_request_duration_seconds` is not a bucket boundary",
        "ShopMetrics: alert Empty: summary and description are required",
        "ShopMetrics: panel `Raw`: `shop_nope` names `shop_nope`, which no listed metric set declares",
    ] {
        assert!(
            problems.iter().any(|problem| problem.starts_with(expected)),
            "{expected} missing from:\n{text}"
        );
    }
}
