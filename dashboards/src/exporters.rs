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
                .explains_service()
                .summary("The PostgreSQL server behind {{ $labels.instance }} is down")
                .description("postgres_exporter at {{ $labels.instance }} answers but cannot connect to PostgreSQL (pg_up == 0) for {for}: the database server is down or refuses connections, the exporter is fine.")
                .diagnosis("PostgreSQL stopped, ran out of disk or connection slots, or the exporter's credentials were changed; the server log names it.")
                .mitigation("Restart PostgreSQL or free the disk; when connections ran out, find the client holding them in pg_stat_activity."),
            Alert::critical(
                "PostgresExporterDown",
                raw_condition("absent(pg_up)"),
            )
            .for_(minutes(2))
            .summary("No postgres_exporter reports: the state of PostgreSQL is unknown")
            .description("No series `pg_up` for {for}: postgres_exporter itself is down or not scraped, so nothing says whether PostgreSQL is up. The TargetDown or TargetMissing alert of postgres_exporter's job says which of the two.")
            .diagnosis("The postgres_exporter process stopped, or its scrape job was removed or renamed.")
            .mitigation("Restart postgres_exporter and check that Prometheus' targets page lists its job as up.")
            .tested_with(
                AlertTest::new()
                    .firing("pg_stat_activity_count{job=\"postgres\",instance=\"postgres-exporter:9187\"}", "1x20")
                    .silent("pg_up{job=\"postgres\",instance=\"postgres-exporter:9187\"}", "1x20"),
            ),
            Alert::warning(
                "PostgresHighConnections",
                Self::STAT_ACTIVITY_COUNT.value().above(Count(80.0)),
            )
            .for_(minutes(5))
            .summary("PostgreSQL has more than {threshold} connections on {{ $labels.instance }}")
            .description("PostgreSQL at {{ $labels.instance }} has had more than {threshold} connections for {for}; the pool or max_connections may run out.")
            .diagnosis("Connections idle in transaction, or more application instances times their pool size than max_connections, pile up.")
            .mitigation("Terminate connections idle in transaction and size the pools so their sum stays under max_connections."),
            Alert::warning(
                "PostgresDeadlocks",
                Self::STAT_DATABASE_DEADLOCKS
                    .increase()
                    .by([PgDatabaseLabels::DATNAME])
                    .above(Count(0.0)),
            )
            .for_(minutes(1))
            .summary("Deadlocks in database {{ $labels.datname }} on {{ $labels.instance }}")
            .description("PostgreSQL at {{ $labels.instance }} detected deadlocks in {{ $labels.datname }} in the last rule window.")
            .diagnosis("Two transactions lock the same rows in opposite orders; the PostgreSQL log prints both statements of each deadlock.")
            .mitigation("Make the transactions take their locks in one order, or shorten them."),
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

/// Prometheus' own metrics that say whether the monitoring works: rule evaluation,
/// notification delivery to Alertmanager, ingestion. Scrape Prometheus as a job (bind it
/// with `Generator::serves`) for its alerts to see them.
#[derive(MetricSet)]
#[metric_set(namespace = "prometheus", external)]
pub struct PrometheusServer {
    /// The total number of rule evaluation failures.
    pub rule_evaluation_failures_total: Family<RuleGroupLabels, Counter>,
    /// The total number of rule group evaluations missed due to slow rule group evaluation.
    pub rule_group_iterations_missed_total: Family<RuleGroupLabels, Counter>,
    /// Total number of errors sending alert notifications.
    pub notifications_errors_total: Family<AlertmanagerUrlLabels, Counter>,
    /// Total number of alerts sent.
    pub notifications_sent_total: Family<AlertmanagerUrlLabels, Counter>,
    /// Total number of alerts dropped due to errors when sending to Alertmanager.
    pub notifications_dropped_total: Counter,
    /// Total number of appended samples.
    pub tsdb_head_samples_appended_total: Counter,
    /// Whether the last configuration reload attempt was successful.
    pub config_last_reload_successful: Gauge,
}

/// The `rule_group` label of Prometheus' rule-evaluation metrics (`FILE;GROUP`).
#[derive(LabelSet)]
pub struct RuleGroupLabels {
    /// The rule file and group, `alerts.yml;fiko.app@0a0cbeae`.
    pub rule_group: String,
}

/// The `alertmanager` label of Prometheus' notification metrics (the Alertmanager's URL).
#[derive(LabelSet)]
pub struct AlertmanagerUrlLabels {
    /// The Alertmanager's API URL.
    pub alertmanager: String,
}

