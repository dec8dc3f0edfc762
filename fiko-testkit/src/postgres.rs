//! A real PostgreSQL (`initdb` + `postgres`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use tempfile::TempDir;

use crate::process::{ProcessSlot, ServerProcess, on_free_port, run};
use crate::{TestkitError, binary};

const READY_TIMEOUT: Duration = Duration::from_secs(30);
const PACKAGE: &str = "postgresql";

/// A PostgreSQL server on `127.0.0.1` and a port of its own, with its data directory in a
/// temp dir, killed (with all its backends) on drop.
///
/// It has a superuser `fiko` and a database `fiko`, with `trust` authentication on
/// loopback. Durability is traded for speed (`fsync=off`), which still survives
/// [`Postgres::stop`] (a SIGKILL, not a machine crash): [`Postgres::restart`] runs crash
/// recovery on the same data and keeps what was committed.
///
/// `initdb` refuses to run as root, so as root (CI) every PostgreSQL program runs as the
/// `postgres` system user through `runuser -u postgres --`, and the temp dir is owned by it.
///
/// ```no_run
/// let pg = fiko_testkit::Postgres::start()?;
/// assert_eq!(pg.url(), format!("postgres://fiko@127.0.0.1:{}/fiko", pg.port()));
/// assert_eq!(pg.psql("SELECT 1 + 1")?.trim(), "2");
/// # Ok::<(), fiko_testkit::TestkitError>(())
/// ```
#[derive(Debug)]
pub struct Postgres {
    // Field order matters: the process is killed before its directory is removed.
    process: ProcessSlot,
    port: u16,
    bin_dir: PathBuf,
    run_as_postgres: bool,
    dir: TempDir,
}

