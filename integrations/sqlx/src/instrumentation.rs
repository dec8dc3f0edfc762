//! One registry's database metrics, and the pools that record into them.

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock, Mutex, PoisonError, Weak};
use std::time::Duration;

use fiko_metrics::{MetricSet, Refreshing, Registry, RegistryError};
use sqlx::Pool;
use sqlx::database::Database;

use crate::executors::{InstrumentedPool, Shared};
use crate::metrics::{
    AcquireErrorLabels, ConnectionState, DbMetrics, DbPoolMetrics, PoolLabel, PoolStateLabels,
    QueryErrorKind,
};
use crate::record::Recorder;

/// How one pool is instrumented: its name (the `pool` label), slow-query threshold and,
/// optionally, a query timeout.
///
/// ```
/// use std::time::Duration;
/// use fiko_metrics_sqlx::PoolConfig;
///
/// let config = PoolConfig::named("replica").slow_threshold(Duration::from_millis(250));
/// assert_eq!(config.name(), "replica");
/// assert_eq!(PoolConfig::default().name(), "default");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolConfig {
    name: &'static str,
    slow_threshold: Duration,
    query_timeout: Option<Duration>,
}

impl PoolConfig {
    /// The slow-query threshold unless set: one second.
    pub const DEFAULT_SLOW_THRESHOLD: Duration = Duration::from_secs(1);

    /// A pool named `name` (e.g. `primary`, `replica`), with the default threshold.
    pub const fn named(name: &'static str) -> Self {
        Self {
            name,
            slow_threshold: Self::DEFAULT_SLOW_THRESHOLD,
            query_timeout: None,
        }
    }

    /// Queries taking at least `threshold` count in `fiko_db_slow_queries_total`.
    pub const fn slow_threshold(mut self, threshold: Duration) -> Self {
        self.slow_threshold = threshold;
        self
    }

    /// Every query (and `BEGIN`, `COMMIT`, `ROLLBACK`) run through the instrumented pool,
    /// its connections and transactions fails with an I/O `TimedOut` error, counted as
    /// `kind="timeout"`, if the server has not answered within `limit` (for a stream: has
    /// not sent its last row). The wait for a pool connection is bounded by the pool's own
    /// acquire timeout, not by this.
    ///
    /// This is what keeps a hung server — stopped, or unreachable without the connection
    /// being reset — from holding callers forever: PostgreSQL's `statement_timeout` is
    /// enforced by the server, so it cannot fire when the server itself does not run. The
    /// connection of a timed-out query is left mid-statement; sqlx tests it before it
    /// returns to the pool. Needs a Tokio runtime with timers, as sqlx's own acquire
    /// timeout does. Unbounded unless set.
    pub const fn query_timeout(mut self, limit: Duration) -> Self {
        self.query_timeout = Some(limit);
        self
    }

    /// The pool's name.
    pub const fn name(&self) -> &'static str {
        self.name
    }
}

impl Default for PoolConfig {
    /// A pool named `default` with a one-second slow-query threshold.
    fn default() -> Self {
        Self::named("default")
    }
}

/// The database metrics of one registry, and the pools recording into them.
///
/// Register it once per registry (or use [`global`](Self::global)), then instrument each
/// pool with [`instrument`](Self::instrument). The pool gauges are read from every live
/// instrumented pool at each scrape.
#[derive(Clone, Debug)]
pub struct Instrumentation {
    metrics: Arc<DbMetrics>,
    pool_metrics: Arc<DbPoolMetrics>,
    pools: Arc<Mutex<Vec<PoolEntry>>>,
}

#[derive(Debug)]
struct PoolEntry {
    name: &'static str,
    probe: Weak<dyn PoolProbe>,
}

/// A pool the gauges can read, whatever its database.
trait PoolProbe: Send + Sync + std::fmt::Debug {
    /// Open connections, idle connections, maximum connections.
    fn sample(&self) -> PoolSample;
}

#[derive(Clone, Copy, Debug, Default)]
struct PoolSample {
    size: i64,
    idle: i64,
    max: i64,
}

impl<DB: Database> PoolProbe for Shared<DB> {
    fn sample(&self) -> PoolSample {
        if self.pool.is_closed() {
            return PoolSample::default();
        }
        // Two separate reads: clamp so that a connection moving between them never shows
        // more idle connections than open ones.
        let size = i64::from(self.pool.size());
        let idle = i64::try_from(self.pool.num_idle())
            .unwrap_or(i64::MAX)
            .min(size);
        PoolSample {
            size,
            idle,
            max: i64::from(self.pool.options().get_max_connections()),
        }
    }
}

impl<DB: Database> std::fmt::Debug for Shared<DB> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("pool", &self.recorder.pool)
            .finish_non_exhaustive()
    }
}

impl Instrumentation {
    /// Registers [`DbMetrics`] and [`DbPoolMetrics`] in `registry`; fails if they are
    /// registered there already (keep and clone the first `Instrumentation` instead).
    pub fn register(registry: &Registry) -> Result<Self, RegistryError> {
        let metrics = Arc::new(DbMetrics::new());
        registry.register_shared(metrics.clone())?;
        Self::with_pool_gauges(registry, metrics)
    }

