//! Timing one query and recording it: the code every instrumented executor shares.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_core::Stream;
use futures_core::future::BoxFuture;
use futures_core::stream::BoxStream;
use sqlx::database::Database;
use sqlx::error::BoxDynError;
use sqlx::{Either, Error, Execute, Executor, SqlStr};

use crate::classify::{Classified, classify};
use crate::metrics::{DbMetrics, ErrorLabels, PoolLabel, QueryLabels};
use crate::operation::Operation;

/// Where one pool's queries are recorded, and how.
#[derive(Debug)]
pub(crate) struct Recorder {
    pub(crate) metrics: Arc<DbMetrics>,
    pub(crate) pool: &'static str,
    pub(crate) slow_threshold: Duration,
}

impl Recorder {
    fn record(
        &self,
        operation: Operation,
        query: &'static str,
        elapsed: Duration,
        failure: Option<Classified>,
    ) {
        let labels = QueryLabels {
            pool: self.pool,
            operation,
            query,
        };
        self.metrics.queries.get_or_create(&labels).inc();
        self.metrics
            .query_duration_seconds
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
        if elapsed >= self.slow_threshold {
            self.metrics.slow_queries.get_or_create(&labels).inc();
        }
        if let Some(failure) = failure {
            self.metrics
                .query_errors
                .get_or_create(&ErrorLabels {
                    pool: self.pool,
                    operation,
                    query,
                    kind: failure.kind,
                    class: failure.class,
                })
                .inc();
            if failure.deadlock {
                self.metrics
                    .deadlocks
                    .get_or_create(&PoolLabel { pool: self.pool })
                    .inc();
            }
        }
    }
}

/// Records one query when dropped: when its stream ended, its future completed, or the
/// caller dropped either early (then it counts, without an error).
struct QueryTimer<'r> {
    recorder: &'r Recorder,
    operation: Operation,
    query: &'static str,
    start: Instant,
    failure: Option<Classified>,
}

impl<'r> QueryTimer<'r> {
    fn start(recorder: &'r Recorder, operation: Operation, query: &'static str) -> Self {
        Self {
            recorder,
            operation,
            query,
            start: Instant::now(),
            failure: None,
        }
    }

    fn fail(&mut self, error: &Error) {
        // A query fails once; a stream that yields several errors counts the first.
        if self.failure.is_none() {
            self.failure = Some(classify(error));
        }
    }
}

impl Drop for QueryTimer<'_> {
    fn drop(&mut self) {
        self.recorder.record(
            self.operation,
            self.query,
            self.start.elapsed(),
            self.failure,
        );
    }
}

/// A query's result stream that records the query when it ends or is dropped.
struct TimedStream<'r, S> {
    inner: S,
    timer: Option<QueryTimer<'r>>,
}

impl<T, S: Stream<Item = Result<T, Error>> + Unpin> Stream for TimedStream<'_, S> {
    type Item = Result<T, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let item = Pin::new(&mut this.inner).poll_next(cx);
        match &item {
            Poll::Ready(Some(Err(error))) => {
                if let Some(timer) = &mut this.timer {
                    timer.fail(error);
                }
            }
            // Record as soon as the last item is read, not when the caller drops the stream.
            Poll::Ready(None) => drop(this.timer.take()),
            Poll::Ready(Some(Ok(_))) | Poll::Pending => {}
        }
        item
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

/// A query taken apart to read its SQL (sqlx's `Execute::sql` consumes the query), then
/// handed on unchanged: same SQL, cached statement, arguments and persistence.
struct Prepared<DB: Database> {
    sql: SqlStr,
    statement: Option<DB::Statement>,
    arguments: Option<Result<Option<DB::Arguments>, BoxDynError>>,
    persistent: bool,
}

impl<DB: Database> Prepared<DB> {
    fn take<'q>(mut query: impl Execute<'q, DB>) -> (Self, Operation) {
        let statement = query.statement().cloned();
        let persistent = query.persistent();
        let arguments = Some(query.take_arguments());
        let sql = query.sql();
        let operation = Operation::of(sql.as_str());
        let prepared = Self {
            sql,
            statement,
            arguments,
            persistent,
        };
        (prepared, operation)
    }
}

impl<DB: Database> Execute<'_, DB> for Prepared<DB> {
    fn sql(self) -> SqlStr {
        self.sql
    }

    fn statement(&self) -> Option<&DB::Statement> {
        self.statement.as_ref()
    }

    fn take_arguments(&mut self) -> Result<Option<DB::Arguments>, BoxDynError> {
        self.arguments.take().unwrap_or(Ok(None))
    }

    fn persistent(&self) -> bool {
        self.persistent
    }
}

/// Runs a statement that is not a query of the caller's (`BEGIN`, `COMMIT`, `ROLLBACK`)
/// and records it as one of operation `other`.
pub(crate) async fn transaction_control<T>(
    recorder: &Recorder,
    statement: impl Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    let mut timer = QueryTimer::start(recorder, Operation::Other, "");
    let result = statement.await;
    if let Err(error) = &result {
        timer.fail(error);
    }
    drop(timer);
    result
}

/// One item of a `fetch_many` stream: a statement's result or a row.
type Step<DB> = Result<Either<<DB as Database>::QueryResult, <DB as Database>::Row>, Error>;

/// The stream of results of `fetch_many` on `inner`, recorded.
pub(crate) fn fetch_many<'c, 'e, 'q, X, E>(
    recorder: &'c Recorder,
    query_name: &'static str,
    inner: X,
    query: E,
) -> BoxStream<'e, Step<X::Database>>
where
    X: Executor<'c>,
    'c: 'e,
    'q: 'e,
    E: 'q + Execute<'q, X::Database>,
{
    let (query, operation) = Prepared::take(query);
    let timer = QueryTimer::start(recorder, operation, query_name);
    Box::pin(TimedStream {
        inner: inner.fetch_many(query),
        timer: Some(timer),
    })
}

/// The result of `fetch_optional` on `inner`, recorded.
pub(crate) fn fetch_optional<'c, 'e, 'q, X, E>(
    recorder: &'c Recorder,
    query_name: &'static str,
    inner: X,
    query: E,
) -> BoxFuture<'e, Result<Option<<X::Database as Database>::Row>, Error>>
where
    X: Executor<'c>,
    'c: 'e,
    'q: 'e,
    E: 'q + Execute<'q, X::Database>,
{
    let (query, operation) = Prepared::take(query);
    let mut timer = QueryTimer::start(recorder, operation, query_name);
    let result = inner.fetch_optional(query);
    Box::pin(async move {
        let result = result.await;
        if let Err(error) = &result {
            timer.fail(error);
        }
        drop(timer);
        result
    })
}
