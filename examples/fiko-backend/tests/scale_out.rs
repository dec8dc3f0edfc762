//! The generated scale-out deployment, for real: two Prometheus replicas (a server and an
//! agent) scrape three demo instances (and the worker, the exporters, each other and Alertmanager) and remote-write
//! into VictoriaMetrics, which deduplicates their copies; vmalert evaluates the generated
//! rules for the central ruler against it and notifies a real Alertmanager. Checked
//! through VictoriaMetrics' Prometheus-compatible API: every panel query and rule group
//! (`verify_scale_out`), request totals equal to what the load generator sent, recorded
//! series, and one replica killed mid-load: no gap in any series, totals still exact, and
//! the only new alert is the one naming the dead replica.
// The helpers fail the test by panicking (they are not `#[test]` fns: rust-clippy#13981).
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::servers::{
    PromApi, Stack, host_port, point_at, run_load_binary, start_alertmanager, value_of, verify,
    wait_counted, wait_notified, webhook_sink,
};
use fiko_dashboards::seconds;
use fiko_dashboards_gen::verify::Class;
use fiko_dashboards_gen::{Notifications, ScaleOut};
use fiko_testkit::{Prometheus, VictoriaMetrics, VmAlert};
use serde_json::Value;

/// The alert a dead replica raises (its `for:` shortened to 2 s).
const DEAD_REPLICA_ALERT: &str = "TargetDown";

/// The scrape and evaluation interval: 2 s, so that a scrape slowed by the loaded
/// machine still ends within its timeout (the interval) and leaves no gap of its own.
const INTERVAL_SECONDS: u64 = 2;

