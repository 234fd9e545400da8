//! The payment service's gRPC API, `checkout.payment.v1.PaymentService`,
//! written by hand: what `tonic-build` would generate from the `.proto`
//! below, cut down to one unary method (no protoc, no build script).
//!
//! ```proto
//! package checkout.payment.v1;
//!
//! service PaymentService {
//!   rpc Authorize(AuthorizeRequest) returns (AuthorizeResponse);
//! }
//! message AuthorizeRequest {
//!   string order_id = 1;
//!   int64 amount_minor = 2;
//!   string currency = 3;
//!   string card_number = 4;
//!   string customer_email = 5;
//! }
//! // A decline is an answer; a failure to get one is an error status.
//! message AuthorizeResponse {
//!   oneof outcome {
//!     string charge_id = 1;
//!     Decline declined = 2;
//!   }
//! }
//! message Decline {
//!   string code = 1;    // the gateway's decline code
//!   string message = 2; // the gateway's words: may quote the card
//! }
//! ```

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tonic::codegen::{Body as HttpBody, Bytes, StdError};
use tonic::server::NamedService;
use tonic::{GrpcMethod, Status};

const SERVICE: &str = "checkout.payment.v1.PaymentService";
const AUTHORIZE: &str = "/checkout.payment.v1.PaymentService/Authorize";
/// Every method the service implements (what the server's trace layer is
/// told, so that other paths are traced as `_OTHER`).
pub const METHODS: &[&str] = &[AUTHORIZE];

#[derive(Clone, PartialEq, prost::Message)]
pub struct AuthorizeRequest {
    #[prost(string, tag = "1")]
    pub order_id: String,
    #[prost(int64, tag = "2")]
    pub amount_minor: i64,
    #[prost(string, tag = "3")]
    pub currency: String,
    #[prost(string, tag = "4")]
    pub card_number: String,
    #[prost(string, tag = "5")]
    pub customer_email: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct AuthorizeResponse {
    #[prost(oneof = "Outcome", tags = "1, 2")]
    pub outcome: Option<Outcome>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
pub enum Outcome {
    #[prost(string, tag = "1")]
    ChargeId(String),
    #[prost(message, tag = "2")]
    Declined(Decline),
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Decline {
    #[prost(string, tag = "1")]
    pub code: String,
    #[prost(string, tag = "2")]
    pub message: String,
}

/// What the payment service implements.
pub trait PaymentService: Send + Sync + 'static {
    fn authorize(
        &self,
        request: AuthorizeRequest,
    ) -> impl Future<Output = Result<AuthorizeResponse, Status>> + Send;
}

/// The server side: a tower service for `tonic::transport::Server`.
pub struct PaymentServer<S>(Arc<S>);

impl<S> PaymentServer<S> {
    pub fn new(service: S) -> Self {
        PaymentServer(Arc::new(service))
    }
}

impl<S> Clone for PaymentServer<S> {
    fn clone(&self) -> Self {
        PaymentServer(self.0.clone())
    }
}

impl<S> NamedService for PaymentServer<S> {
    const NAME: &'static str = SERVICE;
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = Result<T, Infallible>> + Send>>;

impl<S: PaymentService, B> tower::Service<http::Request<B>> for PaymentServer<S>
where
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        if request.uri().path() != AUTHORIZE {
            return Box::pin(async { Ok(Status::unimplemented("").into_http()) });
        }
        let service = self.0.clone();
        let authorize = tower::service_fn(move |request: tonic::Request<AuthorizeRequest>| {
            let service = service.clone();
            async move {
                let response = service.authorize(request.into_inner()).await?;
                Ok::<_, Status>(tonic::Response::new(response))
            }
        });
        let mut grpc = tonic::server::Grpc::new(tonic_prost::ProstCodec::default());
        Box::pin(async move { Ok(grpc.unary(authorize, request).await) })
    }
}

/// The client side, over any gRPC transport `T`: a `tonic` channel, or one
/// wrapped in tower layers.
#[derive(Debug, Clone)]
pub struct PaymentClient<T> {
    inner: tonic::client::Grpc<T>,
}

impl<T> PaymentClient<T>
where
    T: tonic::client::GrpcService<tonic::body::Body>,
    T::Error: Into<StdError>,
    T::ResponseBody: HttpBody<Data = Bytes> + Send + 'static,
    <T::ResponseBody as HttpBody>::Error: Into<StdError> + Send,
{
    pub fn new(transport: T) -> Self {
        PaymentClient {
            inner: tonic::client::Grpc::new(transport),
        }
    }

    pub async fn authorize(
        &mut self,
        request: AuthorizeRequest,
    ) -> Result<AuthorizeResponse, Status> {
        self.inner
            .ready()
            .await
            .map_err(|e| Status::from_error(e.into()))?;
        let mut request = tonic::Request::new(request);
        request
            .extensions_mut()
            .insert(GrpcMethod::new(SERVICE, "Authorize"));
        let path = http::uri::PathAndQuery::from_static(AUTHORIZE);
        let codec = tonic_prost::ProstCodec::default();
        let response = self.inner.unary(request, path, codec).await?;
        Ok(response.into_inner())
    }
}
