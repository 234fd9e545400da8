//! The notification service: emails the order confirmation through a mail
//! relay. The crate has no span for the relay call, so this service defines
//! its own with [`SpanSpec`], as a user would for any step of their own.

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use checkout_otel::attributes::{self as attr, ErrorType, NotificationChannel};
use checkout_otel::opentelemetry::trace::SpanKind;
use checkout_otel::spans::{Attrs, CheckoutTracer, ClassifyError, SpanSpec, TypedSpan};
use serde::{Deserialize, Serialize};

use checkout_otel::http_server::OtelServerLayer;

use crate::net::{ErrorBody, TraceParent};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Notification {
    pub order_id: String,
    pub email: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Sent {
    pub message_id: String,
}

/// `email.deliver`: handing the message to the mail relay (`CLIENT`).
struct EmailDeliver<'a> {
    order_id: &'a str,
}

impl SpanSpec for EmailDeliver<'_> {
    type Span = TypedSpan;
    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed("email.deliver")
    }
    fn kind(&self) -> SpanKind {
        SpanKind::Client
    }
    fn attributes(&self, attrs: &mut Attrs<'_>) {
        attrs.str(attr::ORDER_ID, self.order_id.to_owned());
        attrs.str(
            attr::NOTIFICATION_CHANNEL,
            NotificationChannel::Email.as_str(),
        );
        attrs.str(attr::PEER_SERVICE, "mail-relay");
    }
    fn wrap(self, span: TypedSpan, _: &CheckoutTracer) -> TypedSpan {
        span
    }
}

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// Relays quote the recipient in their errors.
    #[error("{0}")]
    RelayUnavailable(String),
}

impl ClassifyError for NotifyError {
    fn error_type(&self) -> ErrorType {
        ErrorType::UNAVAILABLE
    }
}

impl IntoResponse for NotifyError {
    fn into_response(self) -> Response {
        ErrorBody::new(self.error_type(), self.to_string())
            .into_response(StatusCode::SERVICE_UNAVAILABLE)
    }
}

/// Whether the mail relay is down, shared with the scenarios.
#[derive(Debug, Clone, Default)]
pub struct RelayControl(Arc<AtomicBool>);

impl RelayControl {
    pub fn set_down(&self, down: bool) {
        self.0.store(down, Ordering::Relaxed);
    }
    fn is_down(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

#[derive(Clone)]
struct NotificationService {
    tracer: CheckoutTracer,
    relay: RelayControl,
}

pub fn router(tracer: CheckoutTracer, relay: RelayControl) -> Router {
    Router::new()
        .route("/notifications", post(send))
        .layer(OtelServerLayer::new(&tracer))
        .with_state(NotificationService { tracer, relay })
}

async fn send(
    State(svc): State<NotificationService>,
    TraceParent(parent): TraceParent,
    Json(n): Json<Notification>,
) -> Result<Json<Sent>, NotifyError> {
    let span = svc.tracer.start_in(
        EmailDeliver {
            order_id: &n.order_id,
        },
        &parent,
    );
    tokio::time::sleep(Duration::from_millis(25)).await; // SMTP round trip
    if svc.relay.is_down() {
        {
            // Not the relay's reply: it quotes the recipient.
            let _in = span.enter();
            tracing::warn!(
                name: "notification.deferred",
                {
                    "order.id" = %n.order_id,
                },
                "mail relay unavailable, order confirmation deferred"
            );
        }
        let reply = format!(
            "421 4.3.2 relay.mail.example unavailable, message to <{}> deferred",
            n.email
        );
        return span.record(Err(NotifyError::RelayUnavailable(reply)));
    }
    let message_id = format!("<{}@mail.example>", n.order_id);
    {
        let _in = span.enter();
        tracing::info!(
            name: "notification.sent",
            {
                "order.id" = %n.order_id,
                "notification.channel" = NotificationChannel::Email.as_str(),
            },
            "order confirmation sent"
        );
    }
    Ok(Json(Sent { message_id }))
}
