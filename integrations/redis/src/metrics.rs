//! The metric sets: Redis client commands (`fiko_redis_*`) and the cache (`fiko_cache_*`).

use std::sync::Arc;

use fiko_metrics::{
    Counter, CounterWithExemplar, Family, Gauge, Histogram, LabelSet, LabelValue, MetricSet,
};

use crate::{Command, ErrorKind};

/// Redis client metrics, recorded by [`Instrumented`](crate::Instrumented) connections.
///
/// | metric | type | labels |
/// |---|---|---|
/// | `fiko_redis_commands_total` | counter | `command` |
/// | `fiko_redis_command_duration_seconds` | histogram | `command` |
/// | `fiko_redis_errors_total` | counter | `command`, `kind` |
/// | `fiko_redis_commands_in_flight` | gauge | |
/// | `fiko_redis_connections` | gauge | `state` (`connected`, `reconnecting`) |
/// | `fiko_redis_reconnects_total` | counter | |
///
/// Every command sent is counted once by name, also inside a pipeline; a pipeline's round
/// trip is one duration observation (and at most one error) under `command="pipeline"`.
/// The `command` label is the closed [`Command`] set, so the families are bounded (111
/// commands, times the error kinds) and record through an array, with no lock and no
/// hashing. Its label sets are declared `#[label_set(sparse)]`: only the commands an
/// application sent are exposed, not thousands of zero series.
///
/// Commands, their round-trip time and errors record exemplars (`CounterWithExemplar`
/// families; `#[metric(exemplars)]` on the histogram): with an exemplar source installed
/// ([`fiko_metrics::exemplar::set_source`]), each keeps the trace the command was sent in.
///
/// Error ratio: `sum(rate(fiko_redis_errors_total[5m])) / sum(rate(fiko_redis_commands_total[5m]))`
/// (a pipeline's error counts once, however many commands it held).
#[derive(MetricSet, Debug)]
#[metric_set(namespace = "fiko", subsystem = "redis")]
pub struct RedisMetrics {
    /// Redis commands sent by this client, by command (pipelined commands one by one).
    pub commands: Family<CommandLabels, CounterWithExemplar>,
    /// Round-trip time of Redis commands, by command (`pipeline` for a whole pipeline).
    #[metric(exemplars, buckets = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0])]
    pub command_duration_seconds: Family<CommandLabels, Histogram>,
    /// Redis commands and pipelines that failed, by command and error kind.
    pub errors: Family<ErrorLabels, CounterWithExemplar>,
    /// Redis commands and pipelines sent and not answered yet.
    pub commands_in_flight: Gauge,
    /// Client connections by state: `reconnecting` from a command that found the connection broken or refused until the next command that gets a reply, `connected` otherwise.
    pub connections: Family<ConnectionStateLabels, Gauge>,
    /// Connections that were broken or refused and then answered again.
    pub reconnects: Counter,
}

/// The label of [`RedisMetrics::connections`].
#[derive(LabelSet, Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionStateLabels {
    /// The connection's state.
    pub state: ConnectionState,
}

/// The state of an instrumented Redis connection, as its commands found it.
#[derive(LabelValue, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConnectionState {
    /// The last command got a reply (or none failed on a broken connection yet).
    Connected,
    /// The last command found the connection broken or refused (what makes a
    /// `ConnectionManager` reconnect); no command has got a reply since.
    Reconnecting,
}

/// The labels of [`RedisMetrics::commands`] and [`RedisMetrics::command_duration_seconds`]:
/// sparse, so only the commands sent are exposed.
#[derive(LabelSet, Clone, Copy, Debug, PartialEq, Eq)]
#[label_set(sparse)]
pub struct CommandLabels {
    /// The Redis command (`pipeline` for a whole pipeline).
    pub command: Command,
}

impl CommandLabels {
    /// The labels of `command`.
    pub fn new(command: Command) -> Self {
        CommandLabels { command }
    }
}

/// The labels of [`RedisMetrics::errors`]: sparse, so only the failures that happened are
/// exposed.
#[derive(LabelSet, Clone, Copy, Debug, PartialEq, Eq)]
#[label_set(sparse)]
pub struct ErrorLabels {
    /// The Redis command (`pipeline` for a whole pipeline).
    pub command: Command,
    /// Why it failed.
    pub kind: ErrorKind,
}

impl ErrorLabels {
    /// The labels of `command` failing with `kind`.
    pub fn new(command: Command, kind: ErrorKind) -> Self {
        ErrorLabels { command, kind }
    }
}

/// Cache metrics, recorded by [`Cache`](crate::Cache).
///
/// | metric | type | labels |
/// |---|---|---|
/// | `fiko_cache_hits_total` | counter | `cache` |
/// | `fiko_cache_misses_total` | counter | `cache` |
/// | `fiko_cache_errors_total` | counter | `cache`, `operation` |
/// | `fiko_cache_operation_duration_seconds` | histogram | `cache`, `operation` |
///
/// Every lookup is exactly one hit or one miss; a lookup that failed (Redis down) is a miss
/// *and* an error, since the value is then computed. Hit ratio:
/// `sum(rate(fiko_cache_hits_total[5m])) / (sum(rate(fiko_cache_hits_total[5m])) + sum(rate(fiko_cache_misses_total[5m])))`.
#[derive(MetricSet, Debug)]
#[metric_set(namespace = "fiko", subsystem = "cache")]
pub struct CacheMetrics {
    /// Cache lookups that found a value, by cache.
    #[metric(max_series = 100)]
    pub hits: Family<CacheLabels, Counter>,
    /// Cache lookups that found no usable value (absent, undecodable, or Redis failed), by cache.
    #[metric(max_series = 100)]
    pub misses: Family<CacheLabels, Counter>,
    /// Cache operations that failed (the caller fell back to computing), by cache and operation.
    #[metric(max_series = 400)]
    pub errors: Family<CacheOperationLabels, Counter>,
    /// Duration of cache operations, by cache and operation (`compute` is the caller's own work on a miss).
    #[metric(max_series = 400, buckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0])]
    pub operation_duration_seconds: Family<CacheOperationLabels, Histogram>,
}

/// The labels of [`CacheMetrics::hits`] and [`CacheMetrics::misses`].
#[derive(LabelSet, Clone, Debug, PartialEq, Eq)]
pub struct CacheLabels {
    /// The cache's name (see [`Cache::named`](crate::Cache::named)).
    pub cache: Arc<str>,
}

/// The labels of [`CacheMetrics::errors`] and [`CacheMetrics::operation_duration_seconds`].
#[derive(LabelSet, Clone, Debug, PartialEq, Eq)]
pub struct CacheOperationLabels {
    /// The cache's name.
    pub cache: Arc<str>,
    /// The operation.
    pub operation: CacheOperation,
}

/// A cache operation, the `operation` label of [`CacheMetrics`].
#[derive(LabelValue, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CacheOperation {
    /// Reading a value.
    Get,
    /// Storing a value with its TTL.
    Set,
    /// Removing a value.
    Delete,
    /// Computing a value after a miss (the caller's function).
    Compute,
}
