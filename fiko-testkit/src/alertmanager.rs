//! A real Alertmanager.

use std::path::Path;

use crate::dir_server::{DirServer, Launch};
use crate::http::http_get;
use crate::{HttpResponse, TestkitError};

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
    server: DirServer,
}

impl Alertmanager {
    /// Writes `config_yaml` as `alertmanager.yml` and each `(relative path, contents)` of
    /// `extra_files` beside it, then starts Alertmanager. Relative paths in the config
    /// (`templates:`) resolve against that directory.
    pub fn start(config_yaml: &str, extra_files: &[(&str, &str)]) -> Result<Self, TestkitError> {
        let launch = Launch {
            name: "alertmanager",
            binary: ["prometheus-alertmanager", "prometheus-alertmanager"],
            config_file: "alertmanager.yml",
            flags: ["--config.file", "--storage.path", "--web.listen-address"],
            extra_flags: &["--cluster.listen-address="],
            ready_path: "/-/ready",
        };
        let server = launch.start(config_yaml, extra_files)?;
        Ok(Self { server })
    }

    /// `127.0.0.1:PORT`, as Prometheus' `alertmanagers` targets name it.
    pub fn address(&self) -> String {
        self.server.address()
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// The directory holding `alertmanager.yml` and the extra files.
    pub fn dir(&self) -> &Path {
        self.server.dir()
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
        self.server.log_tail()
    }
}
