//! x
mod endpoints;
mod layer;
mod websocket;
pub use crate::endpoints::{DEFAULT_HEALTH_PATH, DEFAULT_METRICS_PATH, InvalidNetwork, MetricsEndpoints, Network};
pub use crate::layer::custom::{CustomLabels, FinishedRequest, RequestHead};
pub use crate::layer::metrics::*;
pub use crate::layer::{HttpMetrics, HttpMetricsLayer, ResponseBody, ResponseFuture};
pub use crate::websocket::{ABNORMAL_CLOSURE, CloseLabels, Direction, InstrumentedWebSocket, MessageKind, MessageLabels, NO_STATUS_RECEIVED, WebSocketMetrics};
