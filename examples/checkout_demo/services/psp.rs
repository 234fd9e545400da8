//! A simulated external payment gateway (a "PSP"), on its own HTTP server.
//!
//! It is a third party: it is not instrumented and ignores trace headers;
//! what we see of it is our `payment.gateway_call` client spans. Like real
//! gateways it has test card numbers that trigger each failure, a latency
//! that can be turned up, and decline messages that quote the card number and
//! the customer's email, so the instrumentation's scrubbing has work to do.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

/// Test cards (all pass the Luhn check, like the real ones).
pub mod cards {
    /// Approved.
    pub const OK: &str = "4242 4242 4242 4242";
    /// Soft decline: insufficient funds, every time.
    pub const SOFT_DECLINE: &str = "4000 0000 0000 9995";
    /// Hard decline: card reported stolen.
    pub const HARD_DECLINE: &str = "4000 0000 0000 9979";
    /// The gateway hangs until the caller gives up.
    pub const TIMEOUT: &str = "4000 0000 0000 0259";
    /// The gateway answers 503 Service Unavailable.
    pub const SERVER_ERROR: &str = "4000 0000 0000 0119";
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChargeRequest {
    pub amount_minor: i64,
    pub currency: String,
    pub card_number: String,
    pub customer_email: String,
    pub idempotency_key: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Charge {
    pub id: String,
}

/// A decline, as gateways phrase them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Decline {
    pub code: String,
    pub message: String,
}

/// Knobs of the simulated gateway, shared with the scenarios.
#[derive(Debug, Clone)]
pub struct PspControl {
    latency_ms: Arc<AtomicU64>,
    base_latency: Duration,
    hang: Duration,
}

impl PspControl {
    /// A gateway answering after `latency`, hanging for `hang` on the
    /// timeout card.
    pub fn new(latency: Duration, hang: Duration) -> Self {
        PspControl {
            latency_ms: Arc::new(AtomicU64::new(millis(latency))),
            base_latency: latency,
            hang,
        }
    }

    /// Sets the latency of every answer from now on.
    pub fn set_latency(&self, latency: Duration) {
        self.latency_ms.store(millis(latency), Ordering::Relaxed);
    }

    /// Back to the latency it started with.
    pub fn reset(&self) {
        self.set_latency(self.base_latency);
    }

    fn latency(&self) -> Duration {
        Duration::from_millis(self.latency_ms.load(Ordering::Relaxed))
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

pub fn router(control: PspControl) -> Router {
    Router::new()
        .route("/v1/charges", post(charge))
        .with_state(control)
}

async fn charge(State(psp): State<PspControl>, Json(req): Json<ChargeRequest>) -> Response {
    tokio::time::sleep(psp.latency()).await;
    let digits: String = req
        .card_number
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    let card = |c: &str| c.replace(' ', "") == digits;
    if card(cards::TIMEOUT) {
        tokio::time::sleep(psp.hang).await;
    }
    if card(cards::SOFT_DECLINE) {
        let message = format!(
            "Card {} was declined for {}: insufficient funds. Try again later or use another card.",
            req.card_number, req.customer_email
        );
        return decline("insufficient_funds", message);
    }
    if card(cards::HARD_DECLINE) {
        let message = format!(
            "Do not honor: card {} reported stolen (cardholder {}).",
            req.card_number, req.customer_email
        );
        return decline("stolen_card", message);
    }
    if card(cards::SERVER_ERROR) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "upstream acquirer unavailable",
        )
            .into_response();
    }
    let id = format!("ch_{}", &req.idempotency_key);
    (StatusCode::OK, Json(Charge { id })).into_response()
}

fn decline(code: &str, message: String) -> Response {
    let body = Decline {
        code: code.to_owned(),
        message,
    };
    (StatusCode::PAYMENT_REQUIRED, Json(body)).into_response()
}
