//! The command line `fiko_dashboards_gen::cli::run` gives every application, through the
//! shop's `monitoring` binary: a summary on success, one line per usage error (exit 2),
//! one line per generation problem and for stale or unwritable output (exit 1).

// The helpers fail the test by panicking (they are not `#[test]` fns: rust-clippy#13981).
#![allow(clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

fn monitoring(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_monitoring"))
        .args(args)
        .output()
        .expect("run monitoring")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn path(dir: &Path) -> String {
    dir.display().to_string()
}

fn assert_one_line_failure(output: &Output, code: i32, expected: &str) {
    let text = stderr(output);
    assert_eq!(output.status.code(), Some(code), "{text}");
    assert_eq!(text.lines().count(), 1, "not one line:\n{text}");
    assert!(text.starts_with("monitoring: "), "{text}");
    assert!(text.contains(expected), "{text}");
    assert!(!text.contains("panicked"), "{text}");
    assert!(stdout(output).is_empty(), "{}", stdout(output));
}

#[test]
fn a_run_writes_and_says_what_it_made_and_check_confirms_it() {
    let dir = tempfile::tempdir().expect("dir");
    let out = path(dir.path());
    let written = monitoring(&["--out", &out]);
    assert!(written.status.success(), "{}", stderr(&written));
    assert_eq!(
        stdout(&written),
        format!(
            "monitoring: wrote 16 file(s) to {out}: 6 dashboard(s) with 25 panel(s), 7 alert(s), 2 recording rule(s), 19 promtool test case(s)\n"
        )
    );
    assert!(stderr(&written).is_empty(), "{}", stderr(&written));
    let checked = monitoring(&["--out", &out, "--check"]);
    assert!(checked.status.success(), "{}", stderr(&checked));
    assert_eq!(
        stdout(&checked),
        format!(
            "monitoring: 16 file(s) in {out} are current: 6 dashboard(s) with 25 panel(s), 7 alert(s), 2 recording rule(s), 19 promtool test case(s)\n"
        )
    );
    // The counts are those of the files.
    let tests =
        std::fs::read_to_string(dir.path().join("prometheus/alerts.test.yml")).expect("tests");
    assert_eq!(tests.matches("\n  - name: ").count(), 19);
    let recording =
        std::fs::read_to_string(dir.path().join("prometheus/recording.yml")).expect("recording");
    assert_eq!(recording.matches("- record: ").count(), 2);
}

#[test]
fn check_lists_each_stale_file_writes_nothing_and_fails() {
    let dir = tempfile::tempdir().expect("dir");
    let out = path(dir.path());
    assert!(monitoring(&["--out", &out]).status.success());
    let alerts = dir.path().join("prometheus/alerts.yml");
    std::fs::write(&alerts, "edited").expect("write");
    std::fs::remove_file(dir.path().join("RUNBOOKS.md")).expect("remove");
    let check = monitoring(&["--out", &out, "--check"]);
    assert_eq!(check.status.code(), Some(1));
    let text = stderr(&check);
    assert!(
        text.contains(&format!("stale: {}", alerts.display())),
        "{text}"
    );
    assert!(text.contains("RUNBOOKS.md"), "{text}");
    assert!(
        text.contains(&format!(
            "monitoring: 2 file(s) in {out} differ from the declarations; run `monitoring --out {out}` to rewrite them"
        )),
        "{text}"
    );
    assert_eq!(text.lines().count(), 3, "{text}");
    assert!(!dir.path().join("RUNBOOKS.md").exists());
    assert_eq!(std::fs::read_to_string(&alerts).expect("read"), "edited");
}

#[test]
fn usage_errors_are_one_line_and_exit_2() {
    assert_one_line_failure(&monitoring(&["--bogus"]), 2, "--bogus");
    assert_one_line_failure(&monitoring(&["--interval", "0"]), 2, "0");
    assert_one_line_failure(&monitoring(&["--interval", "soon"]), 2, "soon");
    assert_one_line_failure(&monitoring(&["--out"]), 2, "--out");
    assert_one_line_failure(&monitoring(&["--service"]), 2, "--service");
    assert_one_line_failure(
        &monitoring(&["--runbook-base-url"]),
        2,
        "--runbook-base-url",
    );
    assert_one_line_failure(&monitoring(&["extra"]), 2, "extra");
}

#[test]
fn a_bad_service_name_is_a_generation_problem_and_exit_1() {
    let dir = tempfile::tempdir().expect("dir");
    let output = monitoring(&["--out", &path(dir.path()), "--service", "My Shop"]);
    assert_eq!(output.status.code(), Some(1));
    let text = stderr(&output);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].starts_with("monitoring: application name `My Shop`: use 1 to 31 lower-case"),
        "{text}"
    );
    assert_eq!(lines[1], "monitoring: 1 problem(s); nothing written");
    assert!(std::fs::read_dir(dir.path()).expect("dir").next().is_none());
}

