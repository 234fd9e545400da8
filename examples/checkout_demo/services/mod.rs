//! The services of the shop, each with its own telemetry: axum routers,
//! and the payment service over gRPC (tonic).

pub mod cart;
pub mod gateway;
pub mod inventory;
pub mod notification;
pub mod order;
pub mod payment;
pub mod payment_grpc;
pub mod psp;
