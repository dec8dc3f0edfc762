//! Scrape cost at scale (issue 20, target 3): `scrape-scale [rounds] [stall-ms]`.
//!
//! Builds the 100,000-series registry (`benches::scale`) and the demo's
//! (`benches::demo`), and the same series in prometheus-client (`benches::mirror`,
//! checked to hold the same series and values), then prints raw lines that
//! `scripts/bench-parts/scrape-scale` reads:
//!
//! - `series <registry> <format> lines=N fiko_bytes=N prometheus_client_bytes=N`
//! - `first_scrape <registry> <format> len=N capacity=N`: the first scrape's buffer, which
//!   starts small and doubles; later scrapes start at the last one's size;
//! - `encode <registry> <format> <round> fiko_ns=N prometheus_client_ns=N`: one scrape each,
//!   the two crates taking turns (who goes first alternates), into a reused buffer;
//! - `gzip <registry> <round> ns=N in=N out=N`: fiko's text compressed as the metrics
//!   endpoint does (gzip, fast level);
//! - `stall <phase> ...`: a thread recording into existing series (a counter and a
//!   histogram by id, a counter looked up by its open label, in turn), timed per batch of
//!   64 operations, with no scrape running (`idle`) and with another thread scraping the
//!   100,000 series in a loop (`scrape`), phases taking turns; `idle_on_cpu` and
//!   `scrape_on_cpu` keep only the batches during which the thread was not preempted
//!   (its run delay in `/proc/thread-self/schedstat` did not grow): on a shared machine,
//!   the scheduler's time slices dominate the tail otherwise.

// A benchmark binary: a failed setup stops the run.
#![allow(clippy::panic, clippy::indexing_slicing)]

use std::hint::black_box;
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use benches::mirror::{encode_prometheus_client, mirror, same_series};
use benches::scale::Recorder;
use fiko_metrics::{Format, Registry};

const FORMATS: [(Format, &str); 2] = [
    (Format::Prometheus, "text"),
    (Format::OpenMetrics, "openmetrics"),
];

/// Operations per timed batch of the stall measurement.
const BATCH: u64 = 64;

fn main() {
    let mut args = std::env::args().skip(1);
    let rounds = args.next().and_then(|n| n.parse().ok()).unwrap_or(15_usize);
    let stall_ms = args.next().and_then(|n| n.parse().ok()).unwrap_or(500_u64);

    eprintln!("scrape-scale: building the 100,000-series registry and the demo's");
    let (scale, scale_set) = benches::scale::build();
    let demo = match benches::demo::build(20) {
        Ok(demo) => demo,
        Err(error) => panic!("demo registry: {error}"),
    };
    for (name, registry) in [("scale", &scale), ("demo", &demo)] {
        for (format, format_name) in FORMATS {
            let first = registry.encode(format);
            println!(
                "first_scrape {name} {format_name} len={} capacity={}",
                first.len(),
                first.capacity()
            );
        }
    }
    eprintln!("scrape-scale: building their prometheus-client mirrors");
    let scale_mirror = mirror(&scale);
    let demo_mirror = mirror(&demo);
    let cases = [
        ("scale", &scale, &scale_mirror, 1_u32),
        ("demo", &demo, &demo_mirror, 200_u32),
    ];

    for (name, registry, theirs, _) in cases {
        for (format, format_name) in FORMATS {
            let ours = registry.encode(format);
            let mut other = String::new();
            encode_prometheus_client(theirs, format, &mut other);
            match same_series(&ours, &other) {
                Ok(lines) => println!(
                    "series {name} {format_name} lines={lines} fiko_bytes={} prometheus_client_bytes={}",
                    ours.len(),
                    other.len()
                ),
                Err(difference) => {
                    panic!("{name} {format_name}: not the same series: {difference}")
                }
            }
        }
    }

    let mut ours = String::new();
    let mut other = String::new();
    for round in 0..rounds {
        eprintln!("scrape-scale: encoding, round {}/{rounds}", round + 1);
        for (name, registry, theirs, iterations) in cases {
            for (format, format_name) in FORMATS {
                let mut fiko = || {
                    time(iterations, || {
                        ours.clear();
                        registry.encode_into(&mut ours, format);
                        black_box(ours.len());
                    })
                };
                let mut prometheus_client = || {
                    time(iterations, || {
                        other.clear();
                        encode_prometheus_client(theirs, format, &mut other);
                        black_box(other.len());
                    })
                };
                let (fiko_ns, prometheus_client_ns) = if round % 2 == 0 {
                    let a = fiko();
                    (a, prometheus_client())
                } else {
                    let b = prometheus_client();
                    (fiko(), b)
                };
                println!(
                    "encode {name} {format_name} {round} fiko_ns={fiko_ns} prometheus_client_ns={prometheus_client_ns}"
                );
            }
        }
    }

    for (name, registry, _, iterations) in cases {
        let text = registry.encode(Format::Prometheus);
        for round in 0..rounds.div_ceil(3) {
            let mut out = 0;
            let ns = time(iterations, || out = black_box(gzip(text.as_bytes())));
            println!("gzip {name} {round} ns={ns} in={} out={out}", text.len());
        }
    }

    eprintln!("scrape-scale: recording latency, idle and during scrapes");
    stall(
        &scale,
        Recorder::new(scale_set),
        stall_ms,
        rounds.div_ceil(3).max(2),
    );
    let _ = std::io::stdout().flush();
}

