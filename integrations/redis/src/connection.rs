//! [`Instrumented`]: any async Redis connection, with every command recorded.

use std::sync::Arc;
use std::time::Instant;

use redis::aio::ConnectionLike;
use redis::{Cmd, Pipeline, RedisFuture, Value};

use crate::metrics::{CommandLabels, ErrorLabels, RedisMetrics};
use crate::{Command, ErrorKind};

/// Wraps an async Redis connection (`ConnectionManager`, `MultiplexedConnection`, or any
/// [`ConnectionLike`]) and records each command into [`RedisMetrics`].
///
/// It is itself a [`ConnectionLike`], so it drops in where the connection was:
/// `redis::AsyncCommands` methods, `cmd.query_async(&mut conn)` and pipelines work
/// unchanged. Cloning it clones the connection and shares the metrics.
///
/// Recorded per call: the command count (at send), its round-trip duration and, if it
/// fails, an error by [`ErrorKind`] — an error *reply* (`WRONGTYPE`, `OOM`, ...) counts as
/// an error too. A call whose future is dropped before the reply counts as `cancelled`.
///
/// What it cannot change is how long the wrapped connection makes a caller wait while
/// Redis is down: a `ConnectionManager` with its default 6 reconnect retries holds each
/// call for several seconds (measured here: about 7.5 s per `GET` against a killed
/// server); set `ConnectionManagerConfig::set_number_of_retries` low, or bound calls
/// yourself, when that matters (the [`Cache`](crate::Cache) bounds its own calls).
///
/// ```
/// use fiko_metrics_redis::Instrumented;
/// use redis::AsyncCommands;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = fiko_testkit::Redis::start()?;
/// # let url = server.url();
/// let client = redis::Client::open(url)?;
/// let mut conn = Instrumented::new(client.get_multiplexed_async_connection().await?);
///
/// let _: () = conn.set("greeting", "hello").await?;
/// let greeting: String = conn.get("greeting").await?;
/// assert_eq!(greeting, "hello");
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Instrumented<C> {
    inner: C,
    metrics: Arc<RedisMetrics>,
}

impl<C> Instrumented<C> {
    /// Records into the process-wide set, `RedisMetrics::global()`.
    pub fn new(inner: C) -> Self {
        Self::with_metrics(inner, Self::global_metrics())
    }

    /// Records into `metrics` (e.g. registered with `RedisMetrics::register(&registry)`).
    pub fn with_metrics(inner: C, metrics: Arc<RedisMetrics>) -> Self {
        Instrumented { inner, metrics }
    }

    /// The metrics this connection records into.
    pub fn metrics(&self) -> &Arc<RedisMetrics> {
        &self.metrics
    }

    /// The wrapped connection.
    pub fn get_ref(&self) -> &C {
        &self.inner
    }

    /// The wrapped connection, mutably (commands sent through it directly are not recorded).
    pub fn get_mut(&mut self) -> &mut C {
        &mut self.inner
    }

    /// Unwraps the connection.
    pub fn into_inner(self) -> C {
        self.inner
    }

    fn global_metrics() -> Arc<RedisMetrics> {
        fiko_metrics::default_registry().get_or_register::<RedisMetrics>()
    }
}

impl<C: ConnectionLike + Send> ConnectionLike for Instrumented<C> {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        let command = Command::of(cmd);
        let metrics = &*self.metrics;
        let request = self.inner.req_packed_command(cmd);
        Box::pin(async move {
            metrics
                .commands
                .get_or_create(&CommandLabels::new(command))
                .inc();
            let mut call = Call::start(metrics, command);
            let result = request.await;
            call.finish(match &result {
                Ok(Value::ServerError(error)) => Some(ErrorKind::of_server_error(error)),
                Ok(_) => None,
                Err(error) => Some(ErrorKind::of(error)),
            });
            result
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        let metrics = &*self.metrics;
        let request = self.inner.req_packed_commands(pipeline, offset, count);
        Box::pin(async move {
            for cmd in pipeline.cmd_iter() {
                let command = Command::of(cmd);
                metrics
                    .commands
                    .get_or_create(&CommandLabels::new(command))
                    .inc();
            }
            let mut call = Call::start(metrics, Command::Pipeline);
            let result = request.await;
            call.finish(match &result {
                Ok(values) => first_server_error(values, pipeline.is_transaction()),
                Err(error) => Some(ErrorKind::of(error)),
            });
            result
        })
    }

    fn get_db(&self) -> i64 {
        self.inner.get_db()
    }
}

/// The kind of the first error reply among a pipeline's replies. A transaction's replies
/// sit one level down, in the `EXEC` array; data arrays are not searched.
fn first_server_error(values: &[Value], transaction: bool) -> Option<ErrorKind> {
    values.iter().find_map(|value| match value {
        Value::ServerError(error) => Some(ErrorKind::of_server_error(error)),
        Value::Array(items) if transaction => first_server_error(items, false),
        _ => None,
    })
}

/// One command or pipeline in flight. Dropped unfinished (the caller dropped the future),
/// it counts as a `cancelled` error, so the in-flight gauge never sticks.
struct Call<'a> {
    metrics: &'a RedisMetrics,
    command: Command,
    start: Instant,
    finished: bool,
}

impl<'a> Call<'a> {
    fn start(metrics: &'a RedisMetrics, command: Command) -> Self {
        metrics.commands_in_flight.inc();
        Call {
            metrics,
            command,
            start: Instant::now(),
            finished: false,
        }
    }

    fn finish(&mut self, error: Option<ErrorKind>) {
        self.finished = true;
        let command = self.command;
        self.metrics
            .command_duration_seconds
            .get_or_create(&CommandLabels::new(command))
            .observe_since(self.start);
        if let Some(kind) = error {
            self.metrics
                .errors
                .get_or_create(&ErrorLabels::new(command, kind))
                .inc();
        }
    }
}

impl Drop for Call<'_> {
    fn drop(&mut self) {
        self.metrics.commands_in_flight.dec();
        if !self.finished {
            let labels = ErrorLabels::new(self.command, ErrorKind::Cancelled);
            self.metrics.errors.get_or_create(&labels).inc();
        }
    }
}
