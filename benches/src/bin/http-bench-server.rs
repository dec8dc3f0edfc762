//! A server for the HTTP throughput benchmark: `http-bench-server <layer> <port>` serves
//! `GET /users/{id}` on 127.0.0.1 with the chosen metrics layer (or none): `bare`,
//! `noop-layer`, `noop-body-layer`, `fiko` or `axum-prometheus` (`benches::http::LAYERS`).

use std::process::ExitCode;

#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(kind), Some(port)) = (args.next(), args.next().and_then(|p| p.parse::<u16>().ok()))
    else {
        let layers = benches::http::layer_names("|");
        eprintln!("usage: http-bench-server <{layers}> <port>");
        return ExitCode::from(2);
    };
    let Some(app) = benches::http::app(&kind) else {
        let layers = benches::http::layer_names(", ");
        eprintln!("http-bench-server: unknown layer `{kind}` ({layers})");
        return ExitCode::from(2);
    };
    let listener = match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("http-bench-server: cannot listen on 127.0.0.1:{port}: {error}");
            return ExitCode::FAILURE;
        }
    };
    match axum::serve(listener, app).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("http-bench-server: {error}");
            ExitCode::FAILURE
        }
    }
}
