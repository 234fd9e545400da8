//! PII handling: pseudonymising a user id, scrubbing free text, and the
//! redacting exporter on a batch of spans.

use checkout_otel::opentelemetry_sdk::trace::{
    InMemorySpanExporter, SdkTracerProvider, SpanData, SpanExporter,
};
use checkout_otel::pii::{RedactingExporter, UserHasher, UserRef};
use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::Sha256;

use crate::checkout;
use crate::setup::{NoopExporter, block_on, crate_tracer};

/// The 32-byte key both sides hash with.
pub const KEY: [u8; 32] = *b"0123456789abcdef0123456789abcdef";
pub const CUSTOMER_ID: &str = "customer-7f3a9c21-0042";

/// The crate's hasher.
pub fn hasher() -> UserHasher {
    UserHasher::from_bytes(&KEY).expect("a 32-byte key")
}

/// The crate: the `user.hash` of a customer id.
pub fn pseudonymise(hasher: &UserHasher, id: &str) -> UserRef {
    hasher.hash(id)
}

/// By hand: HMAC-SHA256 with the key absorbed once (cloned per hash), then
/// lowercase hex from a table (not `format!`), the same value the crate
/// records.
pub struct RawHasher(Hmac<Sha256>);

impl RawHasher {
    pub fn new() -> Self {
        RawHasher(Hmac::<Sha256>::new_from_slice(&KEY).expect("any key length"))
    }

    pub fn hash(&self, id: &str) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut mac = self.0.clone();
        mac.update(id.as_bytes());
        let mut hex = String::with_capacity(64);
        for b in mac.finalize().into_bytes() {
            hex.push(char::from(HEX[usize::from(b >> 4)]));
            hex.push(char::from(HEX[usize::from(b & 0xf)]));
        }
        hex
    }
}

/// A 200-character gateway message with nothing to mask.
pub const CLEAN_200: &str = "Payment declined by the issuing bank: insufficient funds on the \
account for the requested amount of 49.98 USD. Retry with another payment method or ask the \
customer to contact the bank. Ref ch_3MmlLr.";

/// A 200-character gateway message with a card number, an email and a phone number.
pub const WITH_PII_200: &str = "Declined: card 4242 4242 4242 4242 was reported stolen; holder \
jane.doe@example.com, phone +1 (415) 555-0123, must contact the issuing bank before retrying \
the 49.98 USD charge on this card. Thank you";

/// A batch as the batch processor hands it to an exporter: 512 spans (its
/// default maximum), copies of the full checkout trace.
pub fn span_batch() -> Vec<SpanData> {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let tracer = crate_tracer(&provider);
    let inputs = checkout::Inputs::new();
    block_on(checkout::with_crate(&tracer, &inputs));
    let trace = exporter.get_finished_spans().expect("in-memory spans");
    trace.iter().cycle().take(512).cloned().collect()
}

/// The crate: the redacting exporter over an exporter that drops the batch.
pub fn redacting() -> RedactingExporter<NoopExporter> {
    RedactingExporter::new(NoopExporter)
}

/// Exports `batch` through `exporter`.
pub fn export<E: SpanExporter>(exporter: &E, batch: Vec<SpanData>) {
    block_on(exporter.export(batch)).expect("export");
}
