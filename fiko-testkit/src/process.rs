//! A server child process: own process group, log file, readiness wait, kill and reap.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal};

use crate::TestkitError;

/// How often readiness is probed.
const POLL: Duration = Duration::from_millis(50);
/// How long a killed process group may take to disappear.
const GROUP_EXIT: Duration = Duration::from_secs(3);

/// A running server. Killing it kills its whole process group (wrappers such as `runuser`
/// and the server's own children, e.g. PostgreSQL backends), then reaps it.
#[derive(Debug)]
pub(crate) struct ServerProcess {
    name: &'static str,
    child: Option<Child>,
    log: PathBuf,
    /// Stopped by [`pause`](Self::pause) and not resumed yet.
    paused: bool,
}

impl ServerProcess {
    /// Spawns `command` in a new process group, stdout and stderr appended to `log`.
    pub(crate) fn spawn(
        name: &'static str,
        mut command: Command,
        log: &Path,
    ) -> Result<Self, TestkitError> {
        let out = open_log(log)?;
        let err = out
            .try_clone()
            .map_err(|e| TestkitError::io(format!("dup log file {}", log.display()), e))?;
        command
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0);
        let child = command
            .spawn()
            .map_err(|e| TestkitError::io(format!("spawn {name} ({command:?})"), e))?;
        Ok(ServerProcess {
            name,
            child: Some(child),
            log: log.to_path_buf(),
            paused: false,
        })
    }

    /// Waits until `ready()` is true, the process exits (error) or `timeout` passes (error).
    pub(crate) fn wait_ready(
        &mut self,
        timeout: Duration,
        mut ready: impl FnMut() -> bool,
    ) -> Result<(), TestkitError> {
        let start = Instant::now();
        loop {
            if let Some(status) = self.exit_status() {
                return Err(TestkitError::Exited {
                    server: self.name,
                    status,
                    log: self.log_tail(),
                });
            }
            if ready() {
                return Ok(());
            }
            if start.elapsed() >= timeout {
                return Err(TestkitError::NotReady {
                    server: self.name,
                    after: timeout,
                    log: self.log_tail(),
                });
            }
            std::thread::sleep(POLL);
        }
    }

    /// The exit status if the process has exited (or was already killed).
    pub(crate) fn exit_status(&mut self) -> Option<String> {
        match self.child.as_mut() {
            None => Some("stopped".to_owned()),
            Some(child) => match child.try_wait() {
                Ok(Some(status)) => Some(status.to_string()),
                Ok(None) => None,
                Err(e) => Some(format!("unknown: {e}")),
            },
        }
    }

    /// Stops every process of the server with SIGSTOP — the process group and every
    /// descendant, since a server may move its children into groups of their own
    /// (PostgreSQL backends call `setsid`) — leaving its sockets open: a hung server, not a
    /// dead one. Returns how many processes were stopped.
    pub(crate) fn pause(&mut self) -> Result<usize, TestkitError> {
        let leader = self.leader()?;
        self.paused = true;
        // A process may fork between a scan and the signals: scan again until a scan finds
        // no process that is not stopped yet (the stopped ones fork no more). The count is
        // that last scan's: a process signalled while it was exiting is gone, not stopped.
        for _ in 0..PAUSE_SCANS {
            let tree = process_tree(leader);
            let running: Vec<i32> = tree
                .iter()
                .filter(|process| !process.stopped)
                .map(|process| process.pid)
                .collect();
            if running.is_empty() && !tree.is_empty() {
                return Ok(tree.len());
            }
            for pid in running.into_iter().filter_map(Pid::from_raw) {
                let _ = rustix::process::kill_process(pid, Signal::STOP);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Err(TestkitError::Signal {
            server: self.name,
            what: format!("processes still running after {PAUSE_SCANS} rounds of SIGSTOP"),
        })
    }

    /// Continues every process of the server with SIGCONT (see [`pause`](Self::pause)).
    /// Returns how many processes were continued.
    pub(crate) fn resume(&mut self) -> Result<usize, TestkitError> {
        let leader = self.leader()?;
        self.paused = false;
        let tree = process_tree(leader);
        for process in &tree {
            if let Some(pid) = Pid::from_raw(process.pid) {
                let _ = rustix::process::kill_process(pid, Signal::CONT);
            }
        }
        Ok(tree.len())
    }

    /// The group leader's pid (the spawned process), if it still runs.
    fn leader(&mut self) -> Result<i32, TestkitError> {
        if let Some(status) = self.exit_status() {
            return Err(TestkitError::Signal {
                server: self.name,
                what: format!("not running ({status})"),
            });
        }
        self.child
            .as_ref()
            .and_then(|child| i32::try_from(child.id()).ok())
            .ok_or(TestkitError::Signal {
                server: self.name,
                what: "no process id".to_owned(),
            })
    }

    /// Kills the process group and every descendant with SIGKILL, reaps the leader and
    /// waits (bounded) until none of them is left. Idempotent.
    pub(crate) fn kill(&mut self) {
        if self.paused {
            // Processes outside the group (PostgreSQL backends) would stay stopped forever
            // once their parent is gone: let them run, so they see it go and exit.
            let _ = self.resume();
        }
        let Some(mut child) = self.child.take() else {
            return;
        };
        let leader = i32::try_from(child.id()).ok();
        // Every process of the server, found while the leader still runs (once it is gone,
        // its children are init's): the group, and the descendants that left it. A
        // PostgreSQL backend calls `setsid`; left alive, it would still answer its client.
        let tree: Vec<i32> = leader
            .map(process_tree)
            .unwrap_or_default()
            .iter()
            .map(|process| process.pid)
            .collect();
        for pid in tree.iter().filter_map(|pid| Pid::from_raw(*pid)) {
            let _ = rustix::process::kill_process(pid, Signal::KILL);
        }
        let pgid = leader.and_then(Pid::from_raw);
        if let Some(pgid) = pgid {
            // The leader may already be gone while its children live on: kill the group.
            let _ = rustix::process::kill_process_group(pgid, Signal::KILL);
        }
        let _ = child.kill();
        let _ = child.wait();
        if let Some(pgid) = pgid {
            // Wait until no member is alive, so the port and (for PostgreSQL) the shared
            // memory are free for a restart. Killed children reparented to init may stay
            // zombies for a while; they hold neither, so they are not waited for.
            let deadline = Instant::now() + GROUP_EXIT;
            let alive = || {
                processes()
                    .iter()
                    .any(|process| process.pgrp == pgid.as_raw_pid() || tree.contains(&process.pid))
            };
            while alive() && Instant::now() < deadline {
                let _ = rustix::process::kill_process_group(pgid, Signal::KILL);
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }

    /// The last few kilobytes of the log.
    pub(crate) fn log_tail(&self) -> String {
        log_tail(&self.log)
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// How many times [`ServerProcess::pause`] scans for processes not stopped yet.
const PAUSE_SCANS: usize = 50;

/// One process, from `/proc/PID/stat`.
#[derive(Clone, Copy, Debug)]
struct ProcessStat {
    pid: i32,
    ppid: i32,
    pgrp: i32,
    /// State `T` (stopped by a signal).
    stopped: bool,
    /// State `Z` or `X`.
    dead: bool,
}

/// Every live process of `/proc`.
fn processes() -> Vec<ProcessStat> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let pid = entry.file_name().to_str()?.parse::<i32>().ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            // `pid (comm) state ppid pgrp ...`; comm may contain spaces and parentheses.
            let (_, rest) = stat.rsplit_once(')')?;
            let mut fields = rest.split_whitespace();
            let state = fields.next()?;
            let ppid = fields.next()?.parse().ok()?;
            let pgrp = fields.next()?.parse().ok()?;
            Some(ProcessStat {
                pid,
                ppid,
                pgrp,
                stopped: state == "T",
                dead: state == "Z" || state == "X",
            })
        })
        .filter(|process| !process.dead)
        .collect()
}

/// The live processes of the group led by `leader` and all their descendants.
fn process_tree(leader: i32) -> Vec<ProcessStat> {
    let all = processes();
    let mut tree: Vec<ProcessStat> = all
        .iter()
        .filter(|process| process.pgrp == leader)
        .copied()
        .collect();
    loop {
        let before = tree.len();
        for process in &all {
            let child_of_tree = tree.iter().any(|member| member.pid == process.ppid);
            if child_of_tree && !tree.iter().any(|member| member.pid == process.pid) {
                tree.push(*process);
            }
        }
        if tree.len() == before {
            return tree;
        }
    }
}

fn open_log(path: &Path) -> Result<File, TestkitError> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| TestkitError::io(format!("open log file {}", path.display()), e))
}

