//! Every integration crate's own `Observe` impl goes through the generator: its PromQL
//! parses and names only declared metrics, and the promtool tests of its default alerts
//! pass — so a user listing the integration sets directly gets sound artefacts.

use fiko_dashboards::monitoring::ScrapeTargets;
use fiko_dashboards_gen::Generator;
use fiko_metrics::calls::FunctionMetrics;
use fiko_metrics_axum::{HttpServerMetrics, WebSocketMetrics};
use fiko_metrics_jobs::JobMetrics;
use fiko_metrics_process::ProcessMetrics;
use fiko_metrics_redis::RedisExporter;
use fiko_metrics_redis::{CacheMetrics, RedisMetrics};
use fiko_metrics_sqlx::PostgresExporter;
use fiko_metrics_sqlx::{DbMetrics, DbPoolMetrics};

#[test]
fn integration_sets_generate_sound_artefacts() {
    let artefacts = Generator::new("shop")
        .runbook_base("https://runbooks.example/")
        .observe::<HttpServerMetrics>()
        .observe::<WebSocketMetrics>()
        .observe::<DbMetrics>()
        .observe::<DbPoolMetrics>()
        .observe::<RedisMetrics>()
        .observe::<CacheMetrics>()
        .observe::<JobMetrics>()
        .observe::<ProcessMetrics>()
        .observe::<FunctionMetrics>()
        .observe::<RedisExporter>()
        .observe::<PostgresExporter>()
        .observe::<ScrapeTargets>()
        .generate()
        .unwrap_or_else(|e| panic!("{e}"));
    let alerts = artefacts.get("prometheus/alerts.yml").expect("alerts");
    for seed in [
        "HighErrorRate",
        "HighResponseTime",
        "HighRequestRate",
        "HighCPUUsage",
        "HighMemoryUsage",
        "WorkerDown",
        "TaskFailureRate",
        "QueueBacklog",
        "RedisDown",
        "PostgresDown",
    ] {
        assert!(
            alerts.contains(&format!("alert: \"{seed}\"")),
            "{seed} missing"
        );
    }
    let dir = tempfile::tempdir().expect("dir");
    artefacts.write_to(dir.path()).expect("write");
    for args in [
        &["check", "rules", "alerts.yml", "recording.yml"][..],
        &["test", "rules", "alerts.test.yml"][..],
    ] {
        let report = fiko_testkit::promtool::run_in(&dir.path().join("prometheus"), args)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(report.success, "promtool {args:?}: {}", report.text());
    }
}
