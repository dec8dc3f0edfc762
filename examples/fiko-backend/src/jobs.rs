//! Background jobs — the Celery worker's role — recorded by `fiko-metrics-jobs`.
//!
//! With Redis, the web instances push jobs to apalis-redis queues and a separate worker
//! process (`fiko-backend worker`) runs them under apalis with the jobs integration's tower
//! layer; the worker also reads the queue lengths from Redis at every scrape. Without
//! Redis, each instance runs its jobs itself from a bounded in-process queue, recorded
//! through the integration's framework-free API.

use std::sync::Arc;
use std::time::Duration;

use apalis::prelude::*;
use apalis_redis::{Config as QueueConfig, RedisStorage};
use fiko_metrics_jobs::{Jobs, QueueLengths, QueueSource, RedisQueues};
use redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::cache::RedisConnection;
use crate::db::Db;
use crate::metrics::{EnqueueLabels, EnqueueMetrics, EnqueueOutcome, Task};

/// The Redis queue of welcome emails.
pub const EMAILS_QUEUE: &str = "fiko:emails";
/// The Redis queue of invoices.
pub const INVOICES_QUEUE: &str = "fiko:invoices";
/// The in-process queue's name in `fiko_jobs_queue_length`.
pub const LOCAL_QUEUE: &str = "local";
/// Welcome emails to this domain bounce: the job fails (and is retried), as a real mail
/// provider's would.
pub const BOUNCING_DOMAIN: &str = "@bounce.example";

const LOCAL_QUEUE_CAPACITY: usize = 1000;
const PUSH_TIMEOUT: Duration = Duration::from_millis(500);

/// The apalis-redis settings of `queue`: a 1 s heartbeat, so scheduled tasks (apalis-redis
/// schedules every pushed task first) and retries reach a worker within a second or two
/// instead of the default 30 s.
fn queue_config(queue: &str) -> QueueConfig {
    QueueConfig::default()
        .queue(queue)
        .heartbeat_interval(Duration::from_secs(1))
}

/// Send the welcome email of a new user.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WelcomeEmail {
    /// The new user.
    pub user_id: i64,
}

/// Render the invoice of a transaction.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Invoice {
    /// The transaction.
    pub transaction_id: i64,
}

/// A job of either kind.
#[derive(Clone, Debug)]
pub enum Job {
    /// A welcome email.
    WelcomeEmail(WelcomeEmail),
    /// An invoice.
    Invoice(Invoice),
}

impl Job {
    fn task(&self) -> Task {
        match self {
            Job::WelcomeEmail(_) => Task::WelcomeEmail,
            Job::Invoice(_) => Task::Invoice,
        }
    }
}

/// Why a job failed.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The database failed.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// The email bounced.
    #[error("the welcome email to {0} bounced")]
    Bounced(String),
    /// The job names a row that does not exist.
    #[error("{0} does not exist")]
    Missing(&'static str),
}

/// Sends a welcome email: records it in the `emails` table (the demo's mail provider).
pub async fn send_welcome_email(db: &Db, job: &WelcomeEmail) -> Result<(), JobError> {
    let user = db
        .user_profile(job.user_id)
        .await?
        .ok_or(JobError::Missing("the user"))?;
    // The time a mail provider's API call takes.
    tokio::time::sleep(Duration::from_millis(5)).await;
    if user.email.ends_with(BOUNCING_DOMAIN) {
        return Err(JobError::Bounced(user.email));
    }
    db.insert_email(user.id, "welcome").await?;
    Ok(())
}

/// Renders an invoice into the `invoices` table.
pub async fn render_invoice(db: &Db, job: &Invoice) -> Result<(), JobError> {
    let (amount_cents, currency, plan) = db
        .transaction(job.transaction_id)
        .await?
        .ok_or(JobError::Missing("the transaction"))?;
    let body = format!(
        "Invoice for transaction {}\nPlan: {plan}\nAmount: {}.{:02} {}\n",
        job.transaction_id,
        amount_cents / 100,
        amount_cents % 100,
        currency.to_uppercase()
    );
    db.insert_invoice(job.transaction_id, &body).await?;
    Ok(())
}

/// Where the web application sends jobs.
#[derive(Clone)]
pub struct JobQueue {
    target: Target,
    /// Where enqueues are counted; `None` with the instrumentation off.
    metrics: Option<Arc<EnqueueMetrics>>,
}

