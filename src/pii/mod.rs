//! PII-safe values and redaction: the safe way is the only easy way, and the
//! exit is checked again.
//!
//! - [`UserRef`]: a customer, recorded only as `user.hash`, a keyed
//!   HMAC-SHA256 of the customer id ([`UserHasher`], key from
//!   `CHECKOUT_OTEL_USER_HASH_KEY`); [`hash_customer_id`] lets support find a
//!   customer's traces.
//! - [`PaymentMethod`]: type, and for cards brand and last four. A full card
//!   number can be handed over but is never kept.
//! - [`Money`] and [`Currency`]: integer minor units with an ISO 4217
//!   currency, checked arithmetic, exact decimal parsing and display.
//! - [`scrub`]: masks card numbers, emails, phone numbers and IBANs in free
//!   text, also encoded (URL, form, JSON or HTML escapes, fullwidth forms),
//!   and truncates it; used on every exception and decline message.
//!   [`scrub_url`] checks a URL component by component; [`is_sensitive_key`]
//!   tells a secret's key.
//! - [`RedactingExporter`]: wraps any span exporter and checks every path
//!   out of a span before export (names, keys and values of every type,
//!   events, links, status, `tracestate`, resource, scope), optionally
//!   dropping keys outside the telemetry contract. The set-up runs the same
//!   check on every exporter it creates, metrics included.
//!
//! ```
//! use checkout_otel::pii::{
//!     scrub, Currency, Money, PaymentMethod, UserHasher,
//! };
//!
//! let hasher = UserHasher::from_hex(&"5e".repeat(32))?;
//! let user = hasher.hash("customer-42");
//! assert_eq!(user.key_value().key.as_str(), "user.hash");
//!
//! let card = PaymentMethod::card_from_number("5555 5555 5555 4444")?;
//! assert_eq!(card.to_string(), "card mastercard ****4444");
//!
//! let total = Money::parse("42.50", Currency::EUR)?;
//! assert_eq!(total.minor_units(), 4250);
//!
//! assert_eq!(
//!     scrub("declined: card 5555-5555-5555-4444, contact ops@example.com"),
//!     "declined: card [REDACTED:card], contact [REDACTED:email]"
//! );
//! # Ok::<(), checkout_otel::Error>(())
//! ```

pub(crate) mod client_address;
mod decode;
mod exit;
mod exit_logs;
mod exit_metrics;
mod exit_spans;
mod iban;
mod keys;
mod money;
mod numbers;
mod payment_method;
mod redact;
mod scrub;
mod url;
mod user;

pub(crate) use exit::{Redactor, check_log_field};
pub(crate) use exit_logs::LogExitCheck;
pub(crate) use exit_spans::strip_trace_states;
pub use keys::{MAX_KEY_CHARS, is_sensitive_key};
pub use money::{Currency, Money};
pub use payment_method::{Card, CardBrand, PaymentMethod, PaymentMethodType, WalletKind};
pub use redact::{
    DEFAULT_EXPORT_MAX_CHARS, RedactingExporter, RedactionCounters, SENSITIVE_VALUE_MASK,
};
pub use scrub::{
    CARD_MASK, DEFAULT_MAX_CHARS, EMAIL_MASK, IBAN_MASK, PHONE_MASK, ScrubStats, TRUNCATION_MARKER,
    scrub, scrub_url_with_stats, scrub_with_limit, scrub_with_stats,
};
pub use url::{URL_PART_MASK, scrub_url};
pub(crate) use user::report_random_key_at_init;
pub use user::{
    MIN_KEY_BYTES, USER_HASH_HEX_LEN, USER_HASH_KEY_ENV, UserHasher, UserRef, hash_customer_id,
    install_user_hasher, user_hasher,
};

/// Overwrites a buffer that held a secret (a key, a card number) before it is
/// freed. Best effort: `black_box` keeps the compiler from dropping the
/// writes as dead stores; copies made elsewhere are out of reach.
pub(crate) fn wipe(buf: &mut [u8]) {
    buf.fill(0);
    std::hint::black_box(buf);
}
