//! The metrics redis_exporter (the Debian package `prometheus-redis-exporter`) exposes for
//! the Redis server this crate's clients talk to: the server's side of the picture, which
//! the client metrics cannot see (memory, rejected connections, keyspace). Names, kinds and
//! labels are what the exporter writes against a real redis-server (fiko-dashboards-gen's
//! `real_servers` test scrapes one). Its panels and alerts are in `dashboards.rs`.

use fiko_metrics::{Counter, Family, Gauge, LabelSet, MetricSet};

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