/// Nanoseconds per run of `f`, over `iterations` runs.
fn time(iterations: u32, mut f: impl FnMut()) -> u128 {
    let start = Instant::now();
    for _ in 0..iterations {
        f();
    }
    start.elapsed().as_nanos() / u128::from(iterations.max(1))
}

/// `text` compressed as `fiko-metrics-axum`'s metrics endpoint does; its length.
fn gzip(text: &[u8]) -> usize {
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(text.len() / 4),
        flate2::Compression::fast(),
    );
    match encoder.write_all(text).and_then(|()| encoder.finish()) {
        Ok(compressed) => compressed.len(),
        Err(error) => panic!("gzip: {error}"),
    }
}

/// How long this thread has waited for a CPU while runnable, in nanoseconds: the second
/// field of `/proc/thread-self/schedstat` (Linux with scheduler statistics), read with one
/// `pread` of a file kept open. A batch during which it grew was preempted: its time is the
/// scheduler's, not the code's. Sleeping on a lock is not waiting while runnable, so a
/// batch that waited for one is still counted as not preempted.
struct RunDelay {
    file: Option<std::fs::File>,
    buffer: [u8; 128],
}

impl RunDelay {
    fn open() -> Self {
        Self {
            file: std::fs::File::open("/proc/thread-self/schedstat").ok(),
            buffer: [0; 128],
        }
    }

    /// The run delay so far, if the kernel reports it.
    fn read(&mut self) -> Option<u64> {
        use std::os::unix::fs::FileExt;
        let file = self.file.as_ref()?;
        let n = file.read_at(&mut self.buffer, 0).ok()?;
        let text = std::str::from_utf8(self.buffer.get(..n)?).ok()?;
        text.split_ascii_whitespace().nth(1)?.parse().ok()
    }
}

/// Batch times in nanoseconds: one counter per nanosecond up to 1 ms, the rest kept.
struct Latencies {
    counts: Vec<u32>,
    beyond: Vec<u64>,
    total: u64,
}

impl Latencies {
    const RANGE: usize = 1_000_000;

    fn new() -> Self {
        Self {
            counts: vec![0; Self::RANGE],
            beyond: Vec::new(),
            total: 0,
        }
    }