impl Postgres {
    /// Creates a fresh cluster (initdb), starts it and creates the database `fiko`.
    pub fn start() -> Result<Postgres, TestkitError> {
        let initdb = binary("initdb", PACKAGE)?;
        // `initdb` may be a symlink (e.g. /usr/local/bin/initdb): the other programs live
        // beside its target.
        let initdb = std::fs::canonicalize(&initdb)
            .map_err(|e| TestkitError::io(format!("resolve {}", initdb.display()), e))?;
        let bin_dir = initdb
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("/usr/bin"));
        let run_as_postgres = rustix::process::geteuid().is_root();
        let dir = tempfile::Builder::new()
            .prefix("fiko-testkit-postgres-")
            .tempdir()
            .map_err(|e| TestkitError::io("create postgres temp dir", e))?;
        if run_as_postgres {
            let (uid, gid) = postgres_user()?;
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))
                .map_err(|e| TestkitError::io("chown postgres temp dir", e))?;
        }
        let mut pg = Postgres {
            process: ProcessSlot::new("postgres"),
            port: 0,
            bin_dir,
            run_as_postgres,
            dir,
        };
        let mut initdb_cmd = pg.server_command("initdb");
        initdb_cmd
            .arg("-D")
            .arg(pg.data_dir())
            .args([
                "-U",
                "fiko",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
            ])
            .arg("--no-sync");
        run("initdb", initdb_cmd)?;

        on_free_port(|port| {
            pg.port = port;
            pg.launch()
        })?;
        let mut createdb = pg.command("createdb");
        createdb
            .args(["-h", "127.0.0.1", "-U", "fiko", "-p"])
            .arg(pg.port.to_string())
            .arg("fiko");
        run("createdb fiko", createdb)?;
        Ok(pg)
    }

    /// `postgres://fiko@127.0.0.1:PORT/fiko`.
    pub fn url(&self) -> String {
        format!("postgres://fiko@127.0.0.1:{}/fiko", self.port)
    }

    /// The TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills the server and all its backends now (SIGKILL to the process group).
    pub fn stop(&mut self) {
        self.process.stop();
    }

    /// Hangs the server without killing it: SIGSTOP to the postmaster and every backend
    /// (they run in process groups of their own), so connections stay open and nothing
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

    /// Starts the server again on the same data directory and port (killing it first if it
    /// is still running); committed data survives.
    pub fn restart(&mut self) -> Result<(), TestkitError> {
        self.stop();
        self.remove_stale_lock_file(&self.data_dir().join("postmaster.pid"))?;
        let socket_lock = format!(".s.PGSQL.{}.lock", self.port);
        self.remove_stale_lock_file(&self.dir.path().join(socket_lock))?;
        // Right after a SIGKILL the old shared memory may not be released yet: retry.
        let mut last = None;
        for _ in 0..3 {
            match self.launch() {
                Ok(()) => return Ok(()),
                Err(e) => last = Some(e),
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Err(last.unwrap_or(TestkitError::NotReady {
            server: "postgres",
            after: READY_TIMEOUT,
            log: String::new(),
        }))
    }

    /// Whether the server accepts connections right now (`pg_isready`).
    pub fn is_running(&self) -> bool {
        self.ready()
    }

    /// Runs SQL with `psql` in the database `fiko` (stops at the first error) and returns
    /// its unaligned, tuples-only output: one row a line, columns separated by `|`.
    pub fn psql(&self, sql: &str) -> Result<String, TestkitError> {
        let mut psql = self.command("psql");
        psql.args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1"])
            .args(["-U", "fiko", "-d", "fiko", "-p"])
            .arg(self.port.to_string())
            .arg("-c")
            .arg(sql);
        run("psql", psql)
    }

    /// A killed postmaster runs under `runuser`, so once killed it is reparented to init
    /// and may linger as a zombie until init reaps it; PostgreSQL then takes its lock files
    /// (data directory, socket) for a live server's. A zombie holds no port, shared memory
    /// or files: remove such a lock.
    fn remove_stale_lock_file(&self, lock: &Path) -> Result<(), TestkitError> {
        let Ok(contents) = std::fs::read_to_string(lock) else {
            return Ok(()); // no lock file: nothing stale
        };
        let dead = match contents.lines().next().map(str::trim) {
            Some(pid) if !pid.is_empty() => {
                match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
                    Err(_) => true,
                    Ok(stat) => stat
                        .rsplit_once(')')
                        .and_then(|(_, rest)| rest.split_whitespace().next())
                        .is_some_and(|state| state == "Z" || state == "X"),
                }
            }
            _ => true,
        };
        if dead {
            std::fs::remove_file(lock)
                .or_else(|e| match e.kind() {
                    std::io::ErrorKind::NotFound => Ok(()),
                    _ => Err(e),
                })
                .map_err(|e| TestkitError::io(format!("remove stale {}", lock.display()), e))?;
        }
        Ok(())
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn launch(&mut self) -> Result<(), TestkitError> {
        // fsync=off: commits still reach the OS page cache (so a SIGKILL loses nothing
        // committed), just not the disk. synchronous_commit stays on for that reason.
        let mut command = self.server_command("postgres");
        command
            .arg("-D")
            .arg(self.data_dir())
            .arg("-p")
            .arg(self.port.to_string())
            .args(["-c", "listen_addresses=127.0.0.1"])
            .arg("-c")
            .arg(format!(
                "unix_socket_directories={}",
                self.dir.path().display()
            ))
            .args(["-c", "fsync=off"])
            .args(["-c", "full_page_writes=off"]);
        let log = self.dir.path().join("postgres.log");
        let mut process = ServerProcess::spawn("postgres", command, &log)?;
        process.wait_ready(READY_TIMEOUT, || self.ready())?;
        self.process.set(process);
        Ok(())
    }

    fn ready(&self) -> bool {
        let mut isready = self.command("pg_isready");
        isready
            .args([
                "-q",
                "-h",
                "127.0.0.1",
                "-U",
                "fiko",
                "-d",
                "postgres",
                "-t",
                "1",
            ])
            .arg("-p")
            .arg(self.port.to_string());
        run("pg_isready", isready).is_ok()
    }

    /// A client program (psql, createdb, pg_isready): these run fine as root.
    fn command(&self, program: &str) -> Command {
        Command::new(self.bin_dir.join(program))
    }

    /// A server program (initdb, postgres), run as the `postgres` user when we are root.
    fn server_command(&self, program: &str) -> Command {
        let path = self.bin_dir.join(program);
        if self.run_as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(path);
            command
        } else {
            Command::new(path)
        }
    }
}

/// The uid and gid of the `postgres` system user, from `/etc/passwd`.
fn postgres_user() -> Result<(u32, u32), TestkitError> {
    let passwd = std::fs::read_to_string("/etc/passwd")
        .map_err(|e| TestkitError::io("read /etc/passwd", e))?;
    passwd
        .lines()
        .find_map(|line| {
            let mut fields = line.split(':');
            if fields.next()? != "postgres" {
                return None;
            }
            let uid = fields.nth(1)?.parse().ok()?;
            let gid = fields.next()?.parse().ok()?;
            Some((uid, gid))
        })
        .ok_or(TestkitError::NoPostgresUser)
}
