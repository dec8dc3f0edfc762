//! Bounds on what a client can make the server spend: Argon2 work (memory-hard: 19 MiB a
//! hash) and the rate of login and registration attempts per client address.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::StatusCode;
use axum::http::request::Parts;
use tokio::sync::Semaphore;

use crate::config::{AuthLimits, RateLimit};
use crate::error::ApiError;
use crate::password;

/// Runs password hashing with at most `concurrency` hashes at a time, on the blocking
/// pool, each in one of `concurrency` reused Argon2 memory blocks; a request waits for its
/// turn at most the queue timeout, then answers 503.
///
/// Without this bound, every concurrent login holds its own 19 MiB Argon2 block: 50 at
/// once took the process from 185 MB to 8.6 GB.
#[derive(Debug)]
pub struct HashGate {
    permits: Arc<Semaphore>,
    /// One memory block per permit: a permit holder always finds one.
    memory: Arc<Mutex<Vec<password::Memory>>>,
    queue_timeout: Duration,
}

impl HashGate {
    /// At most `concurrency` (at least 1) hashes at once, waiting at most `queue_timeout`.
    pub fn new(concurrency: usize, queue_timeout: Duration) -> Self {
        let concurrency = concurrency.max(1);
        Self {
            permits: Arc::new(Semaphore::new(concurrency)),
            // Allocated on first use, by the hash itself.
            memory: Arc::new(Mutex::new(vec![password::Memory::new(); concurrency])),
            queue_timeout,
        }
    }

    /// Runs `work` with Argon2 memory on the blocking pool once a permit is free; 503 with
    /// `Retry-After` when none was free within the queue timeout. The permit moves into
    /// the blocking task, so a client that hangs up does not free it before the hash is
    /// done.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut password::Memory) -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let permit =
            match tokio::time::timeout(self.queue_timeout, self.permits.clone().acquire_owned())
                .await
            {
                Ok(Ok(permit)) => permit,
                // The semaphore is never closed; a timeout is the busy case.
                Ok(Err(_)) | Err(_) => {
                    return Err(ApiError::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "too many sign-ins at once: try again shortly",
                    )
                    .retry_after(self.queue_timeout.as_secs_f64().ceil() as u64));
                }
            };
        let pool = self.memory.clone();
        tokio::task::spawn_blocking(move || {
            let take = || pool.lock().unwrap_or_else(PoisonError::into_inner).pop();
            // There are as many blocks as permits; `unwrap_or_default` only guards
            // against a block lost to a panic in `work`.
            let mut memory = take().unwrap_or_default();
            let result = work(&mut memory);
            pool.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(memory);
            drop(permit);
            result
        })
        .await
        .map_err(ApiError::internal)
    }
}

/// A token bucket per client address for login and registration attempts: `burst`
/// attempts at once, refilled at `per_minute`. Refused attempts answer 429 with
/// `Retry-After`.
///
/// The table holds at most `clients` addresses: when it is full, buckets that refilled
/// (clients quiet long enough to be as good as new) are dropped; if none did, the
/// newcomer shares one overflow bucket with every other client that does not fit, so
/// memory stays bounded and a flood of addresses cannot buy fresh buckets.
#[derive(Debug)]
pub struct RateLimiter {
    limit: RateLimit,
    table: Mutex<Table>,
}

#[derive(Debug)]
struct Table {
    buckets: HashMap<IpAddr, Bucket>,
    overflow: Bucket,
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// The key of requests whose client address is unknown (not served with connect info).
const UNKNOWN_CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);

impl RateLimiter {
    /// A limiter with `limit`.
    pub fn new(limit: RateLimit) -> Self {
        let now = Instant::now();
        Self {
            limit,
            table: Mutex::new(Table {
                buckets: HashMap::new(),
                overflow: Bucket {
                    tokens: f64::from(limit.burst),
                    updated: now,
                },
            }),
        }
    }

