//! The payment service: charges a card through the external gateway, one
//! `payment.gateway_call` span per attempt. A soft decline or a 5xx is
//! retried once (same idempotency key); a hard decline or a timeout is not.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use checkout_otel::attributes::{DeclineClass, DeclineCode, ErrorType, FailureKind};
use checkout_otel::opentelemetry::Context;
use checkout_otel::spans::{CheckoutTracer, ClassifyError, PaymentGatewayCall};
use serde::{Deserialize, Serialize};

use checkout_otel::http_server::OtelServerLayer;

use crate::net::{ErrorBody, TraceParent};
use crate::services::psp;

/// What the gateway (our API gateway) asks for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PaymentRequest {
    pub order_id: String,
    pub amount_minor: i64,
    pub currency: String,
    pub card_number: String,
    pub customer_email: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Payment {
    pub charge_id: String,
}

const MAX_ATTEMPTS: u32 = 2;
const RETRY_BACKOFF: Duration = Duration::from_millis(40);
/// The name the external gateway has in our traces (`peer.service`).
const PSP_NAME: &str = "acme-payments";

#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    #[error("{message}")]
    Declined { code: DeclineCode, message: String },
    #[error("payment gateway did not answer in time")]
    Timeout,
    #[error("payment gateway answered HTTP {0}")]
    Upstream(u16),
    #[error("payment gateway unreachable: {0}")]
    Unreachable(String),
}

impl ClassifyError for PaymentError {
    fn error_type(&self) -> ErrorType {
        match self {
            PaymentError::Declined { .. } => ErrorType::CARD_DECLINED,
            PaymentError::Timeout => ErrorType::TIMEOUT,
            PaymentError::Upstream(_) => ErrorType::UPSTREAM_ERROR,
            PaymentError::Unreachable(_) => ErrorType::UNAVAILABLE,
        }
    }
    fn failure_kind(&self) -> FailureKind {
        match self {
            PaymentError::Declined { .. } => FailureKind::Rejection,
            _ => FailureKind::Fault,
        }
    }
}

impl IntoResponse for PaymentError {
    fn into_response(self) -> Response {
        let mut body = ErrorBody::new(self.error_type(), self.to_string());
        let status = match &self {
            PaymentError::Declined { code, .. } => {
                body.decline_code = Some(code.as_str().to_owned());
                StatusCode::PAYMENT_REQUIRED
            }
            PaymentError::Timeout => StatusCode::GATEWAY_TIMEOUT,
            _ => StatusCode::BAD_GATEWAY,
        };
        body.into_response(status)
    }
}

struct PaymentService {
    tracer: CheckoutTracer,
    psp_url: String,
    psp: reqwest::Client,
    psp_timeout: Duration,
}

/// The payment service, charging through the gateway at `psp_url` and giving
/// up on a call after `psp_timeout`.
pub fn router(tracer: CheckoutTracer, psp_url: String, psp_timeout: Duration) -> Router {
    let psp = reqwest::Client::builder()
        .timeout(psp_timeout)
        .build()
        .unwrap_or_default();
    let state = Arc::new(PaymentService {
        tracer,
        psp_url: format!("{psp_url}/v1/charges"),
        psp,
        psp_timeout,
    });
    Router::new()
        .route("/payments", post(pay))
        .layer(OtelServerLayer::new(&state.tracer))
        .with_state(state)
}

async fn pay(
    State(svc): State<Arc<PaymentService>>,
    TraceParent(parent): TraceParent,
    Json(req): Json<PaymentRequest>,
) -> Result<Json<Payment>, PaymentError> {
    let charge = psp::ChargeRequest {
        amount_minor: req.amount_minor,
        currency: req.currency,
        card_number: req.card_number,
        customer_email: req.customer_email,
        idempotency_key: req.order_id,
    };
    let mut attempt = 1;
    loop {
        match svc.call_gateway(&parent, &charge, attempt).await {
            Ok(charge) => {
                return Ok(Json(Payment {
                    charge_id: charge.id,
                }));
            }
            Err(e) if attempt < MAX_ATTEMPTS && retryable(&e) => {
                attempt += 1;
                tokio::time::sleep(RETRY_BACKOFF).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Retry what may succeed a second time. Not a timeout: the first charge may
/// still go through, and the checkout has already waited long enough.
fn retryable(e: &PaymentError) -> bool {
    match e {
        PaymentError::Declined { code, .. } => code.class() == DeclineClass::Soft,
        PaymentError::Upstream(status) => *status >= 500,
        _ => false,
    }
}

impl PaymentService {
    /// One call to the gateway, in its own `payment.gateway_call` span.
    async fn call_gateway(
        &self,
        parent: &Context,
        charge: &psp::ChargeRequest,
        attempt: u32,
    ) -> Result<psp::Charge, PaymentError> {
        let call = self.tracer.start_in(
            PaymentGatewayCall::new(PSP_NAME, "POST", &self.psp_url).attempt(attempt),
            parent,
        );
        // A third party: no trace headers are sent to it.
        let response = match self.psp.post(&self.psp_url).json(charge).send().await {
            Ok(response) => response,
            Err(e) if e.is_timeout() => {
                {
                    let _in = call.enter();
                    tracing::error!(
                        name: "payment.gateway_timeout",
                        {
                            "peer.service" = PSP_NAME,
                            attempt,
                            timeout_ms = u64::try_from(self.psp_timeout.as_millis()).unwrap_or(u64::MAX),
                        },
                        "payment gateway did not answer in time; not retried"
                    );
                }
                call.timed_out();
                return Err(PaymentError::Timeout);
            }
            Err(e) => return call.record(Err(PaymentError::Unreachable(e.to_string()))),
        };
        let status = response.status();
        call.response_status(status.as_u16());
        if status.is_success() {
            let charge = response
                .json::<psp::Charge>()
                .await
                .map_err(|e| PaymentError::Unreachable(e.to_string()));
            return match charge {
                Ok(charge) => {
                    {
                        let _in = call.enter();
                        tracing::info!(
                            name: "payment.authorized",
                            {
                                "payment.charge_id" = %charge.id,
                                attempt,
                            },
                            "payment authorized"
                        );
                    }
                    call.succeeded(&charge.id);
                    Ok(charge)
                }
                Err(e) => call.record(Err(e)),
            };
        }
        if status == StatusCode::PAYMENT_REQUIRED {
            if let Ok(decline) = response.json::<psp::Decline>().await {
                let code = DeclineCode::from_gateway_code(&decline.code);
                {
                    // Not the gateway's message: it may quote the card.
                    let _in = call.enter();
                    tracing::warn!(
                        name: "payment.declined",
                        {
                            "payment.decline_code" = code.as_str(),
                            "payment.decline_class" = code.class().as_str(),
                            attempt,
                        },
                        "payment declined by the issuer"
                    );
                }
                // The gateway's message may quote the card and the email:
                // `declined` scrubs it before it reaches the span.
                call.declined(code, &decline.message);
                return Err(PaymentError::Declined {
                    code,
                    message: decline.message,
                });
            }
        }
        {
            let _in = call.enter();
            tracing::warn!(
                name: "payment.gateway_error",
                {
                    "peer.service" = PSP_NAME,
                    "http.response.status_code" = status.as_u16(),
                    attempt,
                },
                "payment gateway failed the charge"
            );
        }
        // `response_status` already recorded a 5xx on the span.
        call.record(Err(PaymentError::Upstream(status.as_u16())))
    }
}
