//! Exposition under hostile input: help texts and label values with quotes, backslashes,
//! newlines, control characters, non-ASCII text, very long and empty strings, and values
//! NaN, ±Inf and -0.0. For every generated case:
//! - the Prometheus text output passes the real `promtool check metrics`;
//! - the OpenMetrics output, parsed back by Prometheus' own parser
//!   (`promtool tsdb create-blocks-from openmetrics`, then `promtool tsdb dump`), gives
//!   back exactly the label values and sample values that were recorded.

// The helpers fail the test by panicking (they are not `#[test]` fns: rust-clippy#13981).
#![allow(clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::Write;
use std::process::{Command, Stdio};

use fiko_metrics::encoding::{LabelSource, Labels, Value, Visitor};
use fiko_metrics::histogram::Buckets;
use fiko_metrics::labels::LabelSink;
use fiko_metrics::{
    Collect, Format, Histogram, LabelDescriptor, MetricDescriptor, MetricKind, Registry,
};
use proptest::prelude::*;

const BOUNDS: [f64; 2] = [1.0, 10.0];

#[derive(Debug, Clone)]
struct Family {
    help: String,
    kind: MetricKind,
    series: Vec<(String, Vec<f64>)>,
}

struct Hostile {
    metrics: &'static [MetricDescriptor],
    families: Vec<Family>,
}

struct One<'a>(&'a str);

impl LabelSource for One<'_> {
    fn for_each(&self, sink: &mut LabelSink<'_>) -> fmt::Result {
        sink("v", self.0)
    }
}

impl Collect for Hostile {
    fn metrics(&self) -> &'static [MetricDescriptor] {
        self.metrics
    }

    fn visit_metric(&self, index: usize, visitor: &mut dyn Visitor) -> fmt::Result {
        let Some(family) = self.families.get(index) else {
            return Ok(());
        };
        for (label, values) in &family.series {
            let labels = Labels::Source(&One(label));
            match family.kind {
                MetricKind::Counter => visitor.counter(labels, Value::F64(values[0]))?,
                MetricKind::Gauge => visitor.gauge(labels, Value::F64(values[0]))?,
                MetricKind::Histogram => {
                    let histogram = Histogram::new(Buckets::new(BOUNDS.to_vec()).expect("valid"));
                    values.iter().for_each(|v| histogram.observe(*v));
                    visitor.histogram(labels, &histogram)?;
                }
            }
        }
        Ok(())
    }
}

fn hostile_text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("quote \" backslash \\ newline \n tab \t cr \r end".to_owned()),
        Just("\u{1}\u{7f}\u{85}\u{2028}\u{feff}".to_owned()),
        Just("x".repeat(5_000)),
        Just("ünïcödé — 日本語 — 🦀".to_owned()),
        any::<String>(),
        "[\\\\\"\n a-z]{0,20}",
    ]
}

fn value(kind: MetricKind) -> BoxedStrategy<f64> {
    match kind {
        MetricKind::Counter => prop_oneof![Just(0.0), 0.0f64..1e300, Just(f64::MAX)].boxed(),
        MetricKind::Gauge => prop_oneof![
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(-0.0),
            Just(f64::MIN_POSITIVE / 2.0),
            any::<f64>(),
        ]
        .boxed(),
        // Non-negative: OpenMetrics omits `_sum` semantics for negative observations.
        MetricKind::Histogram => prop_oneof![Just(0.0), Just(1.0), Just(10.0), 0.0f64..1e6].boxed(),
    }
}

fn family() -> impl Strategy<Value = Family> {
    let kind = prop_oneof![
        Just(MetricKind::Counter),
        Just(MetricKind::Gauge),
        Just(MetricKind::Histogram)
    ];
    (kind, hostile_text()).prop_flat_map(|(kind, help)| {
        let series = prop::collection::btree_map(
            hostile_text(),
            prop::collection::vec(value(kind), 1..4),
            1..5,
        );
        series.prop_map(move |series| Family {
            help: help.clone(),
            kind,
            series: series.into_iter().collect(),
        })
    })
}

