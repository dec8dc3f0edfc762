//! AI completions through a model provider, with requests, tokens, cost and latency
//! recorded by model.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::app::AppState;
use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult};
use crate::metrics::{
    AiLabels, AiMetrics, AiStatus, Model, ModelLabels, TokenKind, TokenLabels, UserAction,
};

/// The longest a model call may take.
pub const MODEL_TIMEOUT: Duration = Duration::from_secs(5);

/// A model's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Completion {
    /// The text.
    pub text: String,
    /// Tokens of the prompt.
    pub prompt_tokens: u64,
    /// Tokens of the answer.
    pub completion_tokens: u64,
}

/// Why a model call failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// The prompt is longer than the model's context.
    #[error("the prompt has {tokens} tokens; {model} takes at most {limit}")]
    ContextLength {
        /// The model's name.
        model: &'static str,
        /// The prompt's tokens.
        tokens: u64,
        /// The model's limit.
        limit: u64,
    },
    /// The prompt is empty.
    #[error("the prompt is empty")]
    EmptyPrompt,
}

/// A boxed model call.
pub type CompletionFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Completion, ProviderError>> + Send + 'a>>;

/// Something that answers prompts: a hosted model's API client, or the local provider.
pub trait ModelProvider: Send + Sync + 'static {
    /// Answers `prompt` with `model`.
    fn complete<'a>(&'a self, model: Model, prompt: &'a str) -> CompletionFuture<'a>;
}

/// A **deterministic local provider** — not a language model. It answers every prompt
/// with a fixed transformation of its words (the same prompt always gives the same
/// answer, tokens and latency), so the demo and its tests run offline and reproducibly.
/// Tokens are whitespace-separated words; latency grows with them.
#[derive(Clone, Copy, Debug, Default)]
pub struct DeterministicLocalProvider;

impl DeterministicLocalProvider {
    /// The context limit of `model`, in tokens.
    pub fn context_limit(model: Model) -> u64 {
        match model {
            Model::LocalSmall => 512,
            Model::LocalLarge => 4096,
        }
    }
}

impl ModelProvider for DeterministicLocalProvider {
    fn complete<'a>(&'a self, model: Model, prompt: &'a str) -> CompletionFuture<'a> {
        Box::pin(async move {
            let words: Vec<&str> = prompt.split_whitespace().collect();
            let prompt_tokens = words.len() as u64;
            if prompt_tokens == 0 {
                return Err(ProviderError::EmptyPrompt);
            }
            let limit = Self::context_limit(model);
            if prompt_tokens > limit {
                return Err(ProviderError::ContextLength {
                    model: model_name(model),
                    tokens: prompt_tokens,
                    limit,
                });
            }
            // The answer: the prompt's words reversed, at most 32 (local-small: 8).
            let keep = match model {
                Model::LocalSmall => 8,
                Model::LocalLarge => 32,
            };
            let answer: Vec<&str> = words.iter().rev().take(keep).copied().collect();
            let completion_tokens = answer.len() as u64;
            let per_token = match model {
                Model::LocalSmall => 50,
                Model::LocalLarge => 200,
            };
            tokio::time::sleep(Duration::from_micros(
                2_000 + per_token * (prompt_tokens + completion_tokens),
            ))
            .await;
            Ok(Completion {
                text: answer.join(" "),
                prompt_tokens,
                completion_tokens,
            })
        })
    }
}

/// Another provider's answers, `latency` later: a slow model (configured with
/// `AI_PROVIDER_LATENCY_MS`), to watch requests in flight or to try graceful shutdown.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use std::sync::Arc;
/// use std::time::{Duration, Instant};
/// use fiko_backend::ai::{DeterministicLocalProvider, ModelProvider, Slowed};
/// use fiko_backend::metrics::Model;
///
/// let slow = Slowed::new(Arc::new(DeterministicLocalProvider), Duration::from_millis(50));
/// let started = Instant::now();
/// let answer = slow.complete(Model::LocalSmall, "one two").await.unwrap();
/// assert_eq!(answer.text, "two one");
/// assert!(started.elapsed() >= Duration::from_millis(50));
/// # });
/// ```
pub struct Slowed {
    inner: std::sync::Arc<dyn ModelProvider>,
    latency: Duration,
}

impl Slowed {
    /// `inner`, answering `latency` later.
    pub fn new(inner: std::sync::Arc<dyn ModelProvider>, latency: Duration) -> Self {
        Self { inner, latency }
    }
}

impl std::fmt::Debug for Slowed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slowed")
            .field("latency", &self.latency)
            .finish_non_exhaustive()
    }
}

impl ModelProvider for Slowed {
    fn complete<'a>(&'a self, model: Model, prompt: &'a str) -> CompletionFuture<'a> {
        Box::pin(async move {
            tokio::time::sleep(self.latency).await;
            self.inner.complete(model, prompt).await
        })
    }
}

/// The label text of `model`.
pub fn model_name(model: Model) -> &'static str {
    match model {
        Model::LocalSmall => "local-small",
        Model::LocalLarge => "local-large",
    }
}

/// `model` from its name.
pub fn parse_model(name: &str) -> Option<Model> {
    match name {
        "local-small" => Some(Model::LocalSmall),
        "local-large" => Some(Model::LocalLarge),
        _ => None,
    }
}

