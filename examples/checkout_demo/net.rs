//! HTTP plumbing every service shares: serving on a free loopback port,
//! the request's trace context on the server side (each service's router
//! carries the crate's `OtelServerLayer`), and calling the next
//! service through the crate's `OtelMiddleware` (a CLIENT span per call, with
//! the trace context injected), and each service's own `tracing` subscriber
//! for its log lines.

use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use checkout_otel::CheckoutTracer;
use checkout_otel::attributes::ErrorType;
use checkout_otel::http_client::OtelMiddleware;
use checkout_otel::opentelemetry::Context;
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tracing::Dispatch;
use tracing::instrument::WithSubscriber as _;

/// Serves `router` on 127.0.0.1 with a port the OS picks (so a port in use
/// is never a problem) and returns the base URL and the server task.
pub async fn serve(router: Router) -> std::io::Result<(String, JoinHandle<()>)> {
    serve_at(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), router).await
}

/// Serves `router` on `addr` (port 0: one the OS picks) and returns the base
/// URL and the server task.
pub async fn serve_at(
    addr: SocketAddr,
    router: Router,
) -> std::io::Result<(String, JoinHandle<()>)> {
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        // Only ends with the process (or when the pipeline aborts the task).
        let _ = axum::serve(listener, router).await;
    });
    Ok((format!("http://{addr}"), task))
}

/// `router` with every request handled under `logs`, the service's own
/// `tracing` subscriber (its OpenTelemetry logs layer). Six services share
/// this process, so none of them is the global subscriber: each request's
/// `tracing` events go to the subscriber of the service that serves it, and
/// leave as that service's log records, with the trace and span id of the
/// OpenTelemetry context current where they were emitted.
pub fn with_logs(router: Router, logs: Dispatch) -> Router {
    router.layer(axum::middleware::from_fn(
        move |request: Request, next: Next| next.run(request).with_subscriber(logs.clone()),
    ))
}

/// `tokio::task::spawn_blocking`, keeping the caller's `tracing` subscriber
/// (the service's, see [`with_logs`]) on the blocking thread, so what is
/// logged there (and the exceptions the span helpers record) is the
/// service's too.
pub fn spawn_blocking<T, F>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let logs = tracing::dispatcher::get_default(Dispatch::clone);
    tokio::task::spawn_blocking(move || tracing::dispatcher::with_default(&logs, f))
}

/// The request's context: the `SERVER` span that each service's
/// `OtelServerLayer` started for the request (whose parent is the caller's
/// trace context, read from `traceparent` and `baggage` with the service's
/// own propagator), with the caller's baggage. The parent of the spans a
/// handler starts, also on a blocking thread where there is no current
/// context to inherit.
///
/// ```ignore
/// async fn handler(TraceParent(parent): TraceParent, Json(req): Json<Req>) { .. }
/// ```
pub struct TraceParent(pub Context);

impl<S: Send + Sync> FromRequestParts<S> for TraceParent {
    type Rejection = Infallible;

    async fn from_request_parts(_: &mut Parts, _: &S) -> Result<Self, Infallible> {
        // The layer runs the handler (extractors included) inside the span.
        Ok(TraceParent(Context::current()))
    }
}

/// The error body every service answers with: a low-cardinality
/// `error_type` the caller can act on, a human message, and details for the
/// errors that have them.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error_type: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decline_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available: Option<u64>,
}

impl ErrorBody {
    pub fn new(error_type: ErrorType, message: impl Into<String>) -> Self {
        ErrorBody {
            error_type: error_type.as_str().to_owned(),
            message: message.into(),
            ..ErrorBody::default()
        }
    }

    /// The response carrying this body.
    pub fn into_response(self, status: StatusCode) -> Response {
        (status, Json(self)).into_response()
    }
}

/// Why a call to another service did not return what we asked for.
#[derive(Debug)]
pub enum CallError {
    /// The service answered with an error status.
    Status { status: u16, body: ErrorBody },
    /// No answer in time.
    Timeout,
    /// Could not connect, or the answer was unreadable.
    Unreachable(String),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Status { status, body } => {
                write!(f, "HTTP {status}: {} ({})", body.message, body.error_type)
            }
            CallError::Timeout => f.write_str("timed out"),
            CallError::Unreachable(reason) => write!(f, "unreachable: {reason}"),
        }
    }
}

