//! [`Instrumented`]: any async Redis connection, with every command recorded.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use fiko_metrics::MetricSet;
use fiko_metrics::exemplar::ExemplarLabels;
use redis::aio::ConnectionLike;
use redis::{Cmd, Pipeline, RedisError, RedisFuture, Value};

use crate::metrics::{
    CommandLabels, ConnectionState, ConnectionStateLabels, ErrorLabels, RedisMetrics,
};
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
/// The connection's state is followed from its commands' outcomes: a command that finds
/// the connection broken or refused — what makes a `ConnectionManager` reconnect — turns
/// it `reconnecting` in `fiko_redis_connections{state}`, and the next command that gets a
/// reply turns it `connected` again and counts one `fiko_redis_reconnects_total`. (A
/// timeout is not a broken connection: a hung server keeps its connections, and so does
/// the manager.) Each `Instrumented` made with [`new`](Self::new) or
/// [`with_metrics`](Self::with_metrics) is one connection in the gauge, shared by its
/// clones, and leaves it when the last clone is dropped. An idle connection's state
/// changes at its next command.
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
    state: Arc<TrackedState>,
}

/// One connection's place in `fiko_redis_connections`, shared by the clones of an
/// [`Instrumented`]; it leaves the gauge when dropped.
#[derive(Debug)]
struct TrackedState {
    metrics: Arc<RedisMetrics>,
    reconnecting: AtomicBool,
}

impl TrackedState {
    fn new(metrics: Arc<RedisMetrics>) -> Self {
        gauge(&metrics, ConnectionState::Connected).inc();
        Self {
            metrics,
            reconnecting: AtomicBool::new(false),
        }
    }

    /// Follows the outcome of one command or pipeline.
    fn follow<T>(&self, result: &Result<T, RedisError>) {
        match result {
            Err(error) if is_broken(error) => {
                if !self.reconnecting.swap(true, Ordering::AcqRel) {
                    gauge(&self.metrics, ConnectionState::Connected).dec();
                    gauge(&self.metrics, ConnectionState::Reconnecting).inc();
                }
            }
            Err(_) => {}
            Ok(_) => {
                if self.reconnecting.swap(false, Ordering::AcqRel) {
                    gauge(&self.metrics, ConnectionState::Reconnecting).dec();
                    gauge(&self.metrics, ConnectionState::Connected).inc();
                    self.metrics.reconnects.inc();
                }
            }
        }
    }
}

impl Drop for TrackedState {
    fn drop(&mut self) {
        let state = if *self.reconnecting.get_mut() {
            ConnectionState::Reconnecting
        } else {
            ConnectionState::Connected
        };
        gauge(&self.metrics, state).dec();
    }
}

fn gauge(metrics: &RedisMetrics, state: ConnectionState) -> &fiko_metrics::Gauge {
    metrics
        .connections
        .get_or_create(&ConnectionStateLabels { state })
}

/// Whether `error` says the connection is broken or was refused: the errors on which
/// redis' `ConnectionManager` reconnects (an unrecoverable error, or an I/O error while
/// connecting), timeouts excepted.
fn is_broken(error: &RedisError) -> bool {
    !error.is_timeout() && (error.is_unrecoverable_error() || error.is_io_error())
}

impl<C> Instrumented<C> {
    /// Records into the process-wide set, `RedisMetrics::global()`.
    pub fn new(inner: C) -> Self {
        Self::with_metrics(inner, RedisMetrics::shared())
    }

    /// Records into `metrics` (e.g. registered with `RedisMetrics::register(&registry)`).
    pub fn with_metrics(inner: C, metrics: Arc<RedisMetrics>) -> Self {
        let state = Arc::new(TrackedState::new(metrics.clone()));
        Instrumented {
            inner,
            metrics,
            state,
        }
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
}

impl<C: ConnectionLike + Send> ConnectionLike for Instrumented<C> {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        let command = Command::of(cmd);
        let metrics = &*self.metrics;
        let state = &*self.state;
        let request = self.inner.req_packed_command(cmd);
        Box::pin(async move {
            let mut call = Call::start(metrics, command);
            call.count(command);
            let result = request.await;
            state.follow(&result);
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
        let state = &*self.state;
        let request = self.inner.req_packed_commands(pipeline, offset, count);
        Box::pin(async move {
            let mut call = Call::start(metrics, Command::Pipeline);
            for cmd in pipeline.cmd_iter() {
                call.count(Command::of(cmd));
            }
            let result = request.await;
            state.follow(&result);
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
    // The installed exemplar source's labels as the command was sent (its trace), if the
    // metrics record exemplars; the source is not asked otherwise.
    exemplar: Option<ExemplarLabels>,
}

impl<'a> Call<'a> {
    fn start(metrics: &'a RedisMetrics, command: Command) -> Self {
        metrics.commands_in_flight.inc();
        let wanted = metrics.commands.records_exemplars()
            || metrics.command_duration_seconds.records_exemplars()
            || metrics.errors.records_exemplars();
        Call {
            metrics,
            command,
            start: Instant::now(),
            finished: false,
            exemplar: if wanted {
                fiko_metrics::exemplar::from_source()
            } else {
                None
            },
        }
    }

    /// Counts `command` as sent (one of a pipeline's, or the call's own).
    fn count(&self, command: Command) {
        self.metrics
            .commands
            .get_or_create(&CommandLabels::new(command))
            .inc_with_exemplar(self.exemplar.as_ref());
    }

    fn finish(&mut self, error: Option<ErrorKind>) {
        self.finished = true;
        let command = self.command;
        let exemplar = self.exemplar.as_ref();
        self.metrics
            .command_duration_seconds
            .get_or_create(&CommandLabels::new(command))
            .observe_with_exemplar(self.start.elapsed().as_secs_f64(), exemplar);
        if let Some(kind) = error {
            self.metrics
                .errors
                .get_or_create(&ErrorLabels::new(command, kind))
                .inc_with_exemplar(exemplar);
        }
    }
}

impl Drop for Call<'_> {
    fn drop(&mut self) {
        self.metrics.commands_in_flight.dec();
        if !self.finished {
            let labels = ErrorLabels::new(self.command, ErrorKind::Cancelled);
            self.metrics
                .errors
                .get_or_create(&labels)
                .inc_with_exemplar(self.exemplar.as_ref());
        }
    }
}