/// The process of a server that can be stopped and started again (PostgreSQL, Redis):
/// empty while it is stopped.
#[derive(Debug)]
pub(crate) struct ProcessSlot {
    server: &'static str,
    process: Option<ServerProcess>,
}

impl ProcessSlot {
    /// An empty slot for `server` (its name in errors).
    pub(crate) fn new(server: &'static str) -> Self {
        Self {
            server,
            process: None,
        }
    }

    /// Holds `process`, the server started (again).
    pub(crate) fn set(&mut self, process: ServerProcess) {
        self.process = Some(process);
    }

    /// Kills the process now (see [`ServerProcess::kill`]); nothing when stopped already.
    pub(crate) fn stop(&mut self) {
        if let Some(mut process) = self.process.take() {
            process.kill();
        }
    }

    /// [`ServerProcess::pause`], or the error saying the server is not running.
    pub(crate) fn pause(&mut self) -> Result<usize, TestkitError> {
        self.running()?.pause()
    }

    /// [`ServerProcess::resume`], or the error saying the server is not running.
    pub(crate) fn resume(&mut self) -> Result<usize, TestkitError> {
        self.running()?.resume()
    }

    fn running(&mut self) -> Result<&mut ServerProcess, TestkitError> {
        self.process.as_mut().ok_or_else(|| TestkitError::Signal {
            server: self.server,
            what: "not running".to_owned(),
        })
    }
}

