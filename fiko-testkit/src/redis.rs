//! A real `redis-server`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use tempfile::TempDir;

use crate::process::{ProcessSlot, ServerProcess, on_free_port};
use crate::{TestkitError, binary};

const READY_TIMEOUT: Duration = Duration::from_secs(15);

/// A `redis-server` on `127.0.0.1` and a port of its own, in a temp dir, killed on drop.
///
/// Nothing is persisted (`save ""`, no AOF): after [`Redis::stop`] and
/// [`Redis::restart`] the server comes back empty, like a cache after a crash.
///
/// ```no_run
/// let redis = fiko_testkit::Redis::start()?;
/// assert!(redis.url().starts_with("redis://127.0.0.1:"));
/// # Ok::<(), fiko_testkit::TestkitError>(())
/// ```
#[derive(Debug)]
pub struct Redis {
    // Field order matters: the process is killed before its directory is removed.
    process: ProcessSlot,
    port: u16,
    config: Vec<(String, String)>,
    binary: PathBuf,
    dir: TempDir,
}

impl Redis {
    /// Starts a server with the default configuration.
    pub fn start() -> Result<Redis, TestkitError> {
        Redis::start_with(&[])
    }

    /// Starts a server with extra configuration directives, e.g.
    /// `&[("maxmemory", "64mb")]` (passed as `--maxmemory 64mb`).
    pub fn start_with(config: &[(&str, &str)]) -> Result<Redis, TestkitError> {
        let binary = binary("redis-server", "redis-server")?;
        let dir = tempfile::Builder::new()
            .prefix("fiko-testkit-redis-")
            .tempdir()
            .map_err(|e| TestkitError::io("create redis temp dir", e))?;
        let mut redis = Redis {
            process: ProcessSlot::new("redis-server"),
            port: 0,
            config: config
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            binary,
            dir,
        };
        on_free_port(|port| {
            redis.port = port;
            redis.launch()
        })?;
        Ok(redis)
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills the server now (SIGKILL), e.g. to test how a client copes with a dead Redis.
    pub fn stop(&mut self) {
        self.process.stop();
    }

    /// Hangs the server without killing it: SIGSTOP to the server process (and any child
    /// it forked, e.g. for a background save), so connections stay open and nothing
    /// answers — a server that stopped responding, not one that went away. Returns how
    /// many processes were stopped. [`resume`](Self::resume) continues them; dropping the
    /// server or [`stop`](Self::stop) also works on a paused one.
    pub fn pause(&mut self) -> Result<usize, TestkitError> {
        self.process.pause()
    }

    /// Continues a [paused](Self::pause) server (SIGCONT to every one of its processes);
    /// returns how many processes were continued.
    pub fn resume(&mut self) -> Result<usize, TestkitError> {
        self.process.resume()
    }

    /// Starts the server again on the same port and directory (killing it first if it is
    /// still running). It comes back empty.
    pub fn restart(&mut self) -> Result<(), TestkitError> {
        self.stop();
        self.launch()
    }

    /// Whether the server answers `PING` right now.
    pub fn is_running(&self) -> bool {
        ping(self.port)
    }

    fn launch(&mut self) -> Result<(), TestkitError> {
        let mut command = Command::new(&self.binary);
        command
            .arg("--port")
            .arg(self.port.to_string())
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args([
                "--daemonize",
                "no",
                "--protected-mode",
                "no",
                "--logfile",
                "",
            ])
            .arg("--dir")
            .arg(self.dir.path());
        for (key, value) in &self.config {
            command.arg(format!("--{key}")).arg(value);
        }
        let log = self.dir.path().join("redis.log");
        let mut process = ServerProcess::spawn("redis-server", command, &log)?;
        let port = self.port;
        process.wait_ready(READY_TIMEOUT, || ping(port))?;
        self.process.set(process);
        Ok(())
    }
}

/// Sends `PING` and expects `+PONG`.
fn ping(port: u16) -> bool {
    let attempt = || -> std::io::Result<bool> {
        let mut stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_read_timeout(Some(Duration::from_secs(1)))?;
        stream.write_all(b"PING\r\n")?;
        let mut reply = [0_u8; 7];
        stream.read_exact(&mut reply)?;
        Ok(&reply == b"+PONG\r\n")
    };
    attempt().unwrap_or(false)
}
