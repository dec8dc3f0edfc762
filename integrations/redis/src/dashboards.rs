//! Default dashboard panels and alerts for the sets of this crate and redis_exporter's
//! (`fiko_dashboards::Observe`).

use fiko_dashboards::prelude::*;

use crate::exporter::{RedisDbLabels, RedisExporter};
use crate::metrics::{
    CacheLabels, CacheMetrics, CacheOperationLabels, CommandLabels, ConnectionStateLabels,
    ErrorLabels, RedisMetrics,
};

/// How many reconnects within [`RECONNECT_WINDOW`] make `RedisClientReconnecting` fire:
/// one outage is one reconnect per connection; three or more in a quarter of an hour is a
/// connection that keeps breaking.
pub const RECONNECTS_THRESHOLD: f64 = 2.0;

/// The window `RedisClientReconnecting` counts reconnects over.
pub const RECONNECT_WINDOW: fiko_dashboards::PromDuration = minutes(15);

/// A "Redis client" row: command rate by command, p95 latency by command, overall
/// p50/p95/p99, errors by kind, commands in flight, connections by state and reconnects;
/// the alert `RedisClientReconnecting`.
impl Observe for RedisMetrics {
    fn service() -> &'static str {
        "redis"
    }

    fn rows() -> Vec<Row> {
        vec![
            Row::new("Redis client")
                .panel(
                    Panel::timeseries("Redis commands by command")
                        .query(Self::COMMANDS.rate().by([CommandLabels::COMMAND]))
                        .stacked(),
                )
                .panel(
                    Panel::timeseries("Redis command latency p95 by command").query(
                        Self::COMMAND_DURATION_SECONDS
                            .quantile(0.95)
                            .by([CommandLabels::COMMAND]),
                    ),
                )
                .panel(
                    Panel::timeseries("Redis command latency")
                        .query_as("p50", Self::COMMAND_DURATION_SECONDS.quantile(0.5))
                        .query_as("p95", Self::COMMAND_DURATION_SECONDS.quantile(0.95))
                        .query_as("p99", Self::COMMAND_DURATION_SECONDS.quantile(0.99)),
                )
                .panel(
                    Panel::timeseries("Redis client errors by kind")
                        .query(Self::ERRORS.rate().by([ErrorLabels::KIND]))
                        .stacked(),
                )
                .panel(
                    Panel::timeseries("Redis commands in flight")
                        .query(Self::COMMANDS_IN_FLIGHT.value()),
                )
                .panel(
                    Panel::timeseries("Redis client connections by state")
                        .description(
                            "reconnecting: the last command found the connection broken or refused, and none has got a reply since.",
                        )
                        .query(
                            Self::CONNECTIONS
                                .value()
                                .by([ConnectionStateLabels::STATE]),
                        )
                        .stacked(),
                )
                .panel(
                    Panel::timeseries("Redis client reconnects")
                        .query(Self::RECONNECTS.rate().by_instance()),
                ),
        ]
    }

    /// `RedisClientReconnecting` (warning): an instance's Redis connections broke and came
    /// back more than twice in 15 minutes — a flapping network, a restarting server, or
    /// something closing idle connections; each break fails the commands under way.
    fn alerts() -> Vec<Alert> {
        vec![
            Alert::warning(
                "RedisClientReconnecting",
                Self::RECONNECTS
                    .increase_over(RECONNECT_WINDOW)
                    .above(Count(RECONNECTS_THRESHOLD)),
            )
            .for_(minutes(5))
            .summary("Redis connections of {{ $labels.instance }} keep reconnecting")
            .description(
                "The Redis client of {{ $labels.instance }} reconnected more than {threshold} times in 15 minutes, for {for}: its connections keep breaking (network, server restarts, or idle connections being closed), and the commands in flight each time fail.",
            )
            .diagnosis("A restarting Redis, a flapping network or a server timeout closing idle connections breaks them; the Redis log and the client's errors tell which.")
            .mitigation("Stabilise the network or server, or set Redis' `timeout` above the client's idle time."),
        ]
    }
}

