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
                    .arg("-search.disableCache");
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
