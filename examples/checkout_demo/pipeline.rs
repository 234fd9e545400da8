//! Starts the whole shop in one process: every service on its own loopback
//! port (HTTP, and gRPC for the payment service) with its own telemetry
//! (`service.name`), all exporting into one
//! shared [`SpanCollector`] (for the waterfalls) and, when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set, over OTLP too: traces, metrics and
//! the services' log lines.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use checkout_otel::init::Exporter;
use checkout_otel::opentelemetry_sdk::metrics::data::ResourceMetrics;
use checkout_otel::opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader};
use checkout_otel::opentelemetry_sdk::trace::{InMemorySpanExporter, SimpleSpanProcessor};
use checkout_otel::pii::RedactingExporter;
use checkout_otel::waterfall::SpanCollector;
use checkout_otel::{CheckoutTracer, Telemetry, TelemetryGuard};
use tokio::task::JoinHandle;
use tracing::Dispatch;
use tracing_subscriber::layer::SubscriberExt as _;

use crate::grpc;
use crate::net::{CallError, ServiceClient, serve, serve_at, with_logs};
use crate::services::cart::{Cart, CartLine};
use crate::services::gateway::{CheckoutRequest, CheckoutResponse, Downstream, Gateway};
use crate::services::inventory::{Inventory, SetStock, StockLevel};
use crate::services::notification::RelayControl;
use crate::services::payment_grpc::PaymentClient;
use crate::services::psp::PspControl;
use crate::services::{cart, gateway, inventory, notification, order, payment, payment_grpc, psp};

/// Starting stock of every product.
pub const INITIAL_STOCK: &[(&str, i64)] = &[
    ("sku-mug", 100),
    ("sku-beans", 100),
    ("sku-grinder", 100),
    ("sku-kettle-le", 3),
];

/// How the shop runs: the timings of the simulated world, and where its
/// telemetry goes besides the waterfalls.
#[derive(Debug, Clone)]
pub struct PipelineConfig {
    /// How long the external payment gateway takes normally.
    pub psp_latency: Duration,
    /// How long it takes in the slow-gateway scenario.
    pub slow_psp_latency: Duration,
    /// How long the payment service waits for the gateway.
    pub psp_timeout: Duration,
    /// Every service's spans also go here, with their full data (for tests).
    pub span_capture: Option<InMemorySpanExporter>,
    /// The OTLP collector to export to; `None` leaves it to the
    /// `OTEL_EXPORTER_OTLP_*` environment variables (no export when unset).
    pub otlp_endpoint: Option<String>,
    /// Where the gateway listens; `None`: a free port on 127.0.0.1.
    pub gateway_addr: Option<SocketAddr>,
    /// Keep a copy of every span for the waterfalls. Off for `--serve`,
    /// where nobody draws them and the copies would pile up.
    pub waterfalls: bool,
}

impl Default for PipelineConfig {
    /// The demo's timings: the article's slow gateway, scaled to about two
    /// seconds.
    fn default() -> Self {
        PipelineConfig {
            psp_latency: Duration::from_millis(120),
            slow_psp_latency: Duration::from_millis(1_900),
            psp_timeout: Duration::from_millis(2_500),
            span_capture: None,
            otlp_endpoint: None,
            gateway_addr: None,
            waterfalls: true,
        }
    }
}

impl PipelineConfig {
    /// Timings scaled down for tests; the same shape, ten times faster.
    #[allow(dead_code)] // used by tests/checkout_demo.rs
    pub fn fast() -> Self {
        PipelineConfig {
            psp_latency: Duration::from_millis(10),
            slow_psp_latency: Duration::from_millis(190),
            psp_timeout: Duration::from_millis(250),
            span_capture: None,
            otlp_endpoint: None,
            gateway_addr: None,
            waterfalls: true,
        }
    }
}

/// The running shop.
pub struct Pipeline {
    pub config: PipelineConfig,
    /// Every span of every service, for the waterfalls.
    pub collector: SpanCollector,
    /// What the storefront talks to.
    pub storefront: Storefront,
    pub psp: PspControl,
    pub relay: RelayControl,
    /// The gateway's base URL (`http://127.0.0.1:PORT`).
    pub gateway_url: String,
    gateway: std::sync::Arc<Gateway>,
    gateway_telemetry: TelemetryGuard,
    gateway_metrics: MetricsTap,
    /// The other services' telemetry.
    telemetry: Vec<TelemetryGuard>,
    tasks: Vec<JoinHandle<()>>,
    _data: tempfile::TempDir,
}

