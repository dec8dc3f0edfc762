//! The instrumented executors: a pool, its connections and transactions, and named
//! queries on either. Each implements sqlx's `Executor`, so queries run on them unchanged.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::time::Duration;

use futures_core::future::BoxFuture;
use futures_core::stream::BoxStream;
#[cfg(feature = "macros")]
use sqlx::Describe;
use sqlx::database::Database;
use sqlx::pool::{MaybePoolConnection, PoolConnection};
use sqlx::{Connection, Either, Error, Execute, Executor, Pool, SqlSafeStr, SqlStr, Transaction};

use crate::operation::Operation;
use crate::record::{self, Recorder};

/// A sqlx [`Pool`] whose queries are recorded in [`DbMetrics`](crate::DbMetrics).
///
/// `&InstrumentedPool` is an [`Executor`], so `sqlx::query(...).fetch_all(&pool)` works as
/// with a plain pool. Every `Pool` method that hands out a connection has an instrumented
/// namesake here, which shadows it: [`acquire`](Self::acquire),
/// [`try_acquire`](Self::try_acquire), [`begin`](Self::begin),
/// [`begin_with`](Self::begin_with), [`try_begin`](Self::try_begin) and
/// [`try_begin_with`](Self::try_begin_with) return instrumented connections and
/// transactions, and record their wait for a connection. Every other `Pool` method is
/// reachable through `Deref` (`size`, `close`, ...). Only the plain pool itself —
/// [`inner`](Self::inner), `&*pool`, or code generic over sqlx's `Acquire` given it — is
/// unrecorded; wrap what it hands out with [`instrument`](Self::instrument) to record its
/// queries. Cloning is cheap and shares the pool.
///
/// A query on the pool waits for a connection first: that wait is recorded in
/// `fiko_db_pool_acquire_duration_seconds` (and a failed checkout in
/// `fiko_db_pool_acquire_errors_total`), and the query's own duration starts once it has
/// its connection.
pub struct InstrumentedPool<DB: Database> {
    shared: Arc<Shared<DB>>,
}

/// What the clones of one instrumented pool share; the pool gauges hold it weakly.
pub(crate) struct Shared<DB: Database> {
    pub(crate) pool: Pool<DB>,
    pub(crate) recorder: Arc<Recorder>,
}

impl<DB: Database> InstrumentedPool<DB> {
    pub(crate) fn from_shared(shared: Arc<Shared<DB>>) -> Self {
        Self { shared }
    }

    /// The plain pool; queries run on it directly, and on what it hands out, are not
    /// recorded (pass those connections and transactions to [`instrument`](Self::instrument)
    /// to record their queries).
    pub fn inner(&self) -> &Pool<DB> {
        &self.shared.pool
    }

