//! The payment service, a gRPC service (`checkout.payment.v1.PaymentService`,
//! see `payment_grpc.rs`): charges a card through the external gateway, one
//! `payment.gateway_call` span per attempt. A soft decline or a 5xx is
//! retried once (same idempotency key); a hard decline or a timeout is not.

use std::time::Duration;

use axum::http::StatusCode;
use checkout_otel::attributes::{DeclineClass, DeclineCode, ErrorType, FailureKind};
use checkout_otel::opentelemetry::Context;
use checkout_otel::spans::{CheckoutTracer, ClassifyError, PaymentGatewayCall};
use tonic::Status;

use crate::services::payment_grpc::{
    AuthorizeRequest, AuthorizeResponse, Decline, Outcome, PaymentServer, PaymentService,
};
use crate::services::psp;

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

impl PaymentError {
    /// The answer the gateway gets: a decline is a normal response (the
    /// service did its job), a charge that could not be made an error status,
    /// which the gateway maps back to `error.type`. The gateway's 5xx (after
    /// the retry) is our failure to charge, INTERNAL; UNAVAILABLE is for a
    /// gateway out of reach, as tonic reports a payment service out of reach.
    fn into_response(self) -> Result<AuthorizeResponse, Status> {
        let message = self.to_string();
        match self {
            PaymentError::Declined { code, message } => Ok(AuthorizeResponse {
                outcome: Some(Outcome::Declined(Decline {
                    code: code.as_str().to_owned(),
                    message,
                })),
            }),
            PaymentError::Timeout => Err(Status::deadline_exceeded(message)),
            PaymentError::Upstream(_) => Err(Status::internal(message)),
            PaymentError::Unreachable(_) => Err(Status::unavailable(message)),
        }
    }
}

struct Payments {
    tracer: CheckoutTracer,
    psp_url: String,
    psp: reqwest::Client,
    psp_timeout: Duration,
}

/// The payment service, charging through the gateway at `psp_url` and giving
/// up on a call after `psp_timeout`.
pub fn server(
    tracer: CheckoutTracer,
    psp_url: String,
    psp_timeout: Duration,
) -> PaymentServer<impl PaymentService> {
    let psp = reqwest::Client::builder()
        .timeout(psp_timeout)
        .build()
        .unwrap_or_default();
    PaymentServer::new(Payments {
        tracer,
        psp_url: format!("{psp_url}/v1/charges"),
        psp,
        psp_timeout,
    })
}

impl PaymentService for Payments {
    async fn authorize(&self, req: AuthorizeRequest) -> Result<AuthorizeResponse, Status> {
        // The server layer runs the handler in the request's context: the
        // parent of the gateway calls.
        let parent = Context::current();
        let charge = psp::ChargeRequest {
            amount_minor: req.amount_minor,
            currency: req.currency,
            card_number: req.card_number,
            customer_email: req.customer_email,
            idempotency_key: req.order_id,
        };
        let mut attempt = 1;
        loop {
            match self.call_gateway(&parent, &charge, attempt).await {
                Ok(charge) => {
                    return Ok(AuthorizeResponse {
                        outcome: Some(Outcome::ChargeId(charge.id)),
                    });
                }
                Err(e) if attempt < MAX_ATTEMPTS && retryable(&e) => {
                    attempt += 1;
                    tokio::time::sleep(RETRY_BACKOFF).await;
                }
                Err(e) => return e.into_response(),
            }
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

impl Payments {
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
