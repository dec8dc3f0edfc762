//! Queue lengths from apalis' PostgreSQL storage (`apalis-postgres`).

use crate::queue::{QueueLengths, QueueSource};

/// The tasks a worker may still pick up, as apalis-postgres' own `queue_length` query
/// counts them: pending, or failed with attempts left.
const WAITING: &str = "SELECT job_type, count(*) FROM apalis.jobs \
     WHERE job_type = ANY($1) \
       AND (status = 'Pending' OR (status = 'Failed' AND attempts < max_attempts)) \
     GROUP BY job_type";

/// Reads the length of apalis-postgres queues from the `apalis.jobs` table, in one query:
/// the tasks of each queue (`job_type`, `Config::queue` of the storage, by default the
/// task type's full path) that are pending, or failed with attempts left.
#[derive(Clone, Debug)]
pub struct PostgresQueues {
    pool: sqlx::PgPool,
    queues: Vec<String>,
}

impl PostgresQueues {
    /// Watches `queues` through `pool`.
    pub fn new<Q: Into<String>>(pool: sqlx::PgPool, queues: impl IntoIterator<Item = Q>) -> Self {
        Self {
            pool,
            queues: queues.into_iter().map(Into::into).collect(),
        }
    }
}

impl QueueSource for PostgresQueues {
    fn queue_lengths(&self) -> QueueLengths {
        let pool = self.pool.clone();
        let queues = self.queues.clone();
        Box::pin(async move {
            let counts: Vec<(String, i64)> = sqlx::query_as(WAITING)
                .bind(&queues)
                .fetch_all(&pool)
                .await?;
            Ok(queues
                .into_iter()
                .map(|queue| {
                    let count = counts
                        .iter()
                        .find(|(name, _)| *name == queue)
                        .map_or(0, |(_, count)| u64::try_from(*count).unwrap_or(0));
                    (queue, count)
                })
                .collect())
        })
    }
}
