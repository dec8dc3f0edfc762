//! Hand-written promtool scenarios (`tests/scenarios/*.test.yml`, not generated) replayed
//! against the demo's generated `alerts.yml`: dead targets keep alerting, exporters are
//! told apart from their servers, noise and duplicates stay quiet, a healthy system is
//! silent for hours.

use std::path::{Path, PathBuf};
use std::process::Command;

fn scenario(file: &str) {
    let promtool = fiko_testkit::binary("promtool", "prometheus").unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().expect("temp dir");
    fiko_backend::deployment::generator()
        .generate()
        .expect("the demo generates")
        .write_to(dir.path())
        .expect("write");
    let source: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/scenarios")
        .join(file);
    let rules = dir.path().join("prometheus");
    std::fs::copy(&source, rules.join(file)).expect("copy scenario");
    let output = Command::new(promtool)
        .args(["test", "rules", file])
        .current_dir(&rules)
        .output()
        .expect("run promtool");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{file}:\n{all}");
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
