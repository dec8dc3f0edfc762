//! Real servers for tests: PostgreSQL, Redis, Prometheus, Alertmanager, VictoriaMetrics,
//! `redis_exporter` and `postgres_exporter`, started from their Debian binaries.
//!
//! Every server listens on `127.0.0.1` on a port it picks, lives in its own temporary
//! directory, is awaited until ready with a bounded timeout, and is killed (its whole
//! process group, so wrappers and children too) and reaped when dropped, also when a test
//! panics. A missing binary is a clear error naming the Debian package to install.
//!
//! The API is synchronous: starting blocks for a moment (a second or two for PostgreSQL),
//! which is fine in `#[tokio::test]` functions too.
//!
//! ```
//! use fiko_testkit::Redis;
//! use std::io::{Read, Write};
//!
//! let mut redis = Redis::start()?;
//! let mut conn = std::net::TcpStream::connect(("127.0.0.1", redis.port())).unwrap();
//! conn.write_all(b"PING\r\n").unwrap();
//! let mut pong = [0_u8; 7];
//! conn.read_exact(&mut pong).unwrap();
//! assert_eq!(&pong, b"+PONG\r\n");
//!
//! redis.stop(); // SIGKILL: fault tests
//! assert!(!redis.is_running());
//! redis.restart()?; // same port, empty
//! assert!(redis.is_running());
//! # Ok::<(), fiko_testkit::TestkitError>(())
//! ```
//!
//! As root (CI), PostgreSQL runs as the `postgres` system user through
//! `runuser -u postgres --`, because `initdb` refuses to run as root.

mod alertmanager;
mod error;
mod exemplars;
mod exporters;
mod http;
mod postgres;
mod process;
mod prometheus;
pub mod promtool;
mod redis;
mod target;
mod tool;
mod victoria;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

pub use alertmanager::Alertmanager;
pub use error::TestkitError;
pub use exemplars::{current_trace, enter_trace, exemplar_traces};
pub use exporters::{PostgresExporter, RedisExporter};
pub use http::{HttpResponse, http_get, http_post};
pub use postgres::Postgres;
pub use prometheus::Prometheus;
pub use redis::Redis;
pub use target::ScrapeTarget;
pub use tool::{Report, run_tool};
pub use victoria::{VictoriaMetrics, VmAlert};

/// Finds an executable: on `PATH`, then in `/usr/sbin`, `/usr/bin`, `/usr/local/bin`, then
/// in `/usr/lib/postgresql/<version>/bin` (highest version first). A missing binary is a
/// [`TestkitError::MissingBinary`] naming `debian_package`.
///
/// ```
/// let err = fiko_testkit::binary("no-such-server-binary", "no-such-package").unwrap_err();
/// assert!(err.to_string().contains("apt-get install no-such-package"));
/// ```
pub fn binary(name: &str, debian_package: &str) -> Result<PathBuf, TestkitError> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect())
        .unwrap_or_default();
    dirs.extend(["/usr/sbin", "/usr/bin", "/usr/local/bin"].map(PathBuf::from));
    dirs.extend(postgres_bin_dirs());
    dirs.iter()
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
        .ok_or_else(|| TestkitError::MissingBinary {
            name: name.to_owned(),
            package: debian_package.to_owned(),
        })
}

/// A TCP port on `127.0.0.1` that was free a moment ago (bound to port 0, then released).
/// The servers of this kit retry with another port if theirs is taken in between.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("binding 127.0.0.1:0 must work on any machine that runs these tests")
}

fn is_executable(path: &Path) -> bool {
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// `/usr/lib/postgresql/*/bin`, highest major version first.
fn postgres_bin_dirs() -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir("/usr/lib/postgresql") else {
        return Vec::new();
    };
    let mut versions: Vec<(u32, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .collect();
    versions.sort_by_key(|v| std::cmp::Reverse(v.0));
    versions.into_iter().map(|(_, dir)| dir).collect()
}
