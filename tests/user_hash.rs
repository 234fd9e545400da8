//! `user.hash` is HMAC-SHA256 of the customer id under the key the service
//! configured, whichever way the service obtains its tracer, computed here
//! independently of the crate with the RustCrypto `hmac` crate. Its own
//! binary: no global hasher is ever installed in this process, so a helper
//! that fell back to the process-wide (random) key would disagree.
#![cfg(feature = "testing")]

use checkout_otel::Telemetry;
use checkout_otel::attributes::USER_HASH;
use checkout_otel::init::Exporter;
use checkout_otel::opentelemetry_sdk::trace::{InMemorySpanExporter, SimpleSpanProcessor};
use checkout_otel::spans::{CheckoutProcess, Failure};
use checkout_otel::testing::TestTelemetry;
use hmac::{KeyInit, Mac};

const KEY_TEXT: &str = "a shared secret of at least thirty-two bytes";
const CUSTOMER: &str = "customer-42@example.com";

fn expected_hash(key: &[u8], customer: &str) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).expect("any key length");
    mac.update(customer.as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn a_built_guard_hashes_with_the_configured_key() {
    let exporter = InMemorySpanExporter::default();
    let guard = Telemetry::builder("checkout-api")
        .traces_exporter(Exporter::None)
        .metrics_exporter(Exporter::None)
        .tracing_bridge(false)
        .with_env(Vec::<(String, String)>::new())
        .user_hash_key(format!("raw:{KEY_TEXT}"))
        .with_span_processor(SimpleSpanProcessor::new(exporter.clone()))
        .build()
        .expect("build");
    let tracer = guard.tracer();
    let user = tracer.user(CUSTOMER);
    let checkout = tracer.start(CheckoutProcess::new("cart-1").user(&user));
    checkout.finish(&Ok::<(), Failure>(()));

    let expected = expected_hash(KEY_TEXT.as_bytes(), CUSTOMER);
    assert_eq!(user.hash(), expected);
    assert_eq!(guard.user_hasher().hash(CUSTOMER).hash(), expected);
    let spans = exporter.get_finished_spans().expect("spans");
    let recorded = spans[0]
        .attributes
        .iter()
        .find(|kv| kv.key.as_str() == USER_HASH)
        .map(|kv| kv.value.as_str().into_owned());
    assert_eq!(recorded.as_deref(), Some(expected.as_str()));
}

#[test]
fn the_test_kit_hashes_with_the_key_of_the_services_builder() {
    let hex_key = "0f".repeat(32);
    let telemetry = TestTelemetry::from_builder(
        Telemetry::builder("checkout-api")
            .with_env([("CHECKOUT_OTEL_USER_HASH_KEY", hex_key.as_str())]),
    )
    .expect("build");
    let tracer = telemetry.tracer();
    let checkout = tracer.start(CheckoutProcess::new("cart-1").user(&tracer.user(CUSTOMER)));
    checkout.finish(&Ok::<(), Failure>(()));

    let spans = telemetry.spans();
    assert_eq!(
        spans.one("checkout.process").attr_str(USER_HASH),
        Some(expected_hash(&[0x0f; 32], CUSTOMER).as_str())
    );
}