impl Observe for PrometheusServer {
    fn service() -> &'static str {
        "prometheus"
    }

    fn alerts() -> Vec<Alert> {
        vec![
            Alert::critical(
                "PrometheusRuleEvaluationFailures",
                Self::RULE_EVALUATION_FAILURES_TOTAL
                    .increase()
                    .by([RuleGroupLabels::RULE_GROUP])
                    .above(Count(0.0)),
            )
            .for_(minutes(5))
            .summary("Prometheus fails to evaluate rule group {{ $labels.rule_group }}")
            .description("Rules of {{ $labels.rule_group }} failed to evaluate in the last 5 minutes, for {for}: their alerts cannot fire and their recordings have holes.")
            .diagnosis("A rule whose query errors (a many-to-many match, a changed label) fails on every evaluation; Prometheus' log and its rules page show the error.")
            .mitigation("Fix or revert the rule named on Prometheus' rules page and reload its configuration."),
            Alert::warning(
                "PrometheusMissedRuleEvaluations",
                Self::RULE_GROUP_ITERATIONS_MISSED_TOTAL
                    .increase()
                    .by([RuleGroupLabels::RULE_GROUP])
                    .above(Count(0.0)),
            )
            .for_(minutes(15))
            .summary("Prometheus misses evaluations of {{ $labels.rule_group }}")
            .description("An evaluation of {{ $labels.rule_group }} took longer than its interval, so the next one was skipped, for {for}: its alerts react late.")
            .diagnosis("An expensive query in the group, or an overloaded Prometheus, stretches each evaluation past the interval.")
            .mitigation("Record the expensive part of the slow rules, lengthen the group's interval, or give Prometheus more CPU."),
            Alert::warning(
                "PrometheusNotificationErrors",
                Self::NOTIFICATIONS_ERRORS_TOTAL
                    .increase()
                    .by([AlertmanagerUrlLabels::ALERTMANAGER])
                    .above(Count(0.0)),
            )
            .for_(minutes(10))
            .summary("Prometheus cannot send alerts to {{ $labels.alertmanager }}")
            .description("Sending alerts from Prometheus to the Alertmanager at {{ $labels.alertmanager }} failed in the last 5 minutes, for {for}: alerts may never reach anyone.")
            .diagnosis("The Alertmanager is down or unreachable from Prometheus, or its address in `alerting.alertmanagers` is wrong.")
            .mitigation("Bring the Alertmanager back, or correct its address in prometheus.yml and reload."),
            Alert::warning(
                "PrometheusNotificationsDropped",
                Self::NOTIFICATIONS_DROPPED_TOTAL.increase().above(Count(0.0)),
            )
            .for_(minutes(10))
            .summary("Prometheus drops alerts it cannot deliver")
            .description("Prometheus on {{ $labels.instance }} dropped alert notifications in the last 5 minutes, for {for}, after failing to deliver them: those alerts are lost.")
            .diagnosis("Every configured Alertmanager failed, or the notification queue overflowed during a storm of alerts.")
            .mitigation("Restore the Alertmanagers, then look at Prometheus' alerts page for what was firing meanwhile."),
            Alert::critical(
                "PrometheusNotIngesting",
                Self::TSDB_HEAD_SAMPLES_APPENDED_TOTAL
                    .rate()
                    .below(PerSecond(0.001)),
            )
            .for_(minutes(10))
            .summary("Prometheus on {{ $labels.instance }} stores no samples")
            .description("Prometheus on {{ $labels.instance }} has appended almost no samples for {for}: scrapes fail or its storage is stuck, and every alert on application metrics is blind.")
            .diagnosis("A full disk, a corrupted head block or a configuration without reachable targets stop ingestion; Prometheus' log says which.")
            .mitigation("Free the storage volume or restart Prometheus; check its targets page once it is back."),
            Alert::warning(
                "PrometheusConfigReloadFailed",
                Self::CONFIG_LAST_RELOAD_SUCCESSFUL.value().equals(Count(0.0)),
            )
            .for_(minutes(10))
            .summary("Prometheus on {{ $labels.instance }} could not load its configuration")
            .description("The last configuration reload of Prometheus on {{ $labels.instance }} failed, for {for}: it still runs the previous rules and scrape jobs.")
            .diagnosis("The new prometheus.yml or a rule file does not parse; `promtool check config` names the line.")
            .mitigation("Correct the file `promtool check config` reports and reload again."),
        ]
    }
}

/// Alertmanager's own metrics: whether notifications reach their receivers.
#[derive(MetricSet)]
#[metric_set(namespace = "alertmanager", external)]
pub struct AlertmanagerServer {
    /// The total number of failed notifications.
    pub notifications_failed_total: Family<IntegrationLabels, Counter>,
    /// The total number of attempted notifications.
    pub notifications_total: Family<IntegrationLabels, Counter>,
    /// Whether the last configuration reload attempt was successful.
    pub config_last_reload_successful: Gauge,
}

/// The `integration` label of Alertmanager's notification metrics.
#[derive(LabelSet)]
pub struct IntegrationLabels {
    /// The receiver integration: `webhook`, `slack`, `pagerduty`, `email`...
    pub integration: String,
}

impl Observe for AlertmanagerServer {
    fn service() -> &'static str {
        "alertmanager"
    }

    fn alerts() -> Vec<Alert> {
        vec![
            Alert::critical(
                "AlertmanagerNotificationsFailing",
                Self::NOTIFICATIONS_FAILED_TOTAL
                    .increase()
                    .by([IntegrationLabels::INTEGRATION])
                    .above(Count(0.0)),
            )
            .for_(minutes(5))
            .summary("Alertmanager fails to deliver {{ $labels.integration }} notifications")
            .description("Alertmanager on {{ $labels.instance }} failed to deliver notifications through {{ $labels.integration }} in the last 5 minutes, for {for}: people are not told about firing alerts.")
            .diagnosis("An expired token or webhook credential, a receiver service outage or blocked egress makes every attempt through the integration fail; Alertmanager's log has the receiver's answer.")
            .mitigation("Renew the integration's secret file or restore the route to the receiver; meanwhile watch Alertmanager's UI for what is firing."),
            Alert::warning(
                "AlertmanagerConfigReloadFailed",
                Self::CONFIG_LAST_RELOAD_SUCCESSFUL.value().equals(Count(0.0)),
            )
            .for_(minutes(10))
            .summary("Alertmanager on {{ $labels.instance }} could not load its configuration")
            .description("The last configuration reload of Alertmanager on {{ $labels.instance }} failed, for {for}: it routes with the previous receivers and inhibitions.")
            .diagnosis("The new alertmanager.yml or a template does not parse; `amtool check-config` names the mistake.")
            .mitigation("Correct what `amtool check-config` reports and reload Alertmanager."),
        ]
    }
}
