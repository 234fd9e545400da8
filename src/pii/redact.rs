//! The redacting exporter (see [`RedactingExporter`]).

use std::borrow::Cow;
use std::collections::HashSet;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use opentelemetry::trace::Status;
use opentelemetry::{Array, KeyValue, StringValue, Value};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

use super::keys::{KeyClass, classify_key};
use super::scrub::{ScrubStats, scrub_url_with_stats, scrub_with_stats};
use super::user::is_user_hash;
use crate::attributes::{CONTRACT_ATTRIBUTE_KEYS, USER_HASH};

/// Default length limit, in characters, of an exported string value. Larger
/// than [`scrub`](super::scrub)'s default so parameterised queries and stack
/// traces survive.
pub const DEFAULT_EXPORT_MAX_CHARS: usize = 4096;
/// Replaces the value of an attribute whose key names a secret.
pub const SENSITIVE_VALUE_MASK: &str = "[REDACTED]";

fn contract_keys() -> &'static HashSet<&'static str> {
    static KEYS: OnceLock<HashSet<&'static str>> = OnceLock::new();
    KEYS.get_or_init(|| CONTRACT_ATTRIBUTE_KEYS.iter().copied().collect())
}

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
}

impl RedactionCounters {
    /// String values (attribute values, array elements, names, status
    /// descriptions) changed by masking or truncation, plus values replaced
    /// because of a sensitive key.
    pub fn masked_values(&self) -> u64 {
        self.0.masked_values.load(Ordering::Relaxed)
    }

    /// Attributes dropped by strict mode.
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

    fn add(&self, t: &Tally) {
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
    }
}

/// Counts for one batch, published once.
#[derive(Default)]
struct Tally {
    masked_values: u64,
    dropped_keys: u64,
    cards: u64,
    emails: u64,
    phones: u64,
    ibans: u64,
    url_parts: u64,
    truncated: u64,
    sensitive_keys: u64,
    masked_keys: u64,
}

impl Tally {
    /// A value changed by a scrub.
    fn record(&mut self, stats: ScrubStats) {
        self.masked_values += 1;
        self.count_kinds(stats);
        self.truncated += u64::from(stats.truncated);
    }

