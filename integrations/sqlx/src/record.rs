//! Timing one query and recording it: the code every instrumented executor shares.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, OnceLock, PoisonError, RwLock};
use std::task::{Context, Poll};
use std::time::Duration;

use fiko_metrics::exemplar::{self, ExemplarLabels};
use fiko_metrics::labels::closed_len;
use fiko_metrics::{CounterWithExemplar, Family, Histogram, LabelValue, Metric, SeriesId};
use futures_core::Stream;
use futures_core::future::BoxFuture;
use futures_core::stream::BoxStream;
use sqlx::database::Database;
use sqlx::error::BoxDynError;
use sqlx::pool::PoolConnection;
use sqlx::{Either, Error, Execute, Executor, Pool, SqlStr};

use crate::classify::{Classified, classify};
use crate::generator::Generator;
use crate::metrics::{AcquireErrorLabels, DbMetrics, ErrorLabels, PoolLabel, QueryLabels};
use crate::operation::Operation;

/// Where one pool's queries are recorded, and how.
#[derive(Debug)]
pub(crate) struct Recorder {
    pub(crate) metrics: Arc<DbMetrics>,
    pub(crate) pool: &'static str,
    pub(crate) slow_threshold: Duration,
    pub(crate) query_timeout: Option<Duration>,
    pub(crate) series: PoolSeries,
    /// Times queries and waits: the TSC where it is invariant, calibrated against the
    /// monotonic clock once per process, else the monotonic clock.
    pub(crate) clock: quanta::Clock,
}

const OPERATIONS: usize = closed_len::<Operation>();

/// The series a pool records into on (nearly) every query or checkout, each looked up on
/// its first use and then recorded by [`SeriesId`]: the acquire wait, the unnamed queries'
/// series per operation, and those of the first [`NAMED_QUERIES`] named queries and
/// operations (past them, a named query looks its series up by its labels).
#[derive(Debug, Default)]
pub(crate) struct PoolSeries {
    acquire_wait: OnceLock<SeriesId<PoolLabel, Histogram>>,
    unnamed: [QuerySeries; OPERATIONS],
    named: RwLock<HashMap<NamedQuery, Arc<QuerySeries>, foldhash::fast::RandomState>>,
}

/// How many named queries (name and operation) a pool keeps the series of.
const NAMED_QUERIES: usize = 256;

/// A named query: its name's address and length (names are `&'static str`, so a name
/// is hashed without reading it) and its operation.
type NamedQuery = (usize, usize, Operation);

/// The series of one query (a name, or none, and an operation), each looked up on first
/// use.
#[derive(Debug, Default)]
struct QuerySeries {
    queries: OnceLock<SeriesId<QueryLabels, CounterWithExemplar>>,
    durations: OnceLock<SeriesId<QueryLabels, Histogram>>,
    slow: OnceLock<SeriesId<QueryLabels, CounterWithExemplar>>,
}

impl PoolSeries {
    /// The series of the named query `name` of `operation`; `None` past
    /// [`NAMED_QUERIES`]. The map's lock is only written the first time a name shows up.
    fn of(&self, name: &'static str, operation: Operation) -> Option<Arc<QuerySeries>> {
        let key = (name.as_ptr() as usize, name.len(), operation);
        let known = self
            .named
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
            .cloned();
        known.or_else(|| {
            let mut named = self.named.write().unwrap_or_else(PoisonError::into_inner);
            if named.len() >= NAMED_QUERIES && !named.contains_key(&key) {
                return None;
            }
            Some(named.entry(key).or_default().clone())
        })
    }
}

/// The series of `labels` in `family`: by the id in `id` (looked up the first time), or by
/// its labels without one.
fn query_series<'a, M: Metric>(
    family: &'a Family<QueryLabels, M>,
    id: Option<&OnceLock<SeriesId<QueryLabels, M>>>,
    labels: &QueryLabels,
) -> &'a M {
    match id {
        Some(id) => family.series(*id.get_or_init(|| family.series_id(labels))),
        None => family.get_or_create(labels),
    }
}

impl Recorder {
    /// The installed exemplar source's labels for a query starting now (its trace), if
    /// the query metrics record exemplars; the source is not asked otherwise.
    fn query_exemplar(&self) -> Option<ExemplarLabels> {
        if self.query_records_exemplars() {
            exemplar::from_source()
        } else {
            None
        }
    }

    fn query_records_exemplars(&self) -> bool {
        let metrics = &self.metrics;
        metrics.queries.records_exemplars()
            || metrics.query_duration_seconds.records_exemplars()
            || metrics.slow_queries.records_exemplars()
            || metrics.query_errors.records_exemplars()
    }