    /// The pool's name, its `pool` label.
    pub fn name(&self) -> &'static str {
        self.shared.recorder.pool
    }

    /// Queries taking at least this long count as slow.
    pub fn slow_threshold(&self) -> Duration {
        self.shared.recorder.slow_threshold
    }

    /// How long a query may wait for the server's answer, if bounded
    /// ([`PoolConfig::query_timeout`](crate::PoolConfig::query_timeout)).
    pub fn query_timeout(&self) -> Option<Duration> {
        self.shared.recorder.query_timeout
    }

    /// This pool as an executor whose queries carry the `query` label `name`:
    /// `sqlx::query(...).fetch_all(pool.named("list_users"))`.
    pub fn named(&self, name: &'static str) -> Named<&Self> {
        Named {
            executor: self,
            name,
        }
    }

    /// Starts a transaction whose queries are recorded. The wait for a connection is an
    /// acquire wait; `BEGIN` counts as a query of operation `other`, and so do
    /// [`commit`](Instrumented::commit) and [`rollback`](Instrumented::rollback): a pool
    /// timeout here, or a failing `COMMIT`, shows in the error counts.
    pub async fn begin(&self) -> Result<InstrumentedTransaction<'static, DB>, Error> {
        let connection = self.acquire_recorded(Operation::Other).await?;
        self.begin_on(connection, None).await
    }

    /// [`begin`](Self::begin) with a custom `BEGIN` statement (e.g. `BEGIN ISOLATION LEVEL
    /// SERIALIZABLE`), recorded the same way.
    pub async fn begin_with(
        &self,
        statement: impl SqlSafeStr,
    ) -> Result<InstrumentedTransaction<'static, DB>, Error> {
        let connection = self.acquire_recorded(Operation::Other).await?;
        self.begin_on(connection, Some(statement.into_sql_str()))
            .await
    }

    /// Starts a transaction if a connection is free right now, without waiting (so no
    /// acquire wait is recorded); `Ok(None)` otherwise.
    pub async fn try_begin(&self) -> Result<Option<InstrumentedTransaction<'static, DB>>, Error> {
        match self.shared.pool.try_acquire() {
            Some(connection) => self.begin_on(connection, None).await.map(Some),
            None => Ok(None),
        }
    }

    /// [`try_begin`](Self::try_begin) with a custom `BEGIN` statement.
    pub async fn try_begin_with(
        &self,
        statement: impl SqlSafeStr,
    ) -> Result<Option<InstrumentedTransaction<'static, DB>>, Error> {
        match self.shared.pool.try_acquire() {
            Some(connection) => self
                .begin_on(connection, Some(statement.into_sql_str()))
                .await
                .map(Some),
            None => Ok(None),
        }
    }

    /// Checks a connection out of the pool; its queries are recorded. Checking out is not
    /// a query: its wait is recorded as an acquire wait and a failure (a pool timeout) in
    /// `fiko_db_pool_acquire_errors_total`, not in the query counts.
    pub async fn acquire(&self) -> Result<InstrumentedPoolConnection<DB>, Error> {
        let connection = self.shared.recorder.acquire(&self.shared.pool).await?;
        Ok(self.instrument(connection))
    }

    /// Checks out a connection if one is free right now, without waiting (so no acquire
    /// wait is recorded); its queries are recorded.
    pub fn try_acquire(&self) -> Option<InstrumentedPoolConnection<DB>> {
        self.shared
            .pool
            .try_acquire()
            .map(|connection| self.instrument(connection))
    }

    /// Checks a connection out for a statement of `operation` that needs one, counting
    /// that statement as failed when no connection comes.
    async fn acquire_recorded(&self, operation: Operation) -> Result<PoolConnection<DB>, Error> {
        let recorder = &self.shared.recorder;
        recorder
            .acquire(&self.shared.pool)
            .await
            .inspect_err(|error| {
                recorder.record_unstarted(operation, "", error);
            })
    }

    /// Runs `BEGIN` (or `statement`) on `connection`, recorded.
    async fn begin_on(
        &self,
        connection: PoolConnection<DB>,
        statement: Option<SqlStr>,
    ) -> Result<InstrumentedTransaction<'static, DB>, Error> {
        // What `Pool::begin` itself does once it has a connection (sqlx keeps this
        // constructor out of its docs, but it is public and the only way to begin on a
        // connection checked out separately, whose wait is then measured on its own).
        let begin = Transaction::begin(MaybePoolConnection::PoolConnection(connection), statement);
        let transaction = record::transaction_control(&self.shared.recorder, begin).await?;
        Ok(self.instrument(transaction))
    }

    /// Records the queries of a connection or transaction obtained some other way (for
    /// example from [`inner`](Self::inner)) under this pool's name.
    pub fn instrument<C>(&self, connection: C) -> Instrumented<C> {
        Instrumented {
            connection: InstrumentedConnection {
                connection,
                recorder: self.shared.recorder.clone(),
            },
        }
    }
}

impl<DB: Database> Clone for InstrumentedPool<DB> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
        }
    }
}

impl<DB: Database> Deref for InstrumentedPool<DB> {
    type Target = Pool<DB>;

    fn deref(&self) -> &Pool<DB> {
        &self.shared.pool
    }
}

impl<DB: Database> fmt::Debug for InstrumentedPool<DB> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InstrumentedPool")
            .field("name", &self.name())
            .field("slow_threshold", &self.slow_threshold())
            .field("pool", &self.shared.pool)
            .finish()
    }
}

