//! The order service: writes the order (`order.create` > `INSERT orders`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use checkout_otel::attributes::ErrorType;
use checkout_otel::opentelemetry::Context;
use checkout_otel::spans::{CheckoutTracer, ClassifyError, DbQuery, OrderCreate, db};
use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};

use checkout_otel::http_server::OtelServerLayer;

use crate::net::{ErrorBody, TraceParent};

const SCHEMA: &str = "
    CREATE TABLE orders (
        id             TEXT PRIMARY KEY,
        cart_id        TEXT NOT NULL,
        reservation_id TEXT NOT NULL,
        charge_id      TEXT NOT NULL,
        total_minor    INTEGER NOT NULL,
        currency       TEXT NOT NULL
    );";
const INSERT_ORDER: &str = "INSERT INTO orders (id, cart_id, reservation_id, charge_id, total_minor, currency) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewOrder {
    pub order_id: String,
    pub cart_id: String,
    pub reservation_id: String,
    pub charge_id: String,
    pub total_minor: i64,
    pub currency: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Order {
    pub order_id: String,
}

#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    #[error("database error: {0}")]
    Database(#[from] rusqlite::Error),
    #[error("order worker failed: {0}")]
    Worker(String),
}

impl ClassifyError for OrderError {
    fn error_type(&self) -> ErrorType {
        match self {
            OrderError::Database(_) => ErrorType::DATABASE,
            OrderError::Worker(_) => ErrorType::OTHER,
        }
    }
}

impl IntoResponse for OrderError {
    fn into_response(self) -> Response {
        ErrorBody::new(self.error_type(), self.to_string())
            .into_response(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

/// Creates the orders database at `path`.
pub fn create_db(path: &Path) -> rusqlite::Result<PathBuf> {
    Connection::open(path)?.execute_batch(SCHEMA)?;
    Ok(path.to_owned())
}

#[derive(Clone)]
struct OrderService {
    tracer: CheckoutTracer,
    db: PathBuf,
}

pub fn router(tracer: CheckoutTracer, db: PathBuf) -> Router {
    Router::new()
        .route("/orders", post(create))
        .layer(OtelServerLayer::new(&tracer))
        .with_state(OrderService { tracer, db })
}

async fn create(
    State(svc): State<OrderService>,
    TraceParent(parent): TraceParent,
    Json(order): Json<NewOrder>,
) -> Result<(StatusCode, Json<Order>), OrderError> {
    let order_id = order.order_id.clone();
    crate::net::spawn_blocking(move || svc.insert(&parent, &order))
        .await
        .unwrap_or_else(|e| Err(OrderError::Worker(e.to_string())))?;
    Ok((StatusCode::CREATED, Json(Order { order_id })))
}

impl OrderService {
    fn insert(&self, parent: &Context, order: &NewOrder) -> Result<(), OrderError> {
        let span = self
            .tracer
            .start_in(OrderCreate::new(&order.order_id), parent);
        let insert = || {
            let conn = Connection::open(&self.db)?;
            conn.busy_timeout(Duration::from_secs(5))?;
            let query = self.tracer.start_in(
                DbQuery::new(db::SQLITE, "INSERT", "orders").query(INSERT_ORDER),
                span.context(),
            );
            let inserted = conn.execute(
                INSERT_ORDER,
                params![
                    order.order_id,
                    order.cart_id,
                    order.reservation_id,
                    order.charge_id,
                    order.total_minor,
                    order.currency
                ],
            );
            query.record(inserted.map_err(OrderError::from))
        };
        let inserted = insert();
        if inserted.is_ok() {
            let _in = span.enter();
            tracing::info!(
                name: "order.placed",
                {
                    "order.id" = %order.order_id,
                    "order.total_minor" = order.total_minor,
                    "order.currency" = %order.currency,
                },
                "order placed"
            );
        }
        span.record(inserted).map(drop)
    }
}
