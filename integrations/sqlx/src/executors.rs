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
use sqlx::pool::PoolConnection;
use sqlx::{Connection, Either, Error, Execute, Executor, Pool, SqlStr, Transaction};

use crate::record::{self, Recorder};

/// A sqlx [`Pool`] whose queries are recorded in [`DbMetrics`](crate::DbMetrics).
///
/// `&InstrumentedPool` is an [`Executor`], so `sqlx::query(...).fetch_all(&pool)` works as
/// with a plain pool. [`begin`](Self::begin) and [`acquire`](Self::acquire) hand out
/// instrumented transactions and connections; every other `Pool` method is reachable
/// through `Deref` (`size`, `close`, ...). Those that hand out connections (`try_acquire`,
/// `begin_with`, ...) return plain ones, as does `&*pool` itself: their queries are not
/// recorded. Cloning is cheap and shares the pool.
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

    /// The plain pool; queries run on it directly are not recorded.
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

    /// This pool as an executor whose queries carry the `query` label `name`:
    /// `sqlx::query(...).fetch_all(pool.named("list_users"))`.
    pub fn named(&self, name: &'static str) -> Named<&Self> {
        Named {
            executor: self,
            name,
        }
    }

    /// Starts a transaction whose queries are recorded. `BEGIN` counts as a query of
    /// operation `other`, and so do [`commit`](Instrumented::commit) and
    /// [`rollback`](Instrumented::rollback): a pool timeout here, or a failing `COMMIT`,
    /// shows in the error counts.
    pub async fn begin(&self) -> Result<InstrumentedTransaction<'static, DB>, Error> {
        let begin = self.shared.pool.begin();
        let transaction = record::transaction_control(&self.shared.recorder, begin).await?;
        Ok(self.instrument(transaction))
    }

    /// Checks a connection out of the pool; its queries are recorded. (Checking out is not
    /// a query: a pool timeout here is returned, not counted.)
    pub async fn acquire(&self) -> Result<InstrumentedPoolConnection<DB>, Error> {
        let connection = self.shared.pool.acquire().await?;
        Ok(self.instrument(connection))
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
/// executor, and recording around the plain executor's `fetch_many` and `fetch_optional`.
macro_rules! instrumented_executor {
    ($c:lifetime, $database:ty, |$this:ident| $split:expr) => {
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
            record::fetch_many(recorder, name, inner, query)
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
            record::fetch_optional(recorder, name, inner, query)
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
    instrumented_executor!('p, DB, |pool| (&*pool.shared.recorder, "", &pool.shared.pool));
}

impl<'p, DB: Database> Executor<'p> for Named<&'p InstrumentedPool<DB>>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    instrumented_executor!('p, DB, |named| (
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
    instrumented_executor!('c, <C::Target as Connection>::Database, |this| (
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
    instrumented_executor!('c, <C::Target as Connection>::Database, |this| (
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
    instrumented_executor!('c, <C::Target as Connection>::Database, |named| (
        &*named.executor.recorder,
        named.name,
        &mut *named.executor.connection
    ));
}
