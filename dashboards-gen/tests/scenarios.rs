//! Hand-written promtool scenarios (`tests/scenarios/*.test.yml`, not generated) replayed
//! against the demo's generated `alerts.yml`: dead targets keep alerting, exporters are
//! told apart from their servers, noise and duplicates stay quiet, a healthy system is
//! silent for hours.

// The helpers fail the test by panicking (they are not `#[test]` fns: rust-clippy#13981).
#![allow(clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};

use common::generated;
use fiko_testkit::promtool;

fn scenario(file: &str) {
    let dir = generated();
    let source: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/scenarios")
        .join(file);
    let rules = dir.path().join("prometheus");
    std::fs::copy(&source, rules.join(file)).expect("copy scenario");
    let output = promtool::run_in(&rules, &["test", "rules", file]).expect("promtool");
    let all = output.text();
    assert!(output.success, "{file}:\n{all}");
    assert!(all.contains("SUCCESS"), "{all}");
}

#[test]
fn dead_targets_and_exporters_keep_alerting_and_say_what_is_down() {
    scenario("target_health.test.yml");
}

#[test]
fn noise_duplicates_and_a_healthy_system_stay_quiet() {
    scenario("noise.test.yml");
}