    fn add(&mut self, ns: u64) {
        self.total += 1;
        match self.counts.get_mut(ns as usize) {
            Some(count) => *count += 1,
            None => self.beyond.push(ns),
        }
    }

    /// The batch time at quantile `q`.
    fn quantile(&mut self, q: f64) -> u64 {
        let rank = ((self.total as f64 * q).ceil() as u64).max(1);
        let mut seen = 0;
        for (ns, count) in self.counts.iter().enumerate() {
            seen += u64::from(*count);
            if seen >= rank {
                return ns as u64;
            }
        }
        self.beyond.sort_unstable();
        let at = (rank - seen).saturating_sub(1) as usize;
        self.beyond.get(at).copied().unwrap_or(u64::MAX)
    }

    fn report(&mut self, phase: &str, extra: &str) {
        let [p50, p99, p999, max] = [0.5, 0.99, 0.999, 1.0].map(|q| self.quantile(q));
        println!(
            "stall {phase} batches={} ops_per_batch={BATCH} p50_ns={p50} p99_ns={p99} p999_ns={p999} max_ns={max}{extra}",
            self.total
        );
    }
}

/// Records in batches for `phase_ms` per phase, `rounds` times each way; prints the
/// batch-time quantiles of each phase, overall and per round.
fn stall(registry: &Registry, mut recorder: Recorder, phase_ms: u64, rounds: usize) {
    // Warm: caches, the per-thread key buffer.
    for _ in 0..100_000 {
        recorder.record();
    }
    let mut idle = Latencies::new();
    let mut busy = Latencies::new();
    // The same, for the batches that kept their CPU throughout.
    let mut idle_on_cpu = Latencies::new();
    let mut busy_on_cpu = Latencies::new();
    let mut run_delay = RunDelay::open();
    let mut scrapes = 0_u64;
    for round in 0..rounds {
        for scraping in if round % 2 == 0 {
            [false, true]
        } else {
            [true, false]
        } {
            let stop = AtomicBool::new(false);
            let mut phase = Latencies::new();
            std::thread::scope(|scope| {
                let scraper = scraping.then(|| {
                    scope.spawn(|| {
                        let mut out = String::new();
                        let mut n = 0_u64;
                        while !stop.load(Ordering::Relaxed) {
                            out.clear();
                            registry.encode_into(&mut out, Format::Prometheus);
                            n += 1;
                        }
                        n
                    })
                });
                if scraping {
                    // Let the first scrape get going.
                    std::thread::sleep(Duration::from_millis(20));
                }
                let end = Instant::now() + Duration::from_millis(phase_ms);
                loop {
                    let delay_before = run_delay.read();
                    let start = Instant::now();
                    if start >= end {
                        break;
                    }
                    for _ in 0..BATCH {
                        recorder.record();
                    }
                    let ns = start.elapsed().as_nanos() as u64;
                    let preempted = match (delay_before, run_delay.read()) {
                        (Some(before), Some(after)) => after > before,
                        _ => false,
                    };
                    phase.add(ns);
                    let (all, on_cpu) = if scraping {
                        (&mut busy, &mut busy_on_cpu)
                    } else {
                        (&mut idle, &mut idle_on_cpu)
                    };
                    all.add(ns);
                    if !preempted {
                        on_cpu.add(ns);
                    }
                }
                stop.store(true, Ordering::Relaxed);
                if let Some(scraper) = scraper {
                    match scraper.join() {
                        Ok(n) => scrapes += n,
                        Err(_) => panic!("the scraping thread panicked"),
                    }
                }
            });
            let name = if scraping { "scrape" } else { "idle" };
            phase.report(&format!("{name}_round"), &format!(" round={round}"));
        }
    }
    idle.report("idle", "");
    busy.report("scrape", &format!(" scrapes={scrapes}"));
    if run_delay.read().is_some() {
        idle_on_cpu.report("idle_on_cpu", "");
        busy_on_cpu.report("scrape_on_cpu", "");
    }
}
