//! A real Alertmanager.

use std::path::Path;
use std::process::Command;

use tempfile::TempDir;

use crate::http::http_get;
use crate::process::{ServerProcess, start_http_server, write_files};
use crate::{HttpResponse, TestkitError, binary};

/// An Alertmanager (Debian's `prometheus-alertmanager`) on `127.0.0.1` and a port of its
/// own, clustering off, with its config, extra files (templates, secrets) and data in a
/// temp dir, killed on drop.
///
/// ```no_run
/// let config = "route:\n  receiver: none\nreceivers:\n  - name: none\n";
/// let alertmanager = fiko_testkit::Alertmanager::start(config, &[])?;
/// assert_eq!(alertmanager.get("/api/v2/alerts")?.body, "[]");
/// # Ok::<(), fiko_testkit::TestkitError>(())
/// ```
#[derive(Debug)]
pub struct Alertmanager {
    // Field order matters: the process is killed before its directory is removed.
    process: ServerProcess,
    port: u16,
    dir: TempDir,
}

impl Alertmanager {
    /// Writes `config_yaml` as `alertmanager.yml` and each `(relative path, contents)` of
    /// `extra_files` beside it, then starts Alertmanager. Relative paths in the config
    /// (`templates:`) resolve against that directory.
    pub fn start(config_yaml: &str, extra_files: &[(&str, &str)]) -> Result<Self, TestkitError> {
        let binary = binary("prometheus-alertmanager", "prometheus-alertmanager")?;
        let dir = tempfile::Builder::new()
            .prefix("fiko-testkit-alertmanager-")
            .tempdir()
            .map_err(|e| TestkitError::io("create alertmanager temp dir", e))?;
        write_files(dir.path(), extra_files)?;
        write_files(dir.path(), &[("alertmanager.yml", config_yaml)])?;
        let config = dir.path().join("alertmanager.yml");
        let data = dir.path().join("data");
        let (process, port) = start_http_server(
            "alertmanager",
            &dir.path().join("alertmanager.log"),
            "/-/ready",
            |port| {
                let mut command = Command::new(&binary);
                command
                    .current_dir(dir.path())
                    .arg(format!("--config.file={}", config.display()))
                    .arg(format!("--storage.path={}", data.display()))
                    .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                    .arg("--cluster.listen-address=");
                command
            },
        )?;
        Ok(Self { process, port, dir })
    }

    /// `127.0.0.1:PORT`, as Prometheus' `alertmanagers` targets name it.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.address())
    }

    /// The directory holding `alertmanager.yml` and the extra files.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `GET` a path of its API, e.g. `/api/v2/alerts`.
    pub fn get(&self, path: &str) -> Result<HttpResponse, TestkitError> {
        http_get(&format!("{}{path}", self.url()))
    }

    /// `POST` a JSON `body` to a path of its API, e.g. alerts to `/api/v2/alerts`.
    pub fn post_json(&self, path: &str, body: &str) -> Result<HttpResponse, TestkitError> {
        crate::http::request("POST", &format!("{}{path}", self.url()), Some(body))
    }

    /// The tail of Alertmanager's log, for failure messages.
    pub fn log_tail(&self) -> String {
        self.process.log_tail()
    }
}
