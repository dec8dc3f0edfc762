//! `monitoring --verify` against a real Prometheus scraping the shop's real router: a
//! healthy deployment reports no problem; then each problem is made for real — a job's
//! target not running, the application's job renamed in the scrape config, a rule file
//! from an older declaration loaded, an old label value written by an older build of a
//! set — and the report names exactly that problem, in both formats, with the exit code.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use fiko_dashboards::exporters::ScrapeTargets;
use fiko_dashboards_gen::Generator;
use fiko_metrics::{Counter, Family, Format, LabelSet, LabelValue, MetricSet, Registry};
use fiko_metrics_axum::HttpServerMetrics;
use fiko_testkit::Prometheus;

/// The shop's metrics as an older build declared them: orders could also be declined.
mod old_build {
    use super::*;

    /// Orders and checkouts.
    #[derive(MetricSet)]
    #[metric_set(namespace = "shop")]
    pub(crate) struct ShopMetrics {
        /// Orders, by outcome.
        pub(crate) orders: Family<OrderLabels, Counter>,
    }

    /// The labels of [`ShopMetrics::orders`].
    #[derive(LabelSet)]
    pub(crate) struct OrderLabels {
        /// How the order ended.
        pub(crate) outcome: Outcome,
    }

    /// How an order ended.
    #[derive(LabelValue)]
    pub(crate) enum Outcome {
        /// Paid.
        Paid,
        /// Payment refused.
        Failed,
        /// Refused before payment (no longer declared).
        Declined,
    }
}

