//! The HTTP server loop: the router on hyper's HTTP/1 connections with the timeouts
//! `axum::serve` does not expose, and the same graceful shutdown.
//!
//! `axum::serve` (0.8) sets no timer on hyper, so hyper's header-read timeout never runs
//! and a client that sends a request head one byte at a time (slowloris), or opens
//! connections and sends nothing, holds them forever. Here every connection gets:
//!
//! - hyper's **header-read timeout** ([`Timeouts::header_read`]): the head of each request
//!   must be complete that long after the connection began waiting for it;
//! - a **keep-alive idle timeout** ([`Timeouts::keep_alive`]): with no request in flight
//!   for that long, the connection is closed (gracefully: a response being written is
//!   finished first).
//!
//! Each request carries [`ConnectInfo<SocketAddr>`], as with
//! `into_make_service_with_connect_info`, for the allow-lists and rate limits.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use axum::response::Response;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::Instant;
use tower_service::Service;

use crate::config::Timeouts;

/// Serves `router` on `listener` until `shutdown` completes; then stops accepting (the
/// listener is closed, so new connections are refused), lets every connection finish its
/// request in flight and close, and returns once all have closed.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    timeouts: Timeouts,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // Connections hold the senders' clones; the signal drops the only receiver, so
    // `closed()` tells every holder that the shutdown began.
    let (signal_tx, signal_rx) = watch::channel(());
    tokio::spawn(async move {
        shutdown.await;
        drop(signal_rx);
    });
    // Each connection holds a receiver: `close_tx.closed()` completes once all are gone.
    let (close_tx, close_rx) = watch::channel(());
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    if !is_connection_error(&error) {
                        eprintln!("fiko-backend: accept failed: {error}");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                    continue;
                }
            },
            () = signal_tx.closed() => break,
        };
        tokio::spawn(connection(
            stream,
            remote,
            router.clone(),
            timeouts,
            signal_tx.clone(),
            close_rx.clone(),
        ));
    }
    drop(listener);
    drop(close_rx);
    close_tx.closed().await;
    Ok(())
}

/// Errors of one connection that was being accepted, not of the listener.
fn is_connection_error(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}

async fn connection(
    stream: TcpStream,
    remote: SocketAddr,
    router: Router,
    timeouts: Timeouts,
    signal: watch::Sender<()>,
    close: watch::Receiver<()>,
) {
    let _ = stream.set_nodelay(true);
    let activity = Arc::new(Activity::new());
    let service = {
        let activity = activity.clone();
        hyper::service::service_fn(move |mut request: Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(remote));
            let mut router = router.clone();
            let in_flight = InFlight::begin(activity.clone());
            async move {
                let response: Result<Response, Infallible> =
                    router.call(request.map(Body::new)).await;
                drop(in_flight);
                response
            }
        })
    };
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(timeouts.header_read)
        .keep_alive(true);
    let connection = builder
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    let mut connection = std::pin::pin!(connection);
    let mut shutdown = std::pin::pin!(signal.closed());
    let mut idle = std::pin::pin!(activity.idle_for(timeouts.keep_alive));
    let mut closing = false;
    loop {
        tokio::select! {
            // Errors (a header-read timeout, a client that went away) end the connection;
            // there is nobody to answer.
            _ = connection.as_mut() => break,
            () = &mut shutdown, if !closing => {
                closing = true;
                connection.as_mut().graceful_shutdown();
            }
            () = &mut idle, if !closing => {
                closing = true;
                connection.as_mut().graceful_shutdown();
            }
        }
    }
    drop(close);
}

/// Requests in flight on one connection and when the last one finished.
struct Activity {
    in_flight: AtomicUsize,
    /// Milliseconds from `origin` to the last time a request finished (or the connection
    /// opened).
    last_millis: AtomicU64,
    origin: Instant,
}

impl Activity {
    fn new() -> Self {
        Self {
            in_flight: AtomicUsize::new(0),
            last_millis: AtomicU64::new(0),
            origin: Instant::now(),
        }
    }

    /// Completes once no request has been in flight for `limit`.
    async fn idle_for(&self, limit: Duration) {
        loop {
            if self.in_flight.load(Ordering::Acquire) > 0 {
                tokio::time::sleep(limit).await;
                continue;
            }
            let last =
                self.origin + Duration::from_millis(self.last_millis.load(Ordering::Acquire));
            let deadline = last + limit;
            if Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep_until(deadline).await;
        }
    }
}

/// One request in flight; when dropped (answered or cancelled), the connection's idle time
/// starts again.
struct InFlight(Arc<Activity>);

impl InFlight {
    fn begin(activity: Arc<Activity>) -> Self {
        activity.in_flight.fetch_add(1, Ordering::AcqRel);
        Self(activity)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let millis = u64::try_from(self.0.origin.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.0.last_millis.store(millis, Ordering::Release);
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}
