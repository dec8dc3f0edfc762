//! WebSocket instrumentation: [`InstrumentedWebSocket`] and [`WebSocketMetrics`].

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::ws::{Message, WebSocket};
use fiko_metrics::{Counter, Family, Gauge, Histogram, LabelSet, LabelValue, MetricSet};
use futures_core::Stream;
use futures_util::{Sink, SinkExt, StreamExt};

/// The close code recorded when a connection ends without a close frame in either
/// direction (RFC 6455 §7.1.5: "abnormal closure").
pub const ABNORMAL_CLOSURE: u16 = 1006;

/// The close code recorded for a close frame without a status code (RFC 6455 §7.1.5).
pub const NO_STATUS_RECEIVED: u16 = 1005;

/// WebSocket connection metrics.
#[derive(MetricSet)]
pub struct WebSocketMetrics {
    /// WebSocket connections open now.
    pub websocket_active_connections: Gauge,
    /// WebSocket connections opened.
    pub websocket_connections: Counter,
    /// WebSocket messages, by direction and kind.
    pub websocket_messages: Family<MessageLabels, Counter>,
    /// WebSocket message payload bytes (text, binary, ping/pong payload, close code and
    /// reason), by direction and kind.
    pub websocket_message_bytes: Family<MessageLabels, Counter>,
    /// WebSocket connection duration, from the upgrade until the socket is dropped.
    #[metric(buckets = [0.1, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 14400.0, 86400.0])]
    pub websocket_connection_duration_seconds: Histogram,
    /// WebSocket closes, by direction and close code: the standard codes by number,
    /// application codes grouped as `3xxx` and `4xxx`, anything else `invalid`; a
    /// connection that ended without a close frame counts as received code 1006.
    pub websocket_closes: Family<CloseLabels, Counter>,
}

/// Labels of WebSocket messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, LabelSet)]
pub struct MessageLabels {
    /// Received from or sent to the client.
    pub direction: Direction,
    /// The message kind.
    pub kind: MessageKind,
}

/// Labels of WebSocket closes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, LabelSet)]
pub struct CloseLabels {
    /// Who sent the close frame (`received`: the client).
    pub direction: Direction,
    /// The close code, as a closed set of values (see [`CloseCode`]).
    pub websocket_close_code: CloseCode,
}

/// A close code as a label: a closed set, so clients choosing application codes cannot
/// push the standard ones out of the metric (an open label would fold them into `other`
/// once its series limit filled up).
///
/// The codes of the IANA "WebSocket Close Code Number" registry (RFC 6455 §7.4) are their
/// own values, including 1005 and 1006, which are never sent but recorded for a close
/// frame without a code and for a connection that ended without one. Application codes
/// are grouped by range: `3xxx` (3000–3999, registered by libraries and frameworks) and
/// `4xxx` (4000–4999, private use). Anything else — below 1000, the unassigned or
/// reserved 1004, 1015–2999, 5000 and above — is `invalid`.
///
/// ```
/// use fiko_metrics_axum::CloseCode;
///
/// assert_eq!(CloseCode::from(1000), CloseCode::NormalClosure);
/// assert_eq!(CloseCode::from(3042), CloseCode::Library);
/// assert_eq!(CloseCode::from(4999), CloseCode::Private);
/// assert_eq!(CloseCode::from(2000), CloseCode::Invalid);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, LabelValue)]
pub enum CloseCode {
    /// `1000`: normal closure.
    #[label_value(rename = "1000")]
    NormalClosure,
    /// `1001`: going away (server shutdown, page left).
    #[label_value(rename = "1001")]
    GoingAway,
    /// `1002`: protocol error.
    #[label_value(rename = "1002")]
    ProtocolError,
    /// `1003`: unsupported data.
    #[label_value(rename = "1003")]
    UnsupportedData,
    /// `1005`: a close frame without a status code.
    #[label_value(rename = "1005")]
    NoStatusReceived,
    /// `1006`: the connection ended without a close frame.
    #[label_value(rename = "1006")]
    AbnormalClosure,
    /// `1007`: invalid frame payload data (e.g. text that is not UTF-8).
    #[label_value(rename = "1007")]
    InvalidPayload,
    /// `1008`: policy violation.
    #[label_value(rename = "1008")]
    PolicyViolation,
    /// `1009`: message too big.
    #[label_value(rename = "1009")]
    MessageTooBig,
    /// `1010`: a mandatory extension was not negotiated.
    #[label_value(rename = "1010")]
    MandatoryExtension,
    /// `1011`: internal error.
    #[label_value(rename = "1011")]
    InternalError,
    /// `1012`: service restart.
    #[label_value(rename = "1012")]
    ServiceRestart,
    /// `1013`: try again later.
    #[label_value(rename = "1013")]
    TryAgainLater,
    /// `1014`: bad gateway.
    #[label_value(rename = "1014")]
    BadGateway,
    /// `3000`–`3999`: codes registered by libraries and frameworks.
    #[label_value(rename = "3xxx")]
    Library,
    /// `4000`–`4999`: private codes of the application.
    #[label_value(rename = "4xxx")]
    Private,
    /// Any code no close frame may carry.
    Invalid,
}