/// US dollars per million prompt and completion tokens.
fn price_per_million(model: Model) -> (f64, f64) {
    match model {
        Model::LocalSmall => (0.15, 0.60),
        Model::LocalLarge => (2.50, 10.00),
    }
}

/// What a completion costs, in US dollars.
pub fn cost(model: Model, completion: &Completion) -> f64 {
    let (prompt, answer) = price_per_million(model);
    (completion.prompt_tokens as f64 * prompt + completion.completion_tokens as f64 * answer) / 1e6
}

/// Calls the provider with a timeout and records the request, tokens, cost and latency
/// in `metrics` (nothing without: the instrumentation is off).
pub async fn complete(
    provider: &dyn ModelProvider,
    metrics: Option<&AiMetrics>,
    model: Model,
    prompt: &str,
) -> Result<Completion, AiFailure> {
    let started = metrics.map(|_| Instant::now());
    let result = tokio::time::timeout(MODEL_TIMEOUT, provider.complete(model, prompt)).await;
    let (Some(metrics), Some(started)) = (metrics, started) else {
        return match result {
            Ok(Ok(completion)) => Ok(completion),
            Ok(Err(error)) => Err(AiFailure::Provider(error)),
            Err(_) => Err(AiFailure::Timeout),
        };
    };
    metrics
        .request_duration_seconds
        .get_or_create(&ModelLabels { model })
        .observe_since(started);
    let (status, result) = match result {
        Ok(Ok(completion)) => (AiStatus::Ok, Ok(completion)),
        Ok(Err(error)) => (AiStatus::Error, Err(AiFailure::Provider(error))),
        Err(_) => (AiStatus::Timeout, Err(AiFailure::Timeout)),
    };
    metrics
        .requests
        .get_or_create(&AiLabels { model, status })
        .inc();
    if let Ok(completion) = &result {
        let tokens = |kind| metrics.tokens.get_or_create(&TokenLabels { model, kind });
        tokens(TokenKind::Prompt).inc_by(completion.prompt_tokens);
        tokens(TokenKind::Completion).inc_by(completion.completion_tokens);
        metrics
            .cost
            .get_or_create(&ModelLabels { model })
            .inc_by(cost(model, completion));
    }
    result
}

/// Why a completion failed.
#[derive(Debug, thiserror::Error)]
pub enum AiFailure {
    /// The provider refused.
    #[error("{0}")]
    Provider(ProviderError),
    /// The provider did not answer in time.
    #[error("the model did not answer within {MODEL_TIMEOUT:?}")]
    Timeout,
}

/// `POST /api/v1/ai/completions`.
#[derive(Debug, Deserialize, Serialize)]
pub struct CompletionRequest {
    /// `local-small` or `local-large`.
    pub model: String,
    /// The prompt.
    pub prompt: String,
}

/// The answer of `POST /api/v1/ai/completions`.
#[derive(Debug, Deserialize, Serialize)]
pub struct CompletionResponse {
    /// The model.
    pub model: String,
    /// The answer.
    pub text: String,
    /// Tokens of the prompt.
    pub prompt_tokens: u64,
    /// Tokens of the answer.
    pub completion_tokens: u64,
    /// The cost in US dollars.
    pub cost_dollars: f64,
}

/// Answers a prompt; 422 when the provider refuses it, 504 on a timeout.
pub async fn completions(
    State(state): State<AppState>,
    _user: CurrentUser,
    Json(request): Json<CompletionRequest>,
) -> ApiResult<Json<CompletionResponse>> {
    let model = parse_model(&request.model)
        .ok_or_else(|| ApiError::bad_request("unknown model: use local-small or local-large"))?;
    crate::validate::multiline("prompt", &request.prompt, crate::validate::MAX_PROMPT_CHARS)?;
    state.activity(UserAction::AiRequest);
    let metrics = state.metrics.as_ref().map(|metrics| &*metrics.ai);
    match complete(state.ai.as_ref(), metrics, model, &request.prompt).await {
        Ok(completion) => Ok(Json(CompletionResponse {
            model: request.model,
            cost_dollars: cost(model, &completion),
            text: completion.text,
            prompt_tokens: completion.prompt_tokens,
            completion_tokens: completion.completion_tokens,
        })),
        Err(AiFailure::Provider(error)) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            error.to_string(),
        )),
        Err(AiFailure::Timeout) => Err(ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            AiFailure::Timeout.to_string(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_local_provider_is_deterministic_and_enforces_its_context() {
        let provider = DeterministicLocalProvider;
        let a = provider
            .complete(Model::LocalSmall, "one two three")
            .await
            .unwrap();
        let b = provider
            .complete(Model::LocalSmall, "one two three")
            .await
            .unwrap();
        assert_eq!(a, b);
        assert_eq!(a.text, "three two one");
        assert_eq!((a.prompt_tokens, a.completion_tokens), (3, 3));
        let long = "word ".repeat(600);
        assert_eq!(
            provider.complete(Model::LocalSmall, &long).await,
            Err(ProviderError::ContextLength {
                model: "local-small",
                tokens: 600,
                limit: 512
            })
        );
        assert!(provider.complete(Model::LocalLarge, &long).await.is_ok());
    }

    #[test]
    fn cost_follows_the_price_list() {
        let completion = Completion {
            text: String::new(),
            prompt_tokens: 1_000_000,
            completion_tokens: 1_000_000,
        };
        assert!((cost(Model::LocalLarge, &completion) - 12.5).abs() < 1e-9);
    }
}