    /// Takes one attempt for `client`; 429 with `Retry-After` when its bucket is empty.
    pub fn check(&self, client: Option<IpAddr>) -> Result<(), ApiError> {
        self.take(client.unwrap_or(UNKNOWN_CLIENT), Instant::now())
            .map_err(|wait| {
                ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too many sign-in attempts from this address: try again later",
                )
                .retry_after(wait.as_secs_f64().ceil() as u64)
            })
    }

    /// How many client addresses have their own bucket.
    pub fn tracked_clients(&self) -> usize {
        self.lock().buckets.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        // A panic while holding the lock leaves the buckets usable.
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `Err(wait)`: empty, one token comes back after `wait`.
    fn take(&self, client: IpAddr, now: Instant) -> Result<(), Duration> {
        let limit = self.limit;
        let burst = f64::from(limit.burst);
        let per_second = f64::from(limit.per_minute) / 60.0;
        let refill = |bucket: &mut Bucket| {
            let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
            bucket.tokens = (bucket.tokens + elapsed * per_second).min(burst);
            bucket.updated = now;
        };
        let mut table = self.lock();
        let Table { buckets, overflow } = &mut *table;
        if !buckets.contains_key(&client) && buckets.len() >= limit.clients {
            buckets.retain(|_, bucket| {
                refill(bucket);
                bucket.tokens < burst
            });
        }
        let bucket = if buckets.contains_key(&client) || buckets.len() < limit.clients {
            buckets.entry(client).or_insert(Bucket {
                tokens: burst,
                updated: now,
            })
        } else {
            overflow
        };
        refill(bucket);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else if per_second > 0.0 {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / per_second))
        } else {
            Err(Duration::from_secs(60))
        }
    }
}

/// The client's address, when the application is served with connect info (as
/// [`App::serve`](crate::App::serve) does); `None` otherwise (e.g. a router called in a
/// test), and such requests share one rate-limit bucket.
#[derive(Clone, Copy, Debug)]
pub struct ClientAddr(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(address)| address.ip()),
        ))
    }
}

/// The authentication routes' limits, built from [`AuthLimits`].
#[derive(Debug)]
pub struct AuthGuards {
    /// Argon2 work.
    pub hashing: HashGate,
    /// Login and registration attempts per client address.
    pub attempts: RateLimiter,
}

impl AuthGuards {
    /// The guards `limits` describes.
    pub fn new(limits: &AuthLimits) -> Self {
        Self {
            hashing: HashGate::new(limits.hash_concurrency, limits.hash_queue_timeout),
            attempts: RateLimiter::new(limits.rate),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(per_minute: u32, burst: u32, clients: usize) -> RateLimiter {
        RateLimiter::new(RateLimit {
            per_minute,
            burst,
            clients,
        })
    }

    fn ip(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(10, 0, 0, last))
    }

    #[test]
    fn a_bucket_allows_its_burst_then_refills_at_the_rate() {
        let limiter = limiter(60, 3, 10);
        let start = Instant::now();
        for _ in 0..3 {
            assert!(limiter.take(ip(1), start).is_ok());
        }
        let wait = limiter.take(ip(1), start).unwrap_err();
        assert!(
            wait <= Duration::from_secs(1) && wait > Duration::ZERO,
            "{wait:?}"
        );
        // Another client has its own bucket.
        assert!(limiter.take(ip(2), start).is_ok());
        // One a second at 60 a minute.
        assert!(limiter.take(ip(1), start + Duration::from_secs(1)).is_ok());
        assert!(limiter.take(ip(1), start + Duration::from_secs(1)).is_err());
    }

    #[test]
    fn the_table_stays_bounded_and_overflowing_clients_share_one_bucket() {
        let limiter = limiter(60, 2, 4);
        let start = Instant::now();
        for last in 0..100 {
            let _ = limiter.take(ip(last), start);
            assert!(limiter.tracked_clients() <= 4);
        }
        // 96 clients shared the overflow bucket of 2: it is empty.
        assert!(limiter.take(ip(200), start).is_err());
        // Once the tracked clients' buckets refilled, they make room for new ones.
        let later = start + Duration::from_secs(10);
        assert!(limiter.take(ip(201), later).is_ok());
        assert_eq!(limiter.tracked_clients(), 1);
    }

    #[test]
    fn the_429_says_when_to_retry() {
        let limiter = limiter(6, 1, 10);
        assert!(limiter.check(Some(ip(1))).is_ok());
        let error = limiter.check(Some(ip(1))).unwrap_err();
        assert_eq!(error.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(error.retry_after, Some(10));
    }

    #[tokio::test]
    async fn hashing_beyond_capacity_waits_then_answers_503() {
        let gate = Arc::new(HashGate::new(1, Duration::from_millis(100)));
        let (release, hold) = std::sync::mpsc::channel::<()>();
        let busy = tokio::spawn({
            let gate = gate.clone();
            async move { gate.run(move |_| hold.recv().is_ok()).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        let refused = gate.run(|_| true).await.unwrap_err();
        assert_eq!(refused.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(refused.retry_after, Some(1));
        release.send(()).unwrap();
        assert!(busy.await.unwrap().unwrap());
        assert!(gate.run(|_| true).await.unwrap());
    }
}