/// A "Cache" row: hit ratio by cache, hits and misses, p95 operation time by operation,
/// and errors (fallbacks to compute) by operation.
impl Observe for CacheMetrics {
    fn service() -> &'static str {
        "cache"
    }

    fn rows() -> Vec<Row> {
        let hits = || Self::HITS.rate().by([CacheLabels::CACHE]);
        let misses = || Self::MISSES.rate().by([CacheLabels::CACHE]);
        vec![
            Row::new("Cache")
                .panel(
                    Panel::timeseries("Cache hit ratio by cache")
                        .query(ratio(hits(), hits().plus(misses()))),
                )
                .panel(
                    Panel::timeseries("Cache hits and misses by cache")
                        .query_as("{{cache}} hits", hits())
                        .query_as("{{cache}} misses", misses()),
                )
                .panel(
                    Panel::timeseries("Cache operation p95 by operation").query(
                        Self::OPERATION_DURATION_SECONDS
                            .quantile(0.95)
                            .by([CacheOperationLabels::OPERATION]),
                    ),
                )
                .panel(
                    Panel::timeseries("Cache errors by operation")
                        .description("Failed cache operations; the value was computed instead.")
                        .query(Self::ERRORS.rate().by([CacheOperationLabels::OPERATION]))
                        .stacked(),
                ),
        ]
    }
}

// Found by generators that read the application's registry
// (`Generator::observe_registered`), so applications need not list these sets again.
fiko_dashboards::observed!(RedisMetrics, CacheMetrics);

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
                .explains_service()
                .summary("The Redis server behind {{ $labels.instance }} is down")
                .description("redis_exporter at {{ $labels.instance }} answers but cannot reach its Redis server (redis_up == 0) for {for}: the server is down or unreachable, the exporter is fine.")
                .diagnosis("The Redis process crashed, was OOM-killed or is refusing the exporter's connection; its log and `systemctl status` tell which.")
                .mitigation("Restart redis-server; when memory is the cause, raise its limit or set maxmemory with an eviction policy."),
            Alert::critical(
                "RedisExporterDown",
                raw_condition("absent(redis_up)"),
            )
            .for_(minutes(2))
            .summary("No redis_exporter reports: the state of Redis is unknown")
            .description("No series `redis_up` for {for}: redis_exporter itself is down or not scraped, so nothing says whether the Redis server is up. The TargetDown or TargetMissing alert of redis_exporter's job says which of the two.")
            .diagnosis("The redis_exporter process stopped, or its scrape job was removed or renamed.")
            .mitigation("Restart redis_exporter and check that Prometheus' targets page lists its job as up.")
            .tested_with(
                AlertTest::new()
                    .firing("redis_memory_used_bytes{job=\"redis\",instance=\"redis-exporter:9121\"}", "1x20")
                    .silent("redis_up{job=\"redis\",instance=\"redis-exporter:9121\"}", "1x20"),
            ),
            Alert::warning(
                "RedisRejectedConnections",
                Self::REJECTED_CONNECTIONS_TOTAL.increase().above(Count(10.0)),
            )
            .for_(minutes(5))
            .summary("Redis rejects connections on {{ $labels.instance }}")
            .description("Redis at {{ $labels.instance }} rejected more than {threshold} client connections in 5 minutes, for {for} (maxclients reached): clients leak connections or maxclients is too low.")
            .diagnosis("A client that opens a connection per request, or a pool sized above Redis' maxclients, exhausts the connection slots.")
            .mitigation("Find the client holding the most connections (`CLIENT LIST`), fix its pooling, or raise maxclients."),
            Alert::warning(
                "RedisHighMemoryUsage",
                ratio(Self::MEMORY_USED_BYTES.value(), Self::MEMORY_MAX_BYTES.value())
                    .above(Percent(90.0)),
            )
            .for_(minutes(5))
            .summary("Redis memory above {threshold} of maxmemory on {{ $labels.instance }}")
            .description("Redis at {{ $labels.instance }} uses more than {threshold} of its maxmemory for {for}; evictions or OOM errors follow. Silent when maxmemory is not set.")
            .diagnosis("Keys without a TTL, or a larger working set than planned, fill the memory; `redis-cli --bigkeys` finds the biggest.")
            .mitigation("Give the keys a TTL, pick an eviction policy, or raise maxmemory."),
        ]
    }
}
