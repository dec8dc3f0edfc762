//! `#[timed]` and `#[counted]`: outcomes, durations, in-flight, panics, cancellation.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use fiko_metrics::calls::{CallLabels, FunctionLabels, Outcome};
use fiko_metrics::{Counter, Family, Gauge, Histogram, LabelValue, MetricSet, counted, timed};

#[derive(MetricSet)]
#[metric_set(namespace = "test", subsystem = "svc")]
struct Calls {
    /// Calls by function and outcome.
    #[metric(calls)]
    calls: Family<CallLabels, Counter>,
    /// Call duration.
    #[metric(durations, buckets = [0.001, 0.01, 0.1, 1.0])]
    call_duration_seconds: Family<FunctionLabels, Histogram>,
    /// Calls running now.
    #[metric(in_flight)]
    in_flight: Family<FunctionLabels, Gauge>,
}

const MODULE: &str = module_path!();

fn calls(function: &'static str, outcome: Outcome, error: &'static str) -> u64 {
    Calls::global()
        .calls
        .get_or_create(&CallLabels {
            function,
            module: MODULE,
            outcome,
            error,
        })
        .get()
}

fn in_flight(function: &'static str) -> i64 {
    Calls::global()
        .in_flight
        .get_or_create(&FunctionLabels::of(function, MODULE))
        .get()
}

fn observed(function: &'static str) -> u64 {
    Calls::global()
        .call_duration_seconds
        .get_or_create(&FunctionLabels::of(function, MODULE))
        .count()
}

#[derive(Debug)]
enum PayError {
    Declined,
    Timeout,
    NotFound,
}

#[derive(LabelValue)]
#[label_value(error_kind)]
enum PayErrorKind {
    Declined,
    Timeout,
}

fn classify(error: &PayError) -> Option<PayErrorKind> {
    match error {
        PayError::Declined => Some(PayErrorKind::Declined),
        PayError::Timeout => Some(PayErrorKind::Timeout),
        // A missing payment is an answer, not a failure.
        PayError::NotFound => None,
    }
}

#[timed(metrics = Calls::global(), errors = classify)]
fn pay(outcome: u8) -> Result<u32, PayError> {
    match outcome {
        0 => Ok(1),
        1 => Err(PayError::Declined),
        2 => Err(PayError::Timeout),
        _ => Err(PayError::NotFound),
    }
}

#[test]
fn results_are_classified() {
    for outcome in [0, 0, 1, 2, 2, 3] {
        let _ = pay(outcome);
    }
    assert_eq!(
        calls("pay", Outcome::Ok, ""),
        3,
        "two Ok and one NotFound, which is not an error"
    );
    assert_eq!(calls("pay", Outcome::Error, "declined"), 1);
    assert_eq!(calls("pay", Outcome::Error, "timeout"), 2);
    assert_eq!(observed("pay"), 6);
}

#[timed(metrics = Calls::global(), in_flight)]
fn explode(really: bool) -> u32 {
    assert!(!really, "boom");
    7
}

#[test]
fn a_panicking_call_records_panic_and_leaves_nothing_in_flight() {
    let result = std::panic::catch_unwind(|| explode(true));
    assert!(result.is_err());
    assert_eq!(explode(false), 7);
    assert_eq!(calls("explode", Outcome::Panic, ""), 1);
    assert_eq!(calls("explode", Outcome::Ok, ""), 1);
    assert_eq!(in_flight("explode"), 0);
    assert_eq!(observed("explode"), 2);
}

