//! [`Cache`]: get-or-compute with a TTL, recording hits, misses and operation durations.

use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use fiko_metrics::labels::closed_len;
use fiko_metrics::{Counter, Histogram, LabelValue, MetricSet, SeriesId};
use redis::aio::ConnectionLike;
use redis::{FromRedisValue, RedisError, ToRedisArgs};

use crate::metrics::{CacheLabels, CacheMetrics, CacheOperation, CacheOperationLabels};

/// A cache in Redis: values are stored with `SET key value PX ttl` and read with `GET`.
///
/// [`get_or_compute`](Cache::get_or_compute) never fails because of Redis: when Redis is
/// down or answers with an error, the lookup counts as a miss and an error, the value is
/// computed and returned, and storing it is attempted (and counted as an error if it
/// fails). Each Redis operation of the cache is bounded by [`Cache::timeout`] (250 ms by
/// default): a `ConnectionManager` whose server died makes callers wait for its reconnect
/// attempts (seconds with its default retries), which a cache must not do.
///
/// Values are any type the redis crate converts both ways (`String`, `Vec<u8>`, integers,
/// ...); serialise richer values to one of those. Pass an [`Instrumented`](crate::Instrumented)
/// connection to also see the cache's commands in `fiko_redis_*`.
///
/// ```
/// use std::time::Duration;
/// use fiko_metrics_redis::{Cache, Instrumented};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = fiko_testkit::Redis::start()?;
/// # let url = server.url();
/// let client = redis::Client::open(url)?;
/// let conn = redis::aio::ConnectionManager::new(client).await?;
/// let profiles = Cache::new(Instrumented::new(conn)).named("profiles");
///
/// let load = || async { Ok::<_, std::io::Error>(String::from("Ada")) };
/// let first = profiles.get_or_compute("profile:1", Duration::from_secs(60), load).await?; // miss
/// let again = profiles.get_or_compute("profile:1", Duration::from_secs(60), load).await?; // hit
/// assert_eq!((first.as_str(), again.as_str()), ("Ada", "Ada"));
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Cache<C> {
    conn: C,
    recorder: CacheRecorder,
    timeout: Duration,
}

/// Records one named cache into [`CacheMetrics`]: hits, misses, operation durations and
/// errors. It is what [`Cache`] records with, and a cache that is not Redis (an in-process
/// map, moka) records through one too, so every cache shares the metrics, alerts and
/// dashboard panels. Each series is looked up on its first use and then recorded by
/// [`SeriesId`]: no label rendering or hashing per operation. Clones share those series.
///
/// ```
/// use std::time::Instant;
/// use fiko_metrics::{MetricSet, Registry};
/// use fiko_metrics_redis::{CacheMetrics, CacheOperation, CacheRecorder};
///
/// let registry = Registry::new();
/// let sessions = CacheRecorder::new(CacheMetrics::register(&registry)?, "sessions");
///
/// let started = Instant::now();
/// // ... look the key up in the application's own map ...
/// sessions.observe(CacheOperation::Get, started);
/// sessions.hit();
/// assert!(registry.encode(fiko_metrics::Format::Prometheus)
///     .contains(r#"fiko_cache_hits_total{cache="sessions"} 1"#));
/// # Ok::<(), fiko_metrics::RegistryError>(())
/// ```
#[derive(Clone, Debug)]
pub struct CacheRecorder {
    name: Arc<str>,
    metrics: Arc<CacheMetrics>,
    series: Arc<CacheSeries>,
}

const OPERATIONS: usize = closed_len::<CacheOperation>();

/// The series of one cache name in its metrics, each looked up on its first use and then
/// recorded by [`SeriesId`]: no label rendering or hashing per operation. Shared by the
/// clones of a [`Cache`]; renaming the cache starts a new one.
#[derive(Debug, Default)]
struct CacheSeries {
    hits: OnceLock<SeriesId<CacheLabels, Counter>>,
    misses: OnceLock<SeriesId<CacheLabels, Counter>>,
    durations: [OnceLock<SeriesId<CacheOperationLabels, Histogram>>; OPERATIONS],
    errors: [OnceLock<SeriesId<CacheOperationLabels, Counter>>; OPERATIONS],
}

/// The default bound on one Redis operation of a [`Cache`].
pub const DEFAULT_CACHE_TIMEOUT: Duration = Duration::from_millis(250);

impl<C: ConnectionLike + Clone + Send + Sync> Cache<C> {
    /// A cache named `default`, recording into the process-wide [`CacheMetrics`].
    pub fn new(conn: C) -> Self {
        Self::with_metrics(conn, CacheMetrics::shared())
    }

    /// A cache named `default`, recording into `metrics`.
    pub fn with_metrics(conn: C, metrics: Arc<CacheMetrics>) -> Self {
        Cache {
            conn,
            recorder: CacheRecorder::new(metrics, "default"),
            timeout: DEFAULT_CACHE_TIMEOUT,
        }
    }

    /// Bounds each Redis operation (`GET`, `SET`, `DEL`) of the cache; past it the
    /// operation fails with a timeout error (and `get_or_compute` computes). Default
    /// [`DEFAULT_CACHE_TIMEOUT`].
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Names the cache: its `cache` label. Keep names few and fixed (at most 100 series).
    pub fn named(mut self, name: impl Into<Arc<str>>) -> Self {
        self.recorder = CacheRecorder::new(self.recorder.metrics, name);
        self
    }

    /// The cache's name.
    pub fn name(&self) -> &str {
        self.recorder.name()
    }

    /// The metrics this cache records into.
    pub fn metrics(&self) -> &Arc<CacheMetrics> {
        self.recorder.metrics()
    }