    /// The source's labels for a query on the pool, asked once for its wait for a
    /// connection and for the query itself (the same trace): (the wait's, the query's),
    /// each only if its metrics record exemplars.
    fn pool_query_exemplars(&self) -> (Option<ExemplarLabels>, Option<ExemplarLabels>) {
        let for_wait = self
            .metrics
            .pool_acquire_duration_seconds
            .records_exemplars();
        let for_query = self.query_records_exemplars();
        if !(for_wait || for_query) {
            return (None, None);
        }
        let labels = exemplar::from_source();
        (
            labels.clone().filter(|_| for_wait),
            labels.filter(|_| for_query),
        )
    }

    /// The time since `start`, a reading of [`clock`](Self::clock).
    fn elapsed(&self, start: u64) -> Duration {
        self.clock.delta(start, self.clock.raw())
    }

    /// Records one query; `elapsed` is `None` for a query that never had a connection
    /// (its time was the pool's, recorded as an acquire wait).
    fn record(
        &self,
        operation: Operation,
        query: &'static str,
        elapsed: Option<Duration>,
        failure: Option<Classified>,
        exemplar: Option<&ExemplarLabels>,
    ) {
        let labels = QueryLabels {
            pool: self.pool,
            operation,
            query,
        };
        let metrics = &self.metrics;
        let named;
        let series = match query {
            "" => self.series.unnamed.get(operation.index()),
            _ => {
                named = self.series.of(query, operation);
                named.as_deref()
            }
        };
        query_series(&metrics.queries, series.map(|s| &s.queries), &labels)
            .inc_with_exemplar(exemplar);
        if let Some(elapsed) = elapsed {
            query_series(
                &metrics.query_duration_seconds,
                series.map(|s| &s.durations),
                &labels,
            )
            .observe_with_exemplar(elapsed.as_secs_f64(), exemplar);
            if elapsed >= self.slow_threshold {
                query_series(&metrics.slow_queries, series.map(|s| &s.slow), &labels)
                    .inc_with_exemplar(exemplar);
            }
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
                .inc_with_exemplar(exemplar);
            if failure.deadlock {
                self.metrics
                    .deadlocks
                    .get_or_create(&PoolLabel { pool: self.pool })
                    .inc();
            }
        }
    }

    /// A query (or `BEGIN`) that failed before it had a connection: it counts, with its
    /// error (`pool_timeout`, ...), but has no duration.
    pub(crate) fn record_unstarted(
        &self,
        operation: Operation,
        query: &'static str,
        error: &Error,
    ) {
        let exemplar = self.query_exemplar();
        self.record(
            operation,
            query,
            None,
            Some(classify(error)),
            exemplar.as_ref(),
        );
    }

    /// Checks a connection out of `pool`, recording how long that took and, if it failed,
    /// why. A caller giving up while waiting still records its wait.
    pub(crate) async fn acquire<DB: Database>(
        &self,
        pool: &Pool<DB>,
    ) -> Result<PoolConnection<DB>, Error> {
        let exemplar = self
            .metrics
            .pool_acquire_duration_seconds
            .exemplar_from_source();
        self.acquire_with(pool, exemplar).await
    }

    /// [`acquire`](Self::acquire), recording the wait with `exemplar`.
    async fn acquire_with<DB: Database>(
        &self,
        pool: &Pool<DB>,
        exemplar: Option<ExemplarLabels>,
    ) -> Result<PoolConnection<DB>, Error> {
        let wait = AcquireWait {
            recorder: self,
            start: self.clock.raw(),
            exemplar,
        };
        let result = pool.acquire().await;
        drop(wait);
        if let Err(error) = &result {
            self.metrics
                .pool_acquire_errors
                .get_or_create(&AcquireErrorLabels {
                    pool: self.pool,
                    kind: classify(error).kind,
                })
                .inc();
        }
        result
    }

    /// Runs `statement` within the pool's query timeout, if it has one.
    async fn bounded<T>(
        &self,
        statement: impl Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        match self.query_timeout {
            None => statement.await,
            Some(limit) => tokio::time::timeout(limit, statement)
                .await
                .unwrap_or_else(|_| Err(timed_out(limit))),
        }
    }
}

/// The error of a query that got no answer within the pool's query timeout: an I/O
/// timeout, which [`classify`] labels `kind="timeout"`.
fn timed_out(limit: Duration) -> Error {
    Error::Io(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        format!("no answer from the database within the query timeout ({limit:?})"),
    ))
}

