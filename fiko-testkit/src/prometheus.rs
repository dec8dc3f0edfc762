//! A real Prometheus server.

use std::path::Path;

use crate::TestkitError;
use crate::dir_server::{DirServer, Launch};
use crate::http::{body_if_ok, http_post};

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
    server: DirServer,
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
        let extra_flags = [&["--web.enable-lifecycle"], flags].concat();
        // An agent keeps its write-ahead log under a flag of its own.
        let storage = if flags.contains(&"--enable-feature=agent") {
            "--storage.agent.path"
        } else {
            "--storage.tsdb.path"
        };
        let launch = Launch {
            name: "prometheus",
            binary: ["prometheus", "prometheus"],
            config_file: "prometheus.yml",
            flags: ["--config.file", storage, "--web.listen-address"],
            extra_flags: &extra_flags,
            ready_path: "/-/ready",
        };
        let server = launch.start(config_yaml, extra_files)?;
        Ok(Prometheus { server })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// The directory holding `prometheus.yml` and the extra files.
    pub fn dir(&self) -> &Path {
        self.server.dir()
    }

    /// Runs an instant query; returns the raw JSON answer of `/api/v1/query`.
    pub fn query(&self, promql: &str) -> Result<String, TestkitError> {
        self.server.query(promql)
    }

    /// Asks Prometheus to reload its configuration and rule files (`POST /-/reload`).
    pub fn reload(&self) -> Result<(), TestkitError> {
        let url = format!("{}/-/reload", self.url());
        let response = http_post(&url)?;
        body_if_ok(url, response).map(drop)
    }

    /// The tail of Prometheus' log, for failure messages.
    pub fn log_tail(&self) -> String {
        self.server.log_tail()
    }
}