impl From<u16> for CloseCode {
    fn from(code: u16) -> Self {
        match code {
            1000 => Self::NormalClosure,
            1001 => Self::GoingAway,
            1002 => Self::ProtocolError,
            1003 => Self::UnsupportedData,
            NO_STATUS_RECEIVED => Self::NoStatusReceived,
            ABNORMAL_CLOSURE => Self::AbnormalClosure,
            1007 => Self::InvalidPayload,
            1008 => Self::PolicyViolation,
            1009 => Self::MessageTooBig,
            1010 => Self::MandatoryExtension,
            1011 => Self::InternalError,
            1012 => Self::ServiceRestart,
            1013 => Self::TryAgainLater,
            1014 => Self::BadGateway,
            3000..=3999 => Self::Library,
            4000..=4999 => Self::Private,
            _ => Self::Invalid,
        }
    }
}

/// Which way a message went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, LabelValue)]
pub enum Direction {
    /// From the client.
    Received,
    /// To the client.
    Sent,
}

/// The kind of a WebSocket message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, LabelValue)]
pub enum MessageKind {
    /// A text message.
    Text,
    /// A binary message.
    Binary,
    /// A ping.
    Ping,
    /// A pong.
    Pong,
    /// A close frame.
    Close,
}

impl MessageKind {
    /// The kind of `message` and the payload bytes it carries.
    pub fn of(message: &Message) -> (Self, u64) {
        match message {
            Message::Text(text) => (Self::Text, text.len() as u64),
            Message::Binary(bytes) => (Self::Binary, bytes.len() as u64),
            Message::Ping(bytes) => (Self::Ping, bytes.len() as u64),
            Message::Pong(bytes) => (Self::Pong, bytes.len() as u64),
            Message::Close(None) => (Self::Close, 0),
            Message::Close(Some(frame)) => (Self::Close, 2 + frame.reason.len() as u64),
        }
    }
}

/// An axum [`WebSocket`] that records [`WebSocketMetrics`]: the same `recv`/`send`, and
/// `Stream` + `Sink` (so `split()` works).
///
/// The connection counts as active from [`new`](Self::new) until the wrapper is dropped,
/// so a client that vanishes without a close frame is still accounted for (close code
/// 1006).
///
/// ```
/// use axum::{Router, extract::ws::{Message, WebSocketUpgrade}, routing::get};
/// use fiko_metrics_axum::InstrumentedWebSocket;
///
/// let app: Router = Router::new().route(
///     "/ws",
///     get(|upgrade: WebSocketUpgrade| async {
///         upgrade.on_upgrade(|socket| async {
///             let mut socket = InstrumentedWebSocket::global(socket);
///             while let Some(Ok(message)) = socket.recv().await {
///                 if let Message::Text(text) = message {
///                     if socket.send(Message::Text(text)).await.is_err() {
///                         break;
///                     }
///                 }
///             }
///         })
///     }),
/// );
/// ```
pub struct InstrumentedWebSocket {
    inner: WebSocket,
    metrics: Arc<WebSocketMetrics>,
    opened: Instant,
    close_received: bool,
    close_sent: bool,
}

