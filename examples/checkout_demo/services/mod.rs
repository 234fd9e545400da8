//! The services of the shop, each an axum router with its own telemetry.

pub mod cart;
pub mod gateway;
pub mod inventory;
pub mod notification;
pub mod order;
pub mod payment;
pub mod psp;