/// Serves `router` on a free loopback port from its own runtime thread.
fn serve(router: axum::Router) -> SocketAddr {
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
/// runs.
struct Shop {
    address: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl Shop {
    fn start() -> Shop {
        let address = serve(outside_app::router());
        let stop = Arc::new(AtomicBool::new(false));
        let running = stop.clone();
        std::thread::spawn(move || {
            for round in 0.. {
                if running.load(Ordering::Relaxed) {
                    break;
                }
                // One checkout in 20 is refused: errors have series too.
                let total = if round % 20 == 19 { "0" } else { "1999" };
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
fn post(address: SocketAddr, path: &str, body: &str) -> std::io::Result<String> {
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

/// The shop as an older build ran it: only its old `ShopMetrics`.
fn old_build() -> SocketAddr {
    let registry = Arc::new(Registry::new());
    old_build::ShopMetrics::register(&registry).unwrap();
    let router = axum::Router::new().route(
        "/api/v1/metrics",
        axum::routing::get(move || {
            let registry = registry.clone();
            async move { registry.encode(Format::Prometheus) }
        }),
    );
    serve(router)
}

fn monitoring(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_monitoring"))
        .args(args)
        .output()
        .expect("run monitoring")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The artefacts of the shop's generator, with Prometheus evaluating every second.
fn generated(dir: &Path, extra: &[&str]) {
    let out = dir.display().to_string();
    let mut args = vec!["--out", out.as_str(), "--interval", "1"];
    args.extend_from_slice(extra);
    let output = monitoring(&args);
    assert!(output.status.success(), "{}", text(&output.stderr));
}

fn read(dir: &Path, path: &str) -> String {
    std::fs::read_to_string(dir.join(path)).expect(path)
}

/// A Prometheus running the generated config and rules, the shop's job scraping
/// `shop_targets`, its own job scraping itself; `edit` changes the config first.
fn prometheus(
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

/// Runs `monitoring --verify` until its output is `expected` (the deployment settles:
/// scrapes, rule evaluations), for at most a minute; the last run.
fn verify_until(url: &str, extra: &[&str], expected: &dyn Fn(&str) -> bool) -> Output {
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

const CHECKED: &str = "checked 18 panel queries, 4 alert(s), 12 recording rule(s), 2 scrape job(s), 3 rule group(s), 12 closed label(s)";

fn heading(prometheus: &Prometheus) -> String {
    let url = prometheus.url();
    format!("verify {url} (rules: {url}), last 1m, $__rate_interval=4s: {CHECKED}\n")
}

/// The table of a run, and its JSON problems and exit code from a JSON run.
fn assert_report(prometheus: &Prometheus, problems: &[(&str, &str, &str)], failing: usize) {
    let url = prometheus.url();
    let mut expected = heading(prometheus);
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
    let table = verify_until(&url, &[], &|out| out == expected);
    assert_eq!(text(&table.stdout), expected, "{}", text(&table.stderr));
    let code = i32::from(failing > 0);
    assert_eq!(table.status.code(), Some(code));
    assert!(table.stderr.is_empty(), "{}", text(&table.stderr));

    let json = verify_until(&url, &["--format", "json"], &|_| true);
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
    assert_eq!(document["url"], url.as_str());
    assert_eq!(document["substitutions"]["$__rate_interval"], "4s");
    assert_eq!(document["checked"]["panel_queries"], 18);
    assert_eq!(document["items"].as_array().unwrap().len(), 18 + 4 + 12);
}

#[test]
fn a_refused_payment_is_a_502() {
    let shop = Shop::start();
    assert_eq!(
        post(shop.address, "/checkout", "0").unwrap(),
        "HTTP/1.0 502 Bad Gateway"
    );
    assert_eq!(
        post(shop.address, "/checkout", "").unwrap(),
        "HTTP/1.0 200 OK"
    );
}

#[test]
fn a_healthy_deployment_reports_no_problem() {
    let shop = Shop::start();
    let dir = tempfile::tempdir().unwrap();
    generated(dir.path(), &[]);
    let alerts = read(dir.path(), "prometheus/alerts.yml");
    let prometheus = prometheus(
        dir.path(),
        &[shop.address.to_string()],
        |config| config,
        &alerts,
    );
    assert_report(&prometheus, &[], 0);
}

#[test]
fn a_job_whose_target_is_not_running_is_down() {
    let shop = Shop::start();
    let dir = tempfile::tempdir().unwrap();
    generated(dir.path(), &[]);
    let alerts = read(dir.path(), "prometheus/alerts.yml");
    // Prometheus' own job scrapes an address where nothing runs.
    let prometheus = prometheus(
        dir.path(),
        &[shop.address.to_string()],
        |config| config.replace("\"localhost:9090\"", "\"127.0.0.1:1\""),
        &alerts,
    );
    assert_report(
        &prometheus,
        &[(
            "job-down",
            "job `prometheus`",
            "1 of 1 target(s) down: 127.0.0.1:1",
        )],
        1,
    );
}

#[test]
fn a_job_renamed_in_the_scrape_config_is_absent() {
    let shop = Shop::start();
    let dir = tempfile::tempdir().unwrap();
    generated(dir.path(), &[]);
    let alerts = read(dir.path(), "prometheus/alerts.yml");
    let prometheus = prometheus(
        dir.path(),
        &[shop.address.to_string()],
        |config| config.replace("job_name: \"shop-web\"", "job_name: \"shop-frontend\""),
        &alerts,
    );
    let problem = (
        "job-absent",
        "job `shop-web`",
        "no target of this job in `up` (jobs not generated: shop-frontend)",
    );
    assert_report(&prometheus, &[problem], 1);
    // Not failing on it: reported, exit 0.
    let output = verify_until(&prometheus.url(), &["--fail-on", "none"], &|_| true);
    assert_eq!(output.status.code(), Some(0));
    assert!(
        text(&output.stdout).ends_with("1 problem(s), 0 failing (--fail-on none)\n"),
        "{}",
        text(&output.stdout)
    );
}

/// `(name, fingerprint)` of each group of a rule file.
fn groups(file: &str) -> Vec<(String, String)> {
    file.lines()
        .filter_map(|line| line.strip_prefix("  - name: \""))
        .filter_map(|rest| rest.strip_suffix('"'))
        .filter_map(|name| name.split_once('@'))
        .map(|(name, fingerprint)| (name.to_owned(), fingerprint.to_owned()))
        .collect()
}

/// The shop's generator as `src/bin/monitoring.rs` builds it, evaluating every second:
/// the sets `outside_app::register_metrics` registers, read from a registry of their own
/// (this process' default registry also has what the served router registered).
fn shop_generator() -> Generator {
    let registry = Registry::new();
    registry.get_or_register::<outside_app::ShopMetrics>();
    registry.get_or_register::<outside_app::PaymentMetrics>();
    registry.get_or_register::<HttpServerMetrics>();
    registry.get_or_register::<fiko_metrics::calls::FunctionMetrics>();
    Generator::new("shop")
        .observe_registered(&registry)
        .observe::<ScrapeTargets>()
        .customize::<HttpServerMetrics>(|set| {
            set.threshold("HighErrorRate", 0.1)
                .drop_panel("HTTP", "Response body size p95 by route")
        })
        .scrape_app("web", "/api/v1/metrics", &["web:8080"])
        .scrape("prometheus", "/metrics", &["localhost:9090"])
        .interval(fiko_dashboards::seconds(1))
}

#[test]
fn a_rule_file_from_an_older_declaration_is_stale() {
    let shop = Shop::start();
    let dir = tempfile::tempdir().unwrap();
    generated(dir.path(), &[]);
    let current = read(dir.path(), "prometheus/alerts.yml");
    let same = shop_generator().generate().unwrap();
    assert_eq!(same.get("prometheus/alerts.yml"), Some(current.as_str()));
    // The rules of a build whose CheckoutFailures alert fired at 20%.
    let older = shop_generator()
        .tune("CheckoutFailures", |alert| alert.condition.threshold = 0.2)
        .generate()
        .unwrap();
    let older = older.get("prometheus/alerts.yml").unwrap().to_owned();
    let (now, then) = (groups(&current), groups(&older));
    assert_eq!(now[0], then[0], "only the shop group differs");
    assert_eq!(
        (now[1].0.as_str(), then[1].0.as_str()),
        ("shop.shop", "shop.shop")
    );
    let prometheus = prometheus(
        dir.path(),
        &[shop.address.to_string()],
        |config| config,
        &older,
    );
    let detail = format!(
        "loaded version {}, the declarations give {} (reload alerts.yml)",
        then[1].1, now[1].1
    );
    assert_report(
        &prometheus,
        &[("group-stale", "group `shop.shop`", &detail)],
        1,
    );
}

#[test]
fn an_old_label_value_written_by_an_older_build_is_label_drift() {
    let shop = Shop::start();
    let older = old_build();
    let dir = tempfile::tempdir().unwrap();
    generated(dir.path(), &[]);
    let alerts = read(dir.path(), "prometheus/alerts.yml");
    // The older build still runs as a second instance of the shop's job.
    let prometheus = prometheus(
        dir.path(),
        &[shop.address.to_string(), older.to_string()],
        |config| config,
        &alerts,
    );
    assert_report(
        &prometheus,
        &[(
            "label-drift",
            "label `outcome` of `shop_orders`",
            "stored series carry undeclared value(s) declined (declared: paid, failed)",
        )],
        1,
    );
}

#[test]
fn nothing_to_ask_is_exit_3_and_a_bad_option_exit_2() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let output = monitoring(&["--verify", &url]);
    assert_eq!(output.status.code(), Some(3));
    let error = text(&output.stderr);
    assert!(
        error.starts_with(&format!(
            "monitoring: cannot verify: {url}/api/v1/label/__name__/values: cannot connect: "
        )),
        "{error}"
    );
    assert_eq!(error.lines().count(), 1, "{error}");
    assert!(output.stdout.is_empty());

    // A server that is not a Prometheus API.
    let shop = Shop::start();
    let output = monitoring(&["--verify", &format!("http://{}", shop.address)]);
    assert_eq!(output.status.code(), Some(3));
    assert_eq!(
        text(&output.stderr),
        format!(
            "monitoring: cannot verify: http://{}/api/v1/label/__name__/values: status 404, not a Prometheus API answer: \"\"\n",
            shop.address
        )
    );

    let output = monitoring(&["--verify", &url, "--fail-on", "down"]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        text(&output.stderr),
        "monitoring: invalid value 'down' for '--fail-on <CLASSES>': unknown problem class `down` (use job-absent, job-down, group-missing, group-stale, group-slow, missing-metric, no-data, query-error, label-drift, firing, all, none or default)\n"
    );
    let output = monitoring(&["--verify", &url, "--lookback", "5 minutes"]);
    assert_eq!(output.status.code(), Some(2));
    let output = monitoring(&["--lookback", "5m"]);
    assert_eq!(output.status.code(), Some(2), "--lookback needs --verify");
    let missing = monitoring(&[
        "--verify",
        &url,
        "--bearer-token-file",
        "/nonexistent/token",
    ]);
    assert_eq!(missing.status.code(), Some(3));
    assert!(
        text(&missing.stderr)
            .starts_with("monitoring: /nonexistent/token: cannot read the token file: "),
        "{}",
        text(&missing.stderr)
    );
}
