//! `#[label_set(sparse)]`: a closed label set that a scrape shows only as far as it was
//! recorded, on the same lock-free dense array as a dense one.

// The helpers fail the test by panicking (they are not `#[test]` fns: rust-clippy#13981).
#![allow(clippy::panic)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};

use fiko_metrics::testing::samples;
use fiko_metrics::{
    Counter, Family, Format, Gauge, Histogram, LabelSet, LabelValue, MetricSet, Registry,
};

#[derive(LabelValue, Clone, Copy, Debug, PartialEq, Eq)]
#[label_value(rename_all = "lowercase")]
enum Command {
    Get,
    Set,
    Del,
    Incr,
    Other,
}

const COMMANDS: [Command; 5] = [
    Command::Get,
    Command::Set,
    Command::Del,
    Command::Incr,
    Command::Other,
];

#[derive(LabelValue, Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Timeout,
    Refused,
}

#[derive(LabelSet, Clone, Copy)]
#[label_set(sparse)]
struct CommandLabels {
    command: Command,
}

#[derive(LabelSet, Clone, Copy)]
#[label_set(sparse)]
struct ErrorLabels {
    command: Command,
    kind: Kind,
}

/// The same labels, dense (the default).
#[derive(LabelSet, Clone, Copy)]
struct DenseLabels {
    command: Command,
}

#[derive(MetricSet)]
#[metric_set(namespace = "client")]
struct ClientMetrics {
    /// Commands sent.
    commands: Family<CommandLabels, Counter>,
    /// Command round trips.
    #[metric(buckets = [0.1, 1.0])]
    command_duration_seconds: Family<CommandLabels, Histogram>,
    /// Failed commands.
    errors: Family<ErrorLabels, Counter>,
    /// Connections by command last sent.
    busy: Family<CommandLabels, Gauge>,
    /// Commands sent, every command shown.
    dense_commands: Family<DenseLabels, Counter>,
}

/// The series of `name` in `scrape` with their values, as `labels -> value`.
fn series(scrape: &str, name: &str) -> BTreeMap<String, f64> {
    samples(scrape)
        .unwrap_or_else(|e| panic!("{e}\n{scrape}"))
        .into_iter()
        .filter(|sample| sample.name == name)
        .map(|sample| {
            let labels = sample
                .labels
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",");
            (labels, sample.value)
        })
        .collect()
}

fn expected(pairs: &[(&str, f64)]) -> BTreeMap<String, f64> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

#[test]
fn a_sparse_family_shows_exactly_the_recorded_combinations() {
    let registry = Registry::new();
    let metrics = ClientMetrics::register(&registry).expect("registers");
    for format in [Format::Prometheus, Format::OpenMetrics] {
        let text = registry.encode(format);
        assert_eq!(
            series(&text, "client_commands_total"),
            expected(&[]),
            "{text}"
        );
        assert_eq!(
            series(&text, "client_errors_total"),
            expected(&[]),
            "{text}"
        );
        assert_eq!(
            series(&text, "client_dense_commands_total").len(),
            5,
            "a dense set shows every combination from the first scrape: {text}"
        );
        // The family is still declared (HELP and TYPE), like an open family with no series.
        assert!(text.contains("# TYPE client_commands"), "{text}");
    }

    for _ in 0..3 {
        metrics
            .commands
            .get_or_create(&CommandLabels {
                command: Command::Get,
            })
            .inc();
    }
    metrics
        .commands
        .get_or_create(&CommandLabels {
            command: Command::Other,
        })
        .inc();
    metrics
        .command_duration_seconds
        .get_or_create(&CommandLabels {
            command: Command::Set,
        })
        .observe(0.5);
    metrics
        .errors
        .get_or_create(&ErrorLabels {
            command: Command::Incr,
            kind: Kind::Refused,
        })
        .inc();
    // Looked up and not recorded yet: shown, at zero.
    let del = metrics.busy.series_id(&CommandLabels {
        command: Command::Del,
    });

    for format in [Format::Prometheus, Format::OpenMetrics] {
        let text = registry.encode(format);
        assert_eq!(
            series(&text, "client_commands_total"),
            expected(&[("command=get", 3.0), ("command=other", 1.0)]),
            "{text}"
        );
        assert_eq!(
            series(&text, "client_command_duration_seconds_count"),
            expected(&[("command=set", 1.0)]),
            "{text}"
        );
        assert_eq!(
            series(&text, "client_command_duration_seconds_bucket"),
            expected(&[
                ("command=set,le=0.1", 0.0),
                ("command=set,le=1.0", 1.0),
                ("command=set,le=+Inf", 1.0)
            ]),
            "{text}"
        );
        assert_eq!(
            series(&text, "client_errors_total"),
            expected(&[("command=incr,kind=refused", 1.0)]),
            "{text}"
        );
        assert_eq!(
            series(&text, "client_busy"),
            expected(&[("command=del", 0.0)]),
            "{text}"
        );
        assert_eq!(series(&text, "client_dense_commands_total").len(), 5);
    }
    metrics.busy.series(del).set(2);
    assert_eq!(
        series(&registry.encode(Format::Prometheus), "client_busy"),
        expected(&[("command=del", 2.0)])
    );
    assert_eq!((metrics.commands.len(), metrics.errors.len()), (2, 1));
    assert_eq!(metrics.dense_commands.len(), 5);
}