#[derive(Clone)]
enum Target {
    Local(mpsc::Sender<Job>),
    Redis(Box<RedisQueuesTarget>),
}

#[derive(Clone)]
struct RedisQueuesTarget {
    emails: RedisStorage<WelcomeEmail, RedisConnection>,
    invoices: RedisStorage<Invoice, RedisConnection>,
}

impl std::fmt::Debug for JobQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.target {
            Target::Local(_) => "local",
            Target::Redis(_) => "redis",
        };
        f.debug_struct("JobQueue").field("target", &kind).finish()
    }
}

impl JobQueue {
    /// A queue in Redis, consumed by `fiko-backend worker`.
    pub fn redis(connection: RedisConnection, metrics: Arc<EnqueueMetrics>) -> Self {
        Self {
            target: Target::Redis(Box::new(RedisQueuesTarget {
                emails: RedisStorage::new(connection.clone())
                    .with_config(queue_config(EMAILS_QUEUE)),
                invoices: RedisStorage::new(connection).with_config(queue_config(INVOICES_QUEUE)),
            })),
            metrics: Some(metrics),
        }
    }

    /// An in-process queue and its worker, running on the current Tokio runtime until the
    /// queue is dropped. The worker records into `jobs` as `worker`, and enqueues are
    /// counted in `metrics`; without them (the instrumentation off), nothing is recorded.
    pub fn local(
        db: Db,
        jobs: Option<&Jobs>,
        worker: &str,
        metrics: Option<Arc<EnqueueMetrics>>,
    ) -> Self {
        let (sender, mut receiver) = mpsc::channel::<Job>(LOCAL_QUEUE_CAPACITY);
        let jobs = jobs.cloned();
        let handle = jobs.as_ref().map(|jobs| {
            // Queue lengths are read at scrape time from the channel itself. The watch
            // needs a runtime, which `local` is called on.
            let _ = jobs.watch_queues(LocalQueue(sender.downgrade()));
            jobs.worker(worker.to_owned())
        });
        tokio::spawn(async move {
            let _handle = handle; // up while this task runs
            while let Some(job) = receiver.recv().await {
                run_local(&db, jobs.as_ref(), &job).await;
            }
        });
        Self {
            target: Target::Local(sender),
            metrics,
        }
    }

    /// Enqueues `job`; a failure (queue unreachable or full) is counted and returned, and
    /// callers carry on: losing a welcome email must not fail a registration.
    pub async fn push(&self, job: Job) -> Result<(), String> {
        let task = job.task();
        let result = match (&self.target, job) {
            (Target::Local(sender), job) => sender.try_send(job).map_err(|e| e.to_string()),
            (Target::Redis(queues), Job::WelcomeEmail(job)) => {
                let mut storage = queues.emails.clone();
                bounded_push(async move { storage.push(job).await.map_err(|e| e.to_string()) })
                    .await
            }
            (Target::Redis(queues), Job::Invoice(job)) => {
                let mut storage = queues.invoices.clone();
                bounded_push(async move { storage.push(job).await.map_err(|e| e.to_string()) })
                    .await
            }
        };
        let outcome = if result.is_ok() {
            EnqueueOutcome::Ok
        } else {
            EnqueueOutcome::Error
        };
        if let Some(metrics) = &self.metrics {
            metrics
                .enqueued
                .get_or_create(&EnqueueLabels { task, outcome })
                .inc();
        }
        result
    }
}

async fn bounded_push(push: impl Future<Output = Result<(), String>>) -> Result<(), String> {
    tokio::time::timeout(PUSH_TIMEOUT, push)
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {PUSH_TIMEOUT:?}")))
}

/// Runs one in-process job, with one retry, recording each attempt (in `jobs`, if any).
async fn run_local(db: &Db, jobs: Option<&Jobs>, job: &Job) {
    let task = job.task().name();
    for attempt in 0..2 {
        let run = jobs.map(|jobs| {
            if attempt == 0 {
                jobs.start_task(task)
            } else {
                jobs.start_retry(task)
            }
        });
        let result = match job {
            Job::WelcomeEmail(job) => send_welcome_email(db, job).await,
            Job::Invoice(job) => render_invoice(db, job).await,
        };
        match result {
            Ok(()) => {
                if let Some(run) = run {
                    run.succeeded();
                }
                return;
            }
            Err(_) => {
                if let Some(run) = run {
                    run.failed();
                }
            }
        }
    }
}

