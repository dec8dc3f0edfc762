//! The one error type of the test kit.

use std::time::Duration;

/// Why a server could not be started, probed or stopped.
///
/// Every variant's message is meant to be read in a failing test's output: it names the
/// binary and Debian package that is missing, or carries the tail of the server's log.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TestkitError {
    /// A server binary is not installed.
    #[error(
        "`{name}` not found on PATH (nor in /usr/sbin, /usr/lib/postgresql/*/bin): \
         install the Debian package `{package}` (apt-get install {package})"
    )]
    MissingBinary {
        /// The binary that was looked for.
        name: String,
        /// The Debian package that provides it.
        package: String,
    },
    /// An I/O operation of the kit itself failed (temp dir, log file, spawn).
    #[error("{what}: {source}")]
    Io {
        /// What the kit was doing.
        what: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A helper command (initdb, createdb, psql, ...) exited unsuccessfully.
    #[error("{what} failed ({status}):\n{output}")]
    Command {
        /// The command that failed.
        what: String,
        /// Its exit status.
        status: String,
        /// Its stdout and stderr.
        output: String,
    },
    /// The server process exited before it became ready.
    #[error("{server} exited before it was ready ({status}); its log ends with:\n{log}")]
    Exited {
        /// Which server.
        server: &'static str,
        /// Its exit status.
        status: String,
        /// The tail of its log.
        log: String,
    },
    /// The server did not become ready in time.
    #[error("{server} was not ready after {after:?}; its log ends with:\n{log}")]
    NotReady {
        /// Which server.
        server: &'static str,
        /// How long the kit waited.
        after: Duration,
        /// The tail of its log.
        log: String,
    },
    /// PostgreSQL must run unprivileged, but there is no `postgres` system user.
    #[error(
        "running as root, but there is no `postgres` system user to run PostgreSQL as \
         (initdb refuses root): install the Debian package `postgresql`"
    )]
    NoPostgresUser,
    /// An extra file name for [`Prometheus::start`](crate::Prometheus::start) is not a
    /// plain relative path.
    #[error("extra file name `{0}` must be a relative path without `..`")]
    InvalidFileName(String),
    /// A server could not be paused or resumed (SIGSTOP/SIGCONT to its processes).
    #[error("cannot signal {server}: {what}")]
    Signal {
        /// Which server.
        server: &'static str,
        /// What went wrong.
        what: String,
    },
    /// A tool ran but its check failed (`promtool test rules`: an alert did not fire, or
    /// fired when it should not).
    #[error("{what} failed:\n{output}")]
    Check {
        /// The check that failed.
        what: String,
        /// The tool's output and the files it read.
        output: String,
    },
    /// A plain HTTP request of the kit failed or got an unexpected answer.
    #[error("HTTP {url}: {message}")]
    Http {
        /// The URL requested.
        url: String,
        /// What went wrong.
        message: String,
    },
}

impl TestkitError {
    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        TestkitError::Io {
            what: what.into(),
            source,
        }
    }
}
