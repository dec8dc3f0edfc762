//! The README's "Generate the monitoring for your own application" shows this crate's
//! `src/bin/monitoring.rs` exactly, so the program users copy is the one tested here.

#[test]
fn the_readme_shows_the_monitoring_binary_as_it_is() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("../../README.md")).expect("README.md");
    let program = std::fs::read_to_string(root.join("src/bin/monitoring.rs")).expect("bin");
    let section = readme
        .split("## Generate the monitoring for your own application")
        .nth(1)
        .expect("the README has the section");
    let block = section
        .split("```rs\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a rust block");
    assert_eq!(block, program);
}
