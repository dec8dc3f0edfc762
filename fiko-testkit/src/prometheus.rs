//! A real Prometheus server.

use std::path::Path;
use std::process::Command;

use tempfile::TempDir;

use crate::http::{encode_query, http_get, http_post};
use crate::process::{ServerProcess, start_http_server, write_files};
use crate::{TestkitError, binary};

/// A Prometheus server on `127.0.0.1` and a port of its own, with its config, extra files
/// and TSDB in a temp dir, started with `--web.enable-lifecycle`, killed on drop.
///
/// ```no_run
/// let config = "global:\n  scrape_interval: 1s\nrule_files: [rules.yml]\n";
/// let rules = "groups: []\n";
/// let prometheus = fiko_testkit::Prometheus::start(config, &[("rules.yml", rules)])?;
/// let json = prometheus.query("up")?;
/// assert!(json.contains("\"status\":\"success\""));
/// # Ok::<(), fiko_testkit::TestkitError>(())
/// ```
#[derive(Debug)]
pub struct Prometheus {
    // Field order matters: the process is killed before its directory is removed.
    process: ServerProcess,
    port: u16,
    dir: TempDir,
}

impl Prometheus {
    /// Writes `config_yaml` as `prometheus.yml` and each `(relative path, contents)` of
    /// `extra_files` (rule files, ...) beside it, then starts Prometheus. Relative paths in
    /// the config resolve against that directory.
    pub fn start(config_yaml: &str, extra_files: &[(&str, &str)]) -> Result<Self, TestkitError> {
        Self::start_with_flags(config_yaml, extra_files, &[])
    }

    /// [`start`](Self::start) with extra command-line flags, e.g.
    /// `--enable-feature=exemplar-storage,native-histograms`. With
    /// `--enable-feature=agent`, Prometheus runs as an agent (it scrapes and remote-writes,
    /// keeping only a write-ahead log, in the temp dir too).
    pub fn start_with_flags(
        config_yaml: &str,
        extra_files: &[(&str, &str)],
        flags: &[&str],
    ) -> Result<Self, TestkitError> {
        let binary = binary("prometheus", "prometheus")?;
        let dir = tempfile::Builder::new()
            .prefix("fiko-testkit-prometheus-")
            .tempdir()
            .map_err(|e| TestkitError::io("create prometheus temp dir", e))?;
        write_files(dir.path(), extra_files)?;
        write_files(dir.path(), &[("prometheus.yml", config_yaml)])?;
        let config = dir.path().join("prometheus.yml");
        let data = dir.path().join("data");
        let storage = if flags.contains(&"--enable-feature=agent") {
            "--storage.agent.path"
        } else {
            "--storage.tsdb.path"
        };
        let (process, port) = start_http_server(
            "prometheus",
            &dir.path().join("prometheus.log"),
            "/-/ready",
            |port| {
                let mut command = Command::new(&binary);
                command
                    .arg(format!("--config.file={}", config.display()))
                    .arg(format!("{storage}={}", data.display()))
                    .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                    .arg("--web.enable-lifecycle")
                    .args(flags);
                command
            },
        )?;
        Ok(Prometheus { process, port, dir })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The directory holding `prometheus.yml` and the extra files.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Runs an instant query; returns the raw JSON answer of `/api/v1/query`.
    pub fn query(&self, promql: &str) -> Result<String, TestkitError> {
        let url = format!("{}/api/v1/query?query={}", self.url(), encode_query(promql));
        let response = http_get(&url)?;
        if response.status != 200 {
            return Err(TestkitError::Http {
                url,
                message: format!("status {}: {}", response.status, response.body),
            });
        }
        Ok(response.body)
    }

    /// Asks Prometheus to reload its configuration and rule files (`POST /-/reload`).
    pub fn reload(&self) -> Result<(), TestkitError> {
        let url = format!("{}/-/reload", self.url());
        let response = http_post(&url)?;
        if response.status != 200 {
            return Err(TestkitError::Http {
                url,
                message: format!("status {}: {}", response.status, response.body),
            });
        }
        Ok(())
    }

    /// The tail of Prometheus' log, for failure messages.
    pub fn log_tail(&self) -> String {
        self.process.log_tail()
    }
}
