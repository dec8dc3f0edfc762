//! A registry of 100,000 series of mixed kinds, for the scrape benchmarks (issue 20,
//! target 3): counters, gauges and histograms, each family with open string labels, most
//! also with a closed enum label beside.
//!
//! | family | kind | labels | series |
//! |---|---|---|---:|
//! | `scale_requests_total` | counter | `tenant` (open) × `outcome` (closed, 4) | 40,000 |
//! | `scale_queue_depth` | gauge | `queue` (open) | 20,000 |
//! | `scale_pool_connections` | gauge | `pool` (open) × `state` (closed, 2) | 10,000 |
//! | `scale_request_latency_seconds` | histogram, 11 buckets | `route` (closed, 6) × `tenant` (open) | 30,000 |
//!
//! 100,000 series in all (490,000 sample lines: a histogram series writes 14).

use std::sync::Arc;

use fiko_metrics::{
    Counter, Family, Gauge, Histogram, LabelSet, LabelValue, MetricSet, Registry, SeriesId,
};

use crate::BUCKETS;
use crate::fiko::{ROUTES, Route};

/// Series in the registry [`build`] makes.
pub const SERIES: usize = 100_000;
/// Tenants of `scale_requests_total`.
pub const REQUEST_TENANTS: usize = 10_000;
/// Queues of `scale_queue_depth`.
pub const QUEUES: usize = 20_000;
/// Pools of `scale_pool_connections`.
pub const POOLS: usize = 5_000;
/// Tenants of `scale_request_latency_seconds`.
pub const LATENCY_TENANTS: usize = 5_000;

/// How a request ended.
#[derive(LabelValue, Clone, Copy)]
pub enum Outcome {
    /// Served.
    Ok,
    /// Refused (4xx).
    ClientError,
    /// Failed (5xx).
    ServerError,
    /// Gave up.
    Timeout,
}

/// Every outcome.
pub const OUTCOMES: [Outcome; 4] = [
    Outcome::Ok,
    Outcome::ClientError,
    Outcome::ServerError,
    Outcome::Timeout,
];

/// A pool connection's state.
#[derive(LabelValue, Clone, Copy)]
pub enum PoolState {
    /// Waiting for work.
    Idle,
    /// Serving a query.
    Busy,
}

/// Every pool state.
pub const POOL_STATES: [PoolState; 2] = [PoolState::Idle, PoolState::Busy];

/// Labels of `scale_requests_total`.
#[derive(LabelSet)]
pub struct TenantOutcome {
    /// The tenant (open).
    pub tenant: String,
    /// How the request ended (closed).
    pub outcome: Outcome,
}

/// Labels of `scale_queue_depth`.
#[derive(LabelSet)]
pub struct QueueLabel {
    /// The queue (open).
    pub queue: String,
}

/// Labels of `scale_pool_connections`.
#[derive(LabelSet)]
pub struct PoolLabels {
    /// The pool (open).
    pub pool: String,
    /// The connections' state (closed).
    pub state: PoolState,
}

/// Labels of `scale_request_latency_seconds`.
#[derive(LabelSet)]
pub struct RouteTenant {
    /// The route (closed).
    pub route: Route,
    /// The tenant (open).
    pub tenant: String,
}

/// The 100,000-series set.
#[derive(MetricSet)]
#[metric_set(namespace = "scale")]
pub struct Scale {
    /// Requests, by tenant and outcome.
    #[metric(max_series = 100000)]
    pub requests: Family<TenantOutcome, Counter>,
    /// Jobs waiting, by queue.
    #[metric(max_series = 100000)]
    pub queue_depth: Family<QueueLabel, Gauge>,
    /// Connections, by pool and state.
    #[metric(max_series = 100000)]
    pub pool_connections: Family<PoolLabels, Gauge>,
    /// Request latency, by route and tenant.
    #[metric(
        max_series = 100000,
        buckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]
    )]
    pub request_latency_seconds: Family<RouteTenant, Histogram>,
}

/// The `tenant` label value number `i`.
pub fn tenant(i: usize) -> String {
    format!("tenant-{i:05}")
}