/// Observes one wait for a pool connection when dropped.
struct AcquireWait<'r> {
    recorder: &'r Recorder,
    /// When the wait started, in the recorder's clock's raw units.
    start: u64,
    exemplar: Option<ExemplarLabels>,
}

impl Drop for AcquireWait<'_> {
    fn drop(&mut self) {
        let recorder = self.recorder;
        let family = &recorder.metrics.pool_acquire_duration_seconds;
        let id = recorder.series.acquire_wait.get_or_init(|| {
            family.series_id(&PoolLabel {
                pool: recorder.pool,
            })
        });
        family.series(*id).observe_with_exemplar(
            recorder.elapsed(self.start).as_secs_f64(),
            self.exemplar.as_ref(),
        );
    }
}

/// Records one query when dropped: when its stream ended, its future completed, or the
/// caller dropped either early (then it counts, without an error).
struct QueryTimer<'r> {
    recorder: &'r Recorder,
    operation: Operation,
    query: &'static str,
    /// When the query started, in the recorder's clock's raw units.
    start: u64,
    failure: Option<Classified>,
    // The source's labels as the query started (its trace), if the metrics record them.
    exemplar: Option<ExemplarLabels>,
}

impl<'r> QueryTimer<'r> {
    fn start(
        recorder: &'r Recorder,
        operation: Operation,
        query: &'static str,
        exemplar: Option<ExemplarLabels>,
    ) -> Self {
        Self {
            recorder,
            operation,
            query,
            start: recorder.clock.raw(),
            failure: None,
            exemplar,
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
            Some(self.recorder.elapsed(self.start)),
            self.failure,
            self.exemplar.as_ref(),
        );
    }
}

/// A query's result stream that records the query when it ends or is dropped, and ends it
/// with a timeout error once the pool's query timeout has passed.
struct TimedStream<'r, S> {
    inner: S,
    timer: Option<QueryTimer<'r>>,
    /// Started at the first wait for the server, so it is created inside the runtime.
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
    finished: bool,
}

impl<'r, S> TimedStream<'r, S> {
    fn new(inner: S, timer: QueryTimer<'r>) -> Self {
        Self {
            inner,
            timer: Some(timer),
            deadline: None,
            finished: false,
        }
    }

    /// Whether the query timeout has passed; arms it on the first call.
    fn timed_out(&mut self, cx: &mut Context<'_>) -> Option<Duration> {
        let timer = self.timer.as_ref()?;
        let limit = timer.recorder.query_timeout?;
        let deadline = self.deadline.get_or_insert_with(|| {
            let left = limit.saturating_sub(timer.recorder.elapsed(timer.start));
            Box::pin(tokio::time::sleep(left))
        });
        deadline.as_mut().poll(cx).is_ready().then_some(limit)
    }
}

impl<T, S: Stream<Item = Result<T, Error>> + Unpin> Stream for TimedStream<'_, S> {
    type Item = Result<T, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.finished {
            return Poll::Ready(None);
        }
        let item = Pin::new(&mut this.inner).poll_next(cx);
        match &item {
            Poll::Ready(Some(Err(error))) => {
                if let Some(timer) = &mut this.timer {
                    timer.fail(error);
                }
            }
            // Record as soon as the last item is read, not when the caller drops the stream.
            Poll::Ready(None) => drop(this.timer.take()),
            Poll::Pending => {
                if let Some(limit) = this.timed_out(cx) {
                    // The server stopped answering: give up, and say so once.
                    let error = timed_out(limit);
                    if let Some(mut timer) = this.timer.take() {
                        timer.fail(&error);
                    }
                    this.finished = true;
                    return Poll::Ready(Some(Err(error)));
                }
            }
            Poll::Ready(Some(Ok(_))) => {}
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
    let exemplar = recorder.query_exemplar();
    let mut timer = QueryTimer::start(recorder, Operation::Other, "", exemplar);
    let result = recorder.bounded(statement).await;
    if let Err(error) = &result {
        timer.fail(error);
    }
    drop(timer);
    result
}

/// One item of a `fetch_many` stream: a statement's result or a row.
type Step<DB> = Result<Either<<DB as Database>::QueryResult, <DB as Database>::Row>, Error>;

/// The stream of results of `fetch_many` on `inner`, recorded.
fn stream_on<'c, 'e, DB, X>(
    recorder: &'c Recorder,
    query_name: &'static str,
    inner: X,
    query: Prepared<DB>,
    operation: Operation,
    exemplar: Option<ExemplarLabels>,
) -> TimedStream<'c, BoxStream<'e, Step<DB>>>
where
    DB: Database,
    X: Executor<'c, Database = DB>,
    'c: 'e,
{
    let timer = QueryTimer::start(recorder, operation, query_name, exemplar);
    TimedStream::new(inner.fetch_many(query), timer)
}