    /// Records into [`DbMetrics::global`] (the default registry, shared with anyone else
    /// using that set) and exposes the pool gauges there too.
    ///
    /// If the default registry already holds other metrics with these names, the pool
    /// gauges are recorded but not exposed.
    pub fn global() -> &'static Self {
        // The query metrics are the runtime's global set; what is kept here is the one
        // process-wide list of pools the gauges read, and their registration.
        static GLOBAL: LazyLock<Instrumentation> = LazyLock::new(|| {
            let metrics = DbMetrics::shared();
            let registry = fiko_metrics::default_registry();
            Instrumentation::with_pool_gauges(registry, metrics.clone()).unwrap_or_else(|_| {
                Instrumentation {
                    metrics,
                    pool_metrics: Arc::new(DbPoolMetrics::new()),
                    pools: Arc::default(),
                }
            })
        });
        &GLOBAL
    }

    /// Registers the pool gauges, refreshed from this instrumentation's pools.
    fn with_pool_gauges(
        registry: &Registry,
        metrics: Arc<DbMetrics>,
    ) -> Result<Self, RegistryError> {
        let instrumentation = Self {
            metrics,
            pool_metrics: Arc::new(DbPoolMetrics::new()),
            pools: Arc::default(),
        };
        let pools = instrumentation.pools.clone();
        registry.register_collector(Arc::new(Refreshing::new(
            instrumentation.pool_metrics.clone(),
            move |gauges: &DbPoolMetrics| refresh(gauges, &pools),
        )))?;
        Ok(instrumentation)
    }

    /// The query metrics, to read them (tests, health checks).
    pub fn metrics(&self) -> &DbMetrics {
        &self.metrics
    }

    /// The pool gauges as of the last scrape.
    pub fn pool_metrics(&self) -> &DbPoolMetrics {
        &self.pool_metrics
    }

    /// Wraps `pool` so that its queries are recorded, under `config`'s name and threshold.
    ///
    /// The pool gauges follow the pool for as long as the returned `InstrumentedPool` (or a
    /// clone) lives, and read zero after. Pools sharing a name share their series (the
    /// gauges add up), so instrument each pool once.
    ///
    /// The pool's own checkout failures (`kind="pool_timeout"` and `"pool_closed"` of
    /// `fiko_db_pool_acquire_errors_total`) are exposed at zero from now on, so their
    /// panel reads 0 rather than "No data" and the first failure is an increase Prometheus
    /// sees (a counter that appears at 1 has no earlier sample to rise from).
    pub fn instrument<DB: Database>(
        &self,
        pool: Pool<DB>,
        config: PoolConfig,
    ) -> InstrumentedPool<DB> {
        for kind in [QueryErrorKind::PoolTimeout, QueryErrorKind::PoolClosed] {
            self.metrics
                .pool_acquire_errors
                .get_or_create(&AcquireErrorLabels {
                    pool: config.name,
                    kind,
                });
        }
        let shared = Arc::new(Shared {
            pool,
            recorder: Arc::new(Recorder {
                metrics: self.metrics.clone(),
                pool: config.name,
                slow_threshold: config.slow_threshold,
                query_timeout: config.query_timeout,
                series: Default::default(),
                clock: quanta::Clock::new(),
            }),
        });
        let probe: Arc<dyn PoolProbe> = shared.clone();
        self.pools
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(PoolEntry {
                name: config.name,
                probe: Arc::downgrade(&probe),
            });
        InstrumentedPool::from_shared(shared)
    }
}

/// Sets the pool gauges from every live pool; a pool that was dropped reads as empty.
fn refresh(metrics: &DbPoolMetrics, pools: &Mutex<Vec<PoolEntry>>) {
    let mut totals: BTreeMap<&'static str, PoolSample> = BTreeMap::new();
    pools
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .retain(|entry| {
            let total = totals.entry(entry.name).or_default();
            let Some(probe) = entry.probe.upgrade() else {
                return false;
            };
            let sample = probe.sample();
            total.size += sample.size;
            total.idle += sample.idle;
            total.max += sample.max;
            true
        });
    for (pool, total) in totals {
        let state = |state| PoolStateLabels { pool, state };
        metrics
            .pool_connections
            .get_or_create(&state(ConnectionState::Idle))
            .set(total.idle);
        metrics
            .pool_connections
            .get_or_create(&state(ConnectionState::InUse))
            .set(total.size - total.idle);
        metrics
            .pool_max_connections
            .get_or_create(&PoolLabel { pool })
            .set(total.max);
    }
}

/// Instruments `pool` into [`Instrumentation::global`] (the default registry), named
/// `default` with a one-second slow-query threshold.
pub fn instrument<DB: Database>(pool: Pool<DB>) -> InstrumentedPool<DB> {
    Instrumentation::global().instrument(pool, PoolConfig::default())
}
