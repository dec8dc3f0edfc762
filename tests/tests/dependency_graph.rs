//! No library crate depends on an example, the demo, its runner or a test-only crate:
//! `cargo tree -e normal -p CRATE` of every publishable crate of the workspace names no
//! `publish = false` member. (The demo once came with the generator: an outside
//! generator binary compiled 214 crates it never used.) And `ARCHITECTURE.md`'s table of
//! the crates and their dependencies says what `cargo metadata` says.

// The helpers fail the test by panicking (they are not `#[test]` fns: rust-clippy#13981).
#![allow(clippy::expect_used, clippy::panic)]

use std::process::Command;

use serde_json::Value;

fn cargo(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap_or_else(|error| panic!("cannot run cargo {args:?}: {error}"));
    assert!(
        output.status.success(),
        "cargo {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8")
}

/// `cargo metadata` of the workspace's own packages.
fn metadata() -> Value {
    serde_json::from_str(&cargo(&[
        "metadata",
        "--no-deps",
        "--format-version",
        "1",
        "--offline",
    ]))
    .expect("cargo metadata is JSON")
}

#[test]
fn no_library_crate_depends_on_an_example_or_the_demo() {
    let metadata = metadata();
    let packages = metadata["packages"].as_array().expect("packages");
    // `publish = false` is `"publish": []` in the metadata.
    let unpublished = |package: &&Value| package["publish"].as_array().is_some_and(Vec::is_empty);
    let private: Vec<&str> = packages
        .iter()
        .filter(unpublished)
        .map(|package| package["name"].as_str().expect("name"))
        .collect();
    for name in ["fiko-backend", "outside-app", "dashboards-gen"] {
        assert!(
            private.contains(&name),
            "{name} is not publish = false: {private:?}"
        );
    }
    let libraries: Vec<&str> = packages
        .iter()
        .filter(|package| !unpublished(package))
        .map(|package| package["name"].as_str().expect("name"))
        .collect();
    assert!(
        libraries.contains(&"fiko-dashboards-gen") && libraries.len() >= 9,
        "{libraries:?}"
    );
    for library in libraries {
        let tree = cargo(&[
            "tree",
            "-e",
            "normal",
            "-p",
            library,
            "--prefix",
            "none",
            "--offline",
        ]);
        for line in tree.lines() {
            let name = line.split_whitespace().next().unwrap_or_default();
            assert!(
                !private.contains(&name),
                "{library} depends on {name}:\n{tree}"
            );
        }
    }
}

/// `ARCHITECTURE.md`'s table names every crate of the workspace, once, with its folder and
/// exactly the workspace crates it depends on (normal dependencies), as `cargo metadata`
/// has them.
#[test]
fn architecture_md_lists_every_crate_with_its_workspace_dependencies() {
    let metadata = metadata();
    let root = metadata["workspace_root"].as_str().expect("workspace root");
    let packages = metadata["packages"].as_array().expect("packages");
    let members: Vec<&str> = packages
        .iter()
        .map(|package| package["name"].as_str().expect("name"))
        .collect();
    let mut actual: Vec<(String, String, Vec<String>)> = packages
        .iter()
        .map(|package| {
            let manifest = package["manifest_path"].as_str().expect("manifest path");
            let folder = manifest
                .strip_prefix(root)
                .and_then(|path| path.strip_suffix("/Cargo.toml"))
                .map(|path| path.trim_start_matches('/').to_owned())
                .expect("a member's manifest lies under the workspace root");
            let mut dependencies: Vec<String> = package["dependencies"]
                .as_array()
                .expect("dependencies")
                .iter()
                .filter(|dependency| dependency["kind"].is_null())
                .map(|dependency| dependency["name"].as_str().expect("name"))
                .filter(|name| members.contains(name))
                .map(str::to_owned)
                .collect();
            dependencies.sort();
            let name = package["name"].as_str().expect("name").to_owned();
            (name, folder, dependencies)
        })
        .collect();
    actual.sort();

    let architecture = std::fs::read_to_string(std::path::Path::new(root).join("ARCHITECTURE.md"))
        .expect("ARCHITECTURE.md at the workspace root");
    let code = |cell: &str| cell.trim().trim_matches('`').to_owned();
    let mut documented: Vec<(String, String, Vec<String>)> = architecture
        .lines()
        .filter(|line| line.starts_with("| `"))
        .map(|line| {
            let cells: Vec<&str> = line.trim_matches('|').split('|').collect();
            assert!(cells.len() >= 3, "a table row without 3 columns: {line}");
            let mut dependencies: Vec<String> = match cells[2].trim() {
                "—" => Vec::new(),
                list => list.split(',').map(code).collect(),
            };
            dependencies.sort();
            (code(cells[0]), code(cells[1]), dependencies)
        })
        .collect();
    documented.sort();
    assert_eq!(
        documented, actual,
        "ARCHITECTURE.md's table (left) differs from cargo metadata (right)"
    );
    assert!(
        architecture.lines().count() <= 60,
        "ARCHITECTURE.md is meant to stay about a page long"
    );
}
