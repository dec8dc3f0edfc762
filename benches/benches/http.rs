//! The HTTP layer in process: one `GET /users/{id}` through `tower::ServiceExt::oneshot`,
//! body read to the end, on a current-thread runtime. Run with
//! `cargo bench -p benches --bench http`; throughput under load is measured by
//! `scripts/bench` with wrk against `http-bench-server`.

// A benchmark's setup and checks stop the run when they fail.
#![allow(clippy::panic)]

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use divan::Bencher;
use http_body_util::BodyExt;
use tower::ServiceExt;

fn main() {
    divan::Divan::from_args()
        .sample_count(100)
        .sample_size(200)
        .run_benches();
}

fn run(bencher: Bencher, make: fn() -> Router) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => panic!("runtime: {error}"),
    };
    // axum-prometheus spawns its upkeep task when built: build inside the runtime.
    let router = {
        let _inside = runtime.enter();
        make()
    };
    bencher.bench_local(|| {
        runtime.block_on(async {
            let request = Request::get("/users/42").body(Body::empty());
            let Ok(request) = request else { return 0 };
            let Ok(response) = router.clone().oneshot(request).await;
            response
                .into_body()
                .collect()
                .await
                .map_or(0, |body| body.to_bytes().len())
        })
    });
}

mod oneshot_request {
    use super::*;

    #[divan::bench]
    fn bare_axum(bencher: Bencher) {
        run(bencher, benches::http::bare);
    }

    #[divan::bench]
    fn fiko_metrics(bencher: Bencher) {
        run(bencher, benches::http::fiko);
    }

    #[divan::bench]
    fn axum_prometheus(bencher: Bencher) {
        run(bencher, benches::http::axum_prometheus);
    }

    /// Bare axum behind `Router::layer` with a layer that does nothing.
    #[divan::bench]
    fn noop_layer(bencher: Bencher) {
        run(bencher, benches::http::noop_layer);
    }
}

/// Two costs any layer pays that labels requests by route and times them to the last byte
/// of the body, whatever crate it comes from.
mod layer_parts {
    use std::time::Instant;

    use axum::body::{Body, Bytes};
    use http_body_util::Full;

    /// The start and the end of a duration.
    #[divan::bench]
    fn clock_read_pair() -> f64 {
        let start = Instant::now();
        divan::black_box(start).elapsed().as_secs_f64()
    }

    /// axum boxes a layer's own response body type into its `Body`: one allocation, freed
    /// when the body is dropped.
    #[divan::bench]
    fn boxed_body() {
        let body = Body::new(Full::new(divan::black_box(Bytes::from_static(b"user 42"))));
        drop(divan::black_box(body));
    }
}
