//! The command line every application's generator binary shares: one call,
//! [`run`], in its `main`.
//!
//! ```text
//! BIN [--out DIR] [--check] [--interval SECONDS] [--service NAME] [--runbook-base-url URL]
//!     [--metrics-token-file PATH]
//! BIN --verify URL [--rules-url URL] [--lookback DURATION] [--bearer-token-file PATH]
//!     [--format table|json] [--fail-on CLASSES] [generation options]
//! ```
//!
//! - `--out DIR`: where to write (default `deploy`);
//! - `--check`: write nothing; exit 1 listing each file in `DIR` that is missing or
//!   differs (for CI);
//! - `--interval SECONDS`: Prometheus' scrape and evaluation interval (default 15);
//! - `--service NAME`: the application's name in the output (rule groups, Grafana folder,
//!   provider file, dashboard uid and title, job names), instead of the generator's;
//! - `--runbook-base-url URL`: runbook links become `URL#alertname`;
//! - `--metrics-token-file PATH`: the application's own scrape jobs (`NAME-ROLE`) send the
//!   bearer token in this file, as Prometheus sees it (`authorization.credentials_file`),
//!   for metrics endpoints protected with a token;
//! - `--verify URL`: write nothing; check what the declarations generate against the live
//!   Prometheus (or compatible query API) at `URL`, as [`verify`](crate::verify)
//!   describes, and print the report;
//! - `--rules-url URL`: the rules API's server when it is not `URL`'s (vmalert);
//! - `--lookback DURATION`: how far back data counts (default `1h`; `30s`, `5m`, `2d`);
//! - `--bearer-token-file PATH`: send the token in this file to both APIs;
//! - `--format table|json`: the report as a table (default) or a JSON document;
//! - `--fail-on CLASSES`: the problem classes that make the run fail, comma-separated
//!   (`job-absent`, `job-down`, `group-missing`, `group-stale`, `group-slow`,
//!   `missing-metric`, `not-recorded`, `no-data`, `query-error`, `label-drift`,
//!   `firing`), or `all`, `none`, `default` (every class but `not-recorded`, `no-data` and
//!   `firing`).
//!
//! With `--verify` the exit code is 0 when no problem of a `--fail-on` class was found, 1
//! when one was, 2 for a bad argument, 3 when nothing could be checked (a generation
//! problem, an unreadable token file, a server that cannot be reached or does not answer
//! as the Prometheus API does), reported on stderr, one line per problem. The generation
//! options (`--interval`, `--service`, ...) must be those the deployed artefacts were
//! generated with.
//!
//! On success it prints one line to stdout: the files written or checked, and how many
//! dashboards, panels, alerts, recording rules and promtool test cases they hold. A bad
//! argument is one line on stderr and exit 2; generation problems are one line each
//! (every one found) and exit 1, as are stale files under `--check` and an unwritable
//! directory.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Arg, ArgAction, ArgMatches, Command, value_parser};

use crate::verify::{Class, Options};
use crate::{Artefacts, Error, Generator};

fn command(bin: &str) -> Command {
    Command::new("fiko-dashboards-gen")
        .bin_name(bin)
        .about("Generates Grafana dashboards and provisioning, Prometheus alert and recording rules, promtool rule tests, prometheus.yml and alertmanager.yml from the application's fiko-metrics declarations.")
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
            Arg::new("service")
                .long("service")
                .value_name("NAME")
                .help("The application's name in the output: rule groups NAME.*, Grafana folder and provider file, dashboard uid and title, job names"),
        )
        .arg(
            Arg::new("runbook-base-url")
                .long("runbook-base-url")
                .value_name("URL")
                .help("Runbook links become URL#alertname (default: the generated RUNBOOKS.md)"),
        )
        .arg(
            Arg::new("metrics-token-file")
                .long("metrics-token-file")
                .value_name("PATH")
                .help("The application's own scrape jobs (NAME-ROLE) send the bearer token in this file, as Prometheus sees it (authorization.credentials_file)"),
        )
        .arg(
            Arg::new("verify")
                .long("verify")
                .value_name("URL")
                .conflicts_with("check")
                .help("Write nothing; check the artefacts against the live Prometheus (query API) at URL and report problems"),
        )
        .arg(
            Arg::new("rules-url")
                .long("rules-url")
                .value_name("URL")
                .requires("verify")
                .help("With --verify: the rules API's server, when not URL's (vmalert)"),
        )
        .arg(
            Arg::new("lookback")
                .long("lookback")
                .value_name("DURATION")
                .requires("verify")
                .value_parser(|text: &str| crate::verify::parse_duration(text))
                .help("With --verify: how far back data counts (default 1h)"),
        )
        .arg(
            Arg::new("bearer-token-file")
                .long("bearer-token-file")
                .value_name("PATH")
                .requires("verify")
                .value_parser(value_parser!(PathBuf))
                .help("With --verify: send the bearer token in this file to the APIs"),
        )
        .arg(
            Arg::new("format")
                .long("format")
                .value_name("FORMAT")
                .requires("verify")
                .value_parser(["table", "json"])
                .help("With --verify: the report as a table (default) or JSON"),
        )
        .arg(
            Arg::new("fail-on")
                .long("fail-on")
                .value_name("CLASSES")
                .requires("verify")
                .value_parser(|text: &str| crate::verify::Class::parse_list(text))
                .help("With --verify: the problem classes that make the run exit 1, comma-separated, or all, none, default (all but not-recorded, no-data and firing)"),
        )
}

