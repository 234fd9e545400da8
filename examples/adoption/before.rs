//! An existing axum payment service, before adopting checkout-otel: its own
//! `tracing` subscriber with an `EnvFilter` on the registry (as the axum
//! examples set it up), tower-http's `TraceLayer` for the access log, and a
//! JSON `POST /pay` that charges a card through a (simulated) gateway.
//!
//! `examples/adoption/after.rs` is the same service after adoption; the
//! README's adoption guide shows the difference, and `tests/adoption_python.rs`
//! counts it and drives the adopted service from a Python OpenTelemetry
//! client.
//!
//! Run: `cargo run --example adoption_before` (`PORT` picks the port, `0` any).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
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
    State(gateway): State<Gateway>,
    Json(request): Json<PayRequest>,
) -> Result<Json<PayResponse>, StatusCode> {
    tracing::info!(order_id = %request.order_id, customer_id = %request.customer_id, "charging");
    match gateway
        .charge(&request.card_number, request.amount_minor)
        .await
    {
        Ok(charge_id) => Ok(Json(PayResponse {
            status: "succeeded",
            charge_id: Some(charge_id),
        })),
        Err(code) => {
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
    tracing_subscriber::registry()
        .with(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,tower_http=debug".into()))
        .with(tracing_subscriber::fmt::layer())
        .init();

    let app = Router::new()
        .route("/pay", post(pay))
        .with_state(Gateway)
        .layer(TraceLayer::new_for_http());

    let port = std::env::var("PORT").unwrap_or_else(|_| "8080".to_owned());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    println!("listening on {}", listener.local_addr()?);
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
