//! Shared by the runner's tests: the demo's artefacts in a temporary directory, and the
//! Debian tools run on them.
#![allow(dead_code, unreachable_pub)]
// The helpers fail the test by panicking (they are not `#[test]` fns: rust-clippy#13981).
#![allow(clippy::expect_used, clippy::panic)]

use std::path::Path;

use fiko_testkit::Report;

/// The demo's artefacts, as `cargo run -p dashboards-gen` writes them, in a fresh
/// temporary directory.
pub fn generated() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    fiko_backend::deployment::generator()
        .generate()
        .expect("the repository's declarations generate")
        .write_to(dir.path())
        .expect("write");
    dir
}

/// `tool` (name, Debian package) run with `args` in `dir`.
pub fn run(tool: (&str, &str), args: &[&str], dir: &Path) -> Report {
    fiko_testkit::run_tool(tool.0, tool.1, dir, args).unwrap_or_else(|error| panic!("{error}"))
}