/// The firing alerts vmalert holds, as `name{labels}` (the Watchdog left out: it always
/// fires).
async fn firing(ruler: &PromApi) -> BTreeSet<String> {
    let data = ruler.get("/api/v1/alerts", &[]).await;
    data["alerts"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter(|alert| alert["state"] == "firing" && alert["labels"]["alertname"] != "Watchdog")
        .map(|alert| {
            let labels = &alert["labels"];
            format!(
                "{}{{job={}, instance={}}}",
                labels["alertname"].as_str().unwrap_or_default(),
                labels["job"],
                labels["instance"]
            )
        })
        .collect()
}

/// The longest gap between two samples of any series of `selector` stored between `from`
/// and `to` (Unix seconds), in milliseconds, with the series it is in and when it began
/// (seconds after `from`).
async fn longest_gap(store: &PromApi, selector: &str, from: f64, to: f64) -> (u64, String) {
    let response = store
        .http
        .get(format!("{}/api/v1/export", store.url))
        .query(&[
            ("match[]", selector),
            ("start", &format!("{from:.3}")),
            ("end", &format!("{to:.3}")),
        ])
        .send()
        .await
        .unwrap();
    let body = response.text().await.unwrap();
    let mut worst = (0, String::new());
    let mut series = 0;
    for line in body.lines().filter(|line| !line.is_empty()) {
        let export: Value = serde_json::from_str(line).unwrap();
        let mut stamps: Vec<u64> = export["timestamps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_u64().unwrap())
            .collect();
        stamps.sort_unstable();
        series += 1;
        for pair in stamps.windows(2) {
            let gap = pair[1] - pair[0];
            if gap > worst.0 {
                worst = (
                    gap,
                    format!(
                        "{} from {:.3}",
                        export["metric"],
                        pair[0] as f64 / 1000.0 - from
                    ),
                );
            }
        }
    }
    assert!(series > 0, "no series of {selector} exported: {body}");
    worst
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_write_into_victoria_metrics_and_vmalert_runs_the_rules() {
    let started = Instant::now();
    // The application and the servers it uses, as in the single-Prometheus test.
    let mut stack = Stack::start().await;
    let urls = stack.app_urls();

    // The store, deduplicating to one sample per scrape interval.
    let vm = VictoriaMetrics::start_with_flags(
        "scrape_configs: []\n",
        &[&format!("-dedup.minScrapeInterval={INTERVAL_SECONDS}s")],
    )
    .unwrap();
    let (hook, notified) = webhook_sink().await;
    // `cargo run -p dashboards-gen`'s generator with this run's addresses, 2 s intervals,
    // a 15 s rule window, notifications to this test's webhook and a 2 s `for:` on the
    // alert a dead replica raises. The SLOs keep their real windows (their burn-rate
    // alerts cannot fire within the run, whatever the machine's load does to latency).
    let generator = |replicas: &[String], alertmanager: &str| {
        let mut generator = fiko_backend::deployment::generator()
            .interval(seconds(INTERVAL_SECONDS as u32))
            .tune(DEAD_REPLICA_ALERT, |alert| {
                alert.set_for(seconds(2));
            });
        let settings = generator.settings_mut();
        settings.rule_window = seconds(15);
        settings.notifications = Notifications::default();
        point_at(
            &mut generator,
            &stack.targets(replicas, alertmanager),
            alertmanager,
        );
        let replica_targets: Vec<&str> = replicas.iter().map(String::as_str).collect();
        generator
            .notify_webhook(&hook, None)
            .scale_out(
                ScaleOut::victoria_metrics(&vm.url())
                    .cluster("fiko")
                    .replica_job("prometheus", &replica_targets),
            )
            .generate()
            .unwrap()
    };
    let first = generator(&["127.0.0.1:1".to_owned()], "127.0.0.1:1");
    let alertmanager = start_alertmanager(&first);
    // Each replica scrapes both: started on ports of their own, then reloaded with them.
    // Replica a is a Prometheus server, b an agent (the same generated file serves both).
    let start_replica = |name: &str, flags: &[&str]| {
        let config = first
            .get(&format!("scale-out/prometheus/{name}.yml"))
            .unwrap();
        Prometheus::start_with_flags(config, &[], flags).unwrap()
    };
    let replica_a = start_replica("a", &[]);
    let mut replica_b = Some(start_replica("b", &["--enable-feature=agent"]));
    let replica_addresses = [
        host_port(&replica_a.url()),
        host_port(&replica_b.as_ref().unwrap().url()),
    ];
    let artefacts = generator(&replica_addresses, &alertmanager.address());
    for (name, replica) in [("a", &replica_a), ("b", replica_b.as_ref().unwrap())] {
        let config = artefacts
            .get(&format!("scale-out/prometheus/{name}.yml"))
            .unwrap();
        assert!(config.contains("remote_write:"), "{config}");
        std::fs::write(replica.dir().join("prometheus.yml"), config).unwrap();
        replica.reload().unwrap();
    }
    let rule_files: Vec<(&str, &str)> = ["alerts.yml", "recording.yml", "slo.yml"]
        .map(|file| {
            (
                file,
                artefacts.get(&format!("scale-out/rules/{file}")).unwrap(),
            )
        })
        .to_vec();
    let vmalert_flags = [
        format!("-datasource.url={}", vm.url()),
        format!("-remoteWrite.url={}", vm.url()),
        format!("-notifier.url={}", alertmanager.url()),
        format!("-evaluationInterval={INTERVAL_SECONDS}s"),
    ];
    let vmalert_flags: Vec<&str> = vmalert_flags.iter().map(String::as_str).collect();
    let vmalert = VmAlert::start(&rule_files, &vmalert_flags).unwrap();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let store = PromApi {
        url: vm.url(),
        http: http.clone(),
    };
    let ruler = PromApi {
        url: vmalert.url(),
        http,
    };

    // Every target, seen by both replicas, is one `up` series in the store: three
    // instances, the worker, two exporters, two replicas and Alertmanager.
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let up = store.query("up").await;
        if up.len() == 9 && up.iter().all(|s| value_of(s) == 1.0) {
            assert!(
                up.iter().all(|s| s["metric"].get("replica").is_none()),
                "{up:?}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "targets not all up in the store: {up:?}\n{}\n{}",
            replica_a.log_tail(),
            vm.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // Load: the store's sums over the instances equal what was sent, with two replicas
    // writing every sample.
    let (sent, printed) = run_load_binary(&urls, 30, &stack.log("load"));
    let total: u64 = sent.values().sum();
    assert!(total > 30 * 12, "{printed}");
    let counted = wait_counted(&store, &sent).await;
    assert_eq!(
        counted, sent,
        "the store's sums vs the load generator:\n{printed}"
    );

    // The ruler's recorded series are in the store.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let recorded = store
            .query(r#"{__name__=~"slo:sli_error:ratio_rate.+"}"#)
            .await;
        let rates = store.query(r#"{__name__=~"job_instance.*:rate15s"}"#).await;
        if !recorded.is_empty() && !rates.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no recorded series in the store: {recorded:?} {rates:?}\n{}",
            vmalert.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // `verify_scale_out` through the store and vmalert: every panel and rule query has
    // data, every job is up, every group loaded in this generation's version. Two error
    // counters have no sample yet (no cache or request failed). Against Prometheus,
    // `verify` reports them `not-recorded` (exposed without samples, per its metadata
    // API); VictoriaMetrics 1.79 has no metadata API, so it can only call them missing.
    let report = verify(&artefacts, &vm.url(), Some(&vmalert.url()), 60).await;
    let unexpected: Vec<String> = report
        .problems
        .iter()
        .filter(|problem| Class::DEFAULT_FAIL_ON.contains(&problem.class))
        .map(|problem| format!("{:?} {}: {}", problem.class, problem.item, problem.detail))
        .filter(|line| {
            !(line.starts_with("MissingMetric ")
                && (line.ends_with(": fiko_cache_errors_total")
                    || line.ends_with(": http_server_request_errors_total")))
        })
        .collect();
    assert!(
        unexpected.is_empty(),
        "{unexpected:#?}\n{}",
        report.table(&Class::DEFAULT_FAIL_ON)
    );

    // Replica b dies while load runs.
    let before = firing(&ruler).await;
    let load_urls = urls.clone();
    let load_log = stack.log("load-during-kill");
    let during = tokio::task::spawn_blocking(move || run_load_binary(&load_urls, 30, &load_log));
    tokio::time::sleep(Duration::from_secs(3)).await;
    let killed_at = unix_now();
    let killed = Instant::now();
    drop(replica_b.take());
    let (sent_during, printed) = during.await.unwrap();
    wait_notified(&notified, DEAD_REPLICA_ALERT, Duration::from_secs(60)).await;
    let detected = killed.elapsed();
    let after = firing(&ruler).await;
    let new: Vec<&String> = after.difference(&before).collect();
    let dead = format!(
        "{DEAD_REPLICA_ALERT}{{job=\"prometheus\", instance=\"{}\"}}",
        replica_addresses[1]
    );
    assert_eq!(new, vec![&dead], "alerts firing before: {before:?}");

    // Totals stay exact: both loads, counted once.
    let mut both = sent.clone();
    for (key, n) in sent_during {
        *both.entry(key).or_default() += n;
    }
    let counted = wait_counted(&store, &both).await;
    assert_eq!(counted, both, "after the kill:\n{printed}");
    // No series of the app's instances misses more than one scrape around the kill.
    let (gap, series) =
        longest_gap(&store, r#"{job="fiko-app"}"#, killed_at - 10.0, unix_now()).await;
    // No gap longer than two scrape intervals.
    assert!(
        gap <= 2 * 1000 * INTERVAL_SECONDS,
        "a gap of {gap} ms in {series}"
    );

    for app in &mut stack.apps {
        assert!(app.exited().is_none(), "{} died:\n{}", app.name, app.log());
    }
    eprintln!(
        "{} requests counted exactly through two replicas and the store; {DEAD_REPLICA_ALERT} delivered by {detected:?} after the kill; longest gap around it: {gap} ms ({series}); run took {:?}",
        both.values().sum::<u64>(),
        started.elapsed()
    );
}
