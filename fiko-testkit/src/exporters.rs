//! The standard Redis and PostgreSQL Prometheus exporters.

use std::process::Command;

use tempfile::TempDir;

use crate::process::{ServerProcess, start_http_server};
use crate::{TestkitError, binary};

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
        let log = dir.path().join(format!("{name}.log"));
        let (process, port) = start_http_server(name, &log, "/metrics", |port| {
            let mut command = command(port);
            command.current_dir(dir.path());
            command
        })?;
        Ok(Exporter {
            _process: process,
            port,
            _dir: dir,
        })
    }

    fn metrics_url(&self) -> String {
        format!("http://127.0.0.1:{}/metrics", self.port)
    }
}
