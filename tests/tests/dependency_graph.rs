//! No library crate depends on an example, the demo, its runner or a test-only crate:
//! `cargo tree -e normal -p CRATE` of every publishable crate of the workspace names no
//! `publish = false` member. (The demo once came with the generator: an outside
//! generator binary compiled 214 crates it never used.)

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

#[test]
fn no_library_crate_depends_on_an_example_or_the_demo() {
    let metadata: Value = serde_json::from_str(&cargo(&[
        "metadata",
        "--no-deps",
        "--format-version",
        "1",
        "--offline",
    ]))
    .expect("cargo metadata is JSON");
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
