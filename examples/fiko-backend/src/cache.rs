//! The application cache: in-process by default, Redis when configured. Every operation
//! is bounded in time and records hits, misses, errors and its duration; a failing cache
//! is a miss, so the application keeps serving from the database.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use redis::AsyncCommands;
use redis::aio::ConnectionManager;

use crate::metrics::{
    CacheBackend, CacheLabels, CacheMetrics, CacheOperation, CacheOperationLabels,
};

/// How long one Redis operation may take before it counts as failed.
const OPERATION_TIMEOUT: Duration = Duration::from_millis(250);
/// How long start-up waits for Redis.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The in-process cache forgets the oldest half when it holds this many entries.
const MEMORY_CAPACITY: usize = 10_000;

/// Why Redis could not be reached at start-up.
#[derive(Debug, thiserror::Error)]
#[error("cannot connect to Redis at {url}: {reason}")]
pub struct CacheError {
    url: String,
    reason: String,
}

/// A cache of strings with a time to live.
#[derive(Clone)]
pub struct Cache {
    store: Store,
    metrics: Arc<CacheMetrics>,
}

#[derive(Clone)]
enum Store {
    Memory(Arc<Mutex<HashMap<String, (String, Instant)>>>),
    Redis(ConnectionManager),
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("backend", &self.backend())
            .finish_non_exhaustive()
    }
}

/// Opens a Redis connection manager (reconnects by itself), bounded in time.
pub async fn connect_redis(url: &str) -> Result<ConnectionManager, CacheError> {
    let failed = |reason: String| CacheError {
        url: url.to_owned(),
        reason,
    };
    let client = redis::Client::open(url).map_err(|e| failed(e.to_string()))?;
    let config = redis::aio::ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_response_timeout(Some(Duration::from_secs(2)))
        .set_number_of_retries(1);
    match tokio::time::timeout(
        CONNECT_TIMEOUT,
        client.get_connection_manager_with_config(config),
    )
    .await
    {
        Ok(Ok(manager)) => Ok(manager),
        Ok(Err(error)) => Err(failed(error.to_string())),
        Err(_) => Err(failed(format!("no answer within {CONNECT_TIMEOUT:?}"))),
    }
}

impl Cache {
    /// An in-process cache.
    pub fn memory(metrics: Arc<CacheMetrics>) -> Self {
        Self {
            store: Store::Memory(Arc::default()),
            metrics,
        }
    }

    /// A cache in Redis.
    pub fn redis(connection: ConnectionManager, metrics: Arc<CacheMetrics>) -> Self {
        Self {
            store: Store::Redis(connection),
            metrics,
        }
    }

    /// Where values live.
    pub fn backend(&self) -> CacheBackend {
        match self.store {
            Store::Memory(_) => CacheBackend::Memory,
            Store::Redis(_) => CacheBackend::Redis,
        }
    }

    fn timed<T>(
        &self,
        operation: CacheOperation,
        started: Instant,
        result: Result<T, String>,
    ) -> Option<T> {
        let labels = CacheOperationLabels {
            backend: self.backend(),
            operation,
        };
        self.metrics
            .operation_duration_seconds
            .get_or_create(&labels)
            .observe_since(started);
        match result {
            Ok(value) => Some(value),
            Err(_) => {
                self.metrics.errors.get_or_create(&labels).inc();
                None
            }
        }
    }

    /// The value under `key`; `None` on a miss or when the cache fails.
    pub async fn get(&self, key: &str) -> Option<String> {
        let started = Instant::now();
        let result = match &self.store {
            Store::Memory(map) => {
                let mut map = map.lock().unwrap_or_else(PoisonError::into_inner);
                let value = match map.get(key) {
                    Some((value, expires)) if *expires > Instant::now() => Some(value.clone()),
                    Some(_) => {
                        map.remove(key);
                        None
                    }
                    None => None,
                };
                Ok(value)
            }
            Store::Redis(connection) => {
                let mut connection = connection.clone();
                bounded(async move { connection.get::<_, Option<String>>(key).await }).await
            }
        };
        let found = self.timed(CacheOperation::Get, started, result).flatten();
        let labels = CacheLabels {
            backend: self.backend(),
        };
        match &found {
            Some(_) => self.metrics.hits.get_or_create(&labels).inc(),
            None => self.metrics.misses.get_or_create(&labels).inc(),
        }
        found
    }

    /// Stores `value` under `key` for `ttl`; a failure is counted and otherwise ignored.
    pub async fn set(&self, key: &str, value: &str, ttl: Duration) {
        let started = Instant::now();
        let result = match &self.store {
            Store::Memory(map) => {
                let mut map = map.lock().unwrap_or_else(PoisonError::into_inner);
                if map.len() >= MEMORY_CAPACITY {
                    let now = Instant::now();
                    map.retain(|_, (_, expires)| *expires > now);
                    if map.len() >= MEMORY_CAPACITY {
                        let drop: Vec<String> =
                            map.keys().take(MEMORY_CAPACITY / 2).cloned().collect();
                        for key in drop {
                            map.remove(&key);
                        }
                    }
                }
                map.insert(key.to_owned(), (value.to_owned(), Instant::now() + ttl));
                Ok(())
            }
            Store::Redis(connection) => {
                let mut connection = connection.clone();
                let seconds = ttl.as_secs().max(1);
                bounded(async move { connection.set_ex::<_, _, ()>(key, value, seconds).await })
                    .await
            }
        };
        self.timed(CacheOperation::Set, started, result);
    }

    /// Forgets `key`; a failure is counted and otherwise ignored.
    pub async fn delete(&self, key: &str) {
        let started = Instant::now();
        let result = match &self.store {
            Store::Memory(map) => {
                map.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(key);
                Ok(())
            }
            Store::Redis(connection) => {
                let mut connection = connection.clone();
                bounded(async move { connection.del::<_, ()>(key).await }).await
            }
        };
        self.timed(CacheOperation::Delete, started, result);
    }

    /// Whether the cache answers (the health check).
    pub async fn ping(&self) -> Result<(), String> {
        match &self.store {
            Store::Memory(_) => Ok(()),
            Store::Redis(connection) => {
                let mut connection = connection.clone();
                bounded(async move {
                    redis::cmd("PING")
                        .query_async::<String>(&mut connection)
                        .await
                })
                .await
                .map(drop)
            }
        }
    }
}

async fn bounded<T>(operation: impl Future<Output = redis::RedisResult<T>>) -> Result<T, String> {
    match tokio::time::timeout(OPERATION_TIMEOUT, operation).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err(format!("no answer within {OPERATION_TIMEOUT:?}")),
    }
}
