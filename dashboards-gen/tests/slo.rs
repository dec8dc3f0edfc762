//! The demo's service level objectives: `slo.yml` passes promtool and vmalert, its
//! generated promtool tests cover every window pair (fire above the factor, silent below
//! it and on too little traffic, detection time) and fail against changed rules, the
//! hand-written scenarios (`tests/scenarios/slo.test.yml`) replay realistic histories
//! against the generated rules, and the groups are fingerprinted like the others.

// The helpers fail the test by panicking (they are not `#[test]` fns: rust-clippy#13981).
#![allow(clippy::expect_used)]

mod common;

use std::path::Path;

use common::{generated, run};
use fiko_backend::deployment;
use fiko_dashboards::{Percent, days};

/// A promtool test file with only its test groups whose name starts with `prefix`:
/// promtool evaluates every rule at every step of every group, so a check about one alert
/// runs its own cases only.
fn only(tests: &str, prefix: &str) -> String {
    let (head, groups) = tests.split_once("\ntests:\n").expect("a tests: section");
    let kept: String = groups
        .split_inclusive('\n')
        .fold(Vec::<String>::new(), |mut groups, line| {
            match (line.starts_with("  - name: "), groups.last_mut()) {
                (false, Some(group)) => group.push_str(line),
                _ => groups.push(line.to_owned()),
            }
            groups
        })
        .into_iter()
        .filter(|group| {
            group
                .strip_prefix("  - name: ")
                .is_some_and(|name| name.trim_start_matches('"').starts_with(prefix))
        })
        .collect();
    assert!(!kept.is_empty(), "no test group named {prefix}…");
    format!("{head}\ntests:\n{kept}")
}

const ALERTS: [&str; 12] = [
    "HttpAvailabilityBurnRate1h",
    "HttpAvailabilityBurnRate6h",
    "HttpAvailabilityBurnRate1d",
    "HttpAvailabilityBurnRate3d",
    "HttpLatencyBurnRate1h",
    "HttpLatencyBurnRate6h",
    "HttpLatencyBurnRate1d",
    "HttpLatencyBurnRate3d",
    "JobSuccessBurnRate1h",
    "JobSuccessBurnRate6h",
    "JobSuccessBurnRate1d",
    "JobSuccessBurnRate3d",
];

#[test]
fn slo_rules_pass_promtool_and_vmalert_and_are_listed_in_prometheus_yml() {
    let dir = generated();
    let prometheus = dir.path().join("prometheus");
    let output = run(
        ("promtool", "prometheus"),
        &["check", "rules", "slo.yml"],
        &prometheus,
    );
    assert!(output.success, "{}", output.text());
    assert!(
        output.text().contains("SUCCESS: 54 rules found"),
        "{}",
        output.text()
    );
    let output = run(
        ("vmalert", "victoria-metrics"),
        &["-dryRun", "-rule=slo.yml"],
        &prometheus,
    );
    assert!(output.success, "vmalert: {}", output.text());
    let config = std::fs::read_to_string(prometheus.join("prometheus.yml")).expect("config");
    assert!(config.contains("  - \"slo.yml\"\n"), "{config}");
    let output = run(
        ("promtool", "prometheus"),
        &["check", "config", "prometheus.yml"],
        &prometheus,
    );
    assert!(output.success, "{}", output.text());
}

