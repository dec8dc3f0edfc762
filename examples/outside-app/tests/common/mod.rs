//! Shared by the `verify` tests: the shop served on a real port with a client driving it,
//! a Prometheus on the generated artefacts, `monitoring --verify` and its expected report.
#![allow(dead_code, unreachable_pub)]
// The helpers fail the test by panicking (they are not `#[test]` fns: rust-clippy#13981).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use fiko_testkit::Prometheus;

/// Serves `router` on a free loopback port from its own runtime thread.
pub fn serve(router: axum::Router) -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(listener, router).await.unwrap();
        });
    });
    address
}

/// The shop, with a client checking out and probing health every 100 ms while the test
/// runs; with `refusals`, one checkout in 20 is refused (a 502).
pub struct Shop {
    pub address: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl Shop {
    pub fn start(refusals: bool) -> Shop {
        let address = serve(outside_app::router());
        let stop = Arc::new(AtomicBool::new(false));
        let running = stop.clone();
        std::thread::spawn(move || {
            for round in 0.. {
                if running.load(Ordering::Relaxed) {
                    break;
                }
                // One checkout in 20 is refused: errors have series too.
                let total = if refusals && round % 20 == 19 {
                    "0"
                } else {
                    "1999"
                };
                let _ = post(address, "/checkout", total);
                let _ = fiko_testkit::http_get(&format!("http://{address}/health"));
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        Shop { address, stop }
    }
}

impl Drop for Shop {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// `POST path` with `body`; the answer's status line.
pub fn post(address: SocketAddr, path: &str, body: &str) -> std::io::Result<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "POST {path} HTTP/1.0\r\nHost: {address}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    Ok(answer.lines().next().unwrap_or_default().to_owned())
}

pub fn monitoring(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_monitoring"))
        .args(args)
        .output()
        .expect("run monitoring")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The artefacts of the shop's generator, with Prometheus evaluating every second.
pub fn generated(dir: &Path, extra: &[&str]) {
    let out = dir.display().to_string();
    let mut args = vec!["--out", out.as_str(), "--interval", "1"];
    args.extend_from_slice(extra);
    let output = monitoring(&args);
    assert!(output.status.success(), "{}", text(&output.stderr));
}

/// The artefacts of [`generated`] in a fresh temporary directory, and their
/// `prometheus/alerts.yml`.
pub fn generated_alerts() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    generated(dir.path(), &[]);
    let alerts = read(dir.path(), "prometheus/alerts.yml");
    (dir, alerts)
}

pub fn read(dir: &Path, path: &str) -> String {
    std::fs::read_to_string(dir.join(path)).expect(path)
}

/// A Prometheus running the generated config and rules, the shop's job scraping
/// `shop_targets`, its own job scraping itself; `edit` changes the config first.
pub fn prometheus(
    dir: &Path,
    shop_targets: &[String],
    edit: impl Fn(String) -> String,
    alerts: &str,
) -> Prometheus {
    let targets: Vec<String> = shop_targets.iter().map(|t| format!("- \"{t}\"")).collect();
    let config = read(dir, "prometheus/prometheus.yml")
        .replace("- \"web:8080\"", &targets.join("\n          "))
        // No Alertmanager in these tests.
        .replace("- \"alertmanager:9093\"", "- \"127.0.0.1:1\"");
    let config = edit(config);
    let recording = read(dir, "prometheus/recording.yml");
    let prometheus = Prometheus::start(
        &config.replace("\"localhost:9090\"", "\"127.0.0.1:1\""),
        &[("alerts.yml", alerts), ("recording.yml", &recording)],
    )
    .unwrap();
    // Its own job scrapes it, once its port is known.
    let own = prometheus.url().trim_start_matches("http://").to_owned();
    std::fs::write(
        prometheus.dir().join("prometheus.yml"),
        config.replace("localhost:9090", &own),
    )
    .unwrap();
    prometheus.reload().unwrap();
    prometheus
}

/// [`prometheus`] with the generated config as it is, its shop job scraping `targets`.
pub fn prometheus_of(dir: &Path, targets: &[String], alerts: &str) -> Prometheus {
    prometheus(dir, targets, |config| config, alerts)
}

/// Runs `monitoring --verify` until its output is `expected` (the deployment settles:
/// scrapes, rule evaluations), for at most a minute; the last run.
pub fn verify_until(url: &str, extra: &[&str], expected: &dyn Fn(&str) -> bool) -> Output {
    let mut args = vec!["--verify", url, "--interval", "1", "--lookback", "1m"];
    args.extend_from_slice(extra);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let output = monitoring(&args);
        if expected(&text(&output.stdout)) || Instant::now() > deadline {
            return output;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The shop's generator's panel queries.
pub const PANEL_QUERIES: usize = 22;
/// Its alerts: four on the shop's metrics, TargetDown, TargetMissing and Watchdog.
pub const ALERTS: usize = 7;
/// The alerts that read the shop's own metrics.
pub const APP_ALERTS: usize = 4;
/// Its recording rules.
pub const RECORDING_RULES: usize = 2;
/// Every query `verify` runs.
pub const QUERIES: usize = PANEL_QUERIES + ALERTS + RECORDING_RULES;

pub const CHECKED: &str = "checked 22 panel queries, 7 alert(s), 2 recording rule(s), 2 scrape job(s), 4 rule group(s), 12 closed label(s)";

/// The table's first line for a query API at `url` and a rules API at `rules_url`.
pub fn heading(url: &str, rules_url: &str) -> String {
    format!("verify {url} (rules: {rules_url}), last 1m, $__rate_interval=4s: {CHECKED}\n")
}

/// The table of a run, and its JSON problems and exit code from a JSON run.
pub fn assert_report(prometheus: &Prometheus, problems: &[(&str, &str, &str)], failing: usize) {
    let url = prometheus.url();
    assert_report_at(&url, &url, &[], problems, failing);
}

/// [`assert_report`] for a query API at `url`, a rules API at `rules_url` (passed as
/// `--rules-url` when it differs).
pub fn assert_report_at(
    url: &str,
    rules_url: &str,
    extra: &[&str],
    problems: &[(&str, &str, &str)],
    failing: usize,
) {
    let mut args: Vec<&str> = extra.to_vec();
    if rules_url != url {
        args.extend(["--rules-url", rules_url]);
    }
    let mut expected = heading(url, rules_url);
    if problems.is_empty() {
        expected.push_str("no problem found\n");
    } else {
        let class = problems.iter().map(|p| p.0.len()).max().unwrap().max(5);
        let item = problems.iter().map(|p| p.1.len()).max().unwrap().max(4);
        expected.push_str(&format!("{:class$}  {:item$}  DETAIL\n", "CLASS", "ITEM"));
        for (c, i, d) in problems {
            expected.push_str(&format!("{c:class$}  {i:item$}  {d}\n"));
        }
        expected.push_str(&format!(
            "{} problem(s), {failing} failing (--fail-on job-absent,job-down,group-missing,group-stale,group-slow,missing-metric,query-error,label-drift)\n",
            problems.len()
        ));
    }
    let table = verify_until(url, &args, &|out| out == expected);
    assert_eq!(text(&table.stdout), expected, "{}", text(&table.stderr));
    let code = i32::from(failing > 0);
    assert_eq!(table.status.code(), Some(code));
    assert!(table.stderr.is_empty(), "{}", text(&table.stderr));

    args.extend(["--format", "json"]);
    let json = verify_until(url, &args, &|_| true);
    let document: serde_json::Value = serde_json::from_slice(&json.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", text(&json.stdout)));
    let got: Vec<(String, String, String)> = document["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let field = |name: &str| p[name].as_str().unwrap().to_owned();
            (field("class"), field("item"), field("detail"))
        })
        .collect();
    let want: Vec<(String, String, String)> = problems
        .iter()
        .map(|(c, i, d)| ((*c).to_owned(), (*i).to_owned(), (*d).to_owned()))
        .collect();
    assert_eq!(got, want, "{}", text(&json.stdout));
    assert_eq!(document["exit_code"], code);
    assert_eq!(json.status.code(), Some(code));
    assert_eq!(document["url"], url);
    assert_eq!(document["rules_url"], rules_url);
    assert_eq!(document["substitutions"]["$__rate_interval"], "4s");
    assert_eq!(document["checked"]["panel_queries"], PANEL_QUERIES);
    assert_eq!(document["items"].as_array().unwrap().len(), QUERIES);
}

/// A child process, killed and reaped on drop.
pub struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `program` with `args`, its output in `log`, and waits until
/// `http://ADDRESS/health` answers 200.
pub fn start_server(program: &str, args: &[String], address: &str, log: &Path) -> Child {
    let out = std::fs::File::create(log).unwrap();
    let err = out.try_clone().unwrap();
    let child = Command::new(program)
        .args(args)
        .stdout(out)
        .stderr(err)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
    let mut child = Child(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !fiko_testkit::http_get(&format!("http://{address}/health"))
        .is_ok_and(|r| r.status == 200)
    {
        if let Ok(Some(status)) = child.0.try_wait() {
            panic!(
                "{program} exited with {status}: {}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        assert!(
            Instant::now() < deadline,
            "{program} not ready: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    child
}