impl std::fmt::Debug for InstrumentedWebSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstrumentedWebSocket")
            .field("opened", &self.opened)
            .field("close_received", &self.close_received)
            .field("close_sent", &self.close_sent)
            .finish_non_exhaustive()
    }
}

impl InstrumentedWebSocket {
    /// Instruments `socket`, recording into `metrics`.
    pub fn new(socket: WebSocket, metrics: Arc<WebSocketMetrics>) -> Self {
        metrics.websocket_connections.inc();
        metrics.websocket_active_connections.inc();
        Self {
            inner: socket,
            metrics,
            opened: Instant::now(),
            close_received: false,
            close_sent: false,
        }
    }

    /// Instruments `socket`, recording into [`WebSocketMetrics::global`].
    pub fn global(socket: WebSocket) -> Self {
        Self::new(socket, WebSocketMetrics::shared())
    }

    /// Receives the next message; `None` when the connection is closed.
    pub async fn recv(&mut self) -> Option<Result<Message, axum::Error>> {
        self.next().await
    }

    /// Sends a message.
    pub async fn send(&mut self, message: Message) -> Result<(), axum::Error> {
        SinkExt::send(self, message).await
    }

    /// The negotiated subprotocol, if any.
    pub fn protocol(&self) -> Option<&http::HeaderValue> {
        self.inner.protocol()
    }

    fn record(&mut self, direction: Direction, message: &Message) {
        let (kind, bytes) = MessageKind::of(message);
        let labels = MessageLabels { direction, kind };
        self.metrics.websocket_messages.get_or_create(&labels).inc();
        self.metrics
            .websocket_message_bytes
            .get_or_create(&labels)
            .inc_by(bytes);
        if let Message::Close(frame) = message {
            let code = frame
                .as_ref()
                .map_or(NO_STATUS_RECEIVED, |frame| frame.code);
            let already = match direction {
                Direction::Received => std::mem::replace(&mut self.close_received, true),
                Direction::Sent => std::mem::replace(&mut self.close_sent, true),
            };
            if !already {
                self.metrics
                    .websocket_closes
                    .get_or_create(&CloseLabels {
                        direction,
                        websocket_close_code: CloseCode::from(code),
                    })
                    .inc();
            }
        }
    }
}

impl Stream for InstrumentedWebSocket {
    type Item = Result<Message, axum::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let item = std::task::ready!(Pin::new(&mut self.inner).poll_next(cx));
        if let Some(Ok(message)) = &item {
            self.record(Direction::Received, message);
        }
        Poll::Ready(item)
    }
}

impl Sink<Message> for InstrumentedWebSocket {
    type Error = axum::Error;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.inner).poll_ready(cx)
    }

    fn start_send(mut self: Pin<&mut Self>, message: Message) -> Result<(), Self::Error> {
        let (kind, bytes) = MessageKind::of(&message);
        let close = matches!(message, Message::Close(_)).then(|| message.clone());
        Pin::new(&mut self.inner).start_send(message)?;
        match close {
            Some(close) => self.record(Direction::Sent, &close),
            None => {
                let labels = MessageLabels {
                    direction: Direction::Sent,
                    kind,
                };
                self.metrics.websocket_messages.get_or_create(&labels).inc();
                self.metrics
                    .websocket_message_bytes
                    .get_or_create(&labels)
                    .inc_by(bytes);
            }
        }
        Ok(())
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.inner).poll_close(cx)
    }
}

impl Drop for InstrumentedWebSocket {
    fn drop(&mut self) {
        let metrics = &self.metrics;
        metrics.websocket_active_connections.dec();
        metrics
            .websocket_connection_duration_seconds
            .observe_since(self.opened);
        if !self.close_received && !self.close_sent {
            metrics
                .websocket_closes
                .get_or_create(&CloseLabels {
                    direction: Direction::Received,
                    websocket_close_code: CloseCode::AbnormalClosure,
                })
                .inc();
        }
    }
}
