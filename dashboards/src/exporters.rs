//! The metrics of programs we do not write, declared so panels and alerts name them by
//! declaration: redis_exporter, postgres_exporter and Prometheus' own `up`.
//!
//! Names, kinds and labels are what the Debian packages `prometheus-redis-exporter` and
//! `prometheus-postgres-exporter` expose (read from their `/metrics` against a real
//! redis-server and PostgreSQL 15). Each set carries the seed's alerts on its metrics:
//! RedisDown, RedisRejectedConnections (critical), RedisHighMemoryUsage (warning);
//! PostgresDown (critical), PostgresHighConnections, PostgresDeadlocks (warning).

use fiko_metrics::{Counter, Family, Gauge, LabelSet, MetricSet};

use crate::prelude::*;

/// The metrics redis_exporter exposes for one Redis server (the ones we chart and alert on).
#[derive(MetricSet)]
#[metric_set(namespace = "redis", external)]
pub struct RedisExporter {
    /// Information about the Redis instance
    pub up: Gauge,
    /// memory_used_bytes metric
    pub memory_used_bytes: Gauge,
    /// memory_max_bytes metric (0 when Redis runs without `maxmemory`)
    pub memory_max_bytes: Gauge,
    /// connected_clients metric
    pub connected_clients: Gauge,
    /// blocked_clients metric
    pub blocked_clients: Gauge,
    /// rejected_connections_total metric
    pub rejected_connections_total: Counter,
    /// commands_processed_total metric
    pub commands_processed_total: Counter,
    /// keyspace_hits_total metric
    pub keyspace_hits_total: Counter,
    /// keyspace_misses_total metric
    pub keyspace_misses_total: Counter,
    /// Total number of calls per command
    pub commands_total: Family<RedisCommandLabels, Counter>,
    /// Total number of keys by DB
    pub db_keys: Family<RedisDbLabels, Gauge>,
    /// uptime_in_seconds metric
    pub uptime_in_seconds: Gauge,
}

/// The `cmd` label of redis_exporter's per-command metrics.
#[derive(LabelSet)]
pub struct RedisCommandLabels {
    /// The command, e.g. `get` or `client|setname`.
    pub cmd: String,
}

/// The `db` label of redis_exporter's keyspace metrics.
#[derive(LabelSet)]
pub struct RedisDbLabels {
    /// The database, e.g. `db0`.
    pub db: String,
}

impl Observe for RedisExporter {
    fn service() -> &'static str {
        "redis"
    }

    fn rows() -> Vec<Row> {
        vec![
            Row::new("Redis")
                .panel(
                    Panel::timeseries("Redis memory used vs max")
                        .overview()
                        .query_as("used", Self::MEMORY_USED_BYTES.value())
                        .query_as("max", Self::MEMORY_MAX_BYTES.value()),
                )
                .panel(
                    Panel::timeseries("Redis commands per second")
                        .query(Self::COMMANDS_PROCESSED_TOTAL.rate()),
                )
                .panel(
                    Panel::timeseries("Redis clients")
                        .query_as("connected", Self::CONNECTED_CLIENTS.value())
                        .query_as("blocked", Self::BLOCKED_CLIENTS.value()),
                )
                .panel(
                    Panel::timeseries("Redis keyspace hit ratio").query(ratio(
                        Self::KEYSPACE_HITS_TOTAL.rate(),
                        Self::KEYSPACE_HITS_TOTAL
                            .rate()
                            .plus(Self::KEYSPACE_MISSES_TOTAL.rate()),
                    )),
                )
                .panel(
                    Panel::bar_gauge("Redis keys by database")
                        .query(Self::DB_KEYS.value().by([RedisDbLabels::DB])),
                ),
        ]
    }

    fn alerts() -> Vec<Alert> {
        vec![
            Alert::critical("RedisDown", Self::UP.value().equals(Count(0.0)))
                .for_(minutes(1))
                .summary("Redis is down on {{ $labels.instance }}")
                .description("redis_exporter at {{ $labels.instance }} cannot reach its Redis server (redis_up == 0) for {for}."),
            Alert::critical(
                "RedisRejectedConnections",
                Self::REJECTED_CONNECTIONS_TOTAL.increase().above(Count(0.0)),
            )
            .for_(minutes(1))
            .summary("Redis rejects connections on {{ $labels.instance }}")
            .description("Redis at {{ $labels.instance }} rejected client connections (maxclients reached)."),
            Alert::warning(
                "RedisHighMemoryUsage",
                ratio(Self::MEMORY_USED_BYTES.value(), Self::MEMORY_MAX_BYTES.value())
                    .above(Percent(90.0)),
            )
            .for_(minutes(5))
            .summary("Redis memory above {threshold} of maxmemory on {{ $labels.instance }}")
            .description("Redis at {{ $labels.instance }} uses more than {threshold} of its maxmemory for {for}; evictions or OOM errors follow. Silent when maxmemory is not set."),
        ]
    }
}

