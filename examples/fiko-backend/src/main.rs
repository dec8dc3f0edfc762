//! `fiko-backend`: serves the demo (default), runs its job worker, or generates load.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Arg, ArgAction, ArgMatches, Command, value_parser};
use fiko_backend::load::{LoadConfig, Scenario};
use fiko_backend::{App, Config, StartError};

fn command() -> Command {
    Command::new("fiko-backend")
        .about("The Fiko Backend demo of fiko-metrics: web application, job worker and load generator.")
        .subcommand(
            Command::new("serve")
                .about("Serves the application (the default). Configured by BIND, DATA_DIR, DATABASE_URL, DATABASE_ACQUIRE_TIMEOUT_SECS, DATABASE_QUERY_TIMEOUT_SECS, REDIS_URL, INSTAGRAM_BASE_URL, INSTAGRAM_ACCESS_TOKEN, INSTANCE_NAME, AI_PROVIDER_LATENCY_MS, FIKO_DRAIN_SECS, FIKO_FINAL_SCRAPE_SECS, PASSWORD_HASH_CONCURRENCY, PASSWORD_HASH_QUEUE_SECS, AUTH_RATE_PER_MINUTE, AUTH_RATE_BURST, AUTH_RATE_CLIENTS, HTTP_HEADER_READ_TIMEOUT_SECS, HTTP_KEEP_ALIVE_TIMEOUT_SECS, WS_PING_INTERVAL_SECS, WS_IDLE_TIMEOUT_SECS, METRICS_TOKEN or METRICS_TOKEN_FILE, METRICS_ALLOW, FIKO_INSTRUMENTATION (on, or off to measure what the metrics cost), FIKO_EXEMPLARS (on, or off for no trace ids on metrics). On SIGTERM or Ctrl-C: drains requests in flight, then serves /api/v1/metrics for one final scrape")
                .arg(Arg::new("bind").long("bind").value_name("ADDR").value_parser(value_parser!(SocketAddr)).help("Listen address (overrides BIND)")),
        )
        .subcommand(
            Command::new("worker")
                .about("Runs the background jobs from the Redis queues (needs REDIS_URL and DATABASE_URL) and serves /metrics (protected by METRICS_TOKEN or METRICS_TOKEN_FILE and METRICS_ALLOW when set). On SIGTERM or Ctrl-C: lets running jobs finish (FIKO_DRAIN_SECS), then serves /metrics for one final scrape (FIKO_FINAL_SCRAPE_SECS)")
                .arg(Arg::new("bind").long("bind").value_name("ADDR").value_parser(value_parser!(SocketAddr)).default_value("127.0.0.1:9100").help("Listen address of /metrics and /health"))
                .arg(Arg::new("name").long("name").value_name("NAME").default_value("worker").help("Worker name (the `worker` label)")),
        )
        .subcommand(
            Command::new("load")
                .about("Sends a realistic mix of requests to running instances (loopback only) and prints what it sent, per route and status")
                .arg(Arg::new("target").long("target").value_name("URL").action(ArgAction::Append).required(true).help("Base URL of an instance, e.g. http://127.0.0.1:8000 (repeat for several; requests go round-robin)"))
                .arg(Arg::new("users").long("users").value_name("N").value_parser(value_parser!(u32).range(1..=100_000)).default_value("20").help("Simulated users; each runs the scenario once"))
                .arg(Arg::new("concurrency").long("concurrency").value_name("N").value_parser(value_parser!(u32).range(1..=256)).default_value("4").help("Users running at the same time"))
                .arg(Arg::new("max-seconds").long("max-seconds").value_name("S").value_parser(value_parser!(u64).range(1..=3600)).default_value("120").help("Stop starting users after this long"))
                .arg(Arg::new("scenario").long("scenario").value_name("NAME").value_parser(["full", "instagram"]).default_value("full").help("full: every route; instagram: sign in, then alternate Instagram media and profile reads")),
        )
}

fn main() -> ExitCode {
    let matches = match command().try_get_matches() {
        Ok(matches) => matches,
        Err(error) => {
            let _ = error.print();
            return if error.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("fiko-backend: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match matches.subcommand() {
            Some(("worker", args)) => worker(args).await,
            Some(("load", args)) => load(args).await,
            Some(("serve", args)) => serve(Some(args)).await,
            _ => serve(None).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("fiko-backend: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => {
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}

async fn serve(args: Option<&ArgMatches>) -> Result<(), String> {
    let mut config = Config::from_env().map_err(|e| e.to_string())?;
    // Requests continue their callers' traces, and their metrics keep the trace ids.
    let _traces = fiko_backend::traces::install(config.exemplars)?;
    if let Some(bind) = args.and_then(|args| args.get_one::<SocketAddr>("bind")) {
        config.bind = *bind;
    }
    let app = App::build(&config).await.map_err(|e| e.to_string())?;
    let listener = fiko_backend::app::bind(config.bind)
        .await
        .map_err(|e| e.to_string())?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    let database = app.state.db.kind();
    let cache = match config.cache {
        fiko_backend::config::CacheConfig::Memory => "in-process",
        fiko_backend::config::CacheConfig::Redis(_) => "redis",
    };
    println!(
        "fiko-backend: listening on http://{address} (database: {database}, cache and jobs: {cache}); metrics at /api/v1/metrics"
    );
    // A second SIGTERM or Ctrl-C ends the drain and the final-scrape window at once.
    app.serve_with(listener, shutdown_signal(), shutdown_signal())
        .await
        .map_err(|e| format!("server: {e}"))
}

async fn worker(args: &ArgMatches) -> Result<(), String> {
    let config = Config::from_env().map_err(|e| e.to_string())?;
    let bind = args
        .get_one::<SocketAddr>("bind")
        .copied()
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 9100)));
    let name = args
        .get_one::<String>("name")
        .cloned()
        .unwrap_or_else(|| "worker".to_owned());
    let _traces = fiko_backend::traces::install(config.exemplars)?;
    println!("fiko-backend worker {name}: metrics on http://{bind}/metrics");
    // A second SIGTERM or Ctrl-C ends the drain and the final-scrape window at once.
    fiko_backend::app::run_worker(&config, &name, bind, shutdown_signal(), shutdown_signal())
        .await
        .map_err(|e: StartError| e.to_string())
}

async fn load(args: &ArgMatches) -> Result<(), String> {
    let targets: Vec<String> = args
        .get_many::<String>("target")
        .map(|t| t.cloned().collect())
        .unwrap_or_default();
    let scenario = match args.get_one::<String>("scenario").map(String::as_str) {
        Some("instagram") => Scenario::Instagram,
        _ => Scenario::Full,
    };
    let config = LoadConfig {
        targets,
        users: args.get_one::<u32>("users").copied().unwrap_or(20),
        concurrency: args.get_one::<u32>("concurrency").copied().unwrap_or(4),
        max_duration: Duration::from_secs(
            args.get_one::<u64>("max-seconds").copied().unwrap_or(120),
        ),
        scenario,
    };
    let report = fiko_backend::load::run(&config)
        .await
        .map_err(|e| e.to_string())?;
    print!("{}", report.render());
    Ok(())
}
