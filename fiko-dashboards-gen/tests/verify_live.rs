//! `Artefacts::verify` through the library, against a real Prometheus running the
//! generated rules and scraping itself: an alert that fires is reported as `firing`
//! (which fails no run by default), with its labels.

use std::time::{Duration, Instant};

use fiko_dashboards::exporters::ScrapeTargets;
use fiko_dashboards::prelude::*;
use fiko_dashboards_gen::Generator;
use fiko_dashboards_gen::verify::{Class, Options, Problem};
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