/// The metrics postgres_exporter exposes for one PostgreSQL server (the ones we chart and
/// alert on).
#[derive(MetricSet)]
#[metric_set(namespace = "pg", external)]
pub struct PostgresExporter {
    /// Whether the last scrape of metrics from PostgreSQL was able to connect to the server (1 for yes, 0 for no).
    pub up: Gauge,
    /// number of connections in this state
    pub stat_activity_count: Family<PgActivityLabels, Gauge>,
    /// Number of backends currently connected to this database.
    pub stat_database_numbackends: Family<PgDatabaseLabels, Gauge>,
    /// Number of deadlocks detected in this database
    pub stat_database_deadlocks: Family<PgDatabaseLabels, Counter>,
    /// Number of transactions in this database that have been committed
    pub stat_database_xact_commit: Family<PgDatabaseLabels, Counter>,
    /// Number of transactions in this database that have been rolled back
    pub stat_database_xact_rollback: Family<PgDatabaseLabels, Counter>,
    /// Number of times disk blocks were found already in the buffer cache
    pub stat_database_blks_hit: Family<PgDatabaseLabels, Counter>,
    /// Number of disk blocks read in this database
    pub stat_database_blks_read: Family<PgDatabaseLabels, Counter>,
    /// Disk space used by the database
    pub database_size_bytes: Family<PgDatabaseSizeLabels, Gauge>,
    /// Server Parameter: max_connections
    pub settings_max_connections: Family<PgServerLabels, Gauge>,
}

/// Labels of postgres_exporter's `pg_stat_database_*` metrics.
#[derive(LabelSet)]
pub struct PgDatabaseLabels {
    /// The database oid.
    pub datid: String,
    /// The database name.
    pub datname: String,
    /// The server, `host:port`.
    pub server: String,
}

/// Labels of `pg_stat_activity_count`.
#[derive(LabelSet)]
pub struct PgActivityLabels {
    /// The database name.
    pub datname: String,
    /// The server, `host:port`.
    pub server: String,
    /// The connection state (`active`, `idle`, `idle in transaction`, ...).
    pub state: String,
}

/// Labels of `pg_database_size_bytes`.
#[derive(LabelSet)]
pub struct PgDatabaseSizeLabels {
    /// The database name.
    pub datname: String,
    /// The server, `host:port`.
    pub server: String,
}

/// Labels of server-wide postgres_exporter metrics.
#[derive(LabelSet)]
pub struct PgServerLabels {
    /// The server, `host:port`.
    pub server: String,
}

impl Observe for PostgresExporter {
    fn service() -> &'static str {
        "postgres"
    }

    fn rows() -> Vec<Row> {
        vec![
            Row::new("PostgreSQL")
                .panel(
                    Panel::timeseries("Postgres connections")
                        .overview()
                        .query(
                            Self::STAT_ACTIVITY_COUNT
                                .value()
                                .by([PgActivityLabels::STATE]),
                        )
                        .query_as("max", Self::SETTINGS_MAX_CONNECTIONS.value())
                        .stacked(),
                )
                .panel(
                    Panel::timeseries("Postgres transactions per second")
                        .query_as("commit", Self::STAT_DATABASE_XACT_COMMIT.rate())
                        .query_as("rollback", Self::STAT_DATABASE_XACT_ROLLBACK.rate()),
                )
                .panel(
                    Panel::timeseries("Postgres cache hit ratio").query(ratio(
                        Self::STAT_DATABASE_BLKS_HIT.rate(),
                        Self::STAT_DATABASE_BLKS_HIT
                            .rate()
                            .plus(Self::STAT_DATABASE_BLKS_READ.rate()),
                    )),
                )
                .panel(
                    Panel::bar_gauge("Postgres database size").query(
                        Self::DATABASE_SIZE_BYTES
                            .value()
                            .by([PgDatabaseSizeLabels::DATNAME]),
                    ),
                )
                .panel(
                    Panel::timeseries("Postgres deadlocks").query(
                        Self::STAT_DATABASE_DEADLOCKS
                            .increase()
                            .by([PgDatabaseLabels::DATNAME]),
                    ),
                ),
        ]
    }

    fn alerts() -> Vec<Alert> {
        vec![
            Alert::critical("PostgresDown", Self::UP.value().equals(Count(0.0)))
                .for_(minutes(1))
                .summary("PostgreSQL is down on {{ $labels.instance }}")
                .description("postgres_exporter at {{ $labels.instance }} cannot connect to PostgreSQL (pg_up == 0) for {for}."),
            Alert::warning(
                "PostgresHighConnections",
                Self::STAT_ACTIVITY_COUNT.value().above(Count(80.0)),
            )
            .for_(minutes(5))
            .summary("PostgreSQL has more than {threshold} connections on {{ $labels.instance }}")
            .description("PostgreSQL at {{ $labels.instance }} has had more than {threshold} connections for {for}; the pool or max_connections may run out."),
            Alert::warning(
                "PostgresDeadlocks",
                Self::STAT_DATABASE_DEADLOCKS
                    .increase()
                    .by([PgDatabaseLabels::DATNAME])
                    .above(Count(0.0)),
            )
            .for_(minutes(1))
            .summary("Deadlocks in database {{ $labels.datname }} on {{ $labels.instance }}")
            .description("PostgreSQL at {{ $labels.instance }} detected deadlocks in {{ $labels.datname }} in the last rule window."),
        ]
    }
}

/// Prometheus' own per-target metric: `up` is 1 when the last scrape of a target succeeded.
#[derive(MetricSet)]
#[metric_set(external)]
pub struct ScrapeTargets {
    /// 1 if the target's last scrape succeeded, 0 otherwise (written by Prometheus).
    pub up: Gauge,
}

impl Observe for ScrapeTargets {
    fn service() -> &'static str {
        "prometheus"
    }

    fn rows() -> Vec<Row> {
        vec![Row::new("Targets").panel(
            Panel::table("Scrape targets up").query(ScrapeTargets::UP.value().by_target().max()),
        )]
    }
}
