//! A real VictoriaMetrics single-node server.

use crate::TestkitError;
use crate::dir_server::{DirServer, Launch};

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
    server: DirServer,
}

impl VictoriaMetrics {
    /// Writes `scrape_yaml` as `scrape.yml` and starts VictoriaMetrics with
    /// `-promscrape.config` pointing at it.
    pub fn start(scrape_yaml: &str) -> Result<Self, TestkitError> {
        let launch = Launch {
            name: "victoria-metrics",
            binary: ["victoria-metrics", "victoria-metrics"],
            config_file: "scrape.yml",
            flags: ["-promscrape.config", "-storageDataPath", "-httpListenAddr"],
            extra_flags: &["-search.latencyOffset=0s", "-search.disableCache"],
            ready_path: "/health",
        };
        let server = launch.start(scrape_yaml, &[])?;
        Ok(Self { server })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// Runs an instant query (MetricsQL, a superset of PromQL); returns the raw JSON
    /// answer of `/api/v1/query`.
    pub fn query(&self, promql: &str) -> Result<String, TestkitError> {
        self.server.query(promql)
    }

    /// The tail of VictoriaMetrics' log, for failure messages.
    pub fn log_tail(&self) -> String {
        self.server.log_tail()
    }
}
