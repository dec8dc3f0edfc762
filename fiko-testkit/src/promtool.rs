//! promtool, Prometheus' checker and rule tester: run on an exposition or on rule and test
//! files, and the YAML of alerting rules and of promtool alert tests.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::TestkitError;
use crate::tool::{Report, run_tool};

fn promtool() -> Result<Command, TestkitError> {
    crate::binary("promtool", "prometheus").map(Command::new)
}

fn io(what: &str) -> impl FnOnce(std::io::Error) -> TestkitError + '_ {
    move |source| TestkitError::Io {
        what: what.to_owned(),
        source,
    }
}

/// `promtool check metrics` on an exposition in the Prometheus text format, fed on stdin.
///
/// ```no_run
/// let report = fiko_testkit::promtool::check_metrics("# TYPE up gauge\nup 1\n")?;
/// assert!(report.success, "{}", report.text());
/// # Ok::<(), fiko_testkit::TestkitError>(())
/// ```
pub fn check_metrics(text: &str) -> Result<Report, TestkitError> {
    let mut child = promtool()?
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(io("starting promtool check metrics"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(text.as_bytes())
            .map_err(io("writing to promtool check metrics"))?;
    }
    let output = child
        .wait_with_output()
        .map_err(io("waiting for promtool check metrics"))?;
    Ok(Report::of(output))
}

/// `promtool ARGS` in `dir`, where the files the arguments name are.
pub fn run_in(dir: &Path, args: &[&str]) -> Result<Report, TestkitError> {
    run_tool("promtool", "prometheus", dir, args)
}

/// `promtool ARGS` in a fresh temporary directory that holds `files` (name, contents), so
/// the arguments and the files can name each other relatively (`rule_files: [rules.yml]`).
///
/// ```no_run
/// let rules = "groups: []\n";
/// let report = fiko_testkit::promtool::run(&["check", "rules", "rules.yml"], &[("rules.yml", rules)])?;
/// assert!(report.success, "{}", report.text());
/// # Ok::<(), fiko_testkit::TestkitError>(())
/// ```
pub fn run(args: &[&str], files: &[(&str, &str)]) -> Result<Report, TestkitError> {
    let dir = tempfile::Builder::new()
        .prefix("fiko-testkit-promtool-")
        .tempdir()
        .map_err(io("creating promtool's directory"))?;
    for (name, contents) in files {
        std::fs::write(dir.path().join(name), contents).map_err(io(name))?;
    }
    run_in(dir.path(), args)
}

/// `promtool test rules` on `tests` (a test file reading `rules.yml`, e.g. from
/// [`tests_file`]) over `rules`, that rule file. A failed test is
/// [`TestkitError::Check`], holding promtool's output and both files.
///
/// ```no_run
/// let rules = "groups: []\n";
/// let tests = fiko_testkit::promtool::tests_file(&[]);
/// fiko_testkit::promtool::test_rules(rules, &tests)?;
/// # Ok::<(), fiko_testkit::TestkitError>(())
/// ```
pub fn test_rules(rules: &str, tests: &str) -> Result<(), TestkitError> {
    let report = run(
        &["test", "rules", "tests.yml"],
        &[("rules.yml", rules), ("tests.yml", tests)],
    )?;
    if report.success {
        return Ok(());
    }
    Err(TestkitError::Check {
        what: "promtool test rules".to_owned(),
        output: format!("{}\nrules:\n{rules}\ntests:\n{tests}", report.text()),
    })
}

/// One alerting rule of a rule file written by [`rules_file`].
#[derive(Clone, Debug)]
pub struct AlertRule {
    /// The alert's name.
    pub name: String,
    /// Its PromQL.
    pub expr: String,
    /// Its `for` duration, as Prometheus writes it (`5m`).
    pub for_: String,
    /// Its `severity` label.
    pub severity: String,
}

impl AlertRule {
    /// A rule of these parts: `for_` and `severity` as they print (`5m`, `warning`).
    pub fn new(
        name: impl ToString,
        expr: impl ToString,
        for_: impl ToString,
        severity: impl ToString,
    ) -> Self {
        Self {
            name: name.to_string(),
            expr: expr.to_string(),
            for_: for_.to_string(),
            severity: severity.to_string(),
        }
    }
}

/// A rule file of one group, `group`, holding `rules`.
pub fn rules_file(group: &str, rules: &[AlertRule]) -> String {
    let mut out = format!("groups:\n  - name: {group}\n    rules:\n");
    for rule in rules {
        let _ = writeln!(
            out,
            "      - alert: {}\n        expr: {}\n        for: {}\n        labels:\n          severity: {}",
            rule.name,
            quoted(&rule.expr),
            rule.for_,
            rule.severity
        );
    }
    out
}

/// One promtool alert test: input series, when to look, and the labels of the alert
/// expected then (`None`: it must stay silent).
#[derive(Clone, Debug)]
pub struct AlertCase<'a> {
    /// What the case shows, in promtool's output when it fails.
    pub name: &'a str,
    /// The alert looked at.
    pub alert: &'a str,
    /// `(series, values)` in promtool's expanding notation (`0+60x30`), one sample a minute.
    pub series: Vec<(String, String)>,
    /// When to look, e.g. `20m`.
    pub eval: &'a str,
    /// The labels the alert fires with, or `None` when it must stay silent.
    pub fires_with: Option<Vec<(&'a str, &'a str)>>,
}

/// A promtool test file over `rules.yml`, evaluated every minute, holding `cases`.
pub fn tests_file(cases: &[AlertCase<'_>]) -> String {
    let mut out = String::from("rule_files:\n  - rules.yml\nevaluation_interval: 1m\ntests:\n");
    for case in cases {
        let _ = writeln!(
            out,
            "  - name: {}\n    interval: 1m\n    input_series:",
            quoted(case.name)
        );
        for (series, values) in &case.series {
            let _ = writeln!(
                out,
                "      - series: {}\n        values: {}",
                quoted(series),
                quoted(values)
            );
        }
        let _ = writeln!(
            out,
            "    alert_rule_test:\n      - eval_time: {}\n        alertname: {}",
            case.eval, case.alert
        );
        match &case.fires_with {
            None => out.push_str("        exp_alerts: []\n"),
            Some(labels) => {
                out.push_str("        exp_alerts:\n          - exp_labels:\n");
                for (name, value) in labels {
                    let _ = writeln!(out, "              {name}: {}", quoted(value));
                }
            }
        }
    }
    out
}

/// A YAML single-quoted string.
fn quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}
