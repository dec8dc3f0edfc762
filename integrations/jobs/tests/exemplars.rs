//! With an exemplar source installed, a task attempt keeps the trace it started in (the
//! span the worker layer's `call` runs in) as the exemplar of its executions and its run
//! time; outside a trace it records none.

use std::cell::RefCell;

use fiko_metrics::exemplar::{self, ExemplarLabels};
use fiko_metrics::{Format, Registry};
use fiko_metrics_jobs::Jobs;

thread_local! {
    /// The "current trace" of this thread, as a tracing span would give it.
    static CURRENT: RefCell<Option<String>> = const { RefCell::new(None) };
}

fn in_trace(trace: Option<&str>) {
    CURRENT.with(|current| *current.borrow_mut() = trace.map(str::to_owned));
}

/// `(series, trace_id)` of every exemplar on the samples whose name starts with `name`.
fn exemplars(registry: &Registry, name: &str) -> Vec<(String, String)> {
    registry
        .encode(Format::OpenMetrics)
        .lines()
        .filter(|line| line.starts_with(name))
        .filter_map(|line| {
            let (sample, exemplar) = line.split_once(" # {")?;
            let trace = exemplar.split_once("trace_id=\"")?.1.split_once('"')?.0;
            let series = sample.rsplit_once(' ')?.0;
            Some((series.to_owned(), trace.to_owned()))
        })
        .collect()
}

fn trace_of(registry: &Registry, series: &str) -> Vec<String> {
    exemplars(registry, series)
        .into_iter()
        .map(|(_, trace)| trace)
        .collect()
}

#[test]
fn task_attempts_keep_the_trace_they_started_in() -> Result<(), Box<dyn std::error::Error>> {
    exemplar::set_source(|| {
        CURRENT.with(|current| {
            let trace = current.borrow();
            ExemplarLabels::new(&[("trace_id", trace.as_deref()?)]).ok()
        })
    })?;
    let registry = Registry::new();
    let jobs = Jobs::register(&registry)?;

    in_trace(None);
    jobs.start_task("untraced").succeeded();
    assert_eq!(
        exemplars(&registry, "fiko_jobs_"),
        Vec::<(String, String)>::new()
    );

    in_trace(Some("trace-export"));
    let run = jobs.start_task("export");
    // The trace is read as the attempt starts: what the thread does later does not matter.
    in_trace(Some("trace-elsewhere"));
    run.succeeded();
    in_trace(Some("trace-retry"));
    let retry = jobs.start_retry("import");
    in_trace(None);
    retry.failed();

    let executions = |task: &str, state: &str| {
        trace_of(
            &registry,
            &format!(r#"fiko_jobs_task_executions_total{{task="{task}",state="{state}"}}"#),
        )
    };
    assert_eq!(executions("export", "started"), ["trace-export"]);
    assert_eq!(executions("export", "succeeded"), ["trace-export"]);
    assert_eq!(executions("import", "started"), ["trace-retry"]);
    assert_eq!(executions("import", "retried"), ["trace-retry"]);
    assert_eq!(executions("import", "failed"), ["trace-retry"]);
    assert_eq!(executions("untraced", "succeeded"), Vec::<String>::new());
    assert_eq!(
        trace_of(
            &registry,
            r#"fiko_jobs_task_duration_seconds_bucket{task="export""#
        ),
        ["trace-export"]
    );
    assert_eq!(
        trace_of(
            &registry,
            r#"fiko_jobs_task_duration_seconds_bucket{task="import""#
        ),
        ["trace-retry"]
    );
    Ok(())
}
