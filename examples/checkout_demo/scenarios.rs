//! The scenarios: failures that happen in real shops, one checkout each
//! (the race: several at once).

use std::error::Error;

use checkout_otel::opentelemetry::trace::TraceId;
use checkout_otel::waterfall::WaterfallSpan;
use tokio::task::JoinSet;

use crate::pipeline::Pipeline;
use crate::services::cart::{CartLine, catalogue_price};
use crate::services::gateway::{CheckoutRequest, CheckoutResponse};
use crate::services::psp::cards;

/// Concurrent buyers in the race.
pub const RACE_BUYERS: usize = 8;
/// Units left of the product they race for.
pub const RACE_UNITS: i64 = 3;
/// The product they race for.
pub const RACE_SKU: &str = "sku-kettle-le";

/// The customer of every scenario. Her email and card number reach the
/// services and the payment gateway, never the telemetry.
pub const CUSTOMER_ID: &str = "cus_8412";
pub const CUSTOMER_EMAIL: &str = "jane.doe@example.com";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    HappyPath,
    StalePrice,
    OutOfStock,
    SoftDecline,
    HardDecline,
    GatewayTimeout,
    GatewayError,
    SlowGateway,
    NotificationFailure,
    Race,
}

impl Scenario {
    pub const ALL: [Scenario; 10] = [
        Scenario::HappyPath,
        Scenario::StalePrice,
        Scenario::OutOfStock,
        Scenario::SoftDecline,
        Scenario::HardDecline,
        Scenario::GatewayTimeout,
        Scenario::GatewayError,
        Scenario::SlowGateway,
        Scenario::NotificationFailure,
        Scenario::Race,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scenario::HappyPath => "happy-path",
            Scenario::StalePrice => "stale-price",
            Scenario::OutOfStock => "out-of-stock",
            Scenario::SoftDecline => "soft-decline",
            Scenario::HardDecline => "hard-decline",
            Scenario::GatewayTimeout => "gateway-timeout",
            Scenario::GatewayError => "gateway-error",
            Scenario::SlowGateway => "slow-gateway",
            Scenario::NotificationFailure => "notification-failure",
            Scenario::Race => "race",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            Scenario::HappyPath => "every step succeeds",
            Scenario::StalePrice => "a price changed since the item was added to the cart",
            Scenario::OutOfStock => "one line cannot be reserved; the whole batch rolls back",
            Scenario::SoftDecline => {
                "insufficient funds, retried once, declined again; stock released"
            }
            Scenario::HardDecline => "card reported stolen, not retried; stock released",
            Scenario::GatewayTimeout => "the payment gateway never answers; stock released",
            Scenario::GatewayError => "the payment gateway answers 503, twice; stock released",
            Scenario::SlowGateway => "the payment gateway takes two seconds (the article's story)",
            Scenario::NotificationFailure => "the mail relay is down; the order is placed anyway",
            Scenario::Race => "8 buyers, 3 units left, all at once",
        }
    }

    pub fn from_name(name: &str) -> Option<Scenario> {
        Scenario::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// One checkout and its trace.
#[derive(Debug, Clone)]
pub struct Run {
    pub response: CheckoutResponse,
    pub trace_id: TraceId,
    /// Every span of the trace, from every service.
    pub spans: Vec<WaterfallSpan>,
}

/// What the race ended with.
#[derive(Debug, Clone)]
pub struct RaceSummary {
    pub buyers: usize,
    pub units: i64,
    pub succeeded: usize,
    pub out_of_stock: usize,
    pub stock_left: i64,
    /// Units sold beyond the stock there was. Must be zero.
    pub oversold: i64,
}

#[derive(Debug, Clone)]
pub struct ScenarioResult {
    pub scenario: Scenario,
    pub runs: Vec<Run>,
    pub race: Option<RaceSummary>,
}

type Result<T> = std::result::Result<T, Box<dyn Error + Send + Sync>>;

fn line(sku: &str, quantity: u32) -> CartLine {
    CartLine {
        sku: sku.to_owned(),
        quantity,
        unit_price_minor: catalogue_price(sku).unwrap_or(0),
    }
}

fn usual_cart() -> Vec<CartLine> {
    vec![line("sku-mug", 2), line("sku-beans", 1)]
}

/// Runs one scenario against the running pipeline.
pub async fn run(p: &Pipeline, scenario: Scenario) -> Result<ScenarioResult> {
    let name = scenario.name();
    let runs = match scenario {
        Scenario::HappyPath => vec![checkout(p, name, usual_cart(), cards::OK).await?],
        Scenario::StalePrice => {
            // Added to the cart at 19.99; the catalogue says 24.99 now.
            let mut beans = line("sku-beans", 1);
            beans.unit_price_minor = 1_999;
            let lines = vec![line("sku-grinder", 1), beans];
            vec![checkout(p, name, lines, cards::OK).await?]
        }
        Scenario::OutOfStock => {
            p.storefront.set_stock("sku-grinder", 1).await?;
            let lines = vec![line("sku-mug", 1), line("sku-grinder", 2)];
            let run = checkout(p, name, lines, cards::OK).await;
            p.storefront.set_stock("sku-grinder", 100).await?;
            vec![run?]
        }
        Scenario::SoftDecline => vec![checkout(p, name, usual_cart(), cards::SOFT_DECLINE).await?],
        Scenario::HardDecline => vec![checkout(p, name, usual_cart(), cards::HARD_DECLINE).await?],
        Scenario::GatewayTimeout => vec![checkout(p, name, usual_cart(), cards::TIMEOUT).await?],
        Scenario::GatewayError => {
            vec![checkout(p, name, usual_cart(), cards::SERVER_ERROR).await?]
        }
        Scenario::SlowGateway => {
            p.psp.set_latency(p.config.slow_psp_latency);
            let run = checkout(p, name, usual_cart(), cards::OK).await;
            p.psp.reset();
            vec![run?]
        }
        Scenario::NotificationFailure => {
            p.relay.set_down(true);
            let run = checkout(p, name, usual_cart(), cards::OK).await;
            p.relay.set_down(false);
            vec![run?]
        }
        Scenario::Race => return race(p).await,
    };
    Ok(ScenarioResult {
        scenario,
        runs,
        race: None,
    })
}

/// Fills a cart, checks it out, waits for the trace to be complete.
async fn checkout(p: &Pipeline, cart_id: &str, lines: Vec<CartLine>, card: &str) -> Result<Run> {
    let response = submit(p, cart_id, lines, card).await?;
    p.settle().await;
    collect(p, response)
}

async fn submit(
    p: &Pipeline,
    cart_id: &str,
    lines: Vec<CartLine>,
    card: &str,
) -> Result<CheckoutResponse> {
    let item_count = lines.iter().map(|l| l.quantity as usize).sum();
    p.storefront.put_cart(cart_id, lines).await?;
    let request = CheckoutRequest {
        cart_id: cart_id.to_owned(),
        item_count,
        customer_id: CUSTOMER_ID.to_owned(),
        email: CUSTOMER_EMAIL.to_owned(),
        card_number: card.to_owned(),
    };
    Ok(p.storefront.checkout(&request).await?)
}

fn collect(p: &Pipeline, response: CheckoutResponse) -> Result<Run> {
    let trace_id = TraceId::from_hex(&response.trace_id)?;
    let spans = p.collector.take_trace(trace_id);
    Ok(Run {
        response,
        trace_id,
        spans,
    })
}

/// `RACE_BUYERS` checkouts at once for the last `RACE_UNITS` units.
async fn race(p: &Pipeline) -> Result<ScenarioResult> {
    p.storefront.set_stock(RACE_SKU, RACE_UNITS).await?;
    let before = p.storefront.stock(RACE_SKU).await?;
    let mut buyers = JoinSet::new();
    for i in 1..=RACE_BUYERS {
        let storefront = p.storefront.clone();
        let cart_id = format!("race-{i}");
        let lines = vec![line(RACE_SKU, 1)];
        storefront.put_cart(&cart_id, lines.clone()).await?;
        buyers.spawn(async move {
            let request = CheckoutRequest {
                cart_id,
                item_count: 1,
                customer_id: format!("cus_race_{i}"),
                email: format!("buyer{i}@example.com"),
                card_number: cards::OK.to_owned(),
            };
            storefront.checkout(&request).await
        });
    }
    let mut responses = Vec::new();
    while let Some(joined) = buyers.join_next().await {
        responses.push(joined??);
    }
    p.settle().await;
    let runs = responses
        .into_iter()
        .map(|r| collect(p, r))
        .collect::<Result<Vec<_>>>()?;

    let after = p.storefront.stock(RACE_SKU).await?;
    let succeeded = runs
        .iter()
        .filter(|r| r.response.status == "success")
        .count();
    let out_of_stock = runs
        .iter()
        .filter(|r| r.response.error_type.as_deref() == Some("insufficient_stock"))
        .count();
    let summary = RaceSummary {
        buyers: RACE_BUYERS,
        units: before.available,
        succeeded,
        out_of_stock,
        stock_left: after.available,
        oversold: (succeeded as i64 - before.available).max(0),
    };
    Ok(ScenarioResult {
        scenario: Scenario::Race,
        runs,
        race: Some(summary),
    })
}
