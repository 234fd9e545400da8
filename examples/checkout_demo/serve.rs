//! `--serve`: the shop stays up and the gateway's `POST /checkout` answers
//! on a loopback address until Ctrl-C or SIGTERM: for curl, and for load
//! generators (`tools/load_run.sh`).

use std::time::Instant;

use crate::cli::ServeOptions;
use crate::pipeline::{Pipeline, PipelineConfig};
use crate::scenarios::{CUSTOMER_EMAIL, CUSTOMER_ID};
use crate::services::cart::{CATALOGUE, CartLine};
use crate::services::psp::cards;

/// Carts ready to check out: `cart-0000` .. `cart-0999`. A cart is not
/// emptied by a checkout, so any of them can be checked out again and again.
pub const CARTS: usize = 1_000;
/// Units of every product in stock: a load run at thousands of checkouts per
/// second for hours does not sell out.
pub const STOCK_PER_PRODUCT: i64 = 1_000_000_000_000;

/// Starts the shop with the gateway on `options.addr`, fills its carts and
/// stock, serves until SIGINT or SIGTERM, then shuts every service's
/// telemetry down (each within its bound) and says how long that took.
pub async fn run(options: &ServeOptions) -> Result<(), Box<dyn std::error::Error>> {
    let mut config = PipelineConfig {
        gateway_addr: Some(options.addr),
        waterfalls: false,
        ..PipelineConfig::default()
    };
    if let Some(latency) = options.psp_latency {
        config.psp_latency = latency;
    }
    let pipeline = Pipeline::start(config).await?;
    stock_the_shop(&pipeline).await?;

    let url = &pipeline.gateway_url;
    let body = format!(
        r#"{{"cart_id":"cart-0001","item_count":{},"customer_id":"{CUSTOMER_ID}","email":"{CUSTOMER_EMAIL}","card_number":"{}"}}"#,
        cart_lines(1).iter().map(|l| l.quantity).sum::<u32>(),
        cards::OK,
    );
    crate::show(&format!(
        "serving POST /checkout on {url}\n\
         carts cart-0000 .. cart-{:04} ({} products, {STOCK_PER_PRODUCT} units each); \
         the payment gateway answers in {} ms\n\
         telemetry: {}\n\
         try:\n  curl -sS -X POST {url}/checkout -H 'content-type: application/json' -d '{body}'\n\
         Ctrl-C (or SIGTERM) stops it.\n",
        CARTS - 1,
        CATALOGUE.len(),
        pipeline.config.psp_latency.as_millis(),
        telemetry_destination(),
    ));

    shutdown_signal().await?;
    crate::show("stopping: flushing and shutting down telemetry\n");
    let started = Instant::now();
    let metrics = pipeline.gateway_metrics();
    pipeline.shutdown().await;
    crate::show(&format!(
        "{}telemetry shut down in {} ms\n",
        crate::report::metrics(metrics.as_ref()),
        started.elapsed().as_millis()
    ));
    Ok(())
}

/// Every product in stock, and every cart filled at today's prices.
async fn stock_the_shop(pipeline: &Pipeline) -> Result<(), Box<dyn std::error::Error>> {
    let shop = &pipeline.storefront;
    for (sku, _) in CATALOGUE {
        shop.set_stock(sku, STOCK_PER_PRODUCT).await?;
    }
    for cart in 0..CARTS {
        shop.put_cart(&format!("cart-{cart:04}"), cart_lines(cart))
            .await?;
    }
    Ok(())
}

/// Cart `n`: one to three different products, one to three of each.
fn cart_lines(n: usize) -> Vec<CartLine> {
    (0..1 + n % 3)
        .map(|line| {
            let (sku, price) = CATALOGUE[(n * 7 + line * 5) % CATALOGUE.len()];
            CartLine {
                sku: sku.to_owned(),
                quantity: u32::try_from(1 + (n + line) % 3).unwrap_or(1),
                unit_price_minor: price,
            }
        })
        .collect()
}

/// Where the spans go, as the `OTEL_*` variables configure it.
fn telemetry_destination() -> String {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    if var("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        return "off (OTEL_SDK_DISABLED=true)".to_owned();
    }
    match var("OTEL_EXPORTER_OTLP_ENDPOINT").or_else(|| var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")) {
        Some(endpoint) => format!("exporting over OTLP to {endpoint}"),
        None => "recorded, not exported (set OTEL_EXPORTER_OTLP_ENDPOINT to export)".to_owned(),
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM (`kill`, a container stopping).
async fn shutdown_signal() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result,
            _ = term.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c().await
}
