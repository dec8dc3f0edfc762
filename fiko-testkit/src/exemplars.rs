//! Exemplars in tests: a per-thread "current trace" standing in for the tracing span an
//! exemplar source would read, and the exemplars an OpenMetrics exposition carries.

use std::cell::RefCell;

thread_local! {
    static CURRENT: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Makes `trace` this thread's current trace (`None`: outside any trace), as entering a
/// tracing span would; [`current_trace`] reads it back.
///
/// ```
/// fiko_testkit::enter_trace(Some("trace-1"));
/// assert_eq!(fiko_testkit::current_trace().as_deref(), Some("trace-1"));
/// fiko_testkit::enter_trace(None);
/// assert_eq!(fiko_testkit::current_trace(), None);
/// ```
pub fn enter_trace(trace: Option<&str>) {
    CURRENT.with(|current| *current.borrow_mut() = trace.map(str::to_owned));
}

/// This thread's current trace, set by [`enter_trace`]: what a test's exemplar source
/// returns as `trace_id`.
pub fn current_trace() -> Option<String> {
    CURRENT.with(|current| current.borrow().clone())
}

/// `(series, trace_id)` of every exemplar on the sample lines of an OpenMetrics
/// exposition that start with `name`.
///
/// ```
/// let text = "# TYPE jobs counter\n\
///             jobs_total{task=\"mail\"} 3 # {trace_id=\"t-7\"} 1.0\n\
///             jobs_total{task=\"sms\"} 1\n";
/// assert_eq!(
///     fiko_testkit::exemplar_traces(text, "jobs_total"),
///     [(r#"jobs_total{task="mail"}"#.to_owned(), "t-7".to_owned())],
/// );
/// ```
pub fn exemplar_traces(openmetrics: &str, name: &str) -> Vec<(String, String)> {
    openmetrics
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
