//! Notifications: an in-process broadcast, delivered to users over an instrumented
//! WebSocket.

use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use fiko_metrics_axum::InstrumentedWebSocket;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::app::AppState;
use crate::auth::CurrentUser;

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
pub async fn socket(
    State(state): State<AppState>,
    user: CurrentUser,
    upgrade: WebSocketUpgrade,
) -> Response {
    upgrade.on_upgrade(move |socket| serve(state, user.id, socket))
}

async fn serve(state: AppState, user_id: i64, socket: WebSocket) {
    let mut socket = InstrumentedWebSocket::new(socket, state.websockets.clone());
    let mut notifications = state.notifications.0.subscribe();
    drop(state);
    if send(&mut socket, &Notification::Connected { user_id })
        .await
        .is_err()
    {
        return;
    }
    loop {
        tokio::select! {
            notification = notifications.recv() => match notification {
                Ok(notification) if notification.is_for(user_id) => {
                    if send(&mut socket, &notification).await.is_err() {
                        return;
                    }
                }
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return,
            },
            message = socket.recv() => match message {
                Some(Ok(Message::Text(text))) => {
                    let answer = if text.as_str() == "ping" { "pong".to_owned() } else { format!("ack:{}", text.as_str()) };
                    if socket.send(Message::Text(answer.into())).await.is_err() {
                        return;
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
        }
    }
}

async fn send(
    socket: &mut InstrumentedWebSocket,
    notification: &Notification,
) -> Result<(), axum::Error> {
    let text = serde_json::to_string(notification).unwrap_or_default();
    socket.send(Message::Text(text.into())).await
}