fn register(families: Vec<Family>) -> Registry {
    let metrics: Vec<MetricDescriptor> = families
        .iter()
        .enumerate()
        .map(|(index, family)| MetricDescriptor {
            name: Box::leak(format!("hostile_{index}").into_boxed_str()),
            field: "hostile",
            kind: family.kind,
            help: Box::leak(family.help.clone().into_boxed_str()),
            unit: None,
            labels: &[LabelDescriptor {
                name: "v",
                values: None,
            }],
            buckets: &BOUNDS,
            native: None,
            exemplars: false,
            max_series: 100,
            external: false,
        })
        .collect();
    let registry = Registry::new();
    let metrics: &'static [MetricDescriptor] = Box::leak(metrics.into_boxed_slice());
    registry
        .register_collector(std::sync::Arc::new(Hostile { metrics, families }))
        .expect("unique names");
    registry
}

fn promtool(args: &[&str], stdin: Option<&str>) -> (bool, String) {
    let mut child = Command::new("promtool")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool runs (Debian package `prometheus`)");
    let mut input = child.stdin.take().expect("stdin");
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).expect("writes");
    }
    drop(input);
    let output = child.wait_with_output().expect("promtool finishes");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    (
        output.status.success(),
        text + &String::from_utf8_lossy(&output.stderr),
    )
}

/// Decodes one Go `strconv.Quote`d string at the start of `s`; returns it and the rest.
fn go_unquote(s: &str) -> (String, &str) {
    let mut out = String::new();
    let mut chars = s.char_indices().skip(1);
    while let Some((at, c)) = chars.next() {
        match c {
            '"' => return (out, &s[at + 1..]),
            '\\' => {
                let (_, escape) = chars.next().expect("escape");
                let hex = |chars: &mut dyn Iterator<Item = (usize, char)>, n| {
                    let digits: String = chars.take(n).map(|(_, c)| c).collect();
                    u32::from_str_radix(&digits, 16).expect("hex")
                };
                match escape {
                    'a' => out.push('\u{7}'),
                    'b' => out.push('\u{8}'),
                    'f' => out.push('\u{c}'),
                    'n' => out.push('\n'),
                    'r' => out.push('\r'),
                    't' => out.push('\t'),
                    'v' => out.push('\u{b}'),
                    'x' => out.push(char::from_u32(hex(&mut chars, 2)).expect("byte")),
                    'u' => out.push(char::from_u32(hex(&mut chars, 4)).expect("rune")),
                    'U' => out.push(char::from_u32(hex(&mut chars, 8)).expect("rune")),
                    other => out.push(other),
                }
            }
            c => out.push(c),
        }
    }
    panic!("unterminated quoted string in {s:?}")
}

/// `{__name__="x", v="..."} value timestamp` lines of `promtool tsdb dump`.
fn parse_dump(dump: &str) -> BTreeMap<(String, String, String), f64> {
    let mut samples = BTreeMap::new();
    for line in dump.lines().filter(|line| line.starts_with('{')) {
        let mut rest = &line[1..];
        let mut labels = BTreeMap::new();
        while !rest.starts_with('}') {
            let (key, after) = rest.split_once('=').expect("label");
            let (value, after) = go_unquote(after);
            labels.insert(key.trim_start_matches([',', ' ']).to_owned(), value);
            rest = after;
        }
        let mut fields = rest[1..].split_whitespace();
        let value: f64 = fields.next().expect("value").parse().expect("float");
        let name = labels.remove("__name__").expect("name");
        let v = labels.remove("v").unwrap_or_default();
        let le = labels.remove("le").unwrap_or_default();
        samples.insert((name, v, le), value);
    }
    samples
}

