//! The inventory service: stock in SQLite, reserved atomically.
//!
//! A reservation decrements stock with a conditional `UPDATE` inside one
//! `BEGIN IMMEDIATE` transaction per cart, so two buyers can never both take
//! the last unit, and a cart either gets every line or none. Reservation rows
//! carry an expiry; a sweeper returns expired ones to stock, and the gateway
//! releases a reservation at once when the payment fails.

use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use checkout_otel::attributes::{ErrorType, FailureKind};
use checkout_otel::opentelemetry::Context;
use checkout_otel::spans::{
    CheckoutTracer, ClassifyError, DbQuery, InventoryRelease, InventoryReserveBatch,
    InventoryReserveItem, db,
};
use rusqlite::{Connection, TransactionBehavior, params};
use serde::{Deserialize, Serialize};

use checkout_otel::http_server::OtelServerLayer;

use crate::net::{ErrorBody, TraceParent};

/// How long a reservation holds stock if nobody releases it.
const RESERVATION_TTL: Duration = Duration::from_secs(15 * 60);

const SCHEMA: &str = "
    PRAGMA journal_mode = WAL;
    CREATE TABLE stock (
        sku       TEXT PRIMARY KEY,
        available INTEGER NOT NULL CHECK (available >= 0)
    );
    CREATE TABLE reservations (
        id         TEXT PRIMARY KEY,
        batch_id   TEXT NOT NULL,
        sku        TEXT NOT NULL REFERENCES stock (sku),
        quantity   INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        status     TEXT NOT NULL DEFAULT 'active'
    );
    CREATE INDEX reservations_batch ON reservations (batch_id);";

// Check and decrement in one statement: no row changes when stock is short.
const TAKE_STOCK: &str =
    "UPDATE stock SET available = available - ?1 WHERE sku = ?2 AND available >= ?1";
const READ_STOCK: &str = "SELECT available FROM stock WHERE sku = ?1";
const INSERT_RESERVATION: &str = "INSERT INTO reservations (id, batch_id, sku, quantity, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)";
const RETURN_STOCK: &str = "UPDATE stock SET available = available + (SELECT COALESCE(SUM(r.quantity), 0) FROM reservations r WHERE r.batch_id = ?1 AND r.sku = stock.sku AND r.status = 'active') WHERE sku IN (SELECT sku FROM reservations WHERE batch_id = ?1 AND status = 'active')";
const MARK_RELEASED: &str =
    "UPDATE reservations SET status = 'released' WHERE batch_id = ?1 AND status = 'active'";
