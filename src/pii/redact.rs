//! The redacting exporter (see [`RedactingExporter`]).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

use super::exit::Redactor;
use super::scrub::ScrubStats;
use super::user::UserHasher;

/// Default length limit, in characters, of an exported string value. Larger
/// than [`scrub`](super::scrub)'s default so parameterised queries and stack
/// traces survive.
pub const DEFAULT_EXPORT_MAX_CHARS: usize = 4096;
/// Replaces the value of an attribute whose key names a secret.
pub const SENSITIVE_VALUE_MASK: &str = "[REDACTED]";

/// Counts of what a [`RedactingExporter`] changed, shared by every clone.
#[derive(Debug, Clone, Default)]
pub struct RedactionCounters(Arc<Cells>);

#[derive(Debug, Default)]
struct Cells {
    masked_values: AtomicU64,
    dropped_keys: AtomicU64,
    cards: AtomicU64,
    emails: AtomicU64,
    phones: AtomicU64,
    ibans: AtomicU64,
    url_parts: AtomicU64,
    truncated: AtomicU64,
    sensitive_keys: AtomicU64,
    masked_keys: AtomicU64,
    identities: AtomicU64,
    trace_states: AtomicU64,
}

impl RedactionCounters {
    /// String values (attribute values, array elements, names, status
    /// descriptions) changed by masking or truncation, plus values replaced
    /// because of a sensitive key.
    pub fn masked_values(&self) -> u64 {
        self.0.masked_values.load(Ordering::Relaxed)
    }

    /// Attributes dropped by strict mode (identity keys are counted in
    /// [`identities`](Self::identities) instead).
    pub fn dropped_keys(&self) -> u64 {
        self.0.dropped_keys.load(Ordering::Relaxed)
    }

    /// Card numbers masked.
    pub fn cards(&self) -> u64 {
        self.0.cards.load(Ordering::Relaxed)
    }

    /// Email addresses masked.
    pub fn emails(&self) -> u64 {
        self.0.emails.load(Ordering::Relaxed)
    }

    /// Phone numbers masked.
    pub fn phones(&self) -> u64 {
        self.0.phones.load(Ordering::Relaxed)
    }

    /// IBANs masked.
    pub fn ibans(&self) -> u64 {
        self.0.ibans.load(Ordering::Relaxed)
    }

    /// Parts of URL-shaped values replaced (query and fragment values,
    /// credentials, path parameters; see [`scrub_url`](super::scrub_url)).
    pub fn url_parts(&self) -> u64 {
        self.0.url_parts.load(Ordering::Relaxed)
    }

    /// Attribute keys changed: cut to [`MAX_KEY_CHARS`](super::MAX_KEY_CHARS)
    /// or with PII masked in them.
    pub fn masked_keys(&self) -> u64 {
        self.0.masked_keys.load(Ordering::Relaxed)
    }

    /// Values truncated.
    pub fn truncated_values(&self) -> u64 {
        self.0.truncated.load(Ordering::Relaxed)
    }

    /// Values replaced because their key names a secret.
    pub fn sensitive_keys(&self) -> u64 {
        self.0.sensitive_keys.load(Ordering::Relaxed)
    }

    /// Identity attributes (`user.id`, `enduser.id`, an email or name key)
    /// replaced by `user.hash` or, when one is already there, removed.
    pub fn identities(&self) -> u64 {
        self.0.identities.load(Ordering::Relaxed)
    }

    /// `tracestate` headers removed from spans and links (exported only when
    /// the service opts in).
    pub fn trace_states(&self) -> u64 {
        self.0.trace_states.load(Ordering::Relaxed)
    }

    pub(super) fn add(&self, t: &Tally) {
        let add = |cell: &AtomicU64, n: u64| {
            if n > 0 {
                cell.fetch_add(n, Ordering::Relaxed);
            }
        };
        add(&self.0.masked_values, t.masked_values);
        add(&self.0.dropped_keys, t.dropped_keys);
        add(&self.0.cards, t.cards);
        add(&self.0.emails, t.emails);
        add(&self.0.phones, t.phones);
        add(&self.0.ibans, t.ibans);
        add(&self.0.url_parts, t.url_parts);
        add(&self.0.truncated, t.truncated);
        add(&self.0.sensitive_keys, t.sensitive_keys);
        add(&self.0.masked_keys, t.masked_keys);
        add(&self.0.identities, t.identities);
        add(&self.0.trace_states, t.trace_states);
    }
}

