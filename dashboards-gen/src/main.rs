//! `dashboards-gen`: writes (or checks) the Fiko Backend demo's monitoring artefacts,
//! `deploy/` by default; the options are those of every application's generator
//! (`fiko_dashboards_gen::cli`).

use std::process::ExitCode;

fn main() -> ExitCode {
    fiko_dashboards_gen::cli::run(fiko_backend::deployment::generator())
}