#[test]
fn one_fingerprinted_group_per_slo_with_one_alert_per_window_pair() {
    let dir = generated();
    let rules = std::fs::read_to_string(dir.path().join("prometheus/slo.yml")).expect("slo.yml");
    let groups: Vec<&str> = rules
        .lines()
        .filter_map(|line| line.strip_prefix("  - name: "))
        .collect();
    assert_eq!(groups.len(), 3, "{groups:?}");
    for (group, slug) in groups
        .iter()
        .zip(["http-availability", "http-latency", "job-success"])
    {
        let name = group.trim_matches('"');
        let (base, fingerprint) = name.split_once('@').expect("NAME@FINGERPRINT");
        assert_eq!(base, format!("fiko.slo-{slug}"));
        assert_eq!(fingerprint.len(), 8, "{name}");
        assert!(fingerprint.chars().all(|c| c.is_ascii_hexdigit()), "{name}");
    }
    let alerts: Vec<&str> = rules
        .lines()
        .filter_map(|line| line.trim().strip_prefix("- alert: "))
        .map(|name| name.trim_matches('"'))
        .collect();
    let mut wanted = ALERTS.to_vec();
    wanted.sort_unstable();
    let mut got = alerts.clone();
    got.sort_unstable();
    assert_eq!(got, wanted);
    // vmalert 1.79 refuses `keep_firing_for`.
    assert!(!rules.contains("keep_firing_for"));
    for window in ["5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d"] {
        assert!(
            rules.contains(&format!("record: \"slo:sli_error:ratio_rate{window}\"")),
            "{window}"
        );
    }
    assert!(rules.contains(r#"slo:sli_error:ratio_rate1h{slo=\"http-availability\"} > 0.0144 and on (slo) slo:sli_error:ratio_rate5m{slo=\"http-availability\"} > 0.0144 and on (slo) slo:sli_events:increase1h{slo=\"http-availability\"} >= 100"#), "{rules}");
    assert!(rules.contains(r#"slo:sli_error:ratio_rate3d{slo=\"job-success\"} > 0.01 and on (slo) slo:sli_error:ratio_rate6h{slo=\"job-success\"} > 0.01"#), "{rules}");
    assert!(
        rules.contains(r#"http_server_request_duration_seconds_bucket{le=\"0.5\"}"#),
        "{rules}"
    );
}

#[test]
fn the_time_scale_divides_windows_and_changes_the_fingerprints() {
    let plain = deployment::generator().generate().expect("generate");
    let fast = deployment::generator()
        .slo_time_scale(60)
        .generate()
        .expect("generate");
    let plain = plain.get("prometheus/slo.yml").expect("slo.yml");
    let fast = fast.get("prometheus/slo.yml").expect("slo.yml");
    assert!(
        fast.contains("record: \"slo:sli_error:ratio_rate5s\""),
        "{fast}"
    );
    assert!(
        fast.contains("record: \"slo:sli_error:ratio_rate72m\""),
        "{fast}"
    );
    assert!(
        fast.contains("record: \"slo:sli_error:ratio_rate12h\""),
        "{fast}"
    );
    assert!(fast.contains("long_window: \"1m\""), "{fast}");
    // The names stay; the windows and the fingerprints change.
    assert!(fast.contains("alert: \"HttpAvailabilityBurnRate1h\""));
    let names = |text: &str| -> Vec<String> {
        text.lines()
            .filter_map(|line| line.strip_prefix("  - name: "))
            .map(str::to_owned)
            .collect()
    };
    for (a, b) in names(plain).iter().zip(names(fast).iter()) {
        assert_ne!(a, b);
        assert_eq!(a.split('@').next(), b.split('@').next());
    }
    let problems = match deployment::generator().slo_time_scale(7).generate() {
        Err(fiko_dashboards_gen::Error::Invalid(problems)) => problems,
        other => panic!(
            "generated with a scale of 7: {:?}",
            other.map(|a| a.summary())
        ),
    };
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("slo_time_scale 7: it must divide 60")),
        "{problems:?}"
    );
}

#[test]
fn generated_slo_tests_pass_and_cover_every_window_pair() {
    let dir = generated();
    let prometheus = dir.path().join("prometheus");
    let tests = std::fs::read_to_string(prometheus.join("slo.test.yml")).expect("tests")
        + &std::fs::read_to_string(prometheus.join("slo-tickets.test.yml")).expect("tickets");
    for alert in ALERTS {
        for case in [
            format!("name: \"{alert} fires above "),
            format!("name: \"{alert} stays silent below "),
            format!("name: \"{alert} stays silent on fewer than 100 events"),
            format!("name: \"{alert} detects a burn at error ratio "),
        ] {
            assert_eq!(tests.matches(&case).count(), 1, "{case}");
        }
    }
    assert_eq!(tests.matches("\n  - name: ").count(), 48);
    // The two files in two promtool processes at once: each is single-threaded, and the
    // tickets' days-long histories take the longest.
    let promtool = ("promtool", "prometheus");
    let tickets = std::thread::scope(|scope| {
        let tickets = scope.spawn(|| {
            run(
                promtool,
                &["test", "rules", "slo-tickets.test.yml"],
                &prometheus,
            )
        });
        let pages = run(promtool, &["test", "rules", "slo.test.yml"], &prometheus);
        assert!(pages.success, "{}", pages.text());
        tickets.join().expect("promtool thread")
    });
    assert!(tickets.success, "{}", tickets.text());
}

/// The generated tests are not vacuous: rules with another threshold or `for` fail them,
/// naming the alert.
#[test]
fn generated_slo_tests_fail_against_changed_rules() {
    let dir = generated();
    let prometheus = dir.path().join("prometheus");
    let rules = std::fs::read_to_string(prometheus.join("slo.yml")).expect("slo.yml");
    let promtool = ("promtool", "prometheus");
    for (alert, from, to) in [
        ("HttpAvailabilityBurnRate1h", "> 0.0144 and", "> 0.02 and"),
        ("JobSuccessBurnRate1d", "> 0.03 and", "> 0.025 and"),
        ("HttpLatencyBurnRate6h", "> 0.06 and", "> 0.08 and"),
    ] {
        assert!(rules.contains(from), "{from}");
        std::fs::write(prometheus.join("slo.yml"), rules.replacen(from, to, 3)).expect("write");
        let file = if alert.ends_with("1d") || alert.ends_with("3d") {
            "slo-tickets.test.yml"
        } else {
            "slo.test.yml"
        };
        let tests = std::fs::read_to_string(prometheus.join(file)).expect("tests");
        std::fs::write(prometheus.join("one.test.yml"), only(&tests, alert)).expect("write");
        let output = run(promtool, &["test", "rules", "one.test.yml"], &prometheus);
        let all = output.text();
        assert!(!output.success, "{alert}: stale tests passed:\n{all}");
        assert!(all.contains(alert), "{alert} not named in:\n{all}");
    }
    // Changing a `for` is caught too (the detection case).
    let slower = rules.replacen("for: \"2m\"", "for: \"10m\"", 1);
    std::fs::write(prometheus.join("slo.yml"), slower).expect("write");
    let tests = std::fs::read_to_string(prometheus.join("slo.test.yml")).expect("tests");
    std::fs::write(
        prometheus.join("one.test.yml"),
        only(&tests, "HttpAvailabilityBurnRate1h"),
    )
    .expect("write");
    let output = run(promtool, &["test", "rules", "one.test.yml"], &prometheus);
    assert!(!output.success, "{}", output.text());
}

/// Realistic histories, written by hand, against the demo's generated rules: two errors
/// on low traffic page nobody; 10% errors after a healthy hour page within 15 minutes
/// (`slo.test.yml`, minute steps); a slow burn at 0.5% for 18 hours opens the tickets after
/// about 14.4 hours and never pages; a healthy system stays silent for days
/// (`slo-days.test.yml`, five-minute steps).
#[test]
fn slo_scenarios_replay_against_the_demos_rules() {
    let dir = generated();
    let prometheus = dir.path().join("prometheus");
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios");
    let scenarios = folder.join("slo.test.yml");
    std::fs::copy(&scenarios, prometheus.join("scenarios.test.yml")).expect("copy");
    std::fs::copy(
        folder.join("slo-days.test.yml"),
        prometheus.join("scenarios-days.test.yml"),
    )
    .expect("copy");
    // One promtool process per file, at once: each is single-threaded.
    std::thread::scope(|scope| {
        let days = scope.spawn(|| {
            run(
                ("promtool", "prometheus"),
                &["test", "rules", "scenarios-days.test.yml"],
                &prometheus,
            )
        });
        let minutes = run(
            ("promtool", "prometheus"),
            &["test", "rules", "scenarios.test.yml"],
            &prometheus,
        );
        assert!(minutes.success, "{}", minutes.text());
        let days = days.join().expect("promtool thread");
        assert!(days.success, "{}", days.text());
    });
    // Without the minimum-traffic guard the low-traffic scenario pages: the same rules
    // with the guard removed fail it.
    let rules = std::fs::read_to_string(prometheus.join("slo.yml")).expect("slo.yml");
    let unguarded = rules.replace(
        r#" and on (slo) slo:sli_events:increase1h{slo=\"http-availability\"} >= 100"#,
        "",
    );
    assert_ne!(unguarded, rules);
    std::fs::write(prometheus.join("slo.yml"), unguarded).expect("write");
    let scenarios = std::fs::read_to_string(&scenarios).expect("scenarios");
    std::fs::write(
        prometheus.join("low-traffic.test.yml"),
        only(&scenarios, "low traffic"),
    )
    .expect("write");
    let output = run(
        ("promtool", "prometheus"),
        &["test", "rules", "low-traffic.test.yml"],
        &prometheus,
    );
    let all = output.text();
    assert!(!output.success, "{all}");
    assert!(all.contains("low traffic"), "{all}");
}

#[test]
fn a_bad_objective_is_reported_with_every_other_problem() {
    let mut duplicate = deployment::slos().remove(0);
    assert_eq!(duplicate.name, "HttpAvailability");
    duplicate = duplicate.objective(Percent(100.0)).over(days(30));
    let broken = deployment::generator()
        .slo(duplicate)
        .tune("NoSuchAlert", |_| {});
    let problems = match broken.generate() {
        Err(fiko_dashboards_gen::Error::Invalid(problems)) => problems,
        other => panic!("generated: {:?}", other.map(|a| a.summary())),
    };
    assert!(
        problems.contains(
            &"Generator::slo: SLO HttpAvailability: objective 100% is not strictly between 0% and 100%"
                .to_owned()
        ),
        "{problems:?}"
    );
    assert!(
        problems.contains(
            &"Generator::slo: two SLOs are named `HttpAvailability` (the other in Generator::slo)"
                .to_owned()
        ),
        "{problems:?}"
    );
    assert!(
        problems.contains(&"tune: no alert named `NoSuchAlert`".to_owned()),
        "{problems:?}"
    );
    assert!(problems.iter().all(|p| !p.contains('\n')));
}

#[test]
fn the_overview_has_the_slo_row_and_the_runbook_its_alerts() {
    let artefacts = deployment::generator().generate().expect("generate");
    let dashboard = artefacts
        .get("grafana/dashboards/fiko-overview.json")
        .expect("dashboard");
    for wanted in [
        "\"title\": \"Service level objectives\"",
        "\"title\": \"SLI and objective\"",
        "\"title\": \"Error budget remaining\"",
        "\"title\": \"Burn rate\"",
        "slo:error_budget_remaining:ratio{slo=~\\\"http-availability|http-latency|job-success\\\"}",
    ] {
        assert!(dashboard.contains(wanted), "{wanted}");
    }
    let runbooks = artefacts.get("RUNBOOKS.md").expect("runbooks");
    let mut sentences = std::collections::BTreeMap::new();
    for alert in ALERTS {
        let start = runbooks
            .find(&format!("\n## {alert}\n"))
            .unwrap_or_else(|| panic!("no section for {alert}"));
        let section = &runbooks[start + 1..];
        let section = &section[..section[3..]
            .find("\n## ")
            .map_or(section.len(), |end| end + 3)];
        for heading in [
            "### Meaning",
            "### Impact",
            "### Diagnosis",
            "### Mitigation",
        ] {
            assert!(section.contains(heading), "{alert}: {heading}");
        }
        let body = &section[section.find("### Meaning").expect("meaning")..];
        for sentence in body
            .lines()
            .filter(|line| !line.starts_with('#') && !line.is_empty())
            .flat_map(|line| line.split(". "))
        {
            if let Some(other) = sentences.insert(sentence.to_owned(), alert) {
                panic!("{alert} and {other} share the sentence `{sentence}`");
            }
        }
    }
}
