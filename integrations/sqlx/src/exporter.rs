//! The metrics postgres_exporter (the Debian package `prometheus-postgres-exporter`)
//! exposes for the PostgreSQL server this crate's pools talk to: the server's side of the
//! picture (connections by state, deadlocks, database size) that the query metrics cannot
//! see. Names, kinds and labels are what the exporter writes against a real PostgreSQL 15
//! (fiko-dashboards-gen's `real_servers` test scrapes one).
//! Its panels and alerts are in `dashboards.rs`.

use fiko_metrics::{Counter, Family, Gauge, LabelSet, MetricSet};

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
