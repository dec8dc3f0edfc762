//! Installed for the whole process, the recorder sees every thread's macro calls; a second
//! installation is refused with a clear error. (Its own test binary: the global recorder
//! can be set once per process.)

use std::sync::Arc;

use fiko_metrics::{Format, Registry};
use fiko_metrics_facade::{FacadeError, FacadeRecorder};

#[test]
fn installed_globally_it_records_every_threads_calls() {
    let registry = Arc::new(Registry::new());
    let handle = FacadeRecorder::new(registry.clone())
        .expect("builds")
        .install()
        .expect("installs");
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                for _ in 0..50_000 {
                    metrics::counter!("global.calls").increment(1);
                }
            });
        }
    });
    let text = registry.encode(Format::Prometheus);
    assert!(text.contains("\nglobal_calls_total 100000\n"), "{text}");
    assert!(handle.refused().is_empty());

    let other = FacadeRecorder::new(Arc::new(Registry::new())).expect("builds");
    let error = other
        .install()
        .expect_err("one global recorder per process");
    assert!(matches!(error, FacadeError::AlreadyInstalled));
    assert_eq!(
        error.to_string(),
        "a `metrics` recorder is installed already"
    );
}
