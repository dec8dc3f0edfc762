//! The metrics this crate records: the [`DbMetrics`] set and its labels.

use fiko_metrics::{
    Counter, CounterWithExemplar, Family, Gauge, Histogram, LabelSet, LabelValue, MetricSet,
};

use crate::operation::Operation;

/// Database query metrics: queries, their duration, errors, slow queries and deadlocks, all
/// labelled by the pool's name.
///
/// Names follow Prometheus conventions (`fiko_db_*`, counters exposed with `_total`,
/// durations in seconds). Recorded by [`InstrumentedPool`](crate::InstrumentedPool) and
/// the connections and transactions it hands out. The pool gauges are in [`DbPoolMetrics`].
///
/// | metric | kind | labels |
/// |---|---|---|
/// | `fiko_db_queries_total` | counter | `pool`, `operation`, `query` |
/// | `fiko_db_query_duration_seconds` | histogram | `pool`, `operation`, `query` |
/// | `fiko_db_query_errors_total` | counter | `pool`, `operation`, `query`, `kind`, `class` |
/// | `fiko_db_slow_queries_total` | counter | `pool`, `operation`, `query` |
/// | `fiko_db_deadlocks_total` | counter | `pool` |
/// | `fiko_db_pool_acquire_duration_seconds` | histogram | `pool` |
/// | `fiko_db_pool_acquire_errors_total` | counter | `pool`, `kind` |
///
/// Query counts, durations, errors and slow queries, and the pool wait, record exemplars
/// (`CounterWithExemplar` families; `#[metric(exemplars)]` on the histograms): with an
/// exemplar source installed ([`fiko_metrics::exemplar::set_source`]), each keeps the trace
/// a query started in.
///
/// A query's duration starts once it has a connection: the wait for a pool connection is
/// `fiko_db_pool_acquire_duration_seconds`, so a pool too small for its load shows there
/// and not as slow queries.
#[derive(Debug, MetricSet)]
#[metric_set(namespace = "fiko", subsystem = "db")]
pub struct DbMetrics {
    /// Queries executed, by pool, operation and query name (successful or not).
    pub queries: Family<QueryLabels, CounterWithExemplar>,
    /// Query duration, from the moment the query had a connection until its last row was read (the wait for a pool connection is not included).
    #[metric(exemplars, buckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0])]
    pub query_duration_seconds: Family<QueryLabels, Histogram>,
    /// Failed queries, by error kind and class (SQLSTATE class, or SQLite result code name).
    pub query_errors: Family<ErrorLabels, CounterWithExemplar>,
    /// Queries that took at least the pool's slow-query threshold.
    pub slow_queries: Family<QueryLabels, CounterWithExemplar>,
    /// Queries aborted because the database detected a deadlock (PostgreSQL SQLSTATE 40P01).
    pub deadlocks: Family<PoolLabel, Counter>,
    /// Time spent waiting for a pool connection, by pool: by a query run on the pool, a transaction started on it, or a connection checked out (failed checkouts included, with the time they waited).
    #[metric(exemplars, buckets = [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0])]
    pub pool_acquire_duration_seconds: Family<PoolLabel, Histogram>,
    /// Pool checkouts that failed, by pool and kind: `pool_timeout` (no connection within the pool's acquire timeout), `pool_closed`, or what failed while opening a new connection.
    pub pool_acquire_errors: Family<AcquireErrorLabels, Counter>,
}

/// Pool connection gauges, read from every instrumented pool at each scrape.
///
/// | metric | kind | labels |
/// |---|---|---|
/// | `fiko_db_pool_connections` | gauge | `pool`, `state` (`idle`, `in_use`) |
/// | `fiko_db_pool_max_connections` | gauge | `pool` |
///
/// The pool's size (open connections) is `sum by (pool) (fiko_db_pool_connections)`.
#[derive(Debug, MetricSet)]
#[metric_set(namespace = "fiko", subsystem = "db")]
pub struct DbPoolMetrics {
    /// Pool connections by state (idle or in use), read at scrape time.
    pub pool_connections: Family<PoolStateLabels, Gauge>,
    /// The pool's maximum number of connections, read at scrape time.
    pub pool_max_connections: Family<PoolLabel, Gauge>,
}

/// Labels of query counts, durations and slow queries.
#[derive(Clone, Debug, PartialEq, Eq, LabelSet)]
pub struct QueryLabels {
    /// The pool's name ([`PoolConfig::named`](crate::PoolConfig::named)).
    pub pool: &'static str,
    /// The statement's kind, from its first keyword.
    pub operation: Operation,
    /// The query name given with `.named(...)`, or empty.
    pub query: &'static str,
}

/// Labels of failed queries.
#[derive(Clone, Debug, PartialEq, Eq, LabelSet)]
pub struct ErrorLabels {
    /// The pool's name.
    pub pool: &'static str,
    /// The statement's kind.
    pub operation: Operation,
    /// The query name given with `.named(...)`, or empty.
    pub query: &'static str,
    /// What failed: the database, the pool, the network, ...
    pub kind: QueryErrorKind,
    /// For database errors: the SQLSTATE class (`23` integrity violation, `40` transaction
    /// rollback, `42` syntax or access error, ...) or, for SQLite, the primary result code
    /// name (`constraint`, `busy`, `error`, ...); empty for other kinds.
    pub class: &'static str,
}

/// Labels of failed pool checkouts.
#[derive(Clone, Debug, PartialEq, Eq, LabelSet)]
pub struct AcquireErrorLabels {
    /// The pool's name.
    pub pool: &'static str,
    /// What failed: `pool_timeout`, `pool_closed`, or the error opening a connection.
    pub kind: QueryErrorKind,
}

/// The label of per-pool metrics.
#[derive(Clone, Debug, PartialEq, Eq, LabelSet)]
pub struct PoolLabel {
    /// The pool's name.
    pub pool: &'static str,
}

/// Labels of the pool connection gauge.
#[derive(Clone, Debug, PartialEq, Eq, LabelSet)]
pub struct PoolStateLabels {
    /// The pool's name.
    pub pool: &'static str,
    /// Idle or in use.
    pub state: ConnectionState,
}

/// The state of a pool connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, LabelValue)]
pub enum ConnectionState {
    /// Open and waiting in the pool.
    Idle,
    /// Checked out: running a query, or held by a transaction or a caller.
    InUse,
}

/// What made a query fail, as recorded in the `kind` label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, LabelValue)]
pub enum QueryErrorKind {
    /// The database returned an error (see the `class` label).
    Database,
    /// No pool connection became free within the pool's acquire timeout.
    PoolTimeout,
    /// The pool was closed.
    PoolClosed,
    /// The server did not answer within the pool's query timeout
    /// ([`PoolConfig::query_timeout`](crate::PoolConfig::query_timeout)), or another I/O
    /// wait timed out: a hung server, not a dead one.
    Timeout,
    /// Network or file I/O failed (e.g. the server went away).
    Io,
    /// TLS failed.
    Tls,
    /// The driver received something it did not expect from the server.
    Protocol,
    /// A bound argument could not be encoded, or any other driver error.
    Other,
}