impl Pipeline {
    /// Starts every service on 127.0.0.1 with a free port.
    pub async fn start(config: PipelineConfig) -> Result<Pipeline, Box<dyn std::error::Error>> {
        let collector = SpanCollector::new();
        let data = tempfile::tempdir()?;
        let mut telemetry = Vec::new();
        let mut tasks = Vec::new();
        let mut start = |name: &'static str| {
            let t = service_telemetry(name, &config, &collector, None)?;
            let service = Service::of(&t);
            telemetry.push(t);
            Ok::<_, checkout_otel::ConfigError>(service)
        };

        // On the timeout card the gateway hangs well past the payment
        // service's patience.
        let psp = PspControl::new(config.psp_latency, config.psp_timeout * 4);
        let (psp_url, task) = serve(psp::router(psp.clone())).await?;
        tasks.push(task);

        let svc = start("cart")?;
        let (cart_url, task) = serve(with_logs(cart::router(svc.tracer), svc.logs)).await?;
        tasks.push(task);

        let stock = Inventory::create(&data.path().join("inventory.db"), INITIAL_STOCK)?;
        tasks.push(tokio::spawn(inventory::sweep_expired(
            stock.clone(),
            Duration::from_secs(1),
        )));
        let svc = start("inventory")?;
        let inventory_router = with_logs(inventory::router(svc.tracer, stock), svc.logs);
        let (inventory_url, task) = serve(inventory_router).await?;
        tasks.push(task);

        let svc = start("payment")?;
        let payments = payment::server(svc.tracer.clone(), psp_url, config.psp_timeout);
        let (payment_url, task) =
            grpc::serve(payments, payment_grpc::METHODS, &svc.tracer, svc.logs).await?;
        tasks.push(task);

        let orders_db = order::create_db(&data.path().join("orders.db"))?;
        let svc = start("order")?;
        let (order_url, task) =
            serve(with_logs(order::router(svc.tracer, orders_db), svc.logs)).await?;
        tasks.push(task);

        let relay = RelayControl::default();
        let svc = start("notification")?;
        let notification_router = notification::router(svc.tracer, relay.clone());
        let (notification_url, task) = serve(with_logs(notification_router, svc.logs)).await?;
        tasks.push(task);

        // The gateway waits for the payment service, which may wait for the
        // external gateway twice (a retry) before giving up.
        let timeout = config.psp_timeout * 3;
        let gateway_metrics = MetricsTap::default();
        let gateway_telemetry =
            service_telemetry("gateway", &config, &collector, Some(&gateway_metrics))?;
        let Service { tracer, logs } = Service::of(&gateway_telemetry);
        let client = |url: &str| ServiceClient::traced(url, timeout, tracer.clone());
        let downstream = Downstream {
            cart: client(&cart_url),
            inventory: client(&inventory_url),
            payment: PaymentClient::new(grpc::channel(&payment_url, timeout, &tracer)?),
            orders: client(&order_url),
            notifications: client(&notification_url),
        };
        let gateway = Gateway::new(tracer.clone(), downstream);
        let gateway_addr = config
            .gateway_addr
            .unwrap_or(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)));
        let (gateway_url, task) = serve_at(
            gateway_addr,
            with_logs(gateway::router(gateway.clone()), logs),
        )
        .await?;
        tasks.push(task);

        let storefront = Storefront {
            gateway: ServiceClient::new(&gateway_url, timeout),
            cart: ServiceClient::new(cart_url, timeout),
            inventory: ServiceClient::new(inventory_url, timeout),
        };
        Ok(Pipeline {
            config,
            collector,
            storefront,
            psp,
            relay,
            gateway_url,
            gateway,
            gateway_telemetry,
            gateway_metrics,
            telemetry,
            tasks,
            _data: data,
        })
    }

    /// Waits until fire-and-forget work (notifications) is done, so that
    /// every span of the checkouts so far has been exported.
    pub async fn settle(&self) {
        self.gateway.background_idle().await;
    }

    /// The gateway's metrics as they are now (cumulative).
    pub fn gateway_metrics(&self) -> Option<ResourceMetrics> {
        self.gateway_metrics.collect(&self.gateway_telemetry)
    }

    /// Stops the services, then flushes and shuts down every service's
    /// telemetry (in parallel, each within its own bound).
    pub async fn shutdown(self) {
        for task in &self.tasks {
            task.abort();
        }
        let shutdowns: Vec<_> = std::iter::once(self.gateway_telemetry)
            .chain(self.telemetry)
            .map(|t| tokio::task::spawn_blocking(move || t.shutdown()))
            .collect();
        for s in shutdowns {
            if let Ok(Err(e)) = s.await {
                eprintln!("warning: {e}");
            }
        }
    }
}

/// The storefront's view of the shop: fill carts, restock, check out.
#[derive(Debug, Clone)]
pub struct Storefront {
    gateway: ServiceClient,
    cart: ServiceClient,
    inventory: ServiceClient,
}

