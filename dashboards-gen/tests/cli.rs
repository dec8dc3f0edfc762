//! The `dashboards-gen` binary: writes, checks, explains itself, and fails in one line.

// The helpers fail the test by panicking (they are not `#[test]` fns: rust-clippy#13981).
#![allow(clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

fn gen_cmd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dashboards-gen"))
        .args(args)
        .output()
        .expect("run dashboards-gen")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn out_arg(dir: &Path) -> String {
    dir.display().to_string()
}

#[test]
fn writes_then_check_passes_and_reruns_are_identical() {
    let a = tempfile::tempdir().expect("dir");
    let b = tempfile::tempdir().expect("dir");
    let first = gen_cmd(&["--out", &out_arg(a.path())]);
    assert!(first.status.success(), "{}", stderr(&first));
    let second = gen_cmd(&["--out", &out_arg(b.path())]);
    assert!(second.status.success(), "{}", stderr(&second));
    let mut files = 0;
    for entry in walk(a.path()) {
        let relative = entry.strip_prefix(a.path()).expect("prefix");
        let left = std::fs::read(&entry).expect("read");
        let right = std::fs::read(b.path().join(relative)).expect("same file in second run");
        assert_eq!(left, right, "{}", relative.display());
        files += 1;
    }
    assert!(files >= 9, "{files} files");
    let check = gen_cmd(&["--out", &out_arg(a.path()), "--check"]);
    assert!(check.status.success(), "{}", stderr(&check));
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read_dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files.sort();
    files
}

#[test]
fn check_lists_each_stale_or_missing_file_and_fails() {
    let dir = tempfile::tempdir().expect("dir");
    assert!(gen_cmd(&["--out", &out_arg(dir.path())]).status.success());
    let alerts = dir.path().join("prometheus/alerts.yml");
    let edited = std::fs::read_to_string(&alerts)
        .expect("read")
        .replace("> 80", "> 90");
    std::fs::write(&alerts, edited).expect("write");
    std::fs::remove_file(dir.path().join("alertmanager/alertmanager.yml")).expect("remove");
    let check = gen_cmd(&["--out", &out_arg(dir.path()), "--check"]);
    assert_eq!(check.status.code(), Some(1));
    let text = stderr(&check);
    assert!(
        text.contains(&format!("stale: {}", alerts.display())),
        "{text}"
    );
    assert!(text.contains("alertmanager/alertmanager.yml"), "{text}");
    assert!(!text.contains("recording.yml"), "{text}");
    assert!(text.contains("2 file(s)"), "{text}");
    // --check writes nothing.
    assert!(!dir.path().join("alertmanager/alertmanager.yml").exists());
}

#[test]
fn help_describes_every_option() {
    let help = gen_cmd(&["--help"]);
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    for option in ["--out <DIR>", "--check", "--interval <SECONDS>", "--help"] {
        assert!(text.contains(option), "{option} missing from:\n{text}");
    }
}

fn assert_one_line_failure(output: &Output, expected: &str) {
    let text = stderr(output);
    assert!(!output.status.success(), "{text}");
    assert_eq!(text.lines().count(), 1, "not one line:\n{text}");
    assert!(text.starts_with("dashboards-gen: "), "{text}");
    assert!(text.contains(expected), "{text}");
    assert!(!text.contains("panicked"), "{text}");
}

#[test]
fn bad_arguments_are_one_line_errors() {
    assert_one_line_failure(&gen_cmd(&["--bogus"]), "--bogus");
    assert_one_line_failure(&gen_cmd(&["--interval", "0"]), "0");
    assert_one_line_failure(&gen_cmd(&["--interval", "soon"]), "soon");
    assert_one_line_failure(&gen_cmd(&["--out"]), "--out");
}

#[test]
fn unwritable_directory_is_a_one_line_error() {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("a-file");
    std::fs::write(&file, "not a directory").expect("write");
    let output = gen_cmd(&["--out", &out_arg(&file.join("deploy"))]);
    assert_one_line_failure(&output, "cannot write");
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn short_interval_option_reaches_prometheus_yml() {
    let dir = tempfile::tempdir().expect("dir");
    assert!(
        gen_cmd(&["--out", &out_arg(dir.path()), "--interval", "1"])
            .status
            .success()
    );
    let config =
        std::fs::read_to_string(dir.path().join("prometheus/prometheus.yml")).expect("read");
    assert!(config.contains("scrape_interval: \"1s\""), "{config}");
    assert!(config.contains("evaluation_interval: \"1s\""), "{config}");
    let alerts = std::fs::read_to_string(dir.path().join("prometheus/alerts.yml")).expect("read");
    assert!(alerts.contains("interval: \"1s\""), "{alerts}");
}
