//! A saturated runtime shows in the scrape: its workers' busy ratio and its global queue
//! rise under load and fall once the load stops.

// The helpers fail the test by panicking (they are not `#[test]` fns: rust-clippy#13981).
#![allow(clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use fiko_metrics::{Format, Registry, testing};

/// The value of the sample `series` (name and labels exactly as exposed) in a scrape.
fn sample(text: &str, series: &str) -> f64 {
    testing::series_value(text, series)
        .unwrap_or_else(|error| panic!("{error}\n{text}"))
        .unwrap_or_else(|| panic!("no sample `{series}` in:\n{text}"))
}

fn busy_seconds(text: &str, worker: usize) -> f64 {
    sample(
        text,
        &format!(r#"tokio_worker_busy_seconds_total{{runtime="app",worker="{worker}"}}"#),
    )
}

/// Scrapes twice, `window` apart, and returns each worker's busy ratio over the window and
/// the second scrape.
fn busy_ratios(registry: &Registry, window: Duration) -> ([f64; 2], String) {
    let before = registry.encode(Format::Prometheus);
    let start = Instant::now();
    std::thread::sleep(window);
    let after = registry.encode(Format::Prometheus);
    let elapsed = start.elapsed().as_secs_f64();
    let ratio = |worker| (busy_seconds(&after, worker) - busy_seconds(&before, worker)) / elapsed;
    ([ratio(0), ratio(1)], after)
}

/// Burns CPU on this thread for `duration`.
fn spin(duration: Duration) {
    let start = Instant::now();
    let mut x = 1u64;
    while start.elapsed() < duration {
        x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
    }
}

/// Stops the spinning tasks when dropped, so a failed assertion ends the test instead of
/// leaving the runtime's shutdown waiting for workers that never yield.
struct Stop(Arc<AtomicBool>);

impl Drop for Stop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

#[test]
fn busy_ratio_and_global_queue_rise_under_load_and_fall_after() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("runtime");
    let registry = Registry::new();
    fiko_metrics_tokio::register(&registry, "app", runtime.handle().clone()).expect("registers");

    let idle = registry.encode(Format::Prometheus);
    assert_eq!(sample(&idle, r#"tokio_workers{runtime="app"}"#), 2.0);
    assert_eq!(
        sample(&idle, r#"tokio_global_queue_depth{runtime="app"}"#),
        0.0
    );

    // Two CPU-bound tasks hold both workers; they yield every millisecond, as well-behaved
    // CPU-heavy tasks do (tokio publishes a worker's busy time between polls, so a task
    // that never yields would leave the counter still until it ends).
    let stop = Arc::new(AtomicBool::new(false));
    let _stop = Stop(stop.clone());
    let spinning = Arc::new(AtomicUsize::new(0));
    let spinners: Vec<_> = (0..2)
        .map(|_| {
            let (stop, spinning) = (stop.clone(), spinning.clone());
            runtime.spawn(async move {
                spinning.fetch_add(1, Ordering::SeqCst);
                while !stop.load(Ordering::Relaxed) {
                    spin(Duration::from_millis(1));
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    while spinning.load(Ordering::SeqCst) < 2 {
        assert!(Instant::now() < deadline, "both workers start spinning");
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(200));

    let (loaded, scrape) = busy_ratios(&registry, Duration::from_millis(800));
    for (worker, ratio) in loaded.iter().enumerate() {
        assert!(
            *ratio > 0.8,
            "worker {worker} is busy under load: {ratio}\n{scrape}"
        );
    }

    // Tasks spawned from outside the runtime go to the global queue: 2000 of a millisecond
    // of CPU each are about a second of work for the two busy workers.
    let waiting: Vec<_> = (0..2000)
        .map(|_| runtime.spawn(async { spin(Duration::from_millis(1)) }))
        .collect();
    let scrape = registry.encode(Format::Prometheus);
    let queued = sample(&scrape, r#"tokio_global_queue_depth{runtime="app"}"#);
    assert!(
        queued >= 1000.0,
        "the spawned tasks wait in the global queue: {queued}\n{scrape}"
    );
    assert!(sample(&scrape, r#"tokio_alive_tasks{runtime="app"}"#) >= 1000.0);

    stop.store(true, Ordering::Relaxed);
    runtime.block_on(async {
        for task in spinners.into_iter().chain(waiting) {
            task.await.expect("task ends");
        }
    });
    // Let the workers park before measuring the idle window.
    std::thread::sleep(Duration::from_millis(100));

    let (after, scrape) = busy_ratios(&registry, Duration::from_millis(800));
    for (worker, ratio) in after.iter().enumerate() {
        assert!(
            *ratio < 0.2,
            "worker {worker} is idle after the load: {ratio}\n{scrape}"
        );
    }
    assert_eq!(
        sample(&scrape, r#"tokio_global_queue_depth{runtime="app"}"#),
        0.0
    );
    assert_eq!(sample(&scrape, r#"tokio_alive_tasks{runtime="app"}"#), 0.0);
    let parks = sample(
        &scrape,
        r#"tokio_worker_parks_total{runtime="app",worker="0"}"#,
    );
    assert!(parks >= 1.0, "an idle worker has parked: {parks}");
}

#[test]
fn a_scrape_does_not_wait_for_a_saturated_runtime() {
    // One worker, spinning forever: a scrape from outside still answers at once.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .expect("runtime");
    let registry = Registry::new();
    fiko_metrics_tokio::register(&registry, "app", runtime.handle().clone()).expect("registers");
    let stop = Arc::new(AtomicBool::new(false));
    let _stop = Stop(stop.clone());
    let spinner = {
        let stop = stop.clone();
        runtime.spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                std::hint::spin_loop();
            }
        })
    };
    std::thread::sleep(Duration::from_millis(50));
    let start = Instant::now();
    let text = registry.encode(Format::Prometheus);
    let took = start.elapsed();
    stop.store(true, Ordering::Relaxed);
    runtime.block_on(spinner).expect("spinner ends");
    assert!(took < Duration::from_millis(100), "scrape took {took:?}");
    assert!(text.contains(r#"tokio_workers{runtime="app"} 1"#), "{text}");
}