/// A connection or transaction whose queries are recorded; what
/// [`InstrumentedPool::begin`] and [`InstrumentedPool::acquire`] return.
///
/// Both `&mut tx` and `&mut *tx` are executors, so code written for sqlx's own
/// `Transaction` (`query.execute(&mut *tx)`) compiles unchanged.
pub struct Instrumented<C> {
    connection: InstrumentedConnection<C>,
}

/// An instrumented transaction.
pub type InstrumentedTransaction<'c, DB> = Instrumented<Transaction<'c, DB>>;

/// An instrumented connection checked out of a pool.
pub type InstrumentedPoolConnection<DB> = Instrumented<PoolConnection<DB>>;

/// The executor inside an [`Instrumented`] connection: `&mut *tx` is a
/// `&mut InstrumentedConnection<_>`.
pub struct InstrumentedConnection<C> {
    connection: C,
    recorder: Arc<Recorder>,
}

impl<C> Instrumented<C> {
    /// The plain connection or transaction; queries run on it are not recorded.
    pub fn into_inner(self) -> C {
        self.connection.connection
    }
}

impl<C> InstrumentedConnection<C> {
    /// This connection as an executor whose queries carry the `query` label `name`.
    pub fn named(&mut self, name: &'static str) -> Named<&mut Self> {
        Named {
            executor: self,
            name,
        }
    }

    /// The plain connection or transaction; queries run on it are not recorded.
    pub fn inner(&self) -> &C {
        &self.connection
    }

    /// The plain connection or transaction, mutably; queries run on it are not recorded.
    pub fn inner_mut(&mut self) -> &mut C {
        &mut self.connection
    }
}

impl<C> Deref for Instrumented<C> {
    type Target = InstrumentedConnection<C>;

    fn deref(&self) -> &InstrumentedConnection<C> {
        &self.connection
    }
}

impl<C> DerefMut for Instrumented<C> {
    fn deref_mut(&mut self) -> &mut InstrumentedConnection<C> {
        &mut self.connection
    }
}

impl<'c, DB: Database> Instrumented<Transaction<'c, DB>> {
    /// Commits the transaction (or releases the savepoint); recorded as a query of
    /// operation `other`.
    pub async fn commit(self) -> Result<(), Error> {
        let InstrumentedConnection {
            connection,
            recorder,
        } = self.connection;
        record::transaction_control(&recorder, connection.commit()).await
    }

    /// Rolls the transaction (or the savepoint) back; recorded as a query of operation
    /// `other`. (A transaction dropped without either is rolled back by sqlx in the
    /// background, unrecorded.)
    pub async fn rollback(self) -> Result<(), Error> {
        let InstrumentedConnection {
            connection,
            recorder,
        } = self.connection;
        record::transaction_control(&recorder, connection.rollback()).await
    }
}

impl<C> Instrumented<C>
where
    C: DerefMut,
    C::Target: Connection,
{
    /// Starts a transaction on this connection, or a savepoint inside this transaction;
    /// its queries are recorded like this connection's, and so is the `BEGIN` (or
    /// `SAVEPOINT`), as a query of operation `other`.
    pub async fn begin(
        &mut self,
    ) -> Result<Instrumented<Transaction<'_, <C::Target as Connection>::Database>>, Error> {
        let recorder = self.connection.recorder.clone();
        let begin = Connection::begin(&mut *self.connection.connection);
        let transaction = record::transaction_control(&recorder, begin).await?;
        Ok(Instrumented {
            connection: InstrumentedConnection {
                connection: transaction,
                recorder,
            },
        })
    }
}

impl<C: fmt::Debug> fmt::Debug for Instrumented<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.connection, f)
    }
}

impl<C: fmt::Debug> fmt::Debug for InstrumentedConnection<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InstrumentedConnection")
            .field("pool", &self.recorder.pool)
            .field("connection", &self.connection)
            .finish()
    }
}

/// An instrumented executor whose queries carry a `query` label: see
/// [`InstrumentedPool::named`] and [`InstrumentedConnection::named`].
#[derive(Debug)]
pub struct Named<E> {
    executor: E,
    name: &'static str,
}

