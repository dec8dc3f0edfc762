//! Instagram Graph API calls through an HTTP client with a configurable base URL.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use serde::Deserialize;

use crate::app::AppState;
use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult};
use crate::metrics::{
    InstagramCallLabels, InstagramEndpoint, InstagramEndpointLabels, InstagramMetrics,
    InstagramResult, UserAction,
};

/// The longest one API call may take.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(3);

/// Where the built-in stand-in for the Graph API is served, under the application's own
/// address: used when no `INSTAGRAM_BASE_URL` is configured, so the demo runs offline.
pub const LOCAL_STAND_IN_PATH: &str = "/_local/instagram";

/// A client of the Instagram Graph API.
#[derive(Clone, Debug)]
pub struct InstagramClient {
    http: reqwest::Client,
    base_url: Option<String>,
    /// The stand-in's URL, known once the application listens.
    local: Arc<OnceLock<String>>,
    token: String,
    metrics: Option<Arc<InstagramMetrics>>,
}

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum InstagramError {
    /// No base URL is configured.
    #[error("Instagram is not configured: set INSTAGRAM_BASE_URL or serve the application")]
    NotConfigured,
    /// The API answered with an error status.
    #[error("Instagram answered {0}")]
    Status(u16),
    /// No usable answer.
    #[error("Instagram is unreachable: {0}")]
    Transport(String),
}

impl InstagramClient {
    /// A client of the API at `base_url` (e.g. `http://127.0.0.1:9000`), sending `token`,
    /// recording its calls in `metrics` (nothing without: the instrumentation is off).
    pub fn new(
        base_url: Option<String>,
        token: String,
        metrics: Option<Arc<InstagramMetrics>>,
    ) -> Self {
        let http = reqwest::Client::builder()
            .timeout(CALL_TIMEOUT)
            .build()
            .unwrap_or_default();
        Self {
            http,
            base_url,
            local: Arc::default(),
            token,
            metrics,
        }
    }

    /// Without a configured base URL, calls go to the built-in stand-in served at
    /// [`LOCAL_STAND_IN_PATH`] on `address` (the application's own listener).
    pub fn use_local_stand_in(&self, address: std::net::SocketAddr) {
        if self.base_url.is_none() {
            let _ = self
                .local
                .set(format!("http://{address}{LOCAL_STAND_IN_PATH}"));
        }
    }

    /// `GET /me/media`: the account's media, as the API's JSON; the call is recorded (by
    /// `#[timed]` too) unless the instrumentation is off.
    pub async fn media(&self) -> Result<serde_json::Value, InstagramError> {
        match &self.metrics {
            Some(metrics) => self.media_timed(metrics).await,
            None => self.media_untimed(None).await,
        }
    }

    #[fiko_metrics::timed(name = "instagram_media")]
    async fn media_timed(
        &self,
        metrics: &InstagramMetrics,
    ) -> Result<serde_json::Value, InstagramError> {
        self.media_untimed(Some(metrics)).await
    }

    async fn media_untimed(
        &self,
        metrics: Option<&InstagramMetrics>,
    ) -> Result<serde_json::Value, InstagramError> {
        let base = self
            .base_url
            .as_deref()
            .or_else(|| self.local.get().map(String::as_str))
            .ok_or(InstagramError::NotConfigured)?;
        let endpoint = InstagramEndpoint::Media;
        let started = metrics.map(|_| Instant::now());
        let result = self
            .get_json(&format!(
                "{base}/me/media?fields=id,caption&access_token={}",
                query_encoded(&self.token)
            ))
            .await;
        let (Some(metrics), Some(started)) = (metrics, started) else {
            return result;
        };
        metrics
            .api_call_duration_seconds
            .get_or_create(&InstagramEndpointLabels { endpoint })
            .observe_since(started);
        let outcome = match &result {
            Ok(_) => InstagramResult::Ok,
            Err(InstagramError::Status(status)) if *status < 500 => InstagramResult::ClientError,
            Err(InstagramError::Status(_)) => InstagramResult::ServerError,
            Err(_) => InstagramResult::Transport,
        };
        metrics
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

/// `value` percent-encoded for a query string: every byte but RFC 3986's unreserved ones,
/// so a token with `&`, `+` or `#` arrives whole.
fn query_encoded(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// `GET /api/v1/instagram/media`: the connected account's media; 502 when Instagram
/// fails, 503 when it is not configured.
pub async fn media(
    State(state): State<AppState>,
    _user: CurrentUser,
) -> ApiResult<Json<serde_json::Value>> {
    state.activity(UserAction::Instagram);
    match state.instagram.media().await {
        Ok(media) => Ok(Json(media)),
        Err(error @ InstagramError::NotConfigured) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            error.to_string(),
        )),
        Err(error) => Err(ApiError::new(StatusCode::BAD_GATEWAY, error.to_string())),
    }
}

impl InstagramClient {
    /// Whether `presented` is the access token this client sends (compared in constant
    /// time: the stand-in must not tell a guesser how much of it was right).
    pub fn is_own_token(&self, presented: &str) -> bool {
        let (expected, presented) = (self.token.as_bytes(), presented.as_bytes());
        expected.len() == presented.len()
            && expected
                .iter()
                .zip(presented)
                .fold(0_u8, |diff, (a, b)| diff | (a ^ b))
                == 0
    }
}

/// The query of a Graph API call.
#[derive(Debug, Deserialize)]
pub struct GraphQuery {
    /// The access token (`access_token=...`).
    pub access_token: Option<String>,
}

/// The built-in stand-in's `GET /me/media`: two sample posts, as the Graph API shapes them,
/// for callers presenting the access token the demo is configured with
/// (`INSTAGRAM_ACCESS_TOKEN`); anyone else gets 401, as from the real API.
pub async fn local_stand_in_media(
    State(state): State<AppState>,
    Query(query): Query<GraphQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    if !query
        .access_token
        .is_some_and(|token| state.instagram.is_own_token(&token))
    {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid or missing access_token",
        ));
    }
    Ok(Json(serde_json::json!({
        "data": [
            { "id": "17895695668004550", "caption": "Sample post (local stand-in)" },
            { "id": "17899305451014820", "caption": "Another sample post (local stand-in)" }
        ]
    })))
}