    /// The cached value of `key`, or `compute()`'s value, which is then stored for `ttl`
    /// (at least 1 ms). Redis failures are recorded and fall back to `compute`; only
    /// `compute`'s own error is returned.
    pub async fn get_or_compute<T, E, F, Fut>(
        &self,
        key: &str,
        ttl: Duration,
        compute: F,
    ) -> Result<T, E>
    where
        T: FromRedisValue + ToRedisArgs + Send + Sync,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        if let Ok(Some(value)) = self.get::<T>(key).await {
            return Ok(value);
        }
        let start = Instant::now();
        let computed = compute().await;
        self.recorder.observe(CacheOperation::Compute, start);
        let value = computed?;
        // A failed store is recorded by `set`; the caller still gets its value.
        let _ = self.set(key, &value, ttl).await;
        Ok(value)
    }

    /// Looks `key` up, counting a hit or a miss. An error (Redis down, or a value that does
    /// not decode as `T`) counts as a miss and an error and is returned.
    pub async fn get<T: FromRedisValue>(&self, key: &str) -> Result<Option<T>, RedisError> {
        let start = Instant::now();
        let mut conn = self.conn.clone();
        let result: Result<Option<T>, RedisError> = self
            .bounded(redis::cmd("GET").arg(key).query_async(&mut conn))
            .await;
        self.recorder.observe(CacheOperation::Get, start);
        match &result {
            Ok(Some(_)) => self.recorder.hit(),
            Ok(None) | Err(_) => self.recorder.miss(),
        }
        if result.is_err() {
            self.recorder.error(CacheOperation::Get);
        }
        result
    }

    /// Stores `value` under `key` for `ttl` (at least 1 ms).
    pub async fn set<T: ToRedisArgs + Send + Sync>(
        &self,
        key: &str,
        value: &T,
        ttl: Duration,
    ) -> Result<(), RedisError> {
        let start = Instant::now();
        let mut conn = self.conn.clone();
        let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        let mut set = redis::cmd("SET");
        set.arg(key).arg(value).arg("PX").arg(millis);
        let result = self.bounded(set.query_async::<()>(&mut conn)).await;
        self.recorder.observe(CacheOperation::Set, start);
        if result.is_err() {
            self.recorder.error(CacheOperation::Set);
        }
        result
    }

    /// Removes `key`; returns whether it was there.
    pub async fn delete(&self, key: &str) -> Result<bool, RedisError> {
        let start = Instant::now();
        let mut conn = self.conn.clone();
        let result = self
            .bounded(redis::cmd("DEL").arg(key).query_async::<u64>(&mut conn))
            .await;
        self.recorder.observe(CacheOperation::Delete, start);
        if result.is_err() {
            self.recorder.error(CacheOperation::Delete);
        }
        result.map(|removed| removed > 0)
    }

    async fn bounded<T>(
        &self,
        operation: impl Future<Output = Result<T, RedisError>>,
    ) -> Result<T, RedisError> {
        match tokio::time::timeout(self.timeout, operation).await {
            Ok(result) => result,
            Err(_elapsed) => Err(RedisError::from(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "cache operation timed out",
            ))),
        }
    }
}

impl CacheRecorder {
    /// Records the cache `name` (its `cache` label; keep names few and fixed, at most 100
    /// series) into `metrics`.
    pub fn new(metrics: Arc<CacheMetrics>, name: impl Into<Arc<str>>) -> Self {
        CacheRecorder {
            name: name.into(),
            metrics,
            series: Arc::default(),
        }
    }

    /// The cache's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The metrics it records into.
    pub fn metrics(&self) -> &Arc<CacheMetrics> {
        &self.metrics
    }

    /// Counts a lookup that found its key.
    pub fn hit(&self) {
        self.by_name(&self.metrics.hits, &self.series.hits).inc();
    }

    /// Counts a lookup that did not (or failed).
    pub fn miss(&self) {
        self.by_name(&self.metrics.misses, &self.series.misses)
            .inc();
    }

    /// Records how long `operation`, started at `start`, took.
    pub fn observe(&self, operation: CacheOperation, start: Instant) {
        let durations = &self.metrics.operation_duration_seconds;
        self.by_operation(durations, &self.series.durations, operation)
            .observe_since(start);
    }

    /// Counts a failed `operation`.
    pub fn error(&self, operation: CacheOperation) {
        self.by_operation(&self.metrics.errors, &self.series.errors, operation)
            .inc();
    }

    fn labels(&self, operation: CacheOperation) -> CacheOperationLabels {
        CacheOperationLabels {
            cache: self.name.clone(),
            operation,
        }
    }

    fn by_name<'a>(
        &self,
        family: &'a fiko_metrics::Family<CacheLabels, Counter>,
        id: &OnceLock<SeriesId<CacheLabels, Counter>>,
    ) -> &'a Counter {
        family.series(*id.get_or_init(|| {
            family.series_id(&CacheLabels {
                cache: self.name.clone(),
            })
        }))
    }

    fn by_operation<'a, M: fiko_metrics::Metric>(
        &self,
        family: &'a fiko_metrics::Family<CacheOperationLabels, M>,
        ids: &[OnceLock<SeriesId<CacheOperationLabels, M>>; OPERATIONS],
        operation: CacheOperation,
    ) -> &'a M {
        let lookup = || family.series_id(&self.labels(operation));
        // Every operation has a slot (the arrays have one per value).
        match ids.get(operation.index()) {
            Some(id) => family.series(*id.get_or_init(lookup)),
            None => family.series(lookup()),
        }
    }
}
