//! A tiny tonic service and client written by hand (what tonic-build would
//! generate), so the gRPC tests need no protoc or build script:
//! `test.Echo/Echo` answers with the request's message, or with the status
//! `code` the request asks for. The handler starts an `order.create` typed
//! span, so tests can check it nests under the server span.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::task::{Context, Poll};

use checkout_otel::grpc::OtelGrpcServerLayer;
use checkout_otel::spans::{CheckoutTracer, OrderCreate};
use tonic::codegen::{Body, BoxFuture, Bytes, StdError};
use tower::Service;

/// The request: echo `message`, or fail with `code` when it is not 0.
#[derive(Clone, PartialEq, prost::Message)]
pub struct EchoRequest {
    #[prost(string, tag = "1")]
    pub message: String,
    #[prost(int32, tag = "2")]
    pub code: i32,
}

/// The answer.
#[derive(Clone, PartialEq, prost::Message)]
pub struct EchoReply {
    #[prost(string, tag = "1")]
    pub message: String,
}

/// The one method's path.
pub const ECHO_PATH: &str = "/test.Echo/Echo";
/// The span name (and `rpc.method`) of the method.
pub const ECHO_METHOD: &str = "test.Echo/Echo";

/// The server: starts `order.create` with `tracer` inside each call.
#[derive(Clone)]
pub struct EchoServer {
    pub tracer: CheckoutTracer,
}

impl EchoServer {
    async fn echo(&self, request: EchoRequest) -> Result<EchoReply, tonic::Status> {
        self.tracer.start(OrderCreate::new("order-1")).end();
        if request.code != 0 {
            return Err(tonic::Status::new(
                tonic::Code::from_i32(request.code),
                // A card number in the message: it must not reach the spans.
                "refused card 4111 1111 1111 1111",
            ));
        }
        Ok(EchoReply {
            message: request.message,
        })
    }
}

impl tonic::server::NamedService for EchoServer {
    const NAME: &'static str = "test.Echo";
}

struct EchoMethod(EchoServer);

impl tonic::server::UnaryService<EchoRequest> for EchoMethod {
    type Response = EchoReply;
    type Future = BoxFuture<tonic::Response<EchoReply>, tonic::Status>;

    fn call(&mut self, request: tonic::Request<EchoRequest>) -> Self::Future {
        let server = self.0.clone();
        Box::pin(async move {
            server
                .echo(request.into_inner())
                .await
                .map(tonic::Response::new)
        })
    }
}

impl Service<http::Request<tonic::body::Body>> for EchoServer {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        let server = self.clone();
        if request.uri().path() == ECHO_PATH {
            Box::pin(async move {
                let mut grpc = tonic::server::Grpc::new(tonic_prost::ProstCodec::default());
                Ok(grpc.unary(EchoMethod(server), request).await)
            })
        } else {
            Box::pin(async move { Ok(tonic::Status::unimplemented("no such method").into_http()) })
        }
    }
}

/// The client, over any gRPC service (a channel, or a channel under layers).
pub struct EchoClient<T> {
    inner: tonic::client::Grpc<T>,
}

impl<T> EchoClient<T>
where
    T: tonic::client::GrpcService<tonic::body::Body>,
    T::Error: Into<StdError>,
    T::ResponseBody: Body<Data = Bytes> + Send + 'static,
    <T::ResponseBody as Body>::Error: Into<StdError> + Send,
{
    pub fn new(inner: T) -> Self {
        EchoClient {
            inner: tonic::client::Grpc::new(inner),
        }
    }

    pub async fn echo(
        &mut self,
        request: impl tonic::IntoRequest<EchoRequest>,
    ) -> Result<tonic::Response<EchoReply>, tonic::Status> {
        self.call(ECHO_PATH, request).await
    }

    /// Any path, for methods the server does not have.
    pub async fn call(
        &mut self,
        path: &'static str,
        request: impl tonic::IntoRequest<EchoRequest>,
    ) -> Result<tonic::Response<EchoReply>, tonic::Status> {
        self.inner
            .ready()
            .await
            .map_err(|e| tonic::Status::unknown(format!("not ready: {}", e.into())))?;
        let path = http::uri::PathAndQuery::from_static(path);
        self.inner
            .unary(
                request.into_request(),
                path,
                tonic_prost::ProstCodec::default(),
            )
            .await
    }
}

/// Serves `server` under `layer` on 127.0.0.1 (random port) until the
/// runtime stops; returns its address.
pub async fn serve(layer: OtelGrpcServerLayer, server: EchoServer) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let incoming = tonic::transport::server::TcpIncoming::from(listener);
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .layer(layer)
            .add_service(server)
            .serve_with_incoming(incoming)
            .await
            .unwrap();
    });
    addr
}