#[test]
fn the_token_file_option_protects_the_applications_own_jobs_only() {
    let dir = tempfile::tempdir().expect("dir");
    let out = path(dir.path());
    let args = [
        "--out",
        &out,
        "--metrics-token-file",
        "/etc/prometheus/shop-token",
    ];
    let output = monitoring(&args);
    assert!(output.status.success(), "{}", stderr(&output));
    let config =
        std::fs::read_to_string(dir.path().join("prometheus/prometheus.yml")).expect("config");
    let job = |name: &str| {
        let start = config
            .find(&format!("job_name: \"{name}\""))
            .unwrap_or_else(|| panic!("no job {name} in:\n{config}"));
        let rest = &config[start..];
        let end = rest[1..].find("- job_name").map_or(rest.len(), |i| i + 1);
        rest[..end].to_owned()
    };
    let protected = "    authorization:\n      type: \"Bearer\"\n      credentials_file: \"/etc/prometheus/shop-token\"\n";
    assert!(job("shop-web").contains(protected), "{config}");
    assert!(!job("prometheus").contains("authorization"), "{config}");
    // Renamed, the application's jobs are still the protected ones.
    let renamed = [&args[..], &["--service", "store"]].concat();
    assert!(monitoring(&renamed).status.success());
    let config =
        std::fs::read_to_string(dir.path().join("prometheus/prometheus.yml")).expect("config");
    assert!(config.contains("job_name: \"store-web\""), "{config}");
    assert_eq!(config.matches("credentials_file:").count(), 1, "{config}");
}

#[test]
fn an_unwritable_directory_is_one_line_and_exit_1() {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("a-file");
    std::fs::write(&file, "not a directory").expect("write");
    let output = monitoring(&["--out", &path(&file.join("deploy"))]);
    assert_one_line_failure(&output, 1, "cannot write");
}

#[test]
fn service_and_runbook_options_rename_everything() {
    let dir = tempfile::tempdir().expect("dir");
    let output = monitoring(&[
        "--out",
        &path(dir.path()),
        "--service",
        "corner-shop",
        "--runbook-base-url",
        "https://wiki.example/runbooks",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let read = |path: &str| std::fs::read_to_string(dir.path().join(path)).expect(path);
    let alerts = read("prometheus/alerts.yml");
    assert!(alerts.contains("- name: \"corner-shop.shop@"), "{alerts}");
    assert!(
        alerts.contains("runbook_url: \"https://wiki.example/runbooks#checkoutfailures\""),
        "{alerts}"
    );
    assert!(!alerts.contains("\"shop.shop@"), "{alerts}");
    let provider = read("grafana/provisioning/dashboards/corner-shop.yml");
    assert!(provider.contains("folder: \"Corner Shop\""), "{provider}");
    let dashboard = read("grafana/dashboards/corner-shop-overview.json");
    assert!(dashboard.contains("\"title\": \"Corner Shop overview\""));
    let config = read("prometheus/prometheus.yml");
    assert!(config.contains("job_name: \"corner-shop-web\""), "{config}");
    // The tests expect the renamed runbook links too, so they still pass.
    let tests = read("prometheus/alerts.test.yml");
    assert!(tests.contains("https://wiki.example/runbooks#checkoutfailures"));
    assert!(
        !dir.path()
            .join("grafana/provisioning/dashboards/shop.yml")
            .exists()
    );
}

#[test]
fn help_describes_every_option() {
    let help = monitoring(&["--help"]);
    assert!(help.status.success());
    let text = stdout(&help);
    for option in [
        "--out <DIR>",
        "--check",
        "--interval <SECONDS>",
        "--service <NAME>",
        "--runbook-base-url <URL>",
        "--metrics-token-file <PATH>",
        "--verify <URL>",
        "--rules-url <URL>",
        "--lookback <DURATION>",
        "--bearer-token-file <PATH>",
        "--format <FORMAT>",
        "--fail-on <CLASSES>",
        "--help",
    ] {
        assert!(text.contains(option), "{option} missing from:\n{text}");
    }
    assert!(text.contains("Usage: monitoring"), "{text}");
}
