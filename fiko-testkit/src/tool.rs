//! The command-line tools of the Debian packages the tests use on generated files
//! (promtool, amtool, vmalert), run in a directory.

use std::path::Path;
use std::process::{Command, Output};

use crate::TestkitError;

/// What a tool answered.
#[derive(Debug)]
pub struct Report {
    /// Whether it exited successfully.
    pub success: bool,
    /// Its standard output.
    pub stdout: String,
    /// Its standard error.
    pub stderr: String,
}

impl Report {
    pub(crate) fn of(output: Output) -> Self {
        Self {
            success: output.status.success(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Standard output, then standard error: everything promtool said.
    pub fn text(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// Runs the tool `name` of the Debian package `package` (found by [`binary`](crate::binary))
/// with `args` in `dir`, where the files the arguments name are.
///
/// ```no_run
/// let dir = std::path::Path::new("deploy/alertmanager");
/// let report = fiko_testkit::run_tool("amtool", "prometheus-alertmanager", dir, &["check-config", "alertmanager.yml"])?;
/// assert!(report.success, "{}", report.text());
/// # Ok::<(), fiko_testkit::TestkitError>(())
/// ```
pub fn run_tool(
    name: &str,
    package: &str,
    dir: &Path,
    args: &[&str],
) -> Result<Report, TestkitError> {
    let output = Command::new(crate::binary(name, package)?)
        .args(args)
        .current_dir(dir)
        .output()
        .map_err(|source| TestkitError::Io {
            what: format!("running {name}"),
            source,
        })?;
    Ok(Report::of(output))
}
