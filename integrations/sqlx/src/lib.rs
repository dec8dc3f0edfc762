//! sqlx instrumentation for fiko-metrics: queries by operation, their duration, errors by
//! class, slow queries, deadlocks and pool connections, for PostgreSQL and SQLite pools.
//!
//! # Design: wrap the pool, keep the queries
//!
//! sqlx runs every query through an [`Executor`](sqlx::Executor): `&Pool`, `&mut
//! PgConnection`, .... This crate wraps the pool once, at start-up, in an
//! [`InstrumentedPool`] that is itself an executor, so the queries of an existing code
//! base stay as they are — `sqlx::query(...).fetch_all(&pool)` now records into
//! [`DbMetrics`]. Transactions and connections from [`InstrumentedPool::begin`] and
//! [`InstrumentedPool::acquire`] record too, and accept sqlx's usual `&mut *tx`. What
//! changes is the pool's type in signatures (`&InstrumentedPool<Postgres>` for `&PgPool`);
//! functions written against `impl Executor<'_, Database = Postgres>` need no change at all.
//!
//! Why the executor, and not something else sqlx offers:
//!
//! - sqlx's own query logs (`tracing` events of the `sqlx::query` target) carry the SQL
//!   and the elapsed time but not the error, depend on log levels and a subscriber, and
//!   are text for people; counting from them would be fragile.
//! - The pool callbacks (`before_acquire`, `after_release`) see connections checked in
//!   and out, never a query. The pool gauges here do not need them either: they are read
//!   from [`Pool::size`](sqlx::Pool::size) and [`Pool::num_idle`](sqlx::Pool::num_idle) at
//!   scrape time.
//! - An executor wrapper sees every query with its SQL text and its outcome, and costs one
//!   look at the SQL's first keyword and a few atomic updates per query: 0.1 to 0.7 µs on
//!   top of an 18 to 20 µs in-memory SQLite point query in `examples/sqlx_overhead.rs` runs
//!   (about as much as the run-to-run noise), less than 4 % even on that fastest of
//!   queries.
//!
//! sqlx's `Executor` gains a hidden `describe` method when sqlx's `macros` feature is on
//! (the default). This crate's `macros` feature (on by default) implements it and turns
//! sqlx's on; switch it off only if nothing in the build enables sqlx's `macros`.
//!
//! ```
//! use std::time::Duration;
//! use fiko_metrics::{Format, Registry};
//! use fiko_metrics_sqlx::{Instrumentation, PoolConfig};
//! use sqlx::sqlite::SqlitePoolOptions;
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
//! let registry = Registry::new();
//! let db = Instrumentation::register(&registry)?; // once per registry
//!
//! // (One connection: each SQLite in-memory connection is a database of its own.)
//! let pool = SqlitePoolOptions::new().max_connections(1).connect("sqlite::memory:").await?;
//! let pool = db.instrument(pool, PoolConfig::named("main").slow_threshold(Duration::from_millis(200)));
//!
//! // Queries are written exactly as for a plain pool...
//! sqlx::query("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL)").execute(&pool).await?;
//! sqlx::query("INSERT INTO users (name) VALUES (?)").bind("ada").execute(&pool).await?;
//! let mut tx = pool.begin().await?;
//! sqlx::query("UPDATE users SET name = 'Ada' WHERE id = 1").execute(&mut *tx).await?;
//! tx.commit().await?;
//! // ...and can carry a name, for a per-query breakdown.
//! let names: Vec<(String,)> = sqlx::query_as("SELECT name FROM users")
//!     .fetch_all(pool.named("list_users"))
//!     .await?;
//! assert_eq!(names, [("Ada".to_owned(),)]);
//!
//! let text = registry.encode(Format::Prometheus);
//! assert!(text.contains(r#"fiko_db_queries_total{pool="main",operation="insert",query=""} 1"#));
//! assert!(text.contains(r#"fiko_db_queries_total{pool="main",operation="update",query=""} 1"#));
//! assert!(text.contains(r#"fiko_db_queries_total{pool="main",operation="select",query="list_users"} 1"#));
//! assert!(text.contains(r#"fiko_db_pool_max_connections{pool="main"} 1"#));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! In an application that exposes [`fiko_metrics::default_registry`], [`instrument`] is
//! all it takes: `let pool = fiko_metrics_sqlx::instrument(PgPool::connect(url).await?);`.
//!
//! # Moving an existing code base over
//!
//! - Wrap the pool where it is built; name its type once (`type Db =
//!   InstrumentedPool<Postgres>;`) and use it where `PgPool` was.
//! - Queries (`query`, `query_as`, `query_scalar`, `raw_sql`, the `query!` macros) and
//!   transactions (`pool.begin()`, `&mut *tx`, `tx.commit()`) are unchanged.
//! - Helpers taking `&mut PgConnection` no longer accept `&mut *tx` (that would bypass the
//!   metrics, so it is a compile error rather than a silent gap): make them generic over
//!   `impl Executor<'_, Database = Postgres>`, as sqlx recommends, or take
//!   `&mut InstrumentedConnection<C>`.
//! - Code generic over sqlx's `Acquire` trait gets the plain connection: pass it
//!   `pool.inner()` knowingly, or an instrumented connection instead.
//!
//! # What is recorded
//!
//! See [`DbMetrics`] and [`DbPoolMetrics`] for the metrics and labels. In short:
//!
//! - every query run through an instrumented executor counts once, by `operation`
//!   ([`Operation::of`] the SQL) and `query` name, successful or not, with its duration
//!   (from the moment it had a connection to the last row read);
//! - the wait for a pool connection — of a query on the pool, a transaction or a checkout —
//!   is its own histogram, `fiko_db_pool_acquire_duration_seconds`, and a failed checkout
//!   (pool timeout, closed pool, a new connection that could not be opened) counts in
//!   `fiko_db_pool_acquire_errors_total` by kind, so a pool too small for its load is
//!   told apart from slow queries (the wait includes opening a connection when the pool
//!   grows for that caller: sqlx has no hook that would tell the two apart from outside);
//!   a query whose checkout failed still counts, as failed, but has no duration;
//! - a failed query also counts in `fiko_db_query_errors_total` by `kind` (database, pool
//!   timeout, pool closed, I/O, TLS, protocol, other) and `class` (see [`classify`]), and
//!   a PostgreSQL deadlock (SQLSTATE `40P01`) in `fiko_db_deadlocks_total`;
//! - a query that took at least the pool's threshold counts in `fiko_db_slow_queries_total`;
//! - the pool gauges (idle and in-use connections, maximum) are read at every scrape.
//!
//! Both sets implement [`fiko_dashboards::Observe`]: a "Database" row (query rate by
//! operation, p95 latency by operation, p50/p95/p99, errors by kind and class, slow
//! queries, deadlocks) and a "Database pool" row (connections by state, in use vs max).
//!
//! A stream or future dropped before it finishes still counts as a query (not as an
//! error). The `BEGIN`, `COMMIT` and `ROLLBACK` of instrumented transactions count as
//! queries of operation `other`. With [`PoolConfig::query_timeout`], a query the server
//! does not answer in time fails and counts as `kind="timeout"`.
//!
//! What is not recorded: queries run on the plain pool or connection (`inner()`,
//! `into_inner()`, or code generic over sqlx's `Acquire` handed the plain pool) — wrap
//! what they hand out with [`InstrumentedPool::instrument`] — and the checkout done by
//! `prepare`/`describe` on the pool, which are not queries.

mod classify;
mod dashboards;
mod executors;
mod exporter;
mod generator;
mod instrumentation;
mod metrics;
mod operation;
mod record;

/// The crate README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

pub use classify::{Classified, DEADLOCK_SQLSTATE, classify, code_class};
pub use dashboards::POOL_WAIT_P95_THRESHOLD;
pub use executors::{
    Instrumented, InstrumentedConnection, InstrumentedPool, InstrumentedPoolConnection,
    InstrumentedTransaction, Named,
};
pub use exporter::{
    PgActivityLabels, PgDatabaseLabels, PgDatabaseSizeLabels, PgServerLabels, PostgresExporter,
};
pub use instrumentation::{Instrumentation, PoolConfig, instrument};
pub use metrics::{
    AcquireErrorLabels, ConnectionState, DbMetrics, DbPoolMetrics, ErrorLabels, PoolLabel,
    PoolStateLabels, QueryErrorKind, QueryLabels,
};
pub use operation::Operation;
