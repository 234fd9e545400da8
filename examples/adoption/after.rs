//! The payment service of `examples/adoption/before.rs` after adopting
//! checkout-otel, with its own subscriber and `EnvFilter` kept as they were:
//! the server layer on the router (one line), the two layers in the
//! subscriber, and the payment span in the handler. The card number is
//! borrowed (the gateway still needs it); the customer is recorded only as
//! `user.hash`.
//!
//! Run: `OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4317 cargo run --example adoption_after`
//! (`PORT` picks the port, `0` any).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use checkout_otel::prelude::*;
use serde::{Deserialize, Serialize};
use tower_http::trace::TraceLayer;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

#[derive(Deserialize)]
struct PayRequest {
    order_id: String,
    customer_id: String,
    amount_minor: i64,
    card_number: String,
}

#[derive(Serialize)]
struct PayResponse {
    status: &'static str,
    charge_id: Option<String>,
}

/// The card gateway: Stripe's test card `4000 0000 0000 0002` is declined.
#[derive(Clone)]
struct Gateway;

impl Gateway {
    async fn charge(&self, card_number: &str, _amount_minor: i64) -> Result<String, String> {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        if card_number.replace(' ', "").ends_with("0002") {
            Err("card_declined".to_owned())
        } else {
            Ok("ch_3MmlLrLkdIwHu7ix".to_owned())
        }
    }
}

async fn pay(
    State((gateway, tracer)): State<(Gateway, CheckoutTracer)>,
    Json(request): Json<PayRequest>,
) -> Result<Json<PayResponse>, StatusCode> {
    tracing::info!(order_id = %request.order_id, customer_id = %request.customer_id, "charging");
    let customer = tracer.user(&request.customer_id);
    let amount = Money::from_minor(request.amount_minor, Currency::USD);
    let card = PaymentMethod::card_from_number(&request.card_number)
        .map_err(|_| StatusCode::UNPROCESSABLE_ENTITY)?;
    let spec = PaymentProcess::new(&request.order_id, amount);
    let payment = tracer.start(spec.user(&customer).method(&card));
    match payment
        .run(gateway.charge(&request.card_number, request.amount_minor))
        .await
    {
        Ok(charge_id) => {
            payment.succeeded(&charge_id);
            Ok(Json(PayResponse {
                status: "succeeded",
                charge_id: Some(charge_id),
            }))
        }
        Err(code) => {
            payment.declined(DeclineCode::from_gateway_code(&code), &code);
            tracing::warn!(%code, "payment declined");
            Ok(Json(PayResponse {
                status: "declined",
                charge_id: None,
            }))
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let telemetry = Telemetry::builder("payment-api")
        .tracing_bridge(false)
        .init()?;
    tracing_subscriber::registry()
        .with(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,tower_http=debug".into()))
        .with(tracing_subscriber::fmt::layer())
        .with(telemetry.tracing_layer())
        .with(telemetry.logs_layer())
        .init();

    let app = Router::new()
        .route("/pay", post(pay))
        .with_state((Gateway, telemetry.tracer()))
        .layer(TraceLayer::new_for_http())
        .layer(OtelServerLayer::new(&telemetry.tracer()));

    let port = std::env::var("PORT").unwrap_or_else(|_| "8080".to_owned());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    println!("listening on {}", listener.local_addr()?);
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    if let Err(e) = telemetry.shutdown() {
        eprintln!("telemetry: {e}"); // a failed final export is not the service's failure
    }
    Ok(())
}
