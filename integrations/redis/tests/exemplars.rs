//! With an exemplar source installed, `Instrumented` keeps the trace a command (or a
//! pipeline) was sent in as the exemplar of its count, round-trip time and error, against
//! a real redis-server; outside a trace it records none.

use fiko_metrics::exemplar::{self, ExemplarLabels};
use fiko_metrics::{Format, MetricSet, Registry};
use fiko_metrics_redis::{Instrumented, RedisMetrics};
use fiko_testkit::{Redis, enter_trace};
use redis::AsyncCommands;

/// `(series, trace_id)` of every exemplar on the samples whose name starts with `name`.
fn exemplars(registry: &Registry, name: &str) -> Vec<(String, String)> {
    fiko_testkit::exemplar_traces(&registry.encode(Format::OpenMetrics), name)
}

fn traces_of(registry: &Registry, name: &str, label: &str) -> Vec<String> {
    exemplars(registry, name)
        .into_iter()
        .filter(|(series, _)| series.contains(label))
        .map(|(_, trace)| trace)
        .collect()
}

// One thread: the source reads this thread's current trace as each command is sent.
#[tokio::test(flavor = "current_thread")]
async fn commands_keep_the_trace_they_were_sent_in() {
    exemplar::set_source(|| {
        ExemplarLabels::new(&[("trace_id", fiko_testkit::current_trace()?.as_str())]).ok()
    })
    .unwrap();
    let redis = Redis::start().unwrap();
    let registry = Registry::new();
    let metrics = RedisMetrics::register(&registry).unwrap();
    let client = redis::Client::open(redis.url()).unwrap();
    let conn = client.get_multiplexed_async_connection().await.unwrap();
    let mut conn = Instrumented::with_metrics(conn, metrics.clone());

    enter_trace(None);
    let _: () = conn.set("untraced", 1).await.unwrap();
    assert_eq!(
        exemplars(&registry, "fiko_redis_"),
        Vec::<(String, String)>::new()
    );

    enter_trace(Some("trace-set"));
    let _: () = conn.set("greeting", "hello").await.unwrap();
    enter_trace(Some("trace-get"));
    let _: String = conn.get("greeting").await.unwrap();
    enter_trace(Some("trace-wrongtype"));
    let failed: Result<i64, _> = conn.incr("greeting", 1).await;
    assert!(failed.is_err());
    enter_trace(Some("trace-pipeline"));
    let _: (i64, i64) = redis::pipe()
        .incr("counter", 1)
        .incr("counter", 1)
        .query_async(&mut conn)
        .await
        .unwrap();
    enter_trace(None);

    let set = r#"command="set""#;
    let get = r#"command="get""#;
    let incr = r#"command="incrby""#;
    let pipeline = r#"command="pipeline""#;
    assert_eq!(
        traces_of(&registry, "fiko_redis_commands_total", set),
        ["trace-set"]
    );
    assert_eq!(
        traces_of(&registry, "fiko_redis_commands_total", get),
        ["trace-get"]
    );
    // The pipeline's INCRs are its commands; the failed INCR came before them.
    assert_eq!(
        traces_of(&registry, "fiko_redis_commands_total", incr),
        ["trace-pipeline"],
        "{}",
        registry.encode(Format::OpenMetrics)
    );
    for (command, trace) in [
        (set, "trace-set"),
        (get, "trace-get"),
        (incr, "trace-wrongtype"),
        (pipeline, "trace-pipeline"),
    ] {
        assert_eq!(
            traces_of(
                &registry,
                "fiko_redis_command_duration_seconds_bucket",
                command
            ),
            [trace],
            "{command}"
        );
    }
    assert_eq!(
        traces_of(&registry, "fiko_redis_errors_total", incr),
        ["trace-wrongtype"]
    );
}
