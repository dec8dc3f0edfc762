//! Every integration crate's own `Observe` impl goes through the generator: its PromQL
//! parses and names only declared metrics, and the promtool tests of its default alerts
//! pass — so a user listing the integration sets directly gets sound artefacts.

use std::process::Command;

use fiko_dashboards::exporters::{PostgresExporter, RedisExporter, ScrapeTargets};
use fiko_dashboards_gen::Generator;
use fiko_metrics::calls::FunctionMetrics;
use fiko_metrics_axum::{HttpServerMetrics, WebSocketMetrics};
use fiko_metrics_jobs::JobMetrics;
use fiko_metrics_process::ProcessMetrics;
use fiko_metrics_redis::{CacheMetrics, RedisMetrics};
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
    let promtool = fiko_testkit::binary("promtool", "prometheus").unwrap_or_else(|e| panic!("{e}"));
    for args in [
        &["check", "rules", "alerts.yml", "recording.yml"][..],
        &["test", "rules", "alerts.test.yml"][..],
    ] {
        let output = Command::new(&promtool)
            .args(args)
            .current_dir(dir.path().join("prometheus"))
            .output()
            .expect("run promtool");
        assert!(
            output.status.success(),
            "promtool {args:?}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
