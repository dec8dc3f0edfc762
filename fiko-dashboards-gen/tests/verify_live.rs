//! `Artefacts::verify` through the library, against a real Prometheus running the
//! generated rules and scraping itself: an alert that fires is reported as `firing`
//! (which fails no run by default), with its labels.

// The helpers fail the test by panicking (they are not `#[test]` fns: rust-clippy#13981).
#![allow(clippy::expect_used)]

use std::time::{Duration, Instant};

use fiko_dashboards::monitoring::ScrapeTargets;
use fiko_dashboards::prelude::*;
use fiko_dashboards_gen::verify::{Class, Options, Problem};
use fiko_dashboards_gen::{Artefacts, Generator};
use fiko_testkit::Prometheus;

#[test]
fn a_firing_alert_is_reported_with_its_labels() {
    // An alert that fires as soon as Prometheus has scraped itself once.
    let generate = |target: &str| {
        Generator::new("probe")
            .runbook_base("https://runbooks.example/")
            .observe::<ScrapeTargets>()
            .customize::<ScrapeTargets>(|set| {
                set.alerts(vec![
                    Alert::warning("Scraped", ScrapeTargets::UP.value().equals(Count(1.0)))
                        .for_(seconds(1))
                        .summary("{{ $labels.instance }} was scraped")
                        .description("{{ $labels.job }} at {{ $labels.instance }} answered."),
                ])
            })
            .scrape("prometheus", "/metrics", &[target])
            .interval(seconds(1))
            .generate()
            .expect("generate")
    };
    let (prometheus, own, artefacts) = serve(generate);

    let options = Options {
        url: prometheus.url(),
        rules_url: None,
        lookback_seconds: 60,
        bearer_token: None,
    };
    let firing = Problem {
        class: Class::Firing,
        item: "alert `Scraped`".to_owned(),
        detail: format!(
            "firing for {{instance=\"{own}\", job=\"prometheus\", service=\"prometheus\", severity=\"warning\"}}"
        ),
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let report = loop {
        let report = artefacts.verify(&options).expect("verify");
        if report.problems == [firing.clone()] || Instant::now() > deadline {
            break report;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(report.problems, [firing], "{}", prometheus.log_tail());
    assert_eq!(report.exit_code(&Class::DEFAULT_FAIL_ON), 0);
    assert_eq!(report.exit_code(&[Class::Firing]), 1);
    let url = prometheus.url();
    assert_eq!(
        report.table(&[Class::Firing]),
        format!(
            "verify {url} (rules: {url}), last 1m, $__rate_interval=4s: checked 1 panel query, 1 alert(s), 0 recording rule(s), 1 scrape job(s), 1 rule group(s), 0 closed label(s)\n\
CLASS   ITEM             DETAIL\n\
firing  alert `Scraped`  firing for {{instance=\"{own}\", job=\"prometheus\", service=\"prometheus\", severity=\"warning\"}}\n\
1 problem(s), 1 failing (--fail-on firing)\n"
        )
    );
}

/// A rule group whose evaluation takes longer than its interval, for real: its one alert
/// carries a subquery at a 1 ms resolution over three hours (10.8 million evaluations of
/// `vector(1)`, several seconds of work on any machine), in a group evaluated every second.
#[test]
fn a_rule_group_slower_than_its_interval_is_reported() {
    let generate = |target: &str| {
        Generator::new("probe")
            .observe::<ScrapeTargets>()
            .customize::<ScrapeTargets>(|set| {
                set.alerts(vec![
                    Alert::warning(
                        "Expensive",
                        raw_condition(
                            "up > 0 unless on () (count_over_time(vector(1)[3h:1ms]) < 0)",
                        ),
                    )
                    .for_(hours(1))
                    .summary("{{ $labels.instance }} is up, expensively")
                    .description("A deliberately slow rule: its subquery takes seconds.")
                    .tested_with(
                        AlertTest::new()
                            .firing(r#"up{job="prometheus",instance="p:9090"}"#, "1x90")
                            .silent(r#"up{job="prometheus",instance="p:9090"}"#, "0x90")
                            .label("job", "prometheus")
                            .label("instance", "p:9090"),
                    ),
                ])
            })
            .scrape("prometheus", "/metrics", &[target])
            .runbook_base("https://runbooks.example/")
            .interval(seconds(1))
            .generate()
            .expect("generate")
    };
    let (prometheus, _, artefacts) = serve(generate);

    let options = Options {
        url: prometheus.url(),
        rules_url: None,
        lookback_seconds: 60,
        bearer_token: None,
    };
    let deadline = Instant::now() + Duration::from_secs(90);
    let report = loop {
        let report = artefacts.verify(&options).expect("verify");
        let slow = report
            .problems
            .iter()
            .any(|problem| problem.class == Class::GroupSlow);
        if slow || Instant::now() > deadline {
            break report;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    let slow: Vec<&Problem> = report
        .problems
        .iter()
        .filter(|problem| problem.class == Class::GroupSlow)
        .collect();
    assert_eq!(
        slow.len(),
        1,
        "{:?}\n{}",
        report.problems,
        prometheus.log_tail()
    );
    assert!(
        slow[0].item.starts_with("group `probe."),
        "{}",
        slow[0].item
    );
    let took: f64 = slow[0]
        .detail
        .strip_prefix("last evaluation took ")
        .and_then(|rest| rest.strip_suffix("s, longer than its 1s interval"))
        .and_then(|seconds| seconds.parse().ok())
        .unwrap_or_else(|| panic!("detail: {}", slow[0].detail));
    assert!(took > 1.0, "{took}");
    // Nothing else is wrong with this deployment: the alert is pending (for 1h), not
    // firing. What the deliberately slow rule may cause besides, on a loaded machine (its
    // evaluation took 23 s and 44 s there): the busy Prometheus misses its own 1 s scrape
    // timeout, so its job reads down, and verify's own query of that rule's expression
    // times out.
    let others: Vec<&Problem> = report
        .problems
        .iter()
        .filter(|problem| problem.class != Class::GroupSlow)
        .filter(|problem| !(problem.class == Class::JobDown && problem.item == "job `prometheus`"))
        .filter(|problem| {
            !(problem.class == Class::QueryError && problem.item == "alert `Expensive`")
        })
        .collect();
    assert!(others.is_empty(), "{:?}", report.problems);
    assert_eq!(report.exit_code(&Class::DEFAULT_FAIL_ON), 1);
    assert_eq!(report.exit_code(&[Class::Firing]), 0);
    let table = report.table(&Class::DEFAULT_FAIL_ON);
    assert!(
        table
            .lines()
            .any(|line| line.starts_with("group-slow ") && line.contains(" group `probe."))
            && table.contains(&format!("{} failing", report.problems.len())),
        "{table}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&report.json(&Class::DEFAULT_FAIL_ON)).expect("json");
    let group = json["groups"]
        .as_array()
        .and_then(|groups| groups.first())
        .expect("one group");
    assert!(group["evaluation_seconds"].as_f64().expect("evaluation") > 1.0);
    assert_eq!(group["interval_seconds"].as_f64(), Some(1.0));
}

/// Starts a real Prometheus on the rules `generate` writes, then points its scrape config
/// at Prometheus itself (whose address is known only once it runs): the server, its
/// `host:port` and the artefacts it now runs. The rules do not depend on the address.
fn serve(generate: impl Fn(&str) -> Artefacts) -> (Prometheus, String, Artefacts) {
    let placeholder = generate("127.0.0.1:1");
    let prometheus = Prometheus::start(
        placeholder
            .get("prometheus/prometheus.yml")
            .expect("config"),
        &[
            (
                "alerts.yml",
                placeholder.get("prometheus/alerts.yml").expect("alerts"),
            ),
            (
                "recording.yml",
                placeholder
                    .get("prometheus/recording.yml")
                    .expect("recording"),
            ),
        ],
    )
    .expect("prometheus");
    let own = prometheus.url().trim_start_matches("http://").to_owned();
    let artefacts = generate(&own);
    assert_eq!(
        artefacts.get("prometheus/alerts.yml"),
        placeholder.get("prometheus/alerts.yml")
    );
    std::fs::write(
        prometheus.dir().join("prometheus.yml"),
        artefacts.get("prometheus/prometheus.yml").expect("config"),
    )
    .expect("write");
    prometheus.reload().expect("reload");
    (prometheus, own, artefacts)
}