impl std::error::Error for CallError {}

/// A client for one service. A traced client ([`ServiceClient::traced`])
/// records a CLIENT span for every `post` and sends the trace context, so
/// the service's spans join the caller's trace.
#[derive(Debug, Clone)]
pub struct ServiceClient {
    base_url: String,
    http: ClientWithMiddleware,
    // Seeding and lookups are not part of any checkout: never traced.
    plain: reqwest::Client,
}

impl ServiceClient {
    /// An untraced client for the service at `base_url`, giving up after `timeout`.
    pub fn new(base_url: impl Into<String>, timeout: Duration) -> Self {
        let plain = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .unwrap_or_default();
        ServiceClient {
            base_url: base_url.into(),
            http: ClientBuilder::new(plain.clone()).build(),
            plain,
        }
    }

    /// A client whose `post` calls are traced with `tracer`.
    pub fn traced(base_url: impl Into<String>, timeout: Duration, tracer: CheckoutTracer) -> Self {
        let client = ServiceClient::new(base_url, timeout);
        ServiceClient {
            http: ClientBuilder::new(client.plain.clone())
                .with(OtelMiddleware::new(tracer))
                .build(),
            ..client
        }
    }

    /// `POST {base}{path}` with a JSON body, inside the current trace.
    pub async fn post<B, T>(&self, path: &str, body: &B) -> Result<T, CallError>
    where
        B: Serialize + ?Sized,
        T: DeserializeOwned,
    {
        receive(self.post_json(path, body).send().await).await
    }

    /// `POST {base}{path}` for an API that answers with the same body type
    /// whatever the status (the checkout's outcome): returns the status and body.
    pub async fn post_for_outcome<B, T>(&self, path: &str, body: &B) -> Result<(u16, T), CallError>
    where
        B: Serialize + ?Sized,
        T: DeserializeOwned,
    {
        let response = self
            .post_json(path, body)
            .send()
            .await
            .map_err(middleware_error)?;
        let status = response.status().as_u16();
        Ok((status, response.json().await.map_err(transport_error)?))
    }

    /// The traced `POST {base}{path}` request with a JSON body.
    fn post_json<B: Serialize + ?Sized>(
        &self,
        path: &str,
        body: &B,
    ) -> reqwest_middleware::RequestBuilder {
        self.http
            .post(format!("{}{path}", self.base_url))
            .json(body)
    }

    /// `PUT {base}{path}` with a JSON body, outside any trace: for seeding
    /// data (the storefront filling a cart, stock being restocked).
    pub async fn put<B: Serialize + ?Sized>(&self, path: &str, body: &B) -> Result<(), CallError> {
        let request = self
            .plain
            .put(format!("{}{path}", self.base_url))
            .json(body);
        receive::<serde_json::Value>(request.send().await.map_err(Into::into))
            .await
            .map(drop)
    }

    /// `GET {base}{path}`, outside any trace.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, CallError> {
        receive(
            self.plain
                .get(format!("{}{path}", self.base_url))
                .send()
                .await
                .map_err(Into::into),
        )
        .await
    }
}

async fn receive<T: DeserializeOwned>(
    response: reqwest_middleware::Result<reqwest::Response>,
) -> Result<T, CallError> {
    let response = response.map_err(middleware_error)?;
    let status = response.status();
    if status.is_success() {
        return response.json().await.map_err(transport_error);
    }
    let body = response.json().await.unwrap_or_else(|_| {
        ErrorBody::new(
            ErrorType::OTHER,
            format!("HTTP {status} without error body"),
        )
    });
    Err(CallError::Status {
        status: status.as_u16(),
        body,
    })
}

fn middleware_error(e: reqwest_middleware::Error) -> CallError {
    match e {
        reqwest_middleware::Error::Reqwest(e) => transport_error(e),
        other => CallError::Unreachable(other.to_string()),
    }
}

fn transport_error(e: reqwest::Error) -> CallError {
    if e.is_timeout() {
        CallError::Timeout
    } else {
        CallError::Unreachable(e.to_string())
    }
}
