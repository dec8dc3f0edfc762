//! fiko-metrics for the [`redis`] crate: client command metrics and a metered cache.
//!
//! - [`Instrumented`] wraps any async connection (`ConnectionManager`,
//!   `MultiplexedConnection`, ...) and is itself a `redis::aio::ConnectionLike`, so
//!   instrumenting an application is one line where the connection is made; every
//!   `AsyncCommands` call, `query_async` and pipeline is then recorded in [`RedisMetrics`]
//!   (`fiko_redis_commands_total`, `fiko_redis_command_duration_seconds`,
//!   `fiko_redis_errors_total`, `fiko_redis_commands_in_flight`), by [`Command`] and
//!   [`ErrorKind`], with the connection's state (`fiko_redis_connections{state}`:
//!   connected or reconnecting) and reconnects (`fiko_redis_reconnects_total`).
//! - [`Cache`] is get-or-compute with a TTL recording [`CacheMetrics`]
//!   (`fiko_cache_hits_total`, `fiko_cache_misses_total`, `fiko_cache_errors_total`,
//!   `fiko_cache_operation_duration_seconds`); when Redis is down it falls back to
//!   computing the value.
//! - [`CacheRecorder`] records a cache that is not Redis (an in-process map, moka) into
//!   the same [`CacheMetrics`].
//!
//! Both sets are declared with `#[derive(MetricSet)]` and implement
//! `fiko_dashboards::Observe` with default panels (command rate by command, p95 command
//! latency, errors by kind; cache hit ratio, hits/misses, p95 operation time), so
//! `fiko-dashboards-gen` draws them like any other set.
//!
//! ```
//! use std::time::Duration;
//! use fiko_metrics::{Format, MetricSet, Registry};
//! use fiko_metrics_redis::{Cache, CacheMetrics, Instrumented, RedisMetrics};
//! use redis::AsyncCommands;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let server = fiko_testkit::Redis::start()?;
//! # let redis_url = server.url();
//! let registry = Registry::new();
//! let redis_metrics = RedisMetrics::register(&registry)?;
//! let cache_metrics = CacheMetrics::register(&registry)?;
//!
//! let client = redis::Client::open(redis_url)?;
//! let conn = redis::aio::ConnectionManager::new(client).await?;
//! let mut conn = Instrumented::with_metrics(conn, redis_metrics);
//!
//! let _: () = conn.set("visits", 41).await?;
//! let visits: u64 = conn.incr("visits", 1).await?; // sent as INCRBY
//! assert_eq!(visits, 42);
//!
//! let cache = Cache::with_metrics(conn.clone(), cache_metrics).named("pages");
//! let page = cache
//!     .get_or_compute("page:/", Duration::from_secs(30), || async {
//!         Ok::<_, std::convert::Infallible>(String::from("<h1>hi</h1>"))
//!     })
//!     .await?;
//! assert_eq!(page, "<h1>hi</h1>");
//!
//! let text = registry.encode(Format::Prometheus);
//! assert!(text.contains(r#"fiko_redis_commands_total{command="incrby"} 1"#));
//! assert!(text.contains(r#"fiko_cache_misses_total{cache="pages"} 1"#));
//! # Ok(()) }
//! ```

//!
//! # Design
//!
//! The redis crate has no hooks for observing commands, but every async command goes
//! through one trait, `redis::aio::ConnectionLike`. Wrapping the connection in a type that
//! implements it is what applications already do to time Redis calls (e.g. wrappers around
//! `ConnectionManager` recording command execution time by command for OpenTelemetry), and
//! it is the least intrusive choice: the connection is wrapped once where it is made, and no
//! call site changes — unlike a wrapper with its own `get`/`set` methods, which would mean
//! rewriting every call. The command name comes from the command's first argument, mapped
//! to a closed [`Command`] set without allocating, so series stay bounded.
//!
//! The `command` label is an open `&'static str` taken from that closed set rather than the
//! enum itself: the runtime exposes every combination of an all-closed label set, which for
//! 111 commands × 15 error kinds would be thousands of zero series on every scrape.

mod cache;
mod command;
mod connection;
mod dashboards;
mod error_kind;
mod exporter;
mod metrics;

/// The crate README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

pub use cache::{Cache, CacheRecorder, DEFAULT_CACHE_TIMEOUT};
pub use command::Command;
pub use connection::Instrumented;
pub use dashboards::{RECONNECT_WINDOW, RECONNECTS_THRESHOLD};
pub use error_kind::ErrorKind;
pub use exporter::{RedisCommandLabels, RedisDbLabels, RedisExporter};
pub use metrics::{
    CacheLabels, CacheMetrics, CacheOperation, CacheOperationLabels, CommandLabels,
    ConnectionState, ConnectionStateLabels, ErrorLabels, RedisMetrics,
};