/// The program's name for messages: the file name it was run as.
fn bin_name(arg0: Option<&OsString>) -> String {
    arg0.map(Path::new)
        .and_then(Path::file_stem)
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| "fiko-dashboards-gen".to_owned())
}

/// Parses the process' arguments, generates with `generator` and writes or checks the
/// artefacts; see the [module docs](self).
///
/// ```no_run
/// use std::process::ExitCode;
///
/// use fiko_dashboards::exporters::RedisExporter;
/// use fiko_dashboards_gen::{Generator, cli};
///
/// fn main() -> ExitCode {
///     cli::run(Generator::new("shop")
///     .runbook_base("https://runbooks.example/").observe::<RedisExporter>())
/// }
/// ```
pub fn run(generator: Generator) -> ExitCode {
    run_from(generator, std::env::args_os())
}

/// [`run`] with the given arguments (the first is the program's name).
pub fn run_from<I, T>(generator: Generator, args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let bin = bin_name(args.first());
    let matches = match command(&bin).try_get_matches_from(&args) {
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
            eprintln!("{bin}: {}", line.trim_start_matches("error: "));
            return ExitCode::from(2);
        }
    };
    let out = matches
        .get_one::<PathBuf>("out")
        .cloned()
        .unwrap_or_else(|| PathBuf::from("deploy"));
    let mut generator = generator;
    if let Some(seconds) = matches.get_one::<u32>("interval") {
        generator = generator.interval(fiko_dashboards::seconds(*seconds));
    }
    if let Some(name) = matches.get_one::<String>("service") {
        generator = generator.rename(name);
    }
    if let Some(url) = matches.get_one::<String>("runbook-base-url") {
        generator = generator.runbook_base(url);
    }
    if let Some(file) = matches.get_one::<String>("metrics-token-file") {
        generator = generator.scrape_app_token_file(file);
    }
    let verifying = matches.contains_id("verify");
    let failure = if verifying {
        ExitCode::from(3)
    } else {
        ExitCode::FAILURE
    };
    let artefacts = match generator.generate() {
        Ok(artefacts) => artefacts,
        Err(Error::Invalid(problems)) => {
            for problem in &problems {
                eprintln!("{bin}: {problem}");
            }
            eprintln!("{bin}: {} problem(s); nothing written", problems.len());
            return failure;
        }
        Err(error) => {
            eprintln!("{bin}: {error}");
            return failure;
        }
    };
    for warning in artefacts.warnings() {
        eprintln!("{bin}: warning: {warning}");
    }
    if let Some(url) = matches.get_one::<String>("verify") {
        return verify(&bin, &artefacts, url, &matches);
    }
    let summary = artefacts.summary();
    if matches.get_flag("check") {
        let stale = artefacts.stale_in(&out);
        if stale.is_empty() {
            println!(
                "{bin}: {} file(s) in {} are current: {summary}",
                summary.files,
                out.display()
            );
            return ExitCode::SUCCESS;
        }
        for path in &stale {
            eprintln!("stale: {}", out.join(path).display());
        }
        eprintln!(
            "{bin}: {} file(s) in {} differ from the declarations; run `{bin} --out {}` to rewrite them",
            stale.len(),
            out.display(),
            out.display()
        );
        return ExitCode::FAILURE;
    }
    match artefacts.write_to(&out) {
        Ok(()) => {
            println!(
                "{bin}: wrote {} file(s) to {}: {summary}",
                summary.files,
                out.display()
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("{bin}: cannot write: {error}");
            ExitCode::FAILURE
        }
    }
}

/// `--verify`: runs the checks and prints the report; see the [module docs](self).
fn verify(bin: &str, artefacts: &Artefacts, url: &str, matches: &ArgMatches) -> ExitCode {
    let bearer_token = match matches.get_one::<PathBuf>("bearer-token-file") {
        None => None,
        Some(path) => match std::fs::read_to_string(path) {
            Ok(text) => match text.lines().next().map(str::trim) {
                Some(token) if !token.is_empty() => Some(token.to_owned()),
                _ => {
                    eprintln!("{bin}: {}: the token file is empty", path.display());
                    return ExitCode::from(3);
                }
            },
            Err(error) => {
                eprintln!(
                    "{bin}: {}: cannot read the token file: {error}",
                    path.display()
                );
                return ExitCode::from(3);
            }
        },
    };
    let options = Options {
        url: url.to_owned(),
        rules_url: matches.get_one::<String>("rules-url").cloned(),
        lookback_seconds: matches.get_one::<u64>("lookback").copied().unwrap_or(3600),
        bearer_token,
    };
    let fail_on = matches
        .get_one::<Vec<Class>>("fail-on")
        .cloned()
        .unwrap_or_else(|| Class::DEFAULT_FAIL_ON.to_vec());
    let report = match artefacts.verify(&options) {
        Ok(report) => report,
        Err(error) => {
            eprintln!("{bin}: cannot verify: {error}");
            return ExitCode::from(3);
        }
    };
    if matches.get_one::<String>("format").map(String::as_str) == Some("json") {
        print!("{}", report.json(&fail_on));
    } else {
        print!("{}", report.table(&fail_on));
    }
    ExitCode::from(report.exit_code(&fail_on))
}