/// Implements `Executor` by splitting `self` into a recorder, a query name and the plain
/// executor, and recording around the plain executor's `fetch_many` and `fetch_optional`
/// with the functions of `record::$on` (their first type argument is given: naming the
/// pool's database spares the trait solver a search through this crate's own executors,
/// which overflows; `on_pool` checks a connection out first and
/// records that wait on its own; `prepare_with` and `describe` are not queries and go to
/// the plain executor unrecorded).
macro_rules! instrumented_executor {
    ($c:lifetime, $database:ty, $on:ident::<$first:ty>, |$this:ident| $split:expr) => {
        type Database = $database;

        fn fetch_many<'e, 'q: 'e, E>(
            self,
            query: E,
        ) -> BoxStream<
            'e,
            Result<
                Either<
                    <Self::Database as Database>::QueryResult,
                    <Self::Database as Database>::Row,
                >,
                Error,
            >,
        >
        where
            $c: 'e,
            E: 'q + Execute<'q, Self::Database>,
        {
            let $this = self;
            let (recorder, name, inner) = $split;
            record::$on::fetch_many::<$first, _>(recorder, name, inner, query)
        }

        fn fetch_optional<'e, 'q: 'e, E>(
            self,
            query: E,
        ) -> BoxFuture<'e, Result<Option<<Self::Database as Database>::Row>, Error>>
        where
            $c: 'e,
            E: 'q + Execute<'q, Self::Database>,
        {
            let $this = self;
            let (recorder, name, inner) = $split;
            record::$on::fetch_optional::<$first, _>(recorder, name, inner, query)
        }

        fn prepare_with<'e>(
            self,
            sql: SqlStr,
            parameters: &'e [<Self::Database as Database>::TypeInfo],
        ) -> BoxFuture<'e, Result<<Self::Database as Database>::Statement, Error>>
        where
            $c: 'e,
        {
            let $this = self;
            let (_, _, inner) = $split;
            inner.prepare_with(sql, parameters)
        }

        #[cfg(feature = "macros")]
        fn describe<'e>(self, sql: SqlStr) -> BoxFuture<'e, Result<Describe<Self::Database>, Error>>
        where
            $c: 'e,
        {
            let $this = self;
            let (_, _, inner) = $split;
            inner.describe(sql)
        }
    };
}

impl<'p, DB: Database> Executor<'p> for &'p InstrumentedPool<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    instrumented_executor!('p, DB, on_pool::<DB>, |pool| (&*pool.shared.recorder, "", &pool.shared.pool));
}

impl<'p, DB: Database> Executor<'p> for Named<&'p InstrumentedPool<DB>>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    instrumented_executor!('p, DB, on_pool::<DB>, |named| (
        &*named.executor.shared.recorder,
        named.name,
        &named.executor.shared.pool
    ));
}

impl<'c, C> Executor<'c> for &'c mut InstrumentedConnection<C>
where
    C: DerefMut + Send + fmt::Debug,
    C::Target: Connection,
    for<'a> &'a mut C::Target: Executor<'a, Database = <C::Target as Connection>::Database>,
{
    instrumented_executor!('c, <C::Target as Connection>::Database, on_connection::<_>, |this| (
        &*this.recorder,
        "",
        &mut *this.connection
    ));
}

impl<'c, C> Executor<'c> for &'c mut Instrumented<C>
where
    C: DerefMut + Send + fmt::Debug,
    C::Target: Connection,
    for<'a> &'a mut C::Target: Executor<'a, Database = <C::Target as Connection>::Database>,
{
    instrumented_executor!('c, <C::Target as Connection>::Database, on_connection::<_>, |this| (
        &*this.connection.recorder,
        "",
        &mut *this.connection.connection
    ));
}

impl<'c, C> Executor<'c> for Named<&'c mut InstrumentedConnection<C>>
where
    C: DerefMut + Send + fmt::Debug,
    C::Target: Connection,
    for<'a> &'a mut C::Target: Executor<'a, Database = <C::Target as Connection>::Database>,
{
    instrumented_executor!('c, <C::Target as Connection>::Database, on_connection::<_>, |named| (
        &*named.executor.recorder,
        named.name,
        &mut *named.executor.connection
    ));
}