/// The result of `fetch_optional` on `inner`, recorded.
fn optional_on<'c, 'e, DB, X>(
    recorder: &'c Recorder,
    query_name: &'static str,
    inner: X,
    query: Prepared<DB>,
    operation: Operation,
    exemplar: Option<ExemplarLabels>,
) -> impl Future<Output = Result<Option<DB::Row>, Error>> + 'e
where
    DB: Database,
    X: Executor<'c, Database = DB>,
    'c: 'e,
{
    let mut timer = QueryTimer::start(recorder, operation, query_name, exemplar);
    let result = inner.fetch_optional(query);
    async move {
        let result = recorder.bounded(result).await;
        if let Err(error) = &result {
            timer.fail(error);
        }
        drop(timer);
        result
    }
}

/// Queries on a connection or transaction: timed from the call.
pub(crate) mod on_connection {
    use super::*;

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
        let exemplar = recorder.query_exemplar();
        Box::pin(stream_on(
            recorder, query_name, inner, query, operation, exemplar,
        ))
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
        let exemplar = recorder.query_exemplar();
        Box::pin(optional_on(
            recorder, query_name, inner, query, operation, exemplar,
        ))
    }
}

/// Queries on the pool: the wait for a connection is recorded as an acquire wait, and the
/// query is timed from the moment it has its connection.
pub(crate) mod on_pool {
    use super::*;

