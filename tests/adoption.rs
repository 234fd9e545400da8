//! The adoption guide, end to end: an axum + tower-http service set up as the
//! README's "Adopting checkout-otel in an existing service" says (`init`,
//! `http_server::OtelServerLayer` beside its `TraceLayer`, typed spans in the
//! handler, `OtelMiddleware` on its reqwest client) calls a second service,
//! and both export over OTLP/gRPC to a real receiver. The receiver holds one
//! trace: the caller's parent, the request span, tower-http's span, the typed spans, the client
//! span and the callee's span, plus the checkout metrics and the resource
//! attribute the collector's `resource` processor would otherwise add.
#![cfg(all(feature = "reqwest", feature = "grpc"))]

mod common;

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use checkout_otel::Telemetry;
use checkout_otel::attributes::{self as attr, CheckoutStep, ErrorType};
use checkout_otel::http_client::OtelMiddleware;
use checkout_otel::http_client::reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use checkout_otel::http_server::OtelServerLayer;
use checkout_otel::spans::{
    CartValidate, CheckoutProcess, CheckoutTracer, Failure, InventoryReserveBatch,
};
use common::receiver::{Received, ReceivedSpan, Receiver};
use tower_http::trace::TraceLayer;

const WAIT: Duration = Duration::from_secs(10);
const CALLER_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

#[derive(Clone)]
struct AppState {
    tracer: CheckoutTracer,
    http: ClientWithMiddleware,
    inventory_url: String,
}

/// The existing handler, now with typed spans and a traced client call.
async fn checkout(
    State(state): State<AppState>,
    Path(cart_id): Path<String>,
) -> Result<&'static str, StatusCode> {
    let checkout = state
        .tracer
        .start(CheckoutProcess::new(&cart_id).item_count(2));
    let result = async {
        checkout
            .step(CheckoutStep::ValidatingCart, async {
                state.tracer.start(CartValidate::new(&cart_id)).end();
                Ok::<_, Failure>(())
            })
            .await?;
        checkout
            .step(CheckoutStep::ReservingInventory, async {
                let response = state
                    .http
                    .post(&state.inventory_url)
                    .send()
                    .await
                    .map_err(|_| Failure::fault(ErrorType::UNAVAILABLE, "inventory unreachable"))?;
                match response.status().is_success() {
                    true => Ok(()),
                    false => Err(Failure::fault(
                        ErrorType::UPSTREAM_ERROR,
                        "inventory failed",
                    )),
                }
            })
            .await
    }
    .await;
    checkout.finish(&result);
    result.map(|()| "ok").map_err(|_| StatusCode::BAD_GATEWAY)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_from_caller_through_both_services_at_the_receiver() {
    let receiver = Receiver::grpc();

    // The second service uses the crate without `tracing`: it extracts the
    // caller's context itself, with its tracer's propagator. `build()`, since
    // only one `init` per process.
    let inventory_telemetry = Telemetry::builder("inventory")
        .endpoint(receiver.endpoint())
        .tracing_bridge(false)
        .with_env(Vec::<(String, String)>::new())
        .build()
        .expect("inventory telemetry");
    let inventory_tracer = inventory_telemetry.tracer();
    let inventory = axum::Router::new().route(
        "/reservations",
        post(move |headers: HeaderMap| {
            let tracer = inventory_tracer.clone();
            async move {
                let parent = tracer.extract(&headers);
                let batch = tracer.start_in(InventoryReserveBatch::new(2), &parent);
                batch.reserved("rsv-1", 2);
                "reserved"
            }
        }),
    );
    let inventory_addr = serve(inventory).await;

    // Step 2 of the guide: one call in main.
    let telemetry = Telemetry::builder("checkout-api")
        .endpoint(receiver.endpoint())
        .resource_attribute("platform", "ecommerce")
        .log_output(false)
        .with_env(Vec::<(String, String)>::new())
        .init()
        .expect("init");
    let tracer = telemetry.tracer();
    let state = AppState {
        tracer: tracer.clone(),
        http: ClientBuilder::new(reqwest::Client::new())
            .with(OtelMiddleware::new(telemetry.tracer()))
            .build(),
        inventory_url: format!("http://{inventory_addr}/reservations"),
    };
    let app = axum::Router::new()
        .route("/checkout/{cart}", post(checkout))
        .with_state(state)
        .layer(TraceLayer::new_for_http())
        .layer(OtelServerLayer::new(&tracer));
    let api_addr = serve(app).await;

    let status = reqwest::Client::new()
        .post(format!("http://{api_addr}/checkout/cart-7f3a"))
        .header("traceparent", format!("00-{CALLER_TRACE}-{CALLER_SPAN}-01"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, StatusCode::OK);

    telemetry.force_flush().expect("flush checkout-api");
    inventory_telemetry.force_flush().expect("flush inventory");
    let received = receiver.wait_for(WAIT, |r| {
        r.spans().len() >= 6
            && r.metric_names()
                .iter()
                .any(|n| n == attr::METRIC_CHECKOUT_COMPLETED)
    });

    let span = |name: &str| -> ReceivedSpan {
        received
            .span(name)
            .unwrap_or_else(|| panic!("{name} not received: {:?}", names(&received)))
    };
    let request = span("POST /checkout/{cart}");
    // tower-http's own span is at DEBUG, below the bridge's default `info`:
    // not exported, and the typed spans are the server span's children.
    assert!(
        received.span("request").is_none(),
        "tower-http's DEBUG span exported at the default level"
    );
    let process = span(attr::CHECKOUT_PROCESS);
    let validate = span(attr::CART_VALIDATE);
    let client = span("POST");
    let batch = span(attr::INVENTORY_RESERVE_BATCH);

    assert_eq!(request.parent_id(), CALLER_SPAN);
    assert_eq!(process.parent_id(), request.span_id());
    assert_eq!(validate.parent_id(), process.span_id());
    assert_eq!(client.parent_id(), process.span_id());
    assert_eq!(batch.parent_id(), client.span_id());
    for s in [&request, &process, &validate, &client, &batch] {
        assert_eq!(s.trace_id(), CALLER_TRACE, "{}", s.span.name);
    }

    assert_eq!(request.resource[attr::SERVICE_NAME], "checkout-api");
    assert_eq!(client.resource[attr::SERVICE_NAME], "checkout-api");
    assert_eq!(batch.resource[attr::SERVICE_NAME], "inventory");
    assert_eq!(request.resource["platform"], "ecommerce");
    for (key, value) in [
        (attr::HTTP_ROUTE, "/checkout/{cart}"),
        (attr::HTTP_REQUEST_METHOD, "POST"),
        (attr::URL_PATH, "/checkout/cart-7f3a"),
        (attr::URL_SCHEME, "http"),
        (attr::HTTP_RESPONSE_STATUS_CODE, "200"),
    ] {
        assert_eq!(request.attr(key).as_deref(), Some(value), "{key}");
    }
    assert_eq!(
        client.attr(attr::URL_FULL),
        Some(format!("http://{inventory_addr}/reservations"))
    );
    assert_eq!(
        client.attr(attr::HTTP_RESPONSE_STATUS_CODE).as_deref(),
        Some("200")
    );
    assert_eq!(
        process.attr(attr::CHECKOUT_STATUS).as_deref(),
        Some("success")
    );

    drop(telemetry);
    drop(inventory_telemetry);
}

async fn serve(app: axum::Router) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

fn names(r: &Received) -> Vec<String> {
    r.spans().into_iter().map(|s| s.span.name).collect()
}