impl Storefront {
    pub async fn put_cart(&self, cart_id: &str, lines: Vec<CartLine>) -> Result<(), CallError> {
        self.cart
            .put(&format!("/carts/{cart_id}"), &Cart { lines })
            .await
    }

    pub async fn set_stock(&self, sku: &str, available: i64) -> Result<(), CallError> {
        self.inventory
            .put(&format!("/stock/{sku}"), &SetStock { available })
            .await
    }

    pub async fn stock(&self, sku: &str) -> Result<StockLevel, CallError> {
        self.inventory.get(&format!("/stock/{sku}")).await
    }

    /// Checks out; the answer carries the outcome whatever the HTTP status.
    pub async fn checkout(&self, req: &CheckoutRequest) -> Result<CheckoutResponse, CallError> {
        let (_status, response) = self.gateway.post_for_outcome("/checkout", req).await?;
        Ok(response)
    }
}

// ---------------------------------------------------------------------------
// Telemetry of one service
// ---------------------------------------------------------------------------

/// What a service's code gets from its telemetry: the tracer for its spans
/// and the `tracing` subscriber for its log lines.
struct Service {
    tracer: CheckoutTracer,
    logs: Dispatch,
}

impl Service {
    /// The service's tracer, and a subscriber with only its logs layer:
    /// `tracing` events become the service's OpenTelemetry log records
    /// (redacted, exported with its traces), and nothing is printed, so the
    /// terminal shows the waterfalls alone.
    fn of(telemetry: &TelemetryGuard) -> Service {
        let logs = tracing_subscriber::registry().with(telemetry.logs_layer());
        Service {
            tracer: telemetry.tracer(),
            logs: Dispatch::new(logs),
        }
    }
}

/// One service's telemetry, as each service would set it up in production:
/// its own `service.name`, OTLP export of its spans, metrics and logs
/// (PII-redacted by `init`) when
/// `OTEL_EXPORTER_OTLP_ENDPOINT` (or a per-signal variable) is set, plus,
/// for the demo, a copy of every span into the shared collector. That
/// exporter is ours, so we wrap it in the redaction ourselves: the last line
/// of defence, should a value ever escape the span helpers' scrubbing.
///
/// `build` (not `init`): six services share this process, so none of them
/// installs itself as the global provider. The demo draws the waterfall of
/// each trace across all services from the shared collector, so no service
/// uses the `console` exporter; and without a configured endpoint none of
/// them exports over OTLP either (the specification's default would send to
/// `localhost:4317`, where a developer's machine usually has no collector).
fn service_telemetry(
    name: &'static str,
    config: &PipelineConfig,
    collector: &SpanCollector,
    metrics: Option<&MetricsTap>,
) -> Result<TelemetryGuard, checkout_otel::ConfigError> {
    let mut builder = Telemetry::builder(name)
        .service_version(env!("CARGO_PKG_VERSION"))
        .environment("demo")
        .tracing_bridge(false)
        .shutdown_timeout(Duration::from_secs(3));
    if config.waterfalls {
        builder = builder.with_span_processor(SimpleSpanProcessor::new(RedactingExporter::new(
            collector.exporter(),
        )));
    }
    if let Some(endpoint) = &config.otlp_endpoint {
        builder = builder.endpoint(endpoint);
    } else if !OTLP_ENDPOINT_VARS
        .iter()
        .any(|var| std::env::var_os(var).is_some_and(|v| !v.is_empty()))
    {
        builder = builder
            .traces_exporter(Exporter::None)
            .metrics_exporter(Exporter::None)
            .logs_exporter(Exporter::None);
    }
    if let Some(capture) = &config.span_capture {
        builder = builder.with_span_processor(SimpleSpanProcessor::new(capture.clone()));
    }
    if let Some(tap) = metrics {
        builder = builder.with_metric_reader(PeriodicReader::builder(tap.exporter.clone()).build());
    }
    builder.build()
}

/// The variables that configure an OTLP endpoint.
const OTLP_ENDPOINT_VARS: [&str; 4] = [
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
    "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
];

/// Reads the gateway's metrics back in-process, for the summary.
#[derive(Default)]
struct MetricsTap {
    exporter: InMemoryMetricExporter,
}

impl MetricsTap {
    fn collect(&self, telemetry: &TelemetryGuard) -> Option<ResourceMetrics> {
        // Makes the periodic reader export now, without waiting for its
        // interval. An error here is about OTLP export (a collector that is
        // down), not about this reader: read what it got either way.
        let _ = telemetry.force_flush();
        self.exporter.get_finished_metrics().ok()?.pop()
    }
}
