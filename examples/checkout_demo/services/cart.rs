//! The cart service: holds carts, and validates one for checkout
//! (`cart.validate` > `cart.fetch_contents`, `cart.verify_prices`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{post, put};
use axum::{Json, Router};
use checkout_otel::attributes::{ErrorType, FailureKind};
use checkout_otel::pii::{Currency, Money};
use checkout_otel::spans::{
    CartFetchContents, CartValidate, CartVerifyPrices, CartVerifyPricesSpan, CheckoutTracer,
    ClassifyError,
};
use serde::{Deserialize, Serialize};

use checkout_otel::http_server::OtelServerLayer;

use crate::net::{ErrorBody, TraceParent};

/// One line of a cart: the price is the one the customer saw when adding it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CartLine {
    pub sku: String,
    pub quantity: u32,
    pub unit_price_minor: i64,
}

/// A cart as the storefront stores it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cart {
    pub lines: Vec<CartLine>,
}

/// A cart that passed validation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ValidatedCart {
    pub lines: Vec<CartLine>,
    pub total_minor: i64,
    pub currency: String,
}

/// The catalogue: current prices in USD cents.
pub const CATALOGUE: &[(&str, i64)] = &[
    ("sku-mug", 1_250),
    ("sku-beans", 2_499),
    ("sku-grinder", 8_900),
    ("sku-kettle-le", 14_900),
    // The rest of the shop, for `--serve`'s carts.
    ("sku-filters", 599),
    ("sku-scale", 3_990),
    ("sku-dripper", 2_750),
    ("sku-carafe", 3_200),
    ("sku-tamper", 4_500),
    ("sku-milk-jug", 1_890),
    ("sku-espresso", 1_699),
    ("sku-decaf", 1_599),
    ("sku-tea-sencha", 1_150),
    ("sku-tea-assam", 990),
    ("sku-cups-set", 2_400),
    ("sku-descaler", 899),
];

pub fn catalogue_price(sku: &str) -> Option<i64> {
    CATALOGUE.iter().find(|(s, _)| *s == sku).map(|(_, p)| *p)
}

#[derive(Debug, thiserror::Error)]
pub enum CartError {
    #[error("cart not found")]
    NotFound,
    #[error("cart is empty")]
    Empty,
    #[error("unknown product {0}")]
    UnknownProduct(String),
    #[error("{0} price(s) changed since the items were added to the cart")]
    StalePrices(u64),
}

impl ClassifyError for CartError {
    fn error_type(&self) -> ErrorType {
        match self {
            CartError::StalePrices(_) => ErrorType::PRICE_MISMATCH,
            _ => ErrorType::INVALID_CART,
        }
    }
    fn failure_kind(&self) -> FailureKind {
        FailureKind::Rejection
    }
}

impl IntoResponse for CartError {
    fn into_response(self) -> Response {
        let status = match self {
            CartError::NotFound => StatusCode::NOT_FOUND,
            CartError::StalePrices(_) => StatusCode::CONFLICT,
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        };
        ErrorBody::new(self.error_type(), self.to_string()).into_response(status)
    }
}

struct CartService {
    tracer: CheckoutTracer,
    carts: Mutex<HashMap<String, Cart>>,
}

pub fn router(tracer: CheckoutTracer) -> Router {
    let state = Arc::new(CartService {
        tracer,
        carts: Mutex::new(HashMap::new()),
    });
    // Only the checkout's route is traced: saving a cart is not part of one.
    Router::new()
        .route("/carts/{id}/validate", post(validate))
        .layer(OtelServerLayer::new(&state.tracer))
        .route("/carts/{id}", put(put_cart))
        .with_state(state)
}

/// The storefront saving a cart (not part of a checkout, so not traced).
async fn put_cart(
    State(svc): State<Arc<CartService>>,
    Path(id): Path<String>,
    Json(cart): Json<Cart>,
) -> Json<serde_json::Value> {
    svc.carts.lock().unwrap().insert(id, cart);
    Json(serde_json::json!({}))
}

async fn validate(
    State(svc): State<Arc<CartService>>,
    Path(id): Path<String>,
    TraceParent(parent): TraceParent,
) -> Result<Json<ValidatedCart>, CartError> {
    let tracer = &svc.tracer;
    let validate = tracer.start_in(CartValidate::new(&id), &parent);
    let result = async {
        let fetch = tracer.start_in(CartFetchContents::new(&id), validate.context());
        let loaded = svc.load(&id).await;
        if let Ok(cart) = &loaded {
            fetch.item_count(cart.lines.len());
        }
        let cart = fetch.record(loaded)?;

        let verify = tracer.start_in(CartVerifyPrices::new(cart.lines.len()), validate.context());
        let checked = check_prices(&verify, &cart).await;
        let total_minor = verify.record(checked)?;
        {
            let _in = validate.enter();
            tracing::info!(
                name: "cart.validated",
                {
                    "cart.id" = %id,
                    "cart.item_count" = cart.lines.len(),
                    total_minor,
                },
                "cart validated"
            );
        }
        Ok(ValidatedCart {
            lines: cart.lines,
            total_minor,
            currency: Currency::USD.code().to_owned(),
        })
    }
    .await;
    validate.record(result).map(Json)
}

impl CartService {
    async fn load(&self, id: &str) -> Result<Cart, CartError> {
        tokio::time::sleep(Duration::from_millis(4)).await; // a cache round trip
        let cart = self.carts.lock().unwrap().get(id).cloned();
        match cart {
            None => Err(CartError::NotFound),
            Some(cart) if cart.lines.is_empty() => Err(CartError::Empty),
            Some(cart) => Ok(cart),
        }
    }
}

/// Compares every line with the catalogue; returns the total in cents.
async fn check_prices(verify: &CartVerifyPricesSpan, cart: &Cart) -> Result<i64, CartError> {
    tokio::time::sleep(Duration::from_millis(3)).await; // a catalogue lookup
    let mut total = 0;
    for line in &cart.lines {
        let current = catalogue_price(&line.sku)
            .ok_or_else(|| CartError::UnknownProduct(line.sku.clone()))?;
        if current != line.unit_price_minor {
            {
                let _in = verify.enter();
                tracing::warn!(
                    name: "cart.price_mismatch",
                    {
                        sku = %line.sku,
                        seen_minor = line.unit_price_minor,
                        current_minor = current,
                    },
                    "price changed since the item was added to the cart"
                );
            }
            verify.price_mismatch(
                &line.sku,
                Money::from_minor(line.unit_price_minor, Currency::USD),
                Money::from_minor(current, Currency::USD),
            );
        }
        total += current * i64::from(line.quantity);
    }
    match verify.stale_prices() {
        0 => Ok(total),
        stale => Err(CartError::StalePrices(stale)),
    }
}
