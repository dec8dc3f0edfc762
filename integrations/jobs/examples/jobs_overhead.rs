//! What recording costs per task: `cargo run --release -p fiko-metrics-jobs --example jobs_overhead`.
//!
//! Times a no-op task service with and without [`JobMetricsLayer`], and the
//! framework-neutral `start_task` / `succeeded` pair.

use std::future::{Ready, ready};
use std::hint::black_box;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use apalis_core::task::Task;
use fiko_metrics::Registry;
use fiko_metrics_jobs::Jobs;
use tower_layer::Layer;
use tower_service::Service;

/// A task function that does nothing, so only the wrapping is timed.
#[derive(Clone)]
struct Noop;

impl Service<Task<u64>> for Noop {
    type Response = u64;
    type Error = std::convert::Infallible;
    type Future = Ready<Result<u64, Self::Error>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, task: Task<u64>) -> Self::Future {
        ready(Ok(task.args))
    }
}

const TASKS: u64 = 1_000_000;

fn run<S: Service<Task<u64>>>(service: &mut S) -> f64
where
    S::Future: Unpin,
{
    let mut cx = Context::from_waker(Waker::noop());
    let start = Instant::now();
    for n in 0..TASKS {
        let _ = service.poll_ready(&mut cx);
        let mut future = service.call(Task::new(n));
        let _ = black_box(std::pin::Pin::new(&mut future).poll(&mut cx));
    }
    start.elapsed().as_nanos() as f64 / TASKS as f64
}

use std::future::Future;

fn main() -> Result<(), fiko_metrics::RegistryError> {
    let registry = Registry::new();
    let jobs = Jobs::register(&registry)?;

    let bare = run(&mut Noop);
    let layered = run(&mut jobs.layer("bench").task_name("noop").layer(Noop));

    let start = Instant::now();
    for _ in 0..TASKS {
        jobs.start_task("direct").succeeded();
    }
    let direct = start.elapsed().as_nanos() as f64 / TASKS as f64;

    println!("no-op task, bare:             {bare:>7.1} ns/task");
    println!(
        "no-op task, JobMetricsLayer:  {layered:>7.1} ns/task (+{:.1})",
        layered - bare
    );
    println!("start_task + succeeded:       {direct:>7.1} ns/task");
    Ok(())
}
