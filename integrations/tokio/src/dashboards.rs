//! The default dashboard row and alerts of [`TokioMetrics`], read by the dashboards
//! generator (`fiko-dashboards`' [`Observe`]).

use fiko_dashboards::prelude::*;

use crate::{RuntimeLabels, TokioMetrics, WorkerLabels};

impl Observe for TokioMetrics {
    fn service() -> &'static str {
        "app"
    }

    fn rows() -> Vec<Row> {
        vec![
            Row::new("tokio runtime")
                .panel(
                    Panel::timeseries("Worker busy ratio")
                        .query(
                            Self::WORKER_BUSY_SECONDS
                                .rate()
                                .by([WorkerLabels::RUNTIME, WorkerLabels::WORKER]),
                        )
                        .description("Seconds each worker spent polling tasks per second: 1 is a worker that never parks."),
                )
                .panel(
                    Panel::timeseries("Global queue depth")
                        .query(Self::GLOBAL_QUEUE_DEPTH.value().by([RuntimeLabels::RUNTIME]))
                        .description("Tasks waiting in the global (injection) queue; a queue that keeps growing means the workers cannot keep up."),
                )
                .panel(
                    Panel::timeseries("Alive tasks")
                        .query(Self::ALIVE_TASKS.value().by([RuntimeLabels::RUNTIME])),
                )
                .panel(
                    Panel::stat("Workers")
                        .query(Self::WORKERS.value().by([RuntimeLabels::RUNTIME])),
                ),
        ]
    }

    fn alerts() -> Vec<Alert> {
        vec![
            Alert::warning(
                "TokioWorkersSaturated",
                Self::WORKER_BUSY_SECONDS
                    .rate()
                    .by([WorkerLabels::RUNTIME])
                    .avg()
                    .above(Percent(90.0)),
            )
            .for_(minutes(10))
            .summary("tokio runtime {{ $labels.runtime }} is saturated on {{ $labels.instance }}")
            .description("The workers of runtime {{ $labels.runtime }} of {{ $labels.job }} at {{ $labels.instance }} have been busy more than {threshold} of the time for {for}: tasks wait for a worker, latencies grow. Look for blocking calls on the runtime or add workers.")
            .diagnosis("Blocking calls (file or DNS I/O, heavy computation) on async workers, or plain CPU load, keep them busy.")
            .mitigation("Move blocking work to `spawn_blocking`, or give the runtime more worker threads."),
            Alert::warning(
                "TokioGlobalQueueBacklog",
                Self::GLOBAL_QUEUE_DEPTH
                    .value()
                    .by([RuntimeLabels::RUNTIME])
                    .max()
                    .above(Count(1000.0)),
            )
            .for_(minutes(5))
            .summary("tokio global queue backlog in {{ $labels.runtime }} on {{ $labels.instance }}")
            .description("More than {threshold} tasks have waited in the global queue of runtime {{ $labels.runtime }} of {{ $labels.job }} at {{ $labels.instance }} for {for}: tasks are spawned faster than the workers take them.")
            .diagnosis("A burst of spawned tasks, or workers stuck on blocking calls, lets the global queue grow.")
            .mitigation("Bound the spawning with a semaphore and unblock the workers."),
        ]
    }
}

// Found by generators that read the application's registry
// (`Generator::observe_registered`).
fiko_dashboards::observed!(TokioMetrics);
