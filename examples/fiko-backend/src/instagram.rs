//! Instagram Graph API calls through an HTTP client with a configurable base URL.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use crate::app::AppState;
use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult};
use crate::metrics::{
    InstagramCallLabels, InstagramEndpoint, InstagramEndpointLabels, InstagramMetrics,
    InstagramResult, UserAction,
};

/// The longest one API call may take.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(3);

/// A client of the Instagram Graph API.
#[derive(Clone, Debug)]
pub struct InstagramClient {
    http: reqwest::Client,
    base_url: Option<String>,
    token: String,
    metrics: Arc<InstagramMetrics>,
}

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum InstagramError {
    /// No base URL is configured.
    #[error("Instagram is not configured: set INSTAGRAM_BASE_URL")]
    NotConfigured,
    /// The API answered with an error status.
    #[error("Instagram answered {0}")]
    Status(u16),
    /// No usable answer.
    #[error("Instagram is unreachable: {0}")]
    Transport(String),
}

impl InstagramClient {
    /// A client of the API at `base_url` (e.g. `http://127.0.0.1:9000`), sending `token`.
    pub fn new(base_url: Option<String>, token: String, metrics: Arc<InstagramMetrics>) -> Self {
        let http = reqwest::Client::builder()
            .timeout(CALL_TIMEOUT)
            .build()
            .unwrap_or_default();
        Self {
            http,
            base_url,
            token,
            metrics,
        }
    }

    /// `GET /me/media`: the account's media, as the API's JSON.
    #[fiko_metrics::timed(name = "instagram_media")]
    pub async fn media(&self) -> Result<serde_json::Value, InstagramError> {
        let base = self
            .base_url
            .as_deref()
            .ok_or(InstagramError::NotConfigured)?;
        let endpoint = InstagramEndpoint::Media;
        let started = Instant::now();
        let result = self
            .get_json(&format!(
                "{base}/me/media?fields=id,caption&access_token={}",
                self.token
            ))
            .await;
        self.metrics
            .api_call_duration_seconds
            .get_or_create(&InstagramEndpointLabels { endpoint })
            .observe_since(started);
        let outcome = match &result {
            Ok(_) => InstagramResult::Ok,
            Err(InstagramError::Status(status)) if *status < 500 => InstagramResult::ClientError,
            Err(InstagramError::Status(_)) => InstagramResult::ServerError,
            Err(_) => InstagramResult::Transport,
        };
        self.metrics
            .api_calls
            .get_or_create(&InstagramCallLabels {
                endpoint,
                result: outcome,
            })
            .inc();
        result
    }

    async fn get_json(&self, url: &str) -> Result<serde_json::Value, InstagramError> {
        let response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| InstagramError::Transport(e.without_url().to_string()))?;
        let status = response.status();
        if !status.is_success() {
            return Err(InstagramError::Status(status.as_u16()));
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| InstagramError::Transport(e.without_url().to_string()))?;
        serde_json::from_slice(&body)
            .map_err(|e| InstagramError::Transport(format!("invalid JSON: {e}")))
    }
}

/// `GET /api/v1/instagram/media`: the connected account's media; 502 when Instagram
/// fails, 503 when it is not configured.
pub async fn media(
    State(state): State<AppState>,
    _user: CurrentUser,
) -> ApiResult<Json<serde_json::Value>> {
    state.metrics.activity(UserAction::Instagram);
    match state.instagram.media().await {
        Ok(media) => Ok(Json(media)),
        Err(error @ InstagramError::NotConfigured) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            error.to_string(),
        )),
        Err(error) => Err(ApiError::new(StatusCode::BAD_GATEWAY, error.to_string())),
    }
}
