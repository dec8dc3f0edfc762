//! Billing: payment transactions and revenue.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::app::AppState;
use crate::auth::CurrentUser;
use crate::error::{ApiError, ApiResult};
use crate::jobs::{Invoice, Job};
use crate::metrics::{
    Currency, Plan, RevenueLabels, TransactionLabels, TransactionStatus, UserAction,
};

/// Cards ending in these digits are declined, like a payment provider's test cards.
pub const DECLINED_CARD_SUFFIX: &str = "0002";

/// `POST /api/v1/billing/transactions`.
#[derive(Debug, Deserialize, Serialize)]
pub struct Purchase {
    /// `starter`, `pro` or `business`.
    pub plan: String,
    /// `usd` or `eur`.
    pub currency: String,
    /// The card number.
    pub card_number: String,
}

/// A recorded transaction.
#[derive(Debug, Deserialize, Serialize)]
pub struct Transaction {
    /// Its id.
    pub id: i64,
    /// `succeeded` or `declined`.
    pub status: String,
    /// The amount in cents.
    pub amount_cents: i64,
}

fn plan(name: &str) -> Option<(Plan, i64)> {
    match name {
        "starter" => Some((Plan::Starter, 1_900)),
        "pro" => Some((Plan::Pro, 4_900)),
        "business" => Some((Plan::Business, 19_900)),
        _ => None,
    }
}

fn currency(name: &str) -> Option<Currency> {
    match name {
        "usd" => Some(Currency::Usd),
        "eur" => Some(Currency::Eur),
        _ => None,
    }
}

/// Charges a plan; 201 when paid, 402 when the card is declined, 422 for bad input.
pub async fn purchase(
    State(state): State<AppState>,
    user: CurrentUser,
    Json(input): Json<Purchase>,
) -> ApiResult<(StatusCode, Json<Transaction>)> {
    let (Some((plan_label, amount_cents)), Some(currency_label)) =
        (plan(&input.plan), currency(&input.currency))
    else {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown plan or currency",
        ));
    };
    // Digits with optional spaces or dashes between groups: nothing else.
    crate::validate::text("card_number", &input.card_number, 32)?;
    let digits = input
        .card_number
        .chars()
        .filter(char::is_ascii_digit)
        .count();
    let separators_only = input
        .card_number
        .trim()
        .chars()
        .all(|c| c.is_ascii_digit() || c == ' ' || c == '-');
    if !(12..=19).contains(&digits) || !separators_only {
        return Err(ApiError::invalid_field(
            "card_number",
            "invalid card number",
        ));
    }
    let declined = input.card_number.trim().ends_with(DECLINED_CARD_SUFFIX);
    let status = if declined {
        TransactionStatus::Declined
    } else {
        TransactionStatus::Succeeded
    };
    let status_text = if declined { "declined" } else { "succeeded" };
    let id = state
        .db
        .insert_transaction(
            user.id,
            &input.plan,
            &input.currency,
            amount_cents,
            status_text,
        )
        .await?;
    let billing = state.metrics.as_ref().map(|metrics| &metrics.billing);
    if let Some(billing) = billing {
        billing
            .transactions
            .get_or_create(&TransactionLabels {
                plan: plan_label,
                status,
            })
            .inc();
    }
    state.activity(UserAction::Purchase);
    let answer = Json(Transaction {
        id,
        status: status_text.to_owned(),
        amount_cents,
    });
    if declined {
        return Ok((StatusCode::PAYMENT_REQUIRED, answer));
    }
    if let Some(billing) = billing {
        billing
            .revenue
            .get_or_create(&RevenueLabels {
                plan: plan_label,
                currency: currency_label,
            })
            .inc_by(amount_cents as f64 / 100.0);
    }
    let _ = state
        .jobs
        .push(Job::Invoice(Invoice { transaction_id: id }))
        .await;
    Ok((StatusCode::CREATED, answer))
}