    /// The stream of results of `fetch_many` on a connection from `pool`, recorded.
    pub(crate) fn fetch_many<'p, 'e, 'q, DB, E>(
        recorder: &'p Recorder,
        query_name: &'static str,
        pool: &'p Pool<DB>,
        query: E,
    ) -> BoxStream<'e, Step<DB>>
    where
        DB: Database,
        for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
        'p: 'e,
        'q: 'e,
        E: 'q + Execute<'q, DB>,
    {
        let (query, operation) = Prepared::take(query);
        Box::pin(Generator::new(move |out| async move {
            let (wait_exemplar, exemplar) = recorder.pool_query_exemplars();
            let mut connection = match recorder.acquire_with(pool, wait_exemplar).await {
                Ok(connection) => connection,
                Err(error) => {
                    recorder.record_unstarted(operation, query_name, &error);
                    out.yield_item(Err(error)).await;
                    return;
                }
            };
            // Named, so the solver does not look for the executor among this crate's own.
            let connection: &mut DB::Connection = &mut connection;
            let mut results = stream_on::<DB, &mut DB::Connection>(
                recorder, query_name, connection, query, operation, exemplar,
            );
            while let Some(item) =
                std::future::poll_fn(|cx| Pin::new(&mut results).poll_next(cx)).await
            {
                out.yield_item(item).await;
            }
        }))
    }

    /// The result of `fetch_optional` on a connection from `pool`, recorded.
    pub(crate) fn fetch_optional<'p, 'e, 'q, DB, E>(
        recorder: &'p Recorder,
        query_name: &'static str,
        pool: &'p Pool<DB>,
        query: E,
    ) -> BoxFuture<'e, Result<Option<DB::Row>, Error>>
    where
        DB: Database,
        for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
        'p: 'e,
        'q: 'e,
        E: 'q + Execute<'q, DB>,
    {
        let (query, operation) = Prepared::take(query);
        Box::pin(async move {
            let (wait_exemplar, exemplar) = recorder.pool_query_exemplars();
            let mut connection = match recorder.acquire_with(pool, wait_exemplar).await {
                Ok(connection) => connection,
                Err(error) => {
                    recorder.record_unstarted(operation, query_name, &error);
                    return Err(error);
                }
            };
            let connection: &mut DB::Connection = &mut connection;
            optional_on::<DB, &mut DB::Connection>(
                recorder, query_name, connection, query, operation, exemplar,
            )
            .await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fiko_metrics::MetricSet;

    fn names(n: usize) -> Vec<&'static str> {
        (0..n)
            .map(|i| &*Box::leak(format!("p{i}").into_boxed_str()))
            .collect()
    }

    /// A pool looks its unnamed queries' series and its acquire wait up once, then records
    /// by `SeriesId`: past the families' series limit a new pool folds once per series,
    /// however many queries it runs, while a named query looks its series up each time.
    #[test]
    fn a_pool_looks_its_series_up_once() {
        let metrics = Arc::new(DbMetrics::new());
        let limit = fiko_metrics::family::DEFAULT_MAX_SERIES;
        for pool in names(limit) {
            let labels = QueryLabels {
                pool,
                operation: Operation::Select,
                query: "",
            };
            metrics.queries.get_or_create(&labels);
            metrics.query_duration_seconds.get_or_create(&labels);
            metrics.slow_queries.get_or_create(&labels);
            metrics
                .pool_acquire_duration_seconds
                .get_or_create(&PoolLabel { pool });
        }
        let recorder = Recorder {
            metrics: metrics.clone(),
            pool: "late",
            slow_threshold: Duration::ZERO,
            query_timeout: None,
            series: PoolSeries::default(),
            clock: quanta::Clock::new(),
        };
        for _ in 0..10 {
            recorder.record(
                Operation::Select,
                "",
                Some(Duration::from_millis(1)),
                None,
                None,
            );
            drop(AcquireWait {
                recorder: &recorder,
                start: recorder.clock.raw(),
                exemplar: None,
            });
        }
        let overflow = QueryLabels {
            pool: "other",
            operation: Operation::Select,
            query: "other",
        };
        assert_eq!(metrics.queries.get_or_create(&overflow).get(), 10);
        assert_eq!(metrics.slow_queries.get_or_create(&overflow).get(), 10);
        assert_eq!(
            metrics
                .query_duration_seconds
                .get_or_create(&overflow)
                .count(),
            10
        );
        let waits = metrics
            .pool_acquire_duration_seconds
            .get_or_create(&PoolLabel { pool: "other" });
        assert_eq!(waits.count(), 10);
        assert_eq!(metrics.queries.folded(), 1);
        assert_eq!(metrics.query_duration_seconds.folded(), 1);
        assert_eq!(metrics.slow_queries.folded(), 1);
        assert_eq!(metrics.pool_acquire_duration_seconds.folded(), 1);

        // A named query's series are looked up once per name and operation too.
        for _ in 0..10 {
            recorder.record(Operation::Select, "by_id", None, None, None);
        }
        assert_eq!(metrics.queries.get_or_create(&overflow).get(), 20);
        assert_eq!(metrics.queries.folded(), 2);
    }

    /// Named queries record into their own series, the same name from two places into the
    /// same one; past [`NAMED_QUERIES`] names, by their labels, as correctly.
    #[test]
    fn named_queries_keep_their_series_and_past_the_bound_still_record() {
        let metrics = Arc::new(DbMetrics::new());
        let recorder = Recorder {
            metrics: metrics.clone(),
            pool: "main",
            slow_threshold: Duration::from_secs(1),
            query_timeout: None,
            series: PoolSeries::default(),
            clock: quanta::Clock::new(),
        };
        let elapsed = Some(Duration::from_millis(2));
        let count = |query: &'static str, operation| {
            let labels = QueryLabels {
                pool: "main",
                operation,
                query,
            };
            let duration = metrics.query_duration_seconds.get_or_create(&labels);
            (
                metrics.queries.get_or_create(&labels).get(),
                duration.count(),
            )
        };
        // Two copies of one name at different addresses.
        let (by_id, copy) = ("by_id", &*Box::leak(String::from("by_id").into_boxed_str()));
        for _ in 0..3 {
            recorder.record(Operation::Select, by_id, elapsed, None, None);
            recorder.record(Operation::Select, copy, elapsed, None, None);
            recorder.record(Operation::Update, by_id, elapsed, None, None);
        }
        assert_eq!(count("by_id", Operation::Select), (6, 6));
        assert_eq!(count("by_id", Operation::Update), (3, 3));
        // An unstarted query counts but has no duration.
        recorder.record(Operation::Delete, by_id, None, None, None);
        assert_eq!(count("by_id", Operation::Delete), (1, 0));

        for name in names(NAMED_QUERIES) {
            recorder.record(Operation::Select, name, elapsed, None, None);
        }
        let (late, last) = ("late", names(1)[0]);
        for _ in 0..2 {
            recorder.record(Operation::Select, late, elapsed, None, None);
            recorder.record(Operation::Select, by_id, elapsed, None, None);
        }
        assert_eq!(count(late, Operation::Select), (2, 2), "past the bound");
        assert_eq!(count("by_id", Operation::Select), (8, 8), "known before it");
        assert_eq!(count(last, Operation::Select).0, 1);
        assert_eq!(
            recorder.series.named.read().unwrap().len(),
            NAMED_QUERIES,
            "bounded"
        );
    }
}
