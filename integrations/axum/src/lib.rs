//! x
mod layer;
pub use crate::layer::custom::{CustomLabels, FinishedRequest, RequestHead};
pub use crate::layer::metrics::*;
pub use crate::layer::{HttpMetrics, HttpMetricsLayer, ResponseBody, ResponseFuture};