/// The in-process queue's length, for `fiko_jobs_queue_length`.
struct LocalQueue(mpsc::WeakSender<Job>);

impl QueueSource for LocalQueue {
    fn queue_lengths(&self) -> QueueLengths {
        let waiting = self
            .0
            .upgrade()
            .map_or(0, |sender| sender.max_capacity() - sender.capacity());
        Box::pin(async move { Ok(vec![(LOCAL_QUEUE.to_owned(), waiting as u64)]) })
    }
}

async fn welcome_email_task(job: WelcomeEmail, db: Data<Db>) -> Result<(), BoxDynError> {
    send_welcome_email(&db, &job).await.map_err(Into::into)
}

async fn invoice_task(job: Invoice, db: Data<Db>) -> Result<(), BoxDynError> {
    render_invoice(&db, &job).await.map_err(Into::into)
}

/// Reads the Redis queues' lengths at every scrape.
pub fn watch_redis_queues(jobs: &Jobs, connection: ConnectionManager) -> Result<(), String> {
    jobs.watch_queues(RedisQueues::new(connection, [EMAILS_QUEUE, INVOICES_QUEUE]))
        .map_err(|e| e.to_string())
}

/// Runs the Redis queues' apalis workers until `shutdown` completes or a worker fails
/// (e.g. Redis went away): one worker per queue, named `{name}-emails` and
/// `{name}-invoices`, each retrying a failed task once.
pub async fn run_redis_workers(
    name: &str,
    connection: ConnectionManager,
    db: Db,
    jobs: &Jobs,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    let emails_name = format!("{name}-emails");
    let invoices_name = format!("{name}-invoices");
    let emails = WorkerBuilder::new(emails_name.as_str())
        .backend(
            RedisStorage::<WelcomeEmail, _>::new(connection.clone())
                .with_config(queue_config(EMAILS_QUEUE)),
        )
        .data(db.clone())
        .retry(RetryPolicy::retries(1))
        .layer(
            jobs.layer(emails_name.clone())
                .task_name(Task::WelcomeEmail.name()),
        )
        .build(welcome_email_task);
    let invoices = WorkerBuilder::new(invoices_name.as_str())
        .backend(
            RedisStorage::<Invoice, _>::new(connection).with_config(queue_config(INVOICES_QUEUE)),
        )
        .data(db)
        .retry(RetryPolicy::retries(1))
        .layer(
            jobs.layer(invoices_name.clone())
                .task_name(Task::Invoice.name()),
        )
        .build(invoice_task);
    // One stop signal for both workers: the caller's shutdown, or either worker ending
    // (Redis went away), so the caller restarts them together rather than waiting forever
    // on the one that is still running.
    let stop = std::sync::Arc::new(tokio::sync::watch::channel(false).0);
    let stop_on_shutdown = stop.clone();
    tokio::spawn(async move {
        shutdown.await;
        stop_on_shutdown.send_replace(true);
    });
    let until_stopped = |stop: &tokio::sync::watch::Sender<bool>| {
        let mut stopped = stop.subscribe();
        async move {
            let _ = stopped.wait_for(|stop| *stop).await;
            Ok::<(), std::io::Error>(())
        }
    };
    let emails = emails.run_until(until_stopped(&stop));
    let invoices = invoices.run_until(until_stopped(&stop));
    tokio::pin!(emails, invoices);
    let (mut emails_done, mut invoices_done) = (false, false);
    let mut first_error = None;
    while !(emails_done && invoices_done) {
        tokio::select! {
            result = &mut emails, if !emails_done => {
                emails_done = true;
                if let Err(error) = result {
                    first_error.get_or_insert(format!("worker {emails_name}: {error}"));
                }
            }
            result = &mut invoices, if !invoices_done => {
                invoices_done = true;
                if let Err(error) = result {
                    first_error.get_or_insert(format!("worker {invoices_name}: {error}"));
                }
            }
        }
        stop.send_replace(true);
    }
    first_error.map_or(Ok(()), Err)
}
