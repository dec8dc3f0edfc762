//! The standard Redis and PostgreSQL Prometheus exporters.

use std::process::Command;
use std::time::Duration;

use tempfile::TempDir;

use crate::http::http_get;
use crate::process::ServerProcess;
use crate::{TestkitError, binary, free_port};

const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// `redis_exporter` (Debian `prometheus-redis-exporter`) scraping one Redis, killed on drop.
///
/// Without `maxmemory` on the Redis side it reports `redis_memory_max_bytes 0`.
///
/// ```no_run
/// let redis = fiko_testkit::Redis::start()?;
/// let exporter = fiko_testkit::RedisExporter::start(&redis.url())?;
/// let metrics = fiko_testkit::http_get(&exporter.metrics_url())?.body;
/// assert!(metrics.contains("redis_up 1"));
/// # Ok::<(), fiko_testkit::TestkitError>(())
/// ```
#[derive(Debug)]
pub struct RedisExporter {
    exporter: Exporter,
}

impl RedisExporter {
    /// Starts the exporter for `redis_url` (e.g. [`Redis::url`](crate::Redis::url)).
    pub fn start(redis_url: &str) -> Result<Self, TestkitError> {
        let binary = binary("prometheus-redis-exporter", "prometheus-redis-exporter")?;
        let exporter = Exporter::start("redis_exporter", |port| {
            let mut command = Command::new(&binary);
            command
                .arg(format!("--redis.addr={redis_url}"))
                .arg(format!("--web.listen-address=127.0.0.1:{port}"));
            command
        })?;
        Ok(RedisExporter { exporter })
    }

    /// `http://127.0.0.1:PORT/metrics`.
    pub fn metrics_url(&self) -> String {
        self.exporter.metrics_url()
    }
}

/// `postgres_exporter` (Debian `prometheus-postgres-exporter`) scraping one PostgreSQL,
/// killed on drop.
///
/// ```no_run
/// let pg = fiko_testkit::Postgres::start()?;
/// let exporter = fiko_testkit::PostgresExporter::start(&pg.url())?;
/// let metrics = fiko_testkit::http_get(&exporter.metrics_url())?.body;
/// assert!(metrics.contains("pg_up 1"));
/// # Ok::<(), fiko_testkit::TestkitError>(())
/// ```
#[derive(Debug)]
pub struct PostgresExporter {
    exporter: Exporter,
}

impl PostgresExporter {
    /// Starts the exporter for `postgres_url` (e.g. [`Postgres::url`](crate::Postgres::url));
    /// `sslmode=disable` is added when the URL has no query string.
    pub fn start(postgres_url: &str) -> Result<Self, TestkitError> {
        let binary = binary(
            "prometheus-postgres-exporter",
            "prometheus-postgres-exporter",
        )?;
        let dsn = if postgres_url.contains('?') {
            postgres_url.to_owned()
        } else {
            format!("{postgres_url}?sslmode=disable")
        };
        let exporter = Exporter::start("postgres_exporter", |port| {
            let mut command = Command::new(&binary);
            command
                .env("DATA_SOURCE_NAME", &dsn)
                .arg(format!("--web.listen-address=127.0.0.1:{port}"));
            command
        })?;
        Ok(PostgresExporter { exporter })
    }

    /// `http://127.0.0.1:PORT/metrics`.
    pub fn metrics_url(&self) -> String {
        self.exporter.metrics_url()
    }
}

#[derive(Debug)]
struct Exporter {
    // Field order matters: the process is killed before its directory is removed.
    _process: ServerProcess,
    port: u16,
    _dir: TempDir,
}

impl Exporter {
    fn start(name: &'static str, command: impl Fn(u16) -> Command) -> Result<Self, TestkitError> {
        let dir = tempfile::Builder::new()
            .prefix("fiko-testkit-exporter-")
            .tempdir()
            .map_err(|e| TestkitError::io(format!("create {name} temp dir"), e))?;
        let mut last = None;
        for _ in 0..3 {
            let port = free_port();
            let mut cmd = command(port);
            cmd.current_dir(dir.path());
            let log = dir.path().join(format!("{name}.log"));
            let mut process = ServerProcess::spawn(name, cmd, &log)?;
            let url = format!("http://127.0.0.1:{port}/metrics");
            match process.wait_ready(READY_TIMEOUT, || {
                http_get(&url).is_ok_and(|r| r.status == 200)
            }) {
                Ok(()) => {
                    return Ok(Exporter {
                        _process: process,
                        port,
                        _dir: dir,
                    });
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or(TestkitError::NotReady {
            server: name,
            after: READY_TIMEOUT,
            log: String::new(),
        }))
    }

    fn metrics_url(&self) -> String {
        format!("http://127.0.0.1:{}/metrics", self.port)
    }
}
