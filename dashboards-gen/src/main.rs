//! `dashboards-gen`: writes (or checks) this repository's monitoring artefacts.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Arg, ArgAction, Command, value_parser};

const ABOUT: &str = "Generates Grafana dashboards and provisioning, Prometheus alert and recording rules, promtool rule tests, prometheus.yml and alertmanager.yml from the fiko-metrics declarations.";

fn command() -> Command {
    Command::new("dashboards-gen")
        .about(ABOUT)
        .arg(
            Arg::new("out")
                .long("out")
                .value_name("DIR")
                .value_parser(value_parser!(PathBuf))
                .default_value("deploy")
                .help("Directory to write the artefacts into (created if missing)"),
        )
        .arg(
            Arg::new("check")
                .long("check")
                .action(ArgAction::SetTrue)
                .help("Write nothing; exit 1 listing each file in DIR that is missing or differs from what the declarations produce"),
        )
        .arg(
            Arg::new("interval")
                .long("interval")
                .value_name("SECONDS")
                .value_parser(value_parser!(u32).range(1..=3600))
                .help("Prometheus scrape and evaluation interval in seconds (default 15); use 1 for tests that need rules evaluated quickly"),
        )
        .arg(
            Arg::new("metrics-token-file")
                .long("metrics-token-file")
                .value_name("PATH")
                .help("Scrape the app and the worker with the bearer token in this file, as Prometheus sees it (authorization.credentials_file), for demos run with METRICS_TOKEN_FILE"),
        )
}

fn main() -> ExitCode {
    let matches = match command().try_get_matches() {
        Ok(matches) => matches,
        Err(error) => {
            let kind = error.kind();
            if matches!(
                kind,
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion
            ) {
                let text = error.render().to_string();
                println!("{}", text.trim_end());
                return ExitCode::SUCCESS;
            }
            // One line: clap's first line, without usage and hints.
            let rendered = error.render().to_string();
            let line = rendered.lines().next().unwrap_or("invalid arguments");
            eprintln!("dashboards-gen: {}", line.trim_start_matches("error: "));
            return ExitCode::from(2);
        }
    };
    let out = matches
        .get_one::<PathBuf>("out")
        .cloned()
        .unwrap_or_else(|| PathBuf::from("deploy"));
    let mut generator = dashboards_gen::repository::generator();
    if let Some(seconds) = matches.get_one::<u32>("interval") {
        generator = generator.interval(fiko_dashboards::seconds(*seconds));
    }
    if let Some(file) = matches.get_one::<String>("metrics-token-file") {
        generator = generator.scrape_token_file(
            &[
                fiko_backend::monitoring::APP_JOB,
                fiko_backend::monitoring::WORKER_JOB,
            ],
            file,
        );
    }
    let artefacts = match generator.generate() {
        Ok(artefacts) => artefacts,
        Err(error) => {
            eprintln!("dashboards-gen: {error}");
            return ExitCode::FAILURE;
        }
    };
    if matches.get_flag("check") {
        let stale = artefacts.stale_in(&out);
        if stale.is_empty() {
            return ExitCode::SUCCESS;
        }
        for path in &stale {
            eprintln!("stale: {}", out.join(path).display());
        }
        eprintln!(
            "dashboards-gen: {} file(s) in {} differ from the declarations; run `cargo run -p dashboards-gen -- --out {}`",
            stale.len(),
            out.display(),
            out.display()
        );
        return ExitCode::FAILURE;
    }
    match artefacts.write_to(&out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("dashboards-gen: cannot write: {error}");
            ExitCode::FAILURE
        }
    }
}
