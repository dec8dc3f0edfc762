//! The instrumented WebSocket with a real client (tokio-tungstenite).

// The helpers fail the test by panicking (they are not `#[test]` fns: rust-clippy#13981).
#![allow(clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ws::{Message, WebSocketUpgrade};
use axum::routing::get;
use common::{Server, bounded, eventually, parse, sum};
use fiko_metrics::{Format, MetricSet, Registry};
use fiko_metrics_axum::{InstrumentedWebSocket, WebSocketMetrics};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{self, Bytes};

/// An echo server for text and binary messages, instrumented.
fn echo_app(metrics: Arc<WebSocketMetrics>) -> Router {
    Router::new().route(
        "/ws",
        get(move |upgrade: WebSocketUpgrade| {
            let metrics = metrics.clone();
            async move {
                upgrade.on_upgrade(move |socket| async move {
                    let mut socket = InstrumentedWebSocket::new(socket, metrics);
                    while let Some(Ok(message)) = socket.recv().await {
                        if matches!(message, Message::Text(_) | Message::Binary(_))
                            && socket.send(message).await.is_err()
                        {
                            break;
                        }
                    }
                })
            }
        }),
    )
}

fn setup() -> (Arc<Registry>, Arc<WebSocketMetrics>) {
    let registry = Arc::new(Registry::new());
    let metrics = WebSocketMetrics::register(&registry).expect("register");
    (registry, metrics)
}

fn scrape(registry: &Registry) -> Vec<common::Sample> {
    parse(&registry.encode(Format::Prometheus))
}

