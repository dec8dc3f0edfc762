//! What Prometheus, Alertmanager and VictoriaMetrics share: a config file and extra files
//! in a temp dir of their own, data below it, a log beside them, and an HTTP readiness
//! probe.

use std::path::Path;
use std::process::Command;

use tempfile::TempDir;

use crate::http::{body_if_ok, encode_query, http_get};
use crate::process::{ServerProcess, start_http_server, write_files};
use crate::{TestkitError, binary};

/// How to start one of these servers.
pub(crate) struct Launch<'a> {
    /// Its name in errors and in its log's and temp dir's names (`prometheus`).
    pub(crate) name: &'static str,
    /// Its binary and the Debian package that provides it.
    pub(crate) binary: [&'a str; 2],
    /// The file the config is written to (`prometheus.yml`).
    pub(crate) config_file: &'a str,
    /// The flags that take the config file, the data directory and `127.0.0.1:PORT`, in
    /// that order (`--config.file`, `--storage.tsdb.path`, `--web.listen-address`).
    pub(crate) flags: [&'a str; 3],
    /// Further flags.
    pub(crate) extra_flags: &'a [&'a str],
    /// The path that answers 200 once it is ready.
    pub(crate) ready_path: &'a str,
}

/// A server started by [`Launch::start`], killed on drop.
#[derive(Debug)]
pub(crate) struct DirServer {
    // Field order matters: the process is killed before its directory is removed.
    process: ServerProcess,
    port: u16,
    dir: TempDir,
}

impl Launch<'_> {
    /// Writes `config` (as the config file) and each `(relative path, contents)` of
    /// `extra_files` into a fresh temp dir and starts the server there, so relative paths
    /// in the config resolve against that directory; its data goes to `data/`.
    pub(crate) fn start(
        &self,
        config: &str,
        extra_files: &[(&str, &str)],
    ) -> Result<DirServer, TestkitError> {
        let [name, package] = self.binary;
        let binary = binary(name, package)?;
        let dir = tempfile::Builder::new()
            .prefix(&format!("fiko-testkit-{}-", self.name))
            .tempdir()
            .map_err(|e| TestkitError::io(format!("create {} temp dir", self.name), e))?;
        write_files(dir.path(), extra_files)?;
        write_files(dir.path(), &[(self.config_file, config)])?;
        let config = dir.path().join(self.config_file);
        let data = dir.path().join("data");
        let [config_flag, data_flag, listen_flag] = self.flags;
        let (process, port) = start_http_server(
            self.name,
            &dir.path().join(format!("{}.log", self.name)),
            self.ready_path,
            |port| {
                let mut command = Command::new(&binary);
                command
                    .current_dir(dir.path())
                    .arg(format!("{config_flag}={}", config.display()))
                    .arg(format!("{data_flag}={}", data.display()))
                    .arg(format!("{listen_flag}=127.0.0.1:{port}"))
                    .args(self.extra_flags);
                command
            },
        )?;
        Ok(DirServer { process, port, dir })
    }
}

impl DirServer {
    /// `127.0.0.1:PORT`.
    pub(crate) fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `http://127.0.0.1:PORT`.
    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.address())
    }

    /// The directory holding the config and the extra files.
    pub(crate) fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Runs an instant query; returns the raw JSON answer of `/api/v1/query`.
    pub(crate) fn query(&self, promql: &str) -> Result<String, TestkitError> {
        let url = format!("{}/api/v1/query?query={}", self.url(), encode_query(promql));
        let response = http_get(&url)?;
        body_if_ok(url, response)
    }

    /// The tail of its log, for failure messages.
    pub(crate) fn log_tail(&self) -> String {
        self.process.log_tail()
    }
}