const EXPIRED_BATCHES: &str =
    "SELECT DISTINCT batch_id FROM reservations WHERE status = 'active' AND expires_at <= ?1";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReserveLine {
    pub sku: String,
    pub quantity: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReserveRequest {
    pub lines: Vec<ReserveLine>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Reservation {
    pub reservation_id: String,
    pub items: usize,
    pub expires_at: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReleaseRequest {}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Released {
    pub released: usize,
}

/// Stock level and units held by active reservations (admin view).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StockLevel {
    pub available: i64,
    pub reserved: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    #[error("insufficient stock of {sku}: {available} available, {requested} requested")]
    InsufficientStock {
        sku: String,
        available: u64,
        requested: u32,
    },
    #[error("database error: {0}")]
    Database(#[from] rusqlite::Error),
    #[error("inventory worker failed: {0}")]
    Worker(String),
}

impl ClassifyError for InventoryError {
    fn error_type(&self) -> ErrorType {
        match self {
            InventoryError::InsufficientStock { .. } => ErrorType::INSUFFICIENT_STOCK,
            InventoryError::Database(_) => ErrorType::DATABASE,
            InventoryError::Worker(_) => ErrorType::OTHER,
        }
    }
    fn failure_kind(&self) -> FailureKind {
        match self {
            InventoryError::InsufficientStock { .. } => FailureKind::Rejection,
            _ => FailureKind::Fault,
        }
    }
}

impl IntoResponse for InventoryError {
    fn into_response(self) -> Response {
        let mut body = ErrorBody::new(self.error_type(), self.to_string());
        let status = match self {
            InventoryError::InsufficientStock { sku, available, .. } => {
                body.sku = Some(sku);
                body.available = Some(available);
                StatusCode::CONFLICT
            }
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        body.into_response(status)
    }
}

/// The inventory database: a SQLite file, one connection per request (SQLite
/// serialises writers itself; `busy_timeout` makes them wait their turn).
#[derive(Debug, Clone)]
pub struct Inventory {
    path: PathBuf,
    next_batch: Arc<AtomicU64>,
}

impl Inventory {
    /// Creates the database at `path` with `stock` as the starting levels.
    pub fn create(path: &FsPath, stock: &[(&str, i64)]) -> rusqlite::Result<Self> {
        let conn = Connection::open(path)?;
        conn.execute_batch(SCHEMA)?;
        for (sku, available) in stock {
            conn.execute(
                "INSERT INTO stock (sku, available) VALUES (?1, ?2)",
                params![sku, available],
            )?;
        }
        Ok(Inventory {
            path: path.to_owned(),
            next_batch: Arc::new(AtomicU64::new(1)),
        })
    }

    fn open(&self) -> rusqlite::Result<Connection> {
        let conn = Connection::open(&self.path)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        Ok(conn)
    }

    /// Reserves every line or none (`inventory.reserve_batch`, one
    /// `inventory.reserve_item` per line, a database span per statement).
    fn reserve(
        &self,
        tracer: &CheckoutTracer,
        parent: &Context,
        lines: &[ReserveLine],
    ) -> Result<Reservation, InventoryError> {
        let batch = tracer.start_in(InventoryReserveBatch::new(lines.len()), parent);
        let batch_id = format!("rsv-{:04}", self.next_batch.fetch_add(1, Ordering::Relaxed));
        let result = self.reserve_lines(tracer, batch.context(), &batch_id, lines);
        match &result {
            Ok(r) => {
                {
                    let _in = batch.enter();
                    tracing::info!(
                        name: "inventory.reserved",
                        {
                            "reservation.id" = %r.reservation_id,
                            items = r.items,
                        },
                        "stock reserved"
                    );
                }
                batch.reserved(&r.reservation_id, r.items)
            }
            Err(e) => batch.fail(e),
        }
        result
    }

    fn reserve_lines(
        &self,
        tracer: &CheckoutTracer,
        batch: &Context,
        batch_id: &str,
        lines: &[ReserveLine],
    ) -> Result<Reservation, InventoryError> {
        let expires_at = unix_seconds(SystemTime::now() + RESERVATION_TTL);
        let mut conn = self.open()?;
        // IMMEDIATE takes the write lock up front: concurrent checkouts queue
        // here instead of failing with SQLITE_BUSY when upgrading a read lock.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for (i, line) in lines.iter().enumerate() {
            let item = tracer.start_in(InventoryReserveItem::new(&line.sku, line.quantity), batch);
            let taken = sql(tracer, item.context(), "UPDATE", "stock", TAKE_STOCK, |q| {
                tx.execute(q, params![line.quantity, line.sku])
            })?;
            if taken == 0 {
                let available = sql(tracer, item.context(), "SELECT", "stock", READ_STOCK, |q| {
                    tx.query_row(q, [&line.sku], |row| row.get::<_, i64>(0))
                })?;
                let available = u64::try_from(available).unwrap_or(0);
                {
                    let _in = item.enter();
                    tracing::warn!(
                        name: "inventory.stock_short",
                        {
                            sku = %line.sku,
                            requested = line.quantity,
                            available,
                        },
                        "insufficient stock"
                    );
                }
                item.insufficient_stock(available);
                // Dropping `tx` rolls back the lines reserved so far.
                return Err(InventoryError::InsufficientStock {
                    sku: line.sku.clone(),
                    available,
                    requested: line.quantity,
                });
            }
            let id = format!("{batch_id}-{}", i + 1);
            sql(
                tracer,
                item.context(),
                "INSERT",
                "reservations",
                INSERT_RESERVATION,
                |q| {
                    tx.execute(
                        q,
                        params![id, batch_id, line.sku, line.quantity, expires_at],
                    )
                },
            )?;
            item.reserved(&id);
        }
        tx.commit()?;
        Ok(Reservation {
            reservation_id: batch_id.to_owned(),
            items: lines.len(),
            expires_at,
        })
    }

    /// Returns a reservation's units to stock (`inventory.release`).
    /// Releasing twice is harmless: only active rows are returned.
    fn release(
        &self,
        tracer: &CheckoutTracer,
        parent: &Context,
        batch_id: &str,
    ) -> Result<usize, InventoryError> {
        let span = tracer.start_in(InventoryRelease::new(batch_id), parent);
        let release = || {
            let mut conn = self.open()?;
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            sql(
                tracer,
                span.context(),
                "UPDATE",
                "stock",
                RETURN_STOCK,
                |q| tx.execute(q, [batch_id]),
            )?;
            let released = sql(
                tracer,
                span.context(),
                "UPDATE",
                "reservations",
                MARK_RELEASED,
                |q| tx.execute(q, [batch_id]),
            )?;
            tx.commit()?;
            {
                let _in = span.enter();
                tracing::info!(
                    name: "inventory.released",
                    {
                        "reservation.id" = batch_id,
                        items = released,
                    },
                    "reservation released, stock returned"
                );
            }
            span.released(released);
            Ok(released)
        };
        let released = release();
        span.record(released)
    }

    /// Releases every expired reservation. A maintenance job, outside any
    /// checkout, so its statements are not traced.
    fn release_expired(&self) -> Result<usize, InventoryError> {
        let mut conn = self.open()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let now = unix_seconds(SystemTime::now());
        let batches: Vec<String> = tx
            .prepare(EXPIRED_BATCHES)?
            .query_map([now], |row| row.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let mut released = 0;
        for batch in &batches {
            tx.execute(RETURN_STOCK, [batch])?;
            released += tx.execute(MARK_RELEASED, [batch])?;
        }
        tx.commit()?;
        Ok(released)
    }

    fn stock_level(&self, sku: &str) -> Result<StockLevel, InventoryError> {
        let conn = self.open()?;
        let available = conn.query_row(READ_STOCK, [sku], |row| row.get(0))?;
        let reserved = conn.query_row(
            "SELECT COALESCE(SUM(quantity), 0) FROM reservations WHERE sku = ?1 AND status = 'active'",
            [sku],
            |row| row.get(0),
        )?;
        Ok(StockLevel {
            available,
            reserved,
        })
    }

    fn set_stock(&self, sku: &str, available: i64) -> Result<(), InventoryError> {
        self.open()?.execute(
            "INSERT INTO stock (sku, available) VALUES (?1, ?2)
             ON CONFLICT (sku) DO UPDATE SET available = excluded.available",
            params![sku, available],
        )?;
        Ok(())
    }
}

/// Runs one statement inside a database client span (`UPDATE stock`, ...)
/// whose `db.query.text` is the parameterised statement itself.
fn sql<T>(
    tracer: &CheckoutTracer,
    parent: &Context,
    operation: &'static str,
    table: &'static str,
    query: &'static str,
    run: impl FnOnce(&'static str) -> rusqlite::Result<T>,
) -> Result<T, InventoryError> {
    let span = tracer.start_in(
        DbQuery::new(db::SQLITE, operation, table).query(query),
        parent,
    );
    span.record(run(query).map_err(InventoryError::from))
}

fn unix_seconds(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[derive(Clone)]
struct InventoryService {
    tracer: CheckoutTracer,
    db: Inventory,
}

pub fn router(tracer: CheckoutTracer, db: Inventory) -> Router {
    // Stock lookups and restocking are not part of a checkout: not traced.
    Router::new()
        .route("/reservations", post(reserve))
        .route("/reservations/{id}/release", post(release))
        .layer(OtelServerLayer::new(&tracer))
        .route("/stock/{sku}", get(stock_level).put(set_stock))
        .with_state(InventoryService { tracer, db })
}

/// Every `period`, returns expired reservations to stock.
pub async fn sweep_expired(db: Inventory, period: Duration) {
    let mut tick = tokio::time::interval(period);
    loop {
        tick.tick().await;
        let db = db.clone();
        if let Ok(Err(e)) = tokio::task::spawn_blocking(move || db.release_expired()).await {
            eprintln!("inventory: releasing expired reservations failed: {e}");
        }
    }
}

/// SQLite calls block: run them on the blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, InventoryError> + Send + 'static,
) -> Result<T, InventoryError> {
    crate::net::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(InventoryError::Worker(e.to_string())))
}

async fn reserve(
    State(svc): State<InventoryService>,
    TraceParent(parent): TraceParent,
    Json(req): Json<ReserveRequest>,
) -> Result<(StatusCode, Json<Reservation>), InventoryError> {
    let reservation = blocking(move || svc.db.reserve(&svc.tracer, &parent, &req.lines)).await?;
    Ok((StatusCode::CREATED, Json(reservation)))
}

async fn release(
    State(svc): State<InventoryService>,
    Path(id): Path<String>,
    TraceParent(parent): TraceParent,
    Json(ReleaseRequest {}): Json<ReleaseRequest>,
) -> Result<Json<Released>, InventoryError> {
    let released = blocking(move || svc.db.release(&svc.tracer, &parent, &id)).await?;
    Ok(Json(Released { released }))
}

async fn stock_level(
    State(svc): State<InventoryService>,
    Path(sku): Path<String>,
) -> Result<Json<StockLevel>, InventoryError> {
    Ok(Json(blocking(move || svc.db.stock_level(&sku)).await?))
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SetStock {
    pub available: i64,
}

async fn set_stock(
    State(svc): State<InventoryService>,
    Path(sku): Path<String>,
    Json(req): Json<SetStock>,
) -> Result<Json<serde_json::Value>, InventoryError> {
    blocking(move || svc.db.set_stock(&sku, req.available)).await?;
    Ok(Json(serde_json::json!({})))
}
