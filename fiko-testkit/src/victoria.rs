//! A real VictoriaMetrics single-node server.

use std::process::Command;

use tempfile::TempDir;

use crate::http::{encode_query, http_get};
use crate::process::{ServerProcess, start_http_server, write_files};
use crate::{TestkitError, binary};

/// A VictoriaMetrics server (Debian's `victoria-metrics`, 1.79 in bookworm: it reads no
/// native histograms) on `127.0.0.1` and a port of its own, scraping as `scrape_yaml`
/// (Prometheus' `scrape_configs` syntax) says, with its data in a temp dir, killed on
/// drop. Queries see samples as soon as they are stored (`-search.latencyOffset=0s`;
/// VictoriaMetrics hides the last 30 s by default).
///
/// ```no_run
/// let scrape = "scrape_configs:\n- job_name: app\n  scrape_interval: 1s\n  static_configs:\n  - targets: ['127.0.0.1:8080']\n";
/// let vm = fiko_testkit::VictoriaMetrics::start(scrape)?;
/// let json = vm.query("up")?;
/// assert!(json.contains("\"status\":\"success\""));
/// # Ok::<(), fiko_testkit::TestkitError>(())
/// ```
#[derive(Debug)]
pub struct VictoriaMetrics {
    // Field order matters: the process is killed before its directory is removed.
    process: ServerProcess,
    port: u16,
    _dir: TempDir,
}

impl VictoriaMetrics {
    /// Writes `scrape_yaml` as `scrape.yml` and starts VictoriaMetrics with
    /// `-promscrape.config` pointing at it.
    pub fn start(scrape_yaml: &str) -> Result<Self, TestkitError> {
        Self::start_with_flags(scrape_yaml, &[])
    }

    /// [`start`](Self::start) with extra command-line flags, e.g.
    /// `-dedup.minScrapeInterval=1s` for a store receiving two replicas' copies.
    pub fn start_with_flags(scrape_yaml: &str, flags: &[&str]) -> Result<Self, TestkitError> {
        let binary = binary("victoria-metrics", "victoria-metrics")?;
        let dir = tempfile::Builder::new()
            .prefix("fiko-testkit-victoria-")
            .tempdir()
            .map_err(|e| TestkitError::io("create victoria-metrics temp dir", e))?;
        write_files(dir.path(), &[("scrape.yml", scrape_yaml)])?;
        let config = dir.path().join("scrape.yml");
        let data = dir.path().join("data");
        let (process, port) = start_http_server(
            "victoria-metrics",
            &dir.path().join("victoria-metrics.log"),
            "/health",
            |port| {
                let mut command = Command::new(&binary);
                command
                    .arg(format!("-promscrape.config={}", config.display()))
                    .arg(format!("-storageDataPath={}", data.display()))
                    .arg(format!("-httpListenAddr=127.0.0.1:{port}"))
                    .arg("-search.latencyOffset=0s")
                    .arg("-search.disableCache")
                    .args(flags);
                command
            },
        )?;
        Ok(Self {
            process,
            port,
            _dir: dir,
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Runs an instant query (MetricsQL, a superset of PromQL); returns the raw JSON
    /// answer of `/api/v1/query`.
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

    /// The tail of VictoriaMetrics' log, for failure messages.
    pub fn log_tail(&self) -> String {
        self.process.log_tail()
    }
}

/// A real vmalert (Debian's `victoria-metrics` package): a central ruler evaluating rule
/// files against a Prometheus-compatible query API, writing recorded series and alert
/// state through remote write, and sending alerts to Alertmanagers. Killed on drop.
///
/// ```no_run
/// let vm = fiko_testkit::VictoriaMetrics::start("scrape_configs: []\n")?;
/// let rules = "groups:\n  - name: g\n    rules:\n      - record: one\n        expr: vector(1)\n";
/// let flags = [
///     format!("-datasource.url={}", vm.url()),
///     format!("-remoteWrite.url={}", vm.url()),
///     "-evaluationInterval=1s".to_owned(),
/// ];
/// let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
/// let vmalert = fiko_testkit::VmAlert::start(&[("rules.yml", rules)], &flags)?;
/// assert!(vmalert.url().starts_with("http://127.0.0.1:"));
/// # Ok::<(), fiko_testkit::TestkitError>(())
/// ```
#[derive(Debug)]
pub struct VmAlert {
    // Field order matters: the process is killed before its directory is removed.
    process: ServerProcess,
    port: u16,
    _dir: TempDir,
}

impl VmAlert {
    /// Writes each `(relative path, contents)` of `rule_files` to a temp dir and starts
    /// vmalert with a `-rule` per file and `flags` (`-datasource.url=...`,
    /// `-notifier.url=...`, `-evaluationInterval=...`).
    pub fn start(rule_files: &[(&str, &str)], flags: &[&str]) -> Result<Self, TestkitError> {
        let binary = binary("vmalert", "victoria-metrics")?;
        let dir = tempfile::Builder::new()
            .prefix("fiko-testkit-vmalert-")
            .tempdir()
            .map_err(|e| TestkitError::io("create vmalert temp dir", e))?;
        write_files(dir.path(), rule_files)?;
        let rules: Vec<String> = rule_files
            .iter()
            .map(|(path, _)| format!("-rule={}", dir.path().join(path).display()))
            .collect();
        let (process, port) = start_http_server(
            "vmalert",
            &dir.path().join("vmalert.log"),
            "/health",
            |port| {
                let mut command = Command::new(&binary);
                command
                    .arg(format!("-httpListenAddr=127.0.0.1:{port}"))
                    .args(&rules)
                    .args(flags);
                command
            },
        )?;
        Ok(Self {
            process,
            port,
            _dir: dir,
        })
    }

    /// `http://127.0.0.1:PORT`: its API (`/api/v1/alerts`, `/api/v1/rules`).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The tail of vmalert's log, for failure messages.
    pub fn log_tail(&self) -> String {
        self.process.log_tail()
    }
}