const MESSAGES: &str = "websocket_messages_total";
const BYTES: &str = "websocket_message_bytes_total";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_counts_and_bytes_are_exact() {
    let (registry, metrics) = setup();
    let server = Server::start(echo_app(metrics)).await;
    let url = format!("ws://{}/ws", server.addr);
    bounded(async {
        let (mut ws, _) = tokio_tungstenite::connect_async(&url)
            .await
            .expect("connect");
        assert_eq!(
            sum(&scrape(&registry), "websocket_active_connections", &[]),
            1.0
        );
        let sent = [
            tungstenite::Message::text("hello"),
            tungstenite::Message::text("héllo wörld"), // 13 bytes of UTF-8
            tungstenite::Message::binary(vec![7u8; 100]),
            tungstenite::Message::binary(vec![9u8; 1000]),
        ];
        for message in sent {
            ws.send(message.clone()).await.expect("send");
            let echo = ws.next().await.expect("echo").expect("echo");
            assert_eq!(echo, message);
        }
        ws.send(tungstenite::Message::Ping(Bytes::from_static(b"ping")))
            .await
            .expect("ping");
        let pong = ws.next().await.expect("pong").expect("pong");
        assert!(pong.is_pong());
        ws.close(Some(CloseFrame {
            code: CloseCode::Normal,
            reason: "bye".into(),
        }))
        .await
        .expect("close");
        // Read until the server's close reply ends the stream.
        while let Some(Ok(_)) = ws.next().await {}
    })
    .await;

    let ok = eventually(Duration::from_secs(5), || {
        sum(&scrape(&registry), "websocket_active_connections", &[]) == 0.0
    })
    .await;
    assert!(ok, "active connections back to 0");
    let samples = scrape(&registry);
    for (direction, kind, count, bytes) in [
        ("received", "text", 2.0, 18.0),
        ("received", "binary", 2.0, 1100.0),
        ("received", "ping", 1.0, 4.0),
        ("received", "close", 1.0, 5.0), // code (2 bytes) + "bye"
        ("sent", "text", 2.0, 18.0),
        ("sent", "binary", 2.0, 1100.0),
    ] {
        let labels = [("direction", direction), ("kind", kind)];
        assert_eq!(
            sum(&samples, MESSAGES, &labels),
            count,
            "{direction} {kind} messages"
        );
        assert_eq!(
            sum(&samples, BYTES, &labels),
            bytes,
            "{direction} {kind} bytes"
        );
    }
    // tungstenite answers pings and close frames itself; those replies are not counted.
    assert_eq!(sum(&samples, MESSAGES, &[]), 10.0);
    assert_eq!(
        sum(
            &samples,
            "websocket_closes_total",
            &[("direction", "received"), ("websocket_close_code", "1000")]
        ),
        1.0
    );
    assert_eq!(sum(&samples, "websocket_closes_total", &[]), 1.0);
    assert_eq!(sum(&samples, "websocket_connections_total", &[]), 1.0);
    assert_eq!(
        sum(&samples, "websocket_connection_duration_seconds_count", &[]),
        1.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abrupt_disconnects_bring_the_active_gauge_back_to_zero() {
    let (registry, metrics) = setup();
    let server = Server::start(echo_app(metrics)).await;
    let url = format!("ws://{}/ws", server.addr);
    bounded(async {
        let mut clients = Vec::new();
        for _ in 0..3 {
            let (mut ws, _) = tokio_tungstenite::connect_async(&url)
                .await
                .expect("connect");
            ws.send(tungstenite::Message::text("hi"))
                .await
                .expect("send");
            ws.next().await.expect("echo").expect("echo");
            clients.push(ws);
        }
        assert_eq!(
            sum(&scrape(&registry), "websocket_active_connections", &[]),
            3.0
        );
        // Drop the TCP connections without any close frame.
        drop(clients);
    })
    .await;
    let ok = eventually(Duration::from_secs(5), || {
        sum(&scrape(&registry), "websocket_active_connections", &[]) == 0.0
    })
    .await;
    assert!(ok, "active connections back to 0 after abrupt disconnects");
    let samples = scrape(&registry);
    assert_eq!(
        sum(
            &samples,
            "websocket_closes_total",
            &[("websocket_close_code", "1006")]
        ),
        3.0,
        "abnormal closures are counted"
    );
    assert_eq!(
        sum(&samples, "websocket_connection_duration_seconds_count", &[]),
        3.0
    );
    assert_eq!(
        sum(
            &samples,
            MESSAGES,
            &[("direction", "received"), ("kind", "text")]
        ),
        3.0
    );
}

/// Closes `count` sockets one after another (four at a time), each with `code(i)`, and
/// waits for the server's close reply.
async fn close_sockets(url: &str, codes: impl Iterator<Item = u16>) {
    let codes: Vec<u16> = codes.collect();
    for batch in codes.chunks(4) {
        let mut tasks = Vec::new();
        for &code in batch {
            let url = url.to_owned();
            tasks.push(tokio::spawn(async move {
                let (mut ws, _) = tokio_tungstenite::connect_async(&url)
                    .await
                    .expect("connect");
                ws.close(Some(CloseFrame {
                    code: CloseCode::from(code),
                    reason: "".into(),
                }))
                .await
                .expect("close");
                while let Some(Ok(_)) = ws.next().await {}
            }));
        }
        for task in tasks {
            task.await.expect("client task");
        }
    }
}

/// Regression: 200 application close codes (3000–3199) used to fill the open close-code
/// label's series limit, after which normal 1000 closes were counted only under `other`.
/// The label is a closed set now: standard codes by number, application codes by range.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn application_close_codes_never_hide_the_standard_ones() {
    let (registry, metrics) = setup();
    let server = Server::start(echo_app(metrics)).await;
    let url = format!("ws://{}/ws", server.addr);
    bounded(async {
        close_sockets(&url, 3000..3200).await;
        close_sockets(&url, 4000..4010).await;
        close_sockets(&url, std::iter::repeat_n(1000, 25)).await;
        close_sockets(&url, std::iter::repeat_n(1001, 3)).await;
    })
    .await;
    let ok = eventually(Duration::from_secs(10), || {
        let samples = scrape(&registry);
        sum(&samples, "websocket_active_connections", &[]) == 0.0
            && sum(&samples, "websocket_closes_total", &[]) == 238.0
    })
    .await;
    assert!(ok, "every socket closed and counted");
    let samples = scrape(&registry);
    let closes = |code: &str| {
        sum(
            &samples,
            "websocket_closes_total",
            &[("direction", "received"), ("websocket_close_code", code)],
        )
    };
    assert_eq!(closes("1000"), 25.0, "normal closes are exact");
    assert_eq!(closes("1001"), 3.0);
    assert_eq!(closes("3xxx"), 200.0, "library codes grouped");
    assert_eq!(closes("4xxx"), 10.0, "private codes grouped");
    // Only the closed set's values exist, never a raw application code or `other`.
    let values: std::collections::BTreeSet<&str> = samples
        .iter()
        .filter(|s| s.name == "websocket_closes_total")
        .filter_map(|s| s.label("websocket_close_code"))
        .collect();
    let closed_set: std::collections::BTreeSet<&str> = WebSocketMetrics::DESCRIPTOR
        .metric("websocket_closes")
        .and_then(|m| m.label("websocket_close_code"))
        .and_then(|label| label.values)
        .expect("a closed label")
        .iter()
        .copied()
        .collect();
    assert!(values.is_subset(&closed_set), "{values:?}");
    assert!(!values.contains("3000") && !values.contains("other"));
    assert_eq!(
        sum(&samples, "fiko_metrics_label_overflow_total", &[]),
        0.0,
        "nothing folds"
    );
}

#[test]
fn the_set_is_declared_for_the_generator() {
    let metrics: Vec<&str> = WebSocketMetrics::DESCRIPTOR
        .metrics
        .iter()
        .map(|m| m.name)
        .collect();
    assert!(metrics.contains(&"websocket_active_connections"));
    let kind = WebSocketMetrics::DESCRIPTOR
        .metric("websocket_messages")
        .and_then(|m| m.label("kind"))
        .and_then(|label| label.values);
    assert_eq!(kind, Some(&["text", "binary", "ping", "pong", "close"][..]));
    let codes = WebSocketMetrics::DESCRIPTOR
        .metric("websocket_closes")
        .and_then(|m| m.label("websocket_close_code"))
        .and_then(|label| label.values);
    assert_eq!(
        codes,
        Some(
            &[
                "1000", "1001", "1002", "1003", "1005", "1006", "1007", "1008", "1009", "1010",
                "1011", "1012", "1013", "1014", "3xxx", "4xxx", "invalid"
            ][..]
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_global_socket_records_into_the_global_set() {
    // `InstrumentedWebSocket::global` holds `WebSocketMetrics::global()`, which the
    // default registry exposes.
    let app = Router::new().route(
        "/ws",
        get(|upgrade: WebSocketUpgrade| async {
            upgrade.on_upgrade(|socket| async {
                let mut socket = InstrumentedWebSocket::global(socket);
                while let Some(Ok(message)) = socket.recv().await {
                    if matches!(message, Message::Text(_)) && socket.send(message).await.is_err() {
                        break;
                    }
                }
            })
        }),
    );
    let server = Server::start(app).await;
    let url = format!("ws://{}/ws", server.addr);
    bounded(async {
        let (mut ws, _) = tokio_tungstenite::connect_async(&url)
            .await
            .expect("connect");
        let hello = tungstenite::Message::text("hello");
        ws.send(hello.clone()).await.expect("send");
        assert_eq!(ws.next().await.expect("echo").expect("echo"), hello);
        let samples = scrape(fiko_metrics::default_registry());
        assert_eq!(sum(&samples, "websocket_connections_total", &[]), 1.0);
        assert_eq!(sum(&samples, "websocket_active_connections", &[]), 1.0);
        assert_eq!(
            sum(
                &samples,
                MESSAGES,
                &[("direction", "received"), ("kind", "text")]
            ),
            1.0
        );
        assert_eq!(WebSocketMetrics::global().websocket_connections.get(), 1);
    })
    .await;
}
