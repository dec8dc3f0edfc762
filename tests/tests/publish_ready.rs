//! Every library crate is ready to publish: real metadata, a README, a `rust-version` its
//! dependencies allow, and no dependency on a crate that is not published. The packages
//! themselves are built by `cargo publish --dry-run --workspace` in `scripts/test`.

// The helpers fail the test by panicking (they are not `#[test]` fns: rust-clippy#13981).
#![allow(clippy::expect_used, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the workspace")
        .to_path_buf()
}

/// The workspace's members, from `cargo metadata`.
fn members() -> Vec<Value> {
    let output = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--no-deps", "--locked"])
        .current_dir(workspace_root())
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: Value = serde_json::from_slice(&output.stdout).expect("cargo metadata is JSON");
    metadata["packages"].as_array().expect("packages").to_vec()
}

fn name(package: &Value) -> &str {
    package["name"].as_str().expect("name")
}

/// `publish = false` reads as an empty list of registries.
fn publishable(package: &Value) -> bool {
    package["publish"]
        .as_array()
        .is_none_or(|registries| !registries.is_empty())
}

/// The package's directory, relative to the workspace root.
fn directory(package: &Value) -> PathBuf {
    let manifest = Path::new(package["manifest_path"].as_str().expect("manifest_path"));
    manifest
        .parent()
        .expect("a manifest is in a directory")
        .strip_prefix(workspace_root())
        .expect("members are inside the workspace")
        .to_path_buf()
}

#[test]
fn the_library_crates_are_the_published_ones() {
    let members = members();
    for package in &members {
        let dir = directory(package);
        let tool_or_example = ["examples", "tests", "benches", "fiko-testkit"]
            .iter()
            .any(|top| dir.starts_with(top))
            || name(package) == "dashboards-gen";
        assert_eq!(
            publishable(package),
            !tool_or_example,
            "{} ({}): examples, the demo, tests, benches, the test kit and the demo's runner are `publish = false`; every other crate is a library to publish",
            name(package),
            dir.display()
        );
    }
    let published: Vec<&str> = members
        .iter()
        .filter(|p| publishable(p))
        .map(name)
        .collect();
    for library in [
        "fiko-metrics",
        "fiko-metrics-derive",
        "fiko-metrics-naming",
        "fiko-dashboards",
        "fiko-metrics-axum",
        "fiko-metrics-process",
        "fiko-metrics-sqlx",
        "fiko-metrics-redis",
        "fiko-metrics-jobs",
    ] {
        assert!(
            published.contains(&library),
            "{library} is published ({published:?})"
        );
    }
}

#[test]
fn publishable_crates_have_real_metadata() {
    let members = members();
    let mut problems = Vec::new();
    for package in members.iter().filter(|p| publishable(p)) {
        let crate_name = name(package);
        let mut problem = |what: String| problems.push(format!("{crate_name}: {what}"));
        for field in ["description", "license", "rust_version", "documentation"] {
            if package[field].as_str().is_none_or(str::is_empty) {
                problem(format!("no `{}`", field.replace('_', "-")));
            }
        }
        for field in ["repository", "homepage", "documentation"] {
            if package[field]
                .as_str()
                .is_some_and(|url| url.contains("example.invalid"))
            {
                problem(format!("`{field}` is a placeholder"));
            }
        }
        match package["readme"].as_str() {
            Some(readme) => {
                let path = workspace_root().join(directory(package)).join(readme);
                match std::fs::read_to_string(&path) {
                    Ok(text) if text.contains("```rust") => {}
                    Ok(_) => problem(format!("{readme} has no Rust example")),
                    Err(error) => problem(format!("{}: {error}", path.display())),
                }
            }
            None => problem("no `readme`".to_owned()),
        }
        let keywords = package["keywords"].as_array().cloned().unwrap_or_default();
        if !(1..=5).contains(&keywords.len()) {
            problem(format!(
                "{} keywords (crates.io takes 1 to 5)",
                keywords.len()
            ));
        }
        for keyword in keywords.iter().filter_map(Value::as_str) {
            let valid = keyword.len() <= 20
                && keyword.starts_with(|c: char| c.is_ascii_alphabetic())
                && keyword
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !valid {
                problem(format!("keyword `{keyword}` is not one crates.io accepts"));
            }
        }
        if package["categories"].as_array().is_none_or(Vec::is_empty) {
            problem("no `categories`".to_owned());
        }
        for dependency in package["dependencies"].as_array().expect("dependencies") {
            let Some(path) = dependency["path"].as_str() else {
                continue;
            };
            let dependency_name = dependency["name"].as_str().expect("name");
            let kind = dependency["kind"].as_str().unwrap_or("normal");
            if kind == "dev" {
                // Path-only dev-dependencies are dropped from the published manifest.
                continue;
            }
            if dependency["req"].as_str() == Some("*") {
                problem(format!(
                    "the path dependency `{dependency_name}` has no version (crates.io needs one)"
                ));
            }
            let target = members.iter().find(|member| {
                Path::new(member["manifest_path"].as_str().unwrap_or("")).parent()
                    == Some(Path::new(path))
            });
            if target.is_some_and(|target| !publishable(target)) {
                problem(format!(
                    "depends on `{dependency_name}`, which is not published"
                ));
            }
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[test]
fn every_rust_version_covers_the_dependency_tree() {
    let script = workspace_root().join("scripts/msrv");
    let output = Command::new(&script)
        .arg("--check")
        .current_dir(workspace_root())
        .env("CARGO", env!("CARGO"))
        .output()
        .unwrap_or_else(|error| panic!("{}: {error}", script.display()));
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{table}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for package in members().iter().filter(|p| publishable(p)) {
        assert!(
            table
                .lines()
                .any(|line| line.split_whitespace().next() == Some(name(package))),
            "scripts/msrv does not list {}:\n{table}",
            name(package)
        );
    }
    // What is known of the trees: sqlx 0.9 declares 1.94, redis 1.8 declares 1.88, and
    // edition 2024 starts at 1.85.
    let derived = |crate_name: &str| -> (u32, u32) {
        let version = table
            .lines()
            .find(|line| line.split_whitespace().next() == Some(crate_name))
            .and_then(|line| line.split_whitespace().nth(2))
            .unwrap_or_else(|| panic!("no derived version for {crate_name}:\n{table}"));
        let mut parts = version
            .split('.')
            .map(|part| part.parse::<u32>().unwrap_or(0));
        (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
    };
    assert!(derived("fiko-metrics-sqlx") >= (1, 94), "{table}");
    assert!(derived("fiko-metrics-redis") >= (1, 88), "{table}");
    assert!(derived("fiko-metrics") >= (1, 85), "{table}");
}