/// The registry of [`SERIES`] series, every one recorded into (values vary from series to
/// series; histograms observe 3 bucket bounds each), and its set.
pub fn build() -> (Registry, Arc<Scale>) {
    let registry = Registry::new();
    let scale = match Scale::register(&registry) {
        Ok(scale) => scale,
        Err(error) => panic!("scale set: {error}"),
    };
    for t in 0..REQUEST_TENANTS {
        for (o, outcome) in OUTCOMES.into_iter().enumerate() {
            let labels = TenantOutcome {
                tenant: tenant(t),
                outcome,
            };
            let n = (t * 7919 + o * 104_729) % 100_000 + 1;
            scale.requests.get_or_create(&labels).inc_by(n as u64);
        }
    }
    for q in 0..QUEUES {
        let labels = QueueLabel {
            queue: format!("queue-{q:05}"),
        };
        scale
            .queue_depth
            .get_or_create(&labels)
            .set(((q * 31) % 1000) as i64);
    }
    for p in 0..POOLS {
        for (s, state) in POOL_STATES.into_iter().enumerate() {
            let labels = PoolLabels {
                pool: format!("pool-{p:04}"),
                state,
            };
            let n = (p * 13 + s * 7) % 100;
            scale.pool_connections.get_or_create(&labels).set(n as i64);
        }
    }
    for t in 0..LATENCY_TENANTS {
        for (r, route) in ROUTES.into_iter().enumerate() {
            let labels = RouteTenant {
                route,
                tenant: tenant(t),
            };
            let histogram = scale.request_latency_seconds.get_or_create(&labels);
            for k in 0..3 {
                histogram.observe(BUCKETS[(t + r * 3 + k * 4) % BUCKETS.len()]);
            }
        }
    }
    let series = scale.requests.len()
        + scale.queue_depth.len()
        + scale.pool_connections.len()
        + scale.request_latency_seconds.len();
    assert_eq!(series, SERIES, "the scale registry holds {series} series");
    (registry, scale)
}

/// What a thread recording into the registry of [`build`] touches, looked up beforehand:
/// counter and histogram series by id, and label sets to look series up by.
pub struct Recorder {
    scale: Arc<Scale>,
    counters: Vec<SeriesId<TenantOutcome, Counter>>,
    histograms: Vec<SeriesId<RouteTenant, Histogram>>,
    lookups: Vec<TenantOutcome>,
    next: usize,
}

impl Recorder {
    /// Spread over 1,024 existing series of each kind.
    pub fn new(scale: Arc<Scale>) -> Self {
        let spread = 1024;
        let counters = (0..spread)
            .map(|i| {
                scale.requests.series_id(&TenantOutcome {
                    tenant: tenant(i * 7 % REQUEST_TENANTS),
                    outcome: OUTCOMES[i % OUTCOMES.len()],
                })
            })
            .collect();
        let histograms = (0..spread)
            .map(|i| {
                scale.request_latency_seconds.series_id(&RouteTenant {
                    route: ROUTES[i % ROUTES.len()],
                    tenant: tenant(i * 3 % LATENCY_TENANTS),
                })
            })
            .collect();
        let lookups = (0..spread)
            .map(|i| TenantOutcome {
                tenant: tenant(i * 11 % REQUEST_TENANTS),
                outcome: OUTCOMES[(i + 1) % OUTCOMES.len()],
            })
            .collect();
        Self {
            scale,
            counters,
            histograms,
            lookups,
            next: 0,
        }
    }

    /// One operation of the mix, in turn: a counter increment, a histogram observation,
    /// an increment after looking its series up by an open label.
    #[inline]
    pub fn record(&mut self) {
        let i = self.next;
        self.next = self.next.wrapping_add(1);
        let at = (i / 3) % self.counters.len();
        match i % 3 {
            0 => self.scale.requests.series(self.counters[at]).inc(),
            1 => self
                .scale
                .request_latency_seconds
                .series(self.histograms[at])
                .observe(BUCKETS[at % BUCKETS.len()]),
            _ => self.scale.requests.get_or_create(&self.lookups[at]).inc(),
        }
    }
}
