//! With an exemplar source installed, a task attempt keeps the trace it started in (the
//! span the worker layer's `call` runs in) as the exemplar of its executions and its run
//! time; outside a trace it records none.

use fiko_metrics::exemplar::{self, ExemplarLabels};
use fiko_metrics::{Format, Registry};
use fiko_metrics_jobs::Jobs;
use fiko_testkit::enter_trace;

/// `(series, trace_id)` of every exemplar on the samples whose name starts with `name`.
fn exemplars(registry: &Registry, name: &str) -> Vec<(String, String)> {
    fiko_testkit::exemplar_traces(&registry.encode(Format::OpenMetrics), name)
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
        ExemplarLabels::new(&[("trace_id", fiko_testkit::current_trace()?.as_str())]).ok()
    })?;
    let registry = Registry::new();
    let jobs = Jobs::register(&registry)?;

    enter_trace(None);
    jobs.start_task("untraced").succeeded();
    assert_eq!(
        exemplars(&registry, "fiko_jobs_"),
        Vec::<(String, String)>::new()
    );

    enter_trace(Some("trace-export"));
    let run = jobs.start_task("export");
    // The trace is read as the attempt starts: what the thread does later does not matter.
    enter_trace(Some("trace-elsewhere"));
    run.succeeded();
    enter_trace(Some("trace-retry"));
    let retry = jobs.start_retry("import");
    enter_trace(None);
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
