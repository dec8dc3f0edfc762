//! The instrumented WebSocket with a real client (tokio-tungstenite).

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
}
