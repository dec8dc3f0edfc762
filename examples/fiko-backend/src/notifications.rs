//! Notifications: an in-process broadcast, delivered to users over an instrumented
//! WebSocket.

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::response::Response;
use fiko_metrics_axum::InstrumentedWebSocket;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::app::AppState;
use crate::auth::SocketUser;
use crate::config::Timeouts;

/// Something users are told about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Notification {
    /// Sent to everyone: a user joined.
    UserRegistered {
        /// The new user.
        user_id: i64,
    },
    /// Sent to one user (a workflow's `send_message`).
    Message {
        /// The recipient.
        user_id: i64,
        /// The text.
        text: String,
    },
    /// The first message of every connection.
    Connected {
        /// The signed-in user.
        user_id: i64,
    },
}

impl Notification {
    fn is_for(&self, user: i64) -> bool {
        match self {
            Notification::UserRegistered { .. } => true,
            Notification::Message { user_id, .. } | Notification::Connected { user_id } => {
                *user_id == user
            }
        }
    }
}

/// The broadcast every instance's sockets subscribe to.
#[derive(Clone, Debug)]
pub struct Notifications(broadcast::Sender<Notification>);

impl Default for Notifications {
    fn default() -> Self {
        Self(broadcast::channel(256).0)
    }
}

impl Notifications {
    /// Tells the connected users; nobody listening is fine.
    pub fn publish(&self, notification: Notification) {
        let _ = self.0.send(notification);
    }
}

/// `GET /api/v1/notifications/ws?token=...`: a WebSocket of the user's notifications.
/// Text `ping` is answered `pong`; other client text is acknowledged as `ack:<text>`.
///
/// The server sends a WebSocket ping every `WS_PING_INTERVAL_SECS`; a client from which
/// nothing arrived (no pong, no message) for `WS_IDLE_TIMEOUT_SECS` is closed (code 1001),
/// so dead peers and silent clients do not hold a connection forever.
pub async fn socket(
    State(state): State<AppState>,
    SocketUser(user): SocketUser,
    upgrade: WebSocketUpgrade,
) -> Response {
    upgrade.on_upgrade(move |socket| serve(state, user.id, socket))
}

/// The user's socket: instrumented, or bare with the instrumentation off.
enum Socket {
    Instrumented(InstrumentedWebSocket),
    Bare(WebSocket),
}

impl Socket {
    async fn recv(&mut self) -> Option<Result<Message, axum::Error>> {
        match self {
            Self::Instrumented(socket) => socket.recv().await,
            Self::Bare(socket) => socket.recv().await,
        }
    }

    async fn send(&mut self, message: Message) -> Result<(), axum::Error> {
        match self {
            Self::Instrumented(socket) => socket.send(message).await,
            Self::Bare(socket) => socket.send(message).await,
        }
    }
}

async fn serve(state: AppState, user_id: i64, socket: WebSocket) {
    let mut socket = match &state.websockets {
        Some(metrics) => Socket::Instrumented(InstrumentedWebSocket::new(socket, metrics.clone())),
        None => Socket::Bare(socket),
    };
    let mut notifications = state.notifications.0.subscribe();
    let Timeouts {
        ws_ping_interval,
        ws_idle,
        ..
    } = state.timeouts;
    drop(state);
    let mut ping = tokio::time::interval_at(
        tokio::time::Instant::now() + ws_ping_interval,
        ws_ping_interval,
    );
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let idle = tokio::time::sleep(ws_idle);
    tokio::pin!(idle);
    if send(&mut socket, &Notification::Connected { user_id })
        .await
        .is_err()
    {
        return;
    }
    loop {
        tokio::select! {
            () = &mut idle => {
                // Say why, but do not wait long: a silent client may not read either.
                let close = Message::Close(Some(CloseFrame {
                    code: close_code::AWAY,
                    reason: "idle timeout".into(),
                }));
                let _ = tokio::time::timeout(ws_ping_interval, socket.send(close)).await;
                return;
            }
            _ = ping.tick() => {
                match tokio::time::timeout(ws_idle, socket.send(Message::Ping(Default::default()))).await {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) | Err(_) => return,
                }
            }
            notification = notifications.recv() => match notification {
                Ok(notification) if notification.is_for(user_id) => {
                    // A client that stopped reading is given the idle timeout, not forever.
                    let sent = tokio::time::timeout(ws_idle, send(&mut socket, &notification)).await;
                    if !matches!(sent, Ok(Ok(()))) {
                        return;
                    }
                }
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return,
            },
            message = socket.recv() => {
                if matches!(message, Some(Ok(_))) {
                    idle.as_mut().reset(tokio::time::Instant::now() + ws_idle);
                }
                match message {
                    Some(Ok(Message::Text(text))) => {
                        let answer = if text.as_str() == "ping" { "pong".to_owned() } else { format!("ack:{}", text.as_str()) };
                        let sent = tokio::time::timeout(ws_idle, socket.send(Message::Text(answer.into()))).await;
                        if !matches!(sent, Ok(Ok(()))) {
                            return;
                        }
                    }
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                    Some(Ok(_)) => {}
                }
            }
        }
    }
}

async fn send(socket: &mut Socket, notification: &Notification) -> Result<(), axum::Error> {
    let text = serde_json::to_string(notification).unwrap_or_default();
    socket.send(Message::Text(text.into())).await
}
