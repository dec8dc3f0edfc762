//! Queue lengths from apalis' Redis storage (`apalis-redis`).

use crate::queue::{QueueLengths, QueueSource};

/// Reads the length of apalis-redis queues: the tasks waiting in each queue, ready
/// (`LLEN {queue}:active`) or scheduled for later, retries included (`ZCARD
/// {queue}:scheduled`; apalis-redis 1.0 puts every pushed task there first). One
/// pipelined round trip for all queues.
///
/// Give it the queue names the storages use (`apalis_redis::Config::queue`, by default the
/// task type's full path) and any async Redis connection, e.g. a `ConnectionManager`,
/// which reconnects by itself.
#[derive(Clone)]
pub struct RedisQueues<C> {
    conn: C,
    queues: Vec<String>,
}

impl<C> std::fmt::Debug for RedisQueues<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisQueues")
            .field("queues", &self.queues)
            .finish_non_exhaustive()
    }
}

impl<C> RedisQueues<C>
where
    C: redis::aio::ConnectionLike + Clone + Send + Sync + 'static,
{
    /// Watches `queues` through `conn`.
    pub fn new<Q: Into<String>>(conn: C, queues: impl IntoIterator<Item = Q>) -> Self {
        Self {
            conn,
            queues: queues.into_iter().map(Into::into).collect(),
        }
    }
}

impl<C> RedisQueues<C> {
    /// The Redis list holding the waiting tasks of `queue`, as apalis-redis names it.
    pub fn active_list(queue: &str) -> String {
        format!("{queue}:active")
    }

    /// The Redis sorted set holding the tasks of `queue` scheduled for later.
    pub fn scheduled_set(queue: &str) -> String {
        format!("{queue}:scheduled")
    }
}

impl<C> QueueSource for RedisQueues<C>
where
    C: redis::aio::ConnectionLike + Clone + Send + Sync + 'static,
{
    fn queue_lengths(&self) -> QueueLengths {
        let mut conn = self.conn.clone();
        let queues = self.queues.clone();
        Box::pin(async move {
            let mut pipe = redis::pipe();
            for queue in &queues {
                pipe.cmd("LLEN").arg(Self::active_list(queue));
                pipe.cmd("ZCARD").arg(Self::scheduled_set(queue));
            }
            let counts: Vec<u64> = pipe.query_async(&mut conn).await?;
            Ok(queues
                .into_iter()
                .zip(counts.chunks(2).map(|pair| pair.iter().sum()))
                .collect())
        })
    }
}
