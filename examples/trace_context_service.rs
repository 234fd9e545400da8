//! The service the W3C Trace Context test harness drives
//! (github.com/w3c/trace-context, `test/`): `POST /test` takes a JSON array
//! of `{"url": .., "arguments": ..}` and, in order, POSTs each `arguments`
//! to its `url`. Propagation goes only through the crate: the server layer
//! extracts, the client middleware injects.
//!
//! The harness calls back on 127.0.0.1, so `127.0.0.1` and `localhost` are
//! allowed downstreams (they get `tracestate` and `baggage`); set
//! `CHECKOUT_OTEL_PROPAGATION_ALLOWED_HOSTS` to choose others.
//!
//! Run: `cargo run --example trace_context_service` (`PORT` picks the port,
//! default 5000), then in the harness's `test/` folder
//! `python3 test.py http://127.0.0.1:5000/test`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use checkout_otel::http_client::OtelMiddleware;
use checkout_otel::http_client::reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use checkout_otel::http_server::OtelServerLayer;
use checkout_otel::init::Exporter;
use checkout_otel::propagation::PROPAGATION_ALLOWED_HOSTS_ENV;
use serde::Deserialize;

#[derive(Deserialize)]
struct Call {
    url: String,
    arguments: serde_json::Value,
}

async fn test(
    State(client): State<ClientWithMiddleware>,
    Json(calls): Json<Vec<Call>>,
) -> StatusCode {
    for call in calls {
        // The harness judges the headers of the callback, not its answer.
        if let Err(error) = client.post(&call.url).json(&call.arguments).send().await {
            eprintln!("callback to {} failed: {error}", call.url);
        }
    }
    StatusCode::OK
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut builder = checkout_otel::Telemetry::builder("w3c-trace-context-service")
        .traces_exporter(Exporter::None)
        .metrics_exporter(Exporter::None)
        .logs_exporter(Exporter::None);
    if std::env::var_os(PROPAGATION_ALLOWED_HOSTS_ENV).is_none() {
        builder = builder.propagate_context_to(["127.0.0.1", "localhost"]);
    }
    let telemetry = builder.build()?;
    let tracer = telemetry.tracer();

    let client = ClientBuilder::new(reqwest::Client::new())
        .with(OtelMiddleware::new(tracer.clone()))
        .build();
    let app = Router::new()
        .route("/test", post(test))
        .with_state(client)
        .layer(OtelServerLayer::new(&tracer));

    let port = std::env::var("PORT").unwrap_or_else(|_| "5000".to_owned());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    println!("listening on http://{}/test", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