/// Counts for one batch, published once.
#[derive(Default)]
pub(super) struct Tally {
    pub(super) masked_values: u64,
    pub(super) dropped_keys: u64,
    pub(super) cards: u64,
    pub(super) emails: u64,
    pub(super) phones: u64,
    pub(super) ibans: u64,
    pub(super) url_parts: u64,
    pub(super) truncated: u64,
    pub(super) sensitive_keys: u64,
    pub(super) masked_keys: u64,
    pub(super) identities: u64,
    pub(super) trace_states: u64,
}

impl Tally {
    /// A value changed by a scrub.
    pub(super) fn record(&mut self, stats: ScrubStats) {
        self.masked_values += 1;
        self.count_kinds(stats);
        self.truncated += u64::from(stats.truncated);
    }

    /// A key changed by [`scrub_key_with_stats`](super::keys::scrub_key_with_stats): counted
    /// apart from values, with what was masked in it.
    pub(super) fn record_key(&mut self, stats: ScrubStats) {
        self.masked_keys += 1;
        self.count_kinds(stats);
    }

    fn count_kinds(&mut self, stats: ScrubStats) {
        self.cards += u64::from(stats.cards);
        self.emails += u64::from(stats.emails);
        self.phones += u64::from(stats.phones);
        self.ibans += u64::from(stats.ibans);
        self.url_parts += u64::from(stats.url_parts);
    }
}

/// Wraps a [`SpanExporter`] and checks every span before it leaves the
/// process: a last line of defence behind the PII-safe value types. The
/// set-up ([`Telemetry::builder`](crate::init::Telemetry::builder)) puts the
/// same check in front of every exporter it creates, metrics included.
///
/// Every path out of a span is checked:
///
/// - **text**: the span name, event names (the `tracing` bridge uses a log
///   message as event name), the error status description, every string
///   attribute value and every element of a string array, on the span, its
///   events and its links, go through [`scrub`](super::scrub) (cards, emails,
///   phone numbers and the rest masked; values longer than
///   [`DEFAULT_EXPORT_MAX_CHARS`] characters truncated). Values of URL keys
///   (`url.full`, `url.query`, `http.target`, ...) are checked component by
///   component. The one exception is a `user.hash` value that is a
///   well-formed hash (64 lowercase hex characters): a run of digits in it
///   could pass for a card number;
/// - **numbers**: integer values, integer array elements and floats holding
///   a whole number are checked as their decimal text, so a card number
///   recorded as a number is masked (the value becomes the mask string, an
///   array with a masked element a string array). Booleans cannot hold PII;
/// - **keys**: every attribute key outside the telemetry contract is bounded
///   in length and checked like text (an email inside a key is masked);
/// - **secrets**: the value of an attribute whose key names a secret
///   ([`is_sensitive_key`](super::is_sensitive_key): passwords, tokens, card
///   verification codes, authorization, cookies, ...), whatever its type or
///   content, becomes [`SENSITIVE_VALUE_MASK`] `[REDACTED]`. Keys of the
///   telemetry contract are exempt;
/// - **identities**: an attribute whose key names a person (`user.id`,
///   `enduser.id`, `customer.id`, `user.email`, `user.name`, ...) never
///   leaves raw: its value is hashed into `user.hash` (HMAC-SHA256 with the
///   [`UserHasher`] given to [`with_user_hasher`](Self::with_user_hasher), by
///   default the process-wide [`user_hasher`](super::user_hasher)) and the
///   key is removed; when the list already has a `user.hash`, the identity
///   attribute is only removed;
/// - **client addresses**: the value of `client.address` (or any key ending
///   in `client address|ip`, such as `http.client_ip`), the buyer's IP
///   address, is anonymised (IPv4 to its /24, `203.0.113.0`; IPv6 to its
///   /48, `2001:db8:cafe::`), or masked when it is not an IP address;
/// - **`tracestate`**: the span's own and each link's `tracestate` are
///   removed (trace and span ids, flags and remoteness are kept): it comes
///   from whoever called the service, a browser or a partner. With
///   [`export_trace_state(true)`](Self::export_trace_state) it is exported,
///   its values checked like text;
/// - **resource and scope**: the resource given to
///   [`set_resource`](SpanExporter::set_resource) is checked once (keys,
///   values, identities, secrets; strict mode does not apply: it is
///   configuration) and the wrapped exporter receives the checked one; each
///   span's instrumentation scope (name, version, schema URL, attributes) is
///   checked the same way;
/// - **strict mode** ([`RedactingExporter::strict`]): attributes whose key
///   is neither in [`CONTRACT_ATTRIBUTE_KEYS`](crate::attributes::CONTRACT_ATTRIBUTE_KEYS)
///   nor in your allow-list are dropped (span, event and link attributes
///   alike; `exception.stacktrace` and the `tracing` bridge's `code.*` /
///   `thread.*` keys are not in the contract, allow them if you want them).
///
/// Values that need no change are not copied. What was masked, hashed and
/// dropped is counted in [`RedactionCounters`].
///
/// ```
/// use checkout_otel::opentelemetry::trace::{Span, Tracer, TracerProvider};
/// use checkout_otel::opentelemetry::KeyValue;
/// use checkout_otel::opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
/// use checkout_otel::pii::RedactingExporter;
///
/// let memory = InMemorySpanExporter::default();
/// let exporter = RedactingExporter::new(memory.clone()).strict(["tenant.id"]);
/// let counters = exporter.counters();
/// let provider = SdkTracerProvider::builder().with_simple_exporter(exporter).build();
///
/// let mut span = provider.tracer("shop").start("payment.process");
/// span.set_attribute(KeyValue::new("payment.decline_code", "call 415-555-0123"));
/// span.set_attribute(KeyValue::new("shipping.note", "leave at the door"));
/// span.set_attribute(KeyValue::new("tenant.id", "acme"));
/// span.end();
///
/// let spans = memory.get_finished_spans().unwrap();
/// let attrs = &spans[0].attributes;
/// assert_eq!(attrs.len(), 2); // shipping.note dropped: not in the contract
/// assert_eq!(attrs[0].value.as_str(), "call [REDACTED:phone]");
/// assert_eq!(counters.masked_values(), 1);
/// assert_eq!(counters.dropped_keys(), 1);
/// ```
#[derive(Debug)]
pub struct RedactingExporter<E> {
    inner: E,
    redactor: Redactor,
}