    /// A key changed by [`scrub_key`](super::keys::scrub_key): counted
    /// apart from values, with what was masked in it.
    #[allow(dead_code)] // called by the exit check on every exported key
    fn record_key(&mut self, stats: ScrubStats) {
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

/// Wraps a [`SpanExporter`] and scrubs every span before it leaves the
/// process: a last line of defence behind the PII-safe value types.
///
/// It rewrites every span before handing the batch to the wrapped exporter:
///
/// - every string attribute value, every element of a string array, on the
///   span, its events and its links, the span name, the event names (the
///   `tracing` bridge uses a log message as event name) and the error status
///   description go through [`scrub`](super::scrub) (cards, emails and phone
///   numbers masked; values longer than [`DEFAULT_EXPORT_MAX_CHARS`]
///   characters truncated). The one exception is a `user.hash` value that is
///   a well-formed hash (64 lowercase hex characters): a run of digits in it
///   could pass for a card number;
/// - the value of an attribute whose key names a secret, whatever its type
///   or content, becomes [`SENSITIVE_VALUE_MASK`] `[REDACTED]`: a key with a
///   word (split on `.`, `_`, `-`, case-insensitive) among `password`,
///   `passwd`, `pwd`, `secret`, `token`, `apikey`, `authorization`, `cookie`,
///   `cvv`, `cvv2`, `cvc`, `pan`, `ssn`, `iban`, or the word pairs
///   `api key`, `card number`, `private key`, `access key`
///   (`http.request.header.authorization`, `payment.token`,
///   `card_number`). Keys of the telemetry contract are exempt;
/// - in strict mode ([`RedactingExporter::strict`]), attributes whose key is
///   neither in [`CONTRACT_ATTRIBUTE_KEYS`] nor in your allow-list are dropped
///   (span, event and link attributes alike; `exception.stacktrace` and the
///   `tracing` bridge's `code.*` / `thread.*` keys are not in the contract,
///   allow them if you want them).
///
/// Integer, float and boolean values are not inspected (only their key is).
/// Resource and instrumentation-scope attributes are set by code, not data,
/// and pass unchanged.
///
/// Values that need no change are not copied. What was masked and dropped is
/// counted in [`RedactionCounters`].
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
/// span.set_attribute(KeyValue::new("customer.email", "jane@example.com"));
/// span.set_attribute(KeyValue::new("tenant.id", "acme"));
/// span.end();
///
/// let spans = memory.get_finished_spans().unwrap();
/// let attrs = &spans[0].attributes;
/// assert_eq!(attrs.len(), 2); // customer.email dropped: not in the contract
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
    /// Wraps `inner`: scrubbing on, strict mode off.
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
    /// [`CONTRACT_ATTRIBUTE_KEYS`] nor in `extra_allowed`. Calling it again
    /// adds to the allow-list.
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

/// What [`RedactingExporter`] does to a batch, without an exporter: the
/// set-up's own exporter wrapper redacts with it.
#[derive(Debug)]
pub(crate) struct Redactor {
    /// `Some` in strict mode: the keys allowed through.
    allowed: Option<HashSet<Box<str>>>,
    max_chars: usize,
    counters: RedactionCounters,
}

impl Redactor {
    /// Scrubbing on, strict mode off, counting into `counters`.
    pub(crate) fn new(counters: RedactionCounters) -> Self {
        Redactor {
            allowed: None,
            max_chars: DEFAULT_EXPORT_MAX_CHARS,
            counters,
        }
    }

    /// See [`RedactingExporter::strict`].
    pub(crate) fn strict(
        mut self,
        extra_allowed: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        let allowed = self.allowed.get_or_insert_with(|| {
            CONTRACT_ATTRIBUTE_KEYS
                .iter()
                .map(|k| Box::from(*k))
                .collect()
        });
        allowed.extend(extra_allowed.into_iter().map(|k| k.into().into_boxed_str()));
        self
    }

    /// Redacts spans in place and counts what changed.
    pub(crate) fn redact_batch(&self, batch: &mut [SpanData]) {
        let mut tally = Tally::default();
        for span in batch {
            self.redact_span(span, &mut tally);
        }
        self.counters.add(&tally);
    }

    fn redact_span(&self, span: &mut SpanData, tally: &mut Tally) {
        if let Some(name) = self.scrub(&span.name, tally) {
            span.name = Cow::Owned(name);
        }
        self.redact_attributes(&mut span.attributes, tally);
        for event in span.events.events.iter_mut() {
            if let Some(name) = self.scrub(&event.name, tally) {
                event.name = Cow::Owned(name);
            }
            self.redact_attributes(&mut event.attributes, tally);
        }
        for link in span.links.links.iter_mut() {
            self.redact_attributes(&mut link.attributes, tally);
        }
        if let Status::Error { description } = &mut span.status {
            if let Some(scrubbed) = self.scrub(description, tally) {
                *description = Cow::Owned(scrubbed);
            }
        }
    }

    fn redact_attributes(&self, attributes: &mut Vec<KeyValue>, tally: &mut Tally) {
        if let Some(allowed) = &self.allowed {
            let before = attributes.len();
            attributes.retain(|kv| allowed.contains(kv.key.as_str()));
            tally.dropped_keys += (before - attributes.len()) as u64;
        }
        for kv in attributes.iter_mut() {
            let key = kv.key.as_str();
            let class = classify_key(key);
            if !contract_keys().contains(key) && class == KeyClass::Secret {
                kv.value = Value::from(SENSITIVE_VALUE_MASK);
                tally.masked_values += 1;
                tally.sensitive_keys += 1;
                continue;
            }
            match &mut kv.value {
                // A well-formed hash is safe by construction, and a run of
                // 13+ decimal digits inside it could pass the Luhn check and
                // be masked as a card, breaking correlation for that user.
                Value::String(s) if key == USER_HASH && is_user_hash(s.as_str()) => {}
                Value::String(s) if class == KeyClass::Url => {
                    if let Some(scrubbed) = self.scrub_url(s.as_str(), tally) {
                        *s = StringValue::from(scrubbed);
                    }
                }
                Value::String(s) => {
                    if let Some(scrubbed) = self.scrub(s.as_str(), tally) {
                        *s = StringValue::from(scrubbed);
                    }
                }
                Value::Array(Array::String(items)) => {
                    for item in items.iter_mut() {
                        if let Some(scrubbed) = self.scrub(item.as_str(), tally) {
                            *item = StringValue::from(scrubbed);
                        }
                    }
                }
                _ => {}
            }
        }
    }

    /// The URL checked component by component, or `None` when it needs no change.
    fn scrub_url(&self, text: &str, tally: &mut Tally) -> Option<String> {
        Self::changed(scrub_url_with_stats(text, self.max_chars), tally)
    }

    /// The scrubbed text, or `None` when it needs no change.
    fn scrub(&self, text: &str, tally: &mut Tally) -> Option<String> {
        Self::changed(scrub_with_stats(text, self.max_chars), tally)
    }

    fn changed((text, stats): (Cow<'_, str>, ScrubStats), tally: &mut Tally) -> Option<String> {
        match text {
            Cow::Borrowed(_) => None,
            Cow::Owned(scrubbed) => {
                tally.record(stats);
                Some(scrubbed)
            }
        }
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
        self.inner.set_resource(resource);
    }
}
