//! The process metrics, read through a real registry scrape.

// The helpers fail the test by panicking (they are not `#[test]` fns: rust-clippy#13981).
#![allow(clippy::panic)]

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use fiko_metrics::{Format, Registry, testing};

/// The value of the sample `series` (name and labels exactly as exposed) in a scrape.
fn sample(text: &str, series: &str) -> f64 {
    testing::series_value(text, series)
        .unwrap_or_else(|error| panic!("{error}\n{text}"))
        .unwrap_or_else(|| panic!("no sample `{series}` in:\n{text}"))
}

/// Burns CPU on this thread for `duration`.
fn spin(duration: Duration) -> u64 {
    let start = Instant::now();
    let mut x: u64 = 1;
    while start.elapsed() < duration {
        for _ in 0..10_000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
        }
    }
    std::hint::black_box(x)
}

#[test]
fn values_are_plausible_and_refreshed_at_scrape_time() {
    let registry = Registry::new();
    fiko_metrics_process::register(&registry).expect("register");

    let first = registry.encode(Format::Prometheus);
    let rss = sample(&first, "process_resident_memory_bytes");
    let vms = sample(&first, "process_virtual_memory_bytes");
    assert!(rss > 1e6, "RSS of a test binary is more than 1 MB: {rss}");
    assert!(vms >= rss, "virtual memory {vms} >= resident {rss}");
    assert!(
        sample(&first, "process_open_fds") >= 3.0,
        "stdin, stdout, stderr"
    );
    let max_fds = sample(&first, "process_max_fds");
    assert!(max_fds == -1.0 || max_fds >= sample(&first, "process_open_fds"));
    assert!(sample(&first, "process_threads") >= 1.0);

    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64();
    let start = sample(&first, "process_start_time_seconds");
    assert!(
        start <= now + 1.0 && start > now - 3600.0,
        "started within the last hour: {start} vs {now}"
    );

    // CPU time grows under work, and the scrape (not a background task) sees it: spin in
    // 50 ms slices until 0.2 CPU seconds show up, for at most 10 s of wall time (a loaded
    // CI machine may give the spinning thread less than a full core).
    let cpu_before = sample(&first, "process_cpu_seconds_total");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut second = registry.encode(Format::Prometheus);
    while sample(&second, "process_cpu_seconds_total") - cpu_before < 0.2
        && Instant::now() < deadline
    {
        spin(Duration::from_millis(50));
        second = registry.encode(Format::Prometheus);
    }
    let cpu_after = sample(&second, "process_cpu_seconds_total");
    assert!(
        cpu_after - cpu_before >= 0.2,
        "spinning shows as CPU time: {cpu_before} -> {cpu_after}"
    );

    // Opening files shows in the next scrape.
    let files: Vec<std::fs::File> = (0..20)
        .map(|_| std::fs::File::open("/proc/self/stat").expect("open"))
        .collect();
    let third = registry.encode(Format::Prometheus);
    assert!(
        sample(&third, "process_open_fds") >= sample(&second, "process_open_fds") + 20.0,
        "20 more open files"
    );
    drop(files);
}

#[test]
fn output_uses_the_standard_names_and_types() {
    let registry = Registry::new();
    fiko_metrics_process::register(&registry).expect("register");
    let text = registry.encode(Format::Prometheus);
    for (name, kind) in [
        ("process_cpu_seconds_total", "counter"),
        ("process_resident_memory_bytes", "gauge"),
        ("process_virtual_memory_bytes", "gauge"),
        ("process_open_fds", "gauge"),
        ("process_max_fds", "gauge"),
        ("process_threads", "gauge"),
        ("process_start_time_seconds", "gauge"),
    ] {
        assert!(
            text.contains(&format!("# TYPE {name} {kind}\n")),
            "{name} {kind} in:\n{text}"
        );
    }
    // Registering twice in one registry is refused rather than exposing duplicates.
    assert!(fiko_metrics_process::register(&registry).is_err());
}