fn expected(families: &[Family]) -> BTreeMap<(String, String, String), f64> {
    let mut samples = BTreeMap::new();
    for (index, family) in families.iter().enumerate() {
        let name = format!("hostile_{index}");
        for (label, values) in &family.series {
            let mut put = |suffix: &str, le: &str, value: f64| {
                samples.insert(
                    (format!("{name}{suffix}"), label.clone(), le.to_owned()),
                    value,
                );
            };
            match family.kind {
                MetricKind::Counter => put("_total", "", values[0]),
                MetricKind::Gauge => put("", "", values[0]),
                MetricKind::Histogram => {
                    for (bound, le) in BOUNDS.iter().zip(["1.0", "10.0"]) {
                        put(
                            "_bucket",
                            le,
                            values.iter().filter(|v| *v <= bound).count() as f64,
                        );
                    }
                    put("_bucket", "+Inf", values.len() as f64);
                    put("_count", "", values.len() as f64);
                    put("_sum", "", values.iter().sum());
                }
            }
        }
    }
    samples
}

fn same(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a == b
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn hostile_exposition_is_valid_and_parses_back(families in prop::collection::vec(family(), 1..5)) {
        check(families)?;
    }
}

/// A text without anything but blanks is an empty HELP (the format skips the blanks before
/// it): only promtool's lint, as for a truly empty one.
#[test]
fn blank_help_is_only_the_empty_help_lint() {
    let blank = Family {
        help: " \t ".to_owned(),
        kind: MetricKind::Counter,
        series: vec![(String::new(), vec![0.0])],
    };
    if let Err(error) = check(vec![blank]) {
        panic!("{error}");
    }
}

/// The output passes `promtool check metrics` and parses back, through Prometheus' own
/// OpenMetrics parser, to what was recorded.
fn check(families: Vec<Family>) -> Result<(), TestCaseError> {
    let registry = register(families.clone());

    let text = registry.encode(Format::Prometheus);
    let (ok, report) = promtool(&["check", "metrics"], Some(&text));
    // promtool's only complaint may be its lint about an empty HELP text (the derive
    // refuses metrics without a doc comment; a hand-written collector may have one).
    // The text format skips the blanks before a HELP text, so spaces and tabs alone
    // read as empty too.
    let only_empty_help = report
        .lines()
        .filter(|line| !line.trim().is_empty())
        .all(|line| {
            line.split_once(' ').is_some_and(|(name, problem)| {
                problem == "no help text"
                    && families.iter().enumerate().any(|(i, f)| {
                        f.help.trim_matches([' ', '\t']).is_empty()
                            && name.trim_end_matches("_total") == format!("hostile_{i}")
                    })
            })
        });
    prop_assert!(
        ok || only_empty_help,
        "promtool check metrics: {report}\n{text}"
    );

    // Prometheus' own OpenMetrics parser, through promtool's block import (which needs
    // a timestamp on every sample).
    let open = registry.encode(Format::OpenMetrics);
    let stamped: String = open
        .lines()
        .map(|line| {
            if line.starts_with('#') {
                format!("{line}\n")
            } else {
                format!("{line} 1\n")
            }
        })
        .collect();
    let dir = std::env::temp_dir().join(format!(
        "fiko-hostile-{}-{}",
        std::process::id(),
        rand_suffix()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let input = dir.join("input.om");
    std::fs::write(&input, &stamped).expect("writes");
    let blocks = dir.join("blocks");
    let (ok, report) = promtool(
        &[
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            input.to_str().expect("utf-8"),
            blocks.to_str().expect("utf-8"),
        ],
        None,
    );
    prop_assert!(
        ok,
        "promtool create-blocks-from openmetrics: {report}\n{stamped}"
    );
    // `tsdb dump` opens the directory as a database, which needs a WAL folder.
    std::fs::create_dir_all(blocks.join("wal")).expect("wal dir");
    let (ok, dump) = promtool(&["tsdb", "dump", blocks.to_str().expect("utf-8")], None);
    let _ = std::fs::remove_dir_all(&dir);
    prop_assert!(ok, "promtool tsdb dump: {dump}");

    let parsed = parse_dump(&dump);
    let wanted = expected(&families);
    prop_assert_eq!(
        parsed.keys().collect::<BTreeSet<_>>(),
        wanted.keys().collect::<BTreeSet<_>>()
    );
    for (key, value) in &wanted {
        prop_assert!(
            same(parsed[key], *value),
            "{key:?}: parsed {} != recorded {value}",
            parsed[key]
        );
    }
    Ok(())
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}