impl<E> RedactingExporter<E> {
    /// Wraps `inner`: checking on, strict mode off, `tracestate` removed,
    /// identities hashed with the process-wide hasher.
    pub fn new(inner: E) -> Self {
        RedactingExporter {
            inner,
            redactor: Redactor::new(RedactionCounters::default()),
        }
    }

    /// Counts into `counters` instead of a fresh set: several exporters of one
    /// process (OTLP and the console, say) can then report one total.
    pub fn with_counters(mut self, counters: RedactionCounters) -> Self {
        self.redactor.counters = counters;
        self
    }

    /// Strict mode: drop attributes whose key is neither in
    /// [`CONTRACT_ATTRIBUTE_KEYS`](crate::attributes::CONTRACT_ATTRIBUTE_KEYS)
    /// nor in `extra_allowed`. Calling it again adds to the allow-list.
    pub fn strict(mut self, extra_allowed: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.redactor = self.redactor.strict(extra_allowed);
        self
    }

    /// Length limit of exported string values, in characters (default
    /// [`DEFAULT_EXPORT_MAX_CHARS`]).
    pub fn max_value_chars(mut self, max_chars: usize) -> Self {
        self.redactor.max_chars = max_chars;
        self
    }

    /// Hashes identity values (`user.id`, `enduser.id`, ...) into `user.hash`
    /// with `hasher` instead of the process-wide one: use the key every
    /// service of the shop shares, so the hashes correlate with those of
    /// [`UserRef`](super::UserRef).
    pub fn with_user_hasher(mut self, hasher: UserHasher) -> Self {
        self.redactor = self.redactor.with_user_hasher(Some(Arc::new(hasher)));
        self
    }

    /// Whether each span's and link's `tracestate` is exported (its values
    /// checked like text) instead of removed (the default).
    pub fn export_trace_state(mut self, export: bool) -> Self {
        self.redactor = self.redactor.keep_trace_state(export);
        self
    }

    /// A handle on the counters; it stays valid after the exporter moves into
    /// a provider.
    pub fn counters(&self) -> RedactionCounters {
        self.redactor.counters.clone()
    }

    /// The wrapped exporter.
    pub fn inner(&self) -> &E {
        &self.inner
    }

    /// Redacts spans in place, exactly as [`SpanExporter::export`] does
    /// before forwarding them.
    pub fn redact_batch(&self, batch: &mut [SpanData]) {
        self.redactor.redact_batch(batch);
    }
}

impl<E: SpanExporter> SpanExporter for RedactingExporter<E> {
    fn export(&self, mut batch: Vec<SpanData>) -> impl Future<Output = OTelSdkResult> + Send {
        self.redactor.redact_batch(&mut batch);
        self.inner.export(batch)
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn shutdown(&self) -> OTelSdkResult {
        self.inner.shutdown()
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        match self.redactor.redact_resource(resource) {
            Some(redacted) => self.inner.set_resource(&redacted),
            None => self.inner.set_resource(resource),
        }
    }
}
