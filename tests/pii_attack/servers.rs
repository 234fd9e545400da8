//! The servers under attack, on loopback: the service's checkout route under
//! three request-span layers, each calling a third-party "payment provider"
//! through `OtelMiddleware`; the provider records the headers it receives.
//! And the attacker's requests.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode};
use checkout_otel::http_client::OtelMiddleware;
use checkout_otel::http_client::reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use checkout_otel::http_server::OtelServerLayer;
use checkout_otel::init::TelemetryGuard;
use checkout_otel::opentelemetry::global;
use tower_http::trace::TraceLayer;

use crate::benign::{BENIGN_TRACESTATE, CART_ID, ORDER_ID};
use crate::common::pii_gen::{Sample, percent_encode};
use crate::placements::attack_url;

/// The server layers under attack, by route prefix.
pub(crate) const LAYERS: [(&str, &str); 3] = [
    ("a", "http_server::OtelServerLayer"),
    ("b", "tower-http default TraceLayer"),
    ("c", "OtelAxumLayer"),
];

/// What the third party behind `OtelMiddleware` received: headers per request.
type Seen = Arc<Mutex<Vec<HeaderMap>>>;

/// The running servers: the service under each layer of [`LAYERS`], and
/// what the third party received.
pub(crate) struct Servers {
    pub(crate) service: [SocketAddr; 3],
    pub(crate) seen: Seen,
}

async fn serve(app: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// The service's checkout route: it calls the payment provider through
/// `OtelMiddleware`, with the sample (named by `x-attack-sample`) in the URL.
fn checkout_route(
    prefix: &str,
    client: ClientWithMiddleware,
    provider: String,
    samples: Arc<Vec<Sample>>,
) -> axum::Router {
    axum::Router::new().route(
        &format!("/{prefix}/checkout/{{cart}}"),
        axum::routing::post(move |headers: HeaderMap| {
            let client = client.clone();
            let sample = headers
                .get("x-attack-sample")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<usize>().ok())
                .and_then(|i| samples.get(i).cloned());
            let url = match &sample {
                Some(s) => attack_url(&format!("{provider}/charges"), s),
                None => format!("{provider}/charges/{ORDER_ID}"),
            };
            async move {
                match client.post(url).send().await {
                    Ok(r) if r.status().is_success() => StatusCode::OK,
                    _ => StatusCode::BAD_GATEWAY,
                }
            }
        }),
    )
}

pub(crate) async fn start_servers(guard: &TelemetryGuard, samples: Arc<Vec<Sample>>) -> Servers {
    let seen: Seen = Arc::default();
    let record = seen.clone();
    let provider = serve(axum::Router::new().fallback(move |headers: HeaderMap| {
        record.lock().expect("seen").push(headers);
        async { "charged" }
    }))
    .await;
    let provider_base = format!("http://{provider}");
    let client = ClientBuilder::new(reqwest::Client::new())
        .with(OtelMiddleware::new(guard.tracer()))
        .build();
    let route = |prefix| {
        checkout_route(
            prefix,
            client.clone(),
            provider_base.clone(),
            samples.clone(),
        )
    };

    let a = route("a").layer(OtelServerLayer::new(&guard.tracer()));
    let b = route("b").layer(TraceLayer::new_for_http());
    // OtelAxumLayer reads the global propagator, which `init` would install.
    global::set_text_map_propagator(guard.propagator());
    let c = route("c").layer(axum_tracing_opentelemetry::middleware::OtelAxumLayer::default());
    Servers {
        service: [serve(a).await, serve(b).await, serve(c).await],
        seen,
    }
}

/// The trace id an attacker's request claims, per layer and sample.
pub(crate) fn attacker_trace_id(layer: usize, sample: usize) -> String {
    format!("a77ac4{:026x}", layer * 10_000 + sample + 1)
}

pub(crate) const BENIGN_TRACE_ID: &str = "0be9190000000000000000000000beef";

/// The attacker calls the service with the value in the path, the query,
/// `tracestate` and `baggage`.
pub(crate) async fn attack_request(
    client: &reqwest::Client,
    addr: SocketAddr,
    layer: usize,
    i: usize,
    s: &Sample,
) -> StatusCode {
    let (prefix, _) = LAYERS[layer];
    let url = format!(
        "http://{addr}/{prefix}/checkout/{}?email={}&q={}",
        s.url_path(),
        s.url_form(),
        s.url_query_raw()
    );
    let baggage_email =
        percent_encode(&s.text, |c| c.is_ascii_alphanumeric() || "-._~".contains(c));
    client
        .post(url)
        .header(
            "traceparent",
            format!("00-{}-00f067aa0ba902b7-01", attacker_trace_id(layer, i)),
        )
        .header("tracestate", format!("shop={}", s.tracestate_value()))
        .header(
            "baggage",
            format!("customer.email={baggage_email},note={}", s.baggage_value()),
        )
        .header("x-attack-sample", i.to_string())
        .send()
        .await
        .map(|r| r.status())
        .unwrap_or(StatusCode::IM_A_TEAPOT)
}

pub(crate) async fn benign_request(client: &reqwest::Client, addr: SocketAddr) -> StatusCode {
    client
        .post(format!("http://{addr}/a/checkout/{CART_ID}"))
        .header(
            "traceparent",
            format!("00-{BENIGN_TRACE_ID}-00f067aa0ba902b7-01"),
        )
        .header("tracestate", BENIGN_TRACESTATE)
        .send()
        .await
        .map(|r| r.status())
        .unwrap_or(StatusCode::IM_A_TEAPOT)
}