/// The last 4 KiB of a log file (or why it could not be read).
pub(crate) fn log_tail(path: &Path) -> String {
    const TAIL: u64 = 4096;
    let read = || -> std::io::Result<String> {
        let mut file = File::open(path)?;
        let len = file.metadata()?.len();
        file.seek(SeekFrom::Start(len.saturating_sub(TAIL)))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    };
    read().unwrap_or_else(|e| format!("(log {} unreadable: {e})", path.display()))
}

/// Runs a short helper command to completion; its output goes into the error on failure.
pub(crate) fn run(what: &str, mut command: Command) -> Result<String, TestkitError> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| TestkitError::io(format!("run {what}"), e))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(TestkitError::Command {
            what: what.to_owned(),
            status: output.status.to_string(),
            output: text,
        })
    }
}

/// How long an HTTP server of the kit may take to answer its readiness probe.
pub(crate) const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs `launch` with a free loopback port; when it fails, twice more with another one
/// (another process may take the port between [`free_port`](crate::free_port) and the
/// server's bind). The last attempt's failure is the error.
pub(crate) fn on_free_port<T>(
    mut launch: impl FnMut(u16) -> Result<T, TestkitError>,
) -> Result<T, TestkitError> {
    for _ in 0..2 {
        if let Ok(launched) = launch(crate::free_port()) {
            return Ok(launched);
        }
    }
    launch(crate::free_port())
}

/// Starts an HTTP server on a free loopback port: `command(port)` builds the command line,
/// its output goes to `log`, and it is ready once `GET http://127.0.0.1:PORT{ready_path}`
/// answers 200 (see [`on_free_port`] for a port taken meanwhile).
pub(crate) fn start_http_server(
    name: &'static str,
    log: &Path,
    ready_path: &str,
    mut command: impl FnMut(u16) -> Command,
) -> Result<(ServerProcess, u16), TestkitError> {
    on_free_port(|port| {
        let mut process = ServerProcess::spawn(name, command(port), log)?;
        let ready = format!("http://127.0.0.1:{port}{ready_path}");
        process.wait_ready(READY_TIMEOUT, || {
            crate::http_get(&ready).is_ok_and(|r| r.status == 200)
        })?;
        Ok((process, port))
    })
}

/// Writes each `(relative path, contents)` of `files` under `dir`, creating directories;
/// a path that is absolute or climbs out of `dir` is refused.
pub(crate) fn write_files(dir: &Path, files: &[(&str, &str)]) -> Result<(), TestkitError> {
    for (name, contents) in files {
        let relative = Path::new(name);
        if !relative
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)))
        {
            return Err(TestkitError::InvalidFileName((*name).to_owned()));
        }
        let path = dir.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| TestkitError::io(format!("create {}", parent.display()), e))?;
        }
        std::fs::write(&path, contents)
            .map_err(|e| TestkitError::io(format!("write {}", path.display()), e))?;
    }
    Ok(())
}