/// A future that is pending until told otherwise.
struct Gate(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl Future for Gate {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        if self.0.load(std::sync::atomic::Ordering::SeqCst) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

#[timed(metrics = Calls::global(), in_flight)]
async fn wait_for(gate: Gate) -> Result<(), std::io::Error> {
    gate.await;
    Ok(())
}

#[test]
fn a_dropped_future_records_cancelled_and_decrements_in_flight() {
    let open = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut future = Box::pin(wait_for(Gate(open.clone())));
    let mut cx = Context::from_waker(Waker::noop());
    assert!(future.as_mut().poll(&mut cx).is_pending());
    assert_eq!(in_flight("wait_for"), 1, "in flight while pending");
    drop(future);
    assert_eq!(in_flight("wait_for"), 0);
    assert_eq!(calls("wait_for", Outcome::Cancelled, ""), 1);

    open.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut future = Box::pin(wait_for(Gate(open)));
    assert!(future.as_mut().poll(&mut cx).is_ready());
    assert_eq!(calls("wait_for", Outcome::Ok, ""), 1);
    assert_eq!(in_flight("wait_for"), 0);
}

struct Repo<T> {
    items: Vec<T>,
}

impl<T: Clone + Send + Sync> Repo<T> {
    #[timed(metrics = Calls::global(), name = "Repo::first")]
    async fn first(&self) -> Option<T> {
        tokio::task::yield_now().await;
        self.items.first().cloned()
    }

    #[timed(metrics = Calls::global(), name = "Repo::find")]
    async fn find<P: Fn(&T) -> bool + Send>(&self, predicate: P) -> Result<T, String> {
        for item in &self.items {
            if predicate(item) {
                return Ok(item.clone());
            }
        }
        Err("not found".to_owned())
    }

    #[counted(metrics = Calls::global(), name = "Repo::name")]
    fn name(&self) -> &str {
        "repo"
    }

    #[timed(metrics = Calls::global(), name = "Repo::push")]
    fn push(&mut self, item: T) -> usize {
        self.items.push(item);
        self.items.len()
    }
}

#[tokio::test]
async fn async_methods_with_self_and_generics() {
    let mut repo = Repo { items: vec![3, 4] };
    assert_eq!(repo.first().await, Some(3));
    assert_eq!(repo.find(|n| *n == 4).await, Ok(4));
    assert_eq!(repo.find(|n| *n == 9).await, Err("not found".to_owned()));
    assert_eq!(repo.name(), "repo");
    assert_eq!(repo.push(5), 3);
    assert_eq!(calls("Repo::first", Outcome::Ok, ""), 1);
    assert_eq!(calls("Repo::find", Outcome::Ok, ""), 1);
    assert_eq!(
        calls("Repo::find", Outcome::Error, ""),
        1,
        "an early `return Ok` and an `Err` tail"
    );
    assert_eq!(calls("Repo::name", Outcome::Ok, ""), 1);
    assert_eq!(calls("Repo::push", Outcome::Ok, ""), 1);
    assert_eq!(observed("Repo::name"), 0, "#[counted] records no duration");
    assert_eq!(observed("Repo::find"), 2);
}

#[timed]
fn default_set(x: u32) -> Result<u32, String> {
    let doubled = x.checked_mul(2).ok_or("overflow")?;
    Ok(doubled)
}

#[test]
fn the_default_set_is_function_metrics() {
    use fiko_metrics::calls::FunctionMetrics;
    assert_eq!(default_set(2), Ok(4));
    assert!(default_set(u32::MAX).is_err());
    let metrics = FunctionMetrics::global();
    let labels = |outcome| CallLabels {
        function: "default_set",
        module: MODULE,
        outcome,
        error: "",
    };
    assert_eq!(
        metrics
            .function_calls
            .get_or_create(&labels(Outcome::Ok))
            .get(),
        1
    );
    assert_eq!(
        metrics
            .function_calls
            .get_or_create(&labels(Outcome::Error))
            .get(),
        1
    );
    let text = fiko_metrics::default_registry().encode(fiko_metrics::Format::Prometheus);
    assert!(
        text.contains(
            r#"function_calls_total{function="default_set",module="timed",outcome="ok",error=""} 1"#
        ),
        "{text}"
    );
    assert!(text.contains("# TYPE function_calls_duration_seconds histogram"));
}

static FIRST: std::sync::LazyLock<Calls> = std::sync::LazyLock::new(Calls::new);
static SECOND: std::sync::LazyLock<Calls> = std::sync::LazyLock::new(Calls::new);

#[timed(metrics = if second { &*SECOND } else { &*FIRST }, name = "switch")]
fn switch(second: bool) -> bool {
    second
}

#[test]
fn a_site_used_with_two_sets_records_into_each() {
    for second in [false, true, true, false, true] {
        switch(second);
    }
    let ok = |set: &Calls| {
        set.calls
            .get_or_create(&CallLabels {
                function: "switch",
                module: MODULE,
                outcome: Outcome::Ok,
                error: "",
            })
            .get()
    };
    let observed = |set: &Calls| {
        set.call_duration_seconds
            .get_or_create(&FunctionLabels::of("switch", MODULE))
            .count()
    };
    assert_eq!((ok(&FIRST), ok(&SECOND)), (2, 3));
    assert_eq!((observed(&FIRST), observed(&SECOND)), (2, 3));
}