#[test]
fn counts_stay_exact_while_threads_record_and_scrapes_run() {
    const THREADS: usize = 4;
    const ROUNDS: u64 = 20_000;
    let registry = Arc::new(Registry::new());
    let metrics = ClientMetrics::register(&registry).expect("registers");
    let done = Arc::new(AtomicBool::new(false));
    let start = Arc::new(Barrier::new(THREADS + 1));

    // Thread `t` records `Command` number `t` (and `incr` for every one) `ROUNDS` times;
    // `del` is never recorded and never shown.
    let recorders: Vec<_> = (0..THREADS)
        .map(|thread| {
            let metrics = metrics.clone();
            let start = start.clone();
            std::thread::spawn(move || {
                let own = [Command::Get, Command::Set, Command::Other, Command::Get][thread];
                start.wait();
                for _ in 0..ROUNDS {
                    metrics
                        .commands
                        .get_or_create(&CommandLabels { command: own })
                        .inc();
                    let id = metrics.errors.series_id(&ErrorLabels {
                        command: Command::Incr,
                        kind: Kind::Timeout,
                    });
                    metrics.errors.series(id).inc();
                }
            })
        })
        .collect();
    let scraper = {
        let registry = registry.clone();
        let done = done.clone();
        let start = start.clone();
        std::thread::spawn(move || {
            start.wait();
            let mut last: BTreeMap<String, f64> = BTreeMap::new();
            let mut scrapes = 0;
            while !done.load(Ordering::Acquire) || scrapes == 0 {
                let format = if scrapes % 2 == 0 {
                    Format::Prometheus
                } else {
                    Format::OpenMetrics
                };
                let text = registry.encode(format);
                let now = series(&text, "client_commands_total");
                for key in now.keys() {
                    assert!(
                        ["command=get", "command=set", "command=other"].contains(&key.as_str()),
                        "only recorded commands are shown, got {key}"
                    );
                }
                for (key, value) in &last {
                    let current = now.get(key).copied();
                    assert!(
                        current.is_some_and(|current| current >= *value),
                        "{key} went from {value} to {current:?}: a shown series stays, and counts only grow"
                    );
                }
                let errors = series(&text, "client_errors_total");
                assert!(errors.keys().all(|key| key == "command=incr,kind=timeout"));
                last = now;
                scrapes += 1;
            }
            scrapes
        })
    };
    for recorder in recorders {
        recorder.join().expect("recorder");
    }
    done.store(true, Ordering::Release);
    let scrapes = scraper.join().expect("scraper");
    assert!(scrapes > 0);

    for format in [Format::Prometheus, Format::OpenMetrics] {
        let text = registry.encode(format);
        let rounds = ROUNDS as f64;
        assert_eq!(
            series(&text, "client_commands_total"),
            expected(&[
                ("command=get", 2.0 * rounds),
                ("command=set", rounds),
                ("command=other", rounds)
            ])
        );
        assert_eq!(
            series(&text, "client_errors_total"),
            expected(&[("command=incr,kind=timeout", THREADS as f64 * rounds)])
        );
    }
    assert_eq!(metrics.commands.len(), 3);
    let _ = COMMANDS;
}

#[test]
fn sparse_is_chosen_by_the_declaration_and_dense_is_the_default() {
    const {
        assert!(<CommandLabels as LabelSet>::SPARSE);
        assert!(<ErrorLabels as LabelSet>::SPARSE);
        assert!(!<DenseLabels as LabelSet>::SPARSE);
    }
    // Sparse or not, the series sit in the dense array: every combination has an index.
    assert_eq!(<CommandLabels as LabelSet>::DENSE, Some(5));
    assert_eq!(<ErrorLabels as LabelSet>::DENSE, Some(10));
    let family = Family::<ErrorLabels, Counter>::default();
    for command in COMMANDS {
        for kind in [Kind::Timeout, Kind::Refused] {
            family.get_or_create(&ErrorLabels { command, kind }).inc();
        }
    }
    assert_eq!(family.len(), 10);
}
