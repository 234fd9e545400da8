//! The exit check's rule for one attribute list, and the resource: what
//! every exported span, resource, instrumentation scope and metric request
//! goes through (the rules are in [`RedactingExporter`](super::RedactingExporter)'s
//! documentation; spans are walked in [`exit_spans`](super::exit_spans),
//! metric requests in [`exit_metrics`](super::exit_metrics)).
//!
//! One attribute rule for every representation: the SDK's `KeyValue` and
//! the OTLP request's share [`redact_list`](Redactor::redact_list) through
//! the small [`Attribute`] trait.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, OnceLock};

use opentelemetry::KeyValue;
use opentelemetry_sdk::Resource;

use super::client_address::anonymize_client_address;
use super::keys::{KeyClass, classify_key, scrub_key_with_stats};
use super::redact::{DEFAULT_EXPORT_MAX_CHARS, RedactionCounters, SENSITIVE_VALUE_MASK, Tally};
use super::scrub::{ScrubStats, scrub_url_with_stats, scrub_with_stats};
use super::user::{UserHasher, is_user_hash, user_hasher};
use crate::attributes::{CONTRACT_ATTRIBUTE_KEYS, CONTRACT_METRIC_ATTRIBUTE_KEYS, USER_HASH};

/// Integers below this (7 digits or fewer) cannot hold a card or phone
/// number, so they are not formatted and scanned.
const MIN_CHECKED_INT: u64 = 10_000_000;

/// What each key of the telemetry contract holds, by the exit check's
/// rules: a contract key is never a secret (the crate records only safe
/// values under it), so it is [`KeyClass::Plain`] or [`KeyClass::Url`].
/// One lookup answers both "in the contract?" and "what class?", so the
/// common case, a contract key, skips the word-by-word key analysis.
fn contract_class(key: &str) -> Option<KeyClass> {
    type Classes = HashMap<&'static str, KeyClass, BuildHasherDefault<WordHash>>;
    static CLASSES: OnceLock<Classes> = OnceLock::new();
    CLASSES
        .get_or_init(|| {
            CONTRACT_ATTRIBUTE_KEYS
                .iter()
                .chain(CONTRACT_METRIC_ATTRIBUTE_KEYS)
                .map(|&k| match classify_key(k) {
                    KeyClass::Secret => (k, KeyClass::Plain),
                    class => (k, class),
                })
                .collect()
        })
        .get(key)
        .copied()
}

/// A word-at-a-time multiplicative hash (FxHash's): the contract table is
/// fixed (lookups only, nothing an attacker can insert), so a fast
/// non-keyed hash is safe there, and it runs on every attribute key.
#[derive(Default)]
struct WordHash(u64);

impl Hasher for WordHash {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(SEED);
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(SEED);
        }
    }
}

/// Which allow-list strict mode applies to an attribute list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Filter {
    /// Configuration (resource, scope): every key is kept.
    Keep,
    /// Span, event and link attributes: the contract and the allow-list.
    Spans,
    /// Metric point attributes: the span contract, the metric contract and
    /// the allow-list.
    Metrics,
}

/// What [`RedactingExporter`](super::RedactingExporter) does to a batch,
/// without an exporter: the set-up's own exporter wrapper redacts with it.
#[derive(Debug)]
pub(crate) struct Redactor {
    /// `Some` in strict mode: the keys allowed through.
    allowed: Option<HashSet<Box<str>>>,
    pub(super) max_chars: usize,
    pub(super) counters: RedactionCounters,
    /// `None`: the process-wide hasher at the time of export.
    user_hasher: Option<Arc<UserHasher>>,
    pub(super) keep_trace_state: bool,
}

impl Redactor {
    /// Scrubbing on, strict mode off, `tracestate` removed, counting into
    /// `counters`.
    pub(crate) fn new(counters: RedactionCounters) -> Self {
        Redactor {
            allowed: None,
            max_chars: DEFAULT_EXPORT_MAX_CHARS,
            counters,
            user_hasher: None,
            keep_trace_state: false,
        }
    }

    /// See [`RedactingExporter::strict`](super::RedactingExporter::strict).
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

    /// Identity values are hashed with `hasher` (`None`: the process-wide
    /// [`user_hasher`] at the time of export).
    pub(crate) fn with_user_hasher(mut self, hasher: Option<Arc<UserHasher>>) -> Self {
        self.user_hasher = hasher;
        self
    }

    /// Whether `tracestate` is exported (checked like any text) instead of
    /// removed.
    pub(crate) fn keep_trace_state(mut self, keep: bool) -> Self {
        self.keep_trace_state = keep;
        self
    }

    /// The resource with its attributes and schema URL checked (configuration:
    /// strict mode keeps every key), or `None` when nothing changed.
    pub(crate) fn redact_resource(&self, resource: &Resource) -> Option<Resource> {
        let mut tally = Tally::default();
        let mut attributes: Vec<KeyValue> = resource
            .iter()
            .map(|(k, v)| KeyValue::new(k.clone(), v.clone()))
            .collect();
        let changed = self.redact_list(&mut attributes, Filter::Keep, &mut tally);
        let checked_url = resource
            .schema_url()
            .and_then(|url| self.check_url(url, self.config_limit(), &mut tally));
        self.counters.add(&tally);
        if !changed && checked_url.is_none() {
            return None;
        }
        let builder = Resource::builder_empty();
        let resource = match checked_url.or_else(|| resource.schema_url().map(str::to_owned)) {
            Some(url) => builder.with_schema_url(attributes, url),
            None => builder.with_attributes(attributes),
        };
        Some(resource.build())
    }

    /// Checks one attribute list in place: identity keys become `user.hash`,
    /// strict mode drops keys outside `filter`'s allow-list, keys are bounded
    /// and masked, secrets replaced, values checked. Returns whether anything
    /// changed.
    pub(super) fn redact_list<A: Attribute>(
        &self,
        attributes: &mut Vec<A>,
        filter: Filter,
        tally: &mut Tally,
    ) -> bool {
        let mut changed = false;
        // Allocated only when something is dropped.
        let mut dropped: Vec<usize> = Vec::new();
        let mut user_hash_present = None;
        for i in 0..attributes.len() {
            let key = attributes[i].key();
            let (contract, class) = match contract_class(key) {
                Some(class) => (true, class),
                None => (false, classify_key(key)),
            };
            if class == KeyClass::Identity {
                tally.identities += 1;
                changed = true;
                let present = *user_hash_present
                    .get_or_insert_with(|| attributes.iter().any(|a| a.key() == USER_HASH));
                if present {
                    dropped.push(i);
                } else {
                    let hash = self.hash_identity(&attributes[i].value_text());
                    attributes[i] = A::user_hash(hash);
                    user_hash_present = Some(true);
                }
                continue;
            }
            if !self.allows(key, filter) {
                tally.dropped_keys += 1;
                changed = true;
                dropped.push(i);
                continue;
            }
            let is_user_hash_key = key == USER_HASH;
            if !contract {
                if let (Cow::Owned(masked), stats) = scrub_key_with_stats(key) {
                    tally.record_key(stats);
                    changed = true;
                    attributes[i].set_key(masked);
                }
            }
            if class == KeyClass::ClientAddress {
                let text = attributes[i].value_text();
                let checked = client_address_value(&text);
                if checked != text {
                    tally.masked_values += 1;
                    changed = true;
                    attributes[i].set_text(checked);
                }
                continue;
            }
            if class == KeyClass::Secret {
                tally.masked_values += 1;
                tally.sensitive_keys += 1;
                changed = true;
                attributes[i].set_text(SENSITIVE_VALUE_MASK.to_owned());
                continue;
            }
            let check = ValueCheck {
                redactor: self,
                url: class == KeyClass::Url,
                user_hash: is_user_hash_key,
                max: if filter == Filter::Keep {
                    self.config_limit()
                } else {
                    self.max_chars
                },
            };
            changed |= attributes[i].check_value(&check, tally);
        }
        if !dropped.is_empty() {
            let mut index = 0;
            let mut next = dropped.iter().peekable();
            attributes.retain(|_| {
                let drop = next.peek() == Some(&&index);
                if drop {
                    next.next();
                }
                index += 1;
                !drop
            });
        }
        changed
    }

    /// Whether strict mode (if on) lets `key` through.
    fn allows(&self, key: &str, filter: Filter) -> bool {
        match (&self.allowed, filter) {
            (None, _) | (_, Filter::Keep) => true,
            (Some(allowed), Filter::Spans) => allowed.contains(key),
            (Some(allowed), Filter::Metrics) => {
                allowed.contains(key) || CONTRACT_METRIC_ATTRIBUTE_KEYS.contains(&key)
            }
        }
    }

    /// `user.hash` of an identity value, with the configured hasher.
    fn hash_identity(&self, value: &str) -> String {
        match &self.user_hasher {
            Some(hasher) => hasher.hash(value).hash().to_owned(),
            None => user_hasher().hash(value).hash().to_owned(),
        }
    }

    /// The length limit of configuration text (resource, scope, metric
    /// names): the value limit, but never below the default, so a small
    /// limit meant for data does not cut a service name.
    pub(super) fn config_limit(&self) -> usize {
        self.max_chars.max(DEFAULT_EXPORT_MAX_CHARS)
    }

    /// The scrubbed text (at most `max` characters kept), or `None` when it
    /// needs no change.
    pub(super) fn check_text(&self, text: &str, max: usize, tally: &mut Tally) -> Option<String> {
        Self::changed(scrub_with_stats(text, max), tally)
    }

    /// The URL checked component by component, or `None` when it needs no change.
    pub(super) fn check_url(&self, text: &str, max: usize, tally: &mut Tally) -> Option<String> {
        Self::changed(scrub_url_with_stats(text, max), tally)
    }

    /// An integer checked as its decimal text (a card number recorded as a
    /// number), or `None` when it needs no change.
    pub(super) fn check_int(&self, value: i64, tally: &mut Tally) -> Option<String> {
        let magnitude = value.unsigned_abs();
        if magnitude < MIN_CHECKED_INT {
            return None;
        }
        let mut buf = [0u8; 20];
        // At most 20 characters: the limit never cuts a number.
        self.check_text(decimal(magnitude, &mut buf), usize::MAX, tally)
    }

    /// A float holding a whole number is checked like that integer (a card
    /// number fits a double exactly); other floats cannot hold one.
    pub(super) fn check_float(&self, value: f64, tally: &mut Tally) -> Option<String> {
        // 2^63: above it the cast saturates, and no card number is that long.
        const I64_LIMIT: f64 = 9_223_372_036_854_775_808.0;
        if value.fract() != 0.0 || !value.is_finite() || value.abs() >= I64_LIMIT {
            return None;
        }
        // Whole and below 2^63 in magnitude: the cast is exact.
        self.check_int(value as i64, tally)
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

/// The log output's check of one field, by its key like an exported
/// attribute: a secret or identity key's value becomes
/// [`SENSITIVE_VALUE_MASK`], a URL key's value is checked component by
/// component, any other value scrubbed. Nothing is truncated (a log line is
/// the service's own). `None` when the text needs no change.
pub(crate) fn check_log_field(key: &str, text: &str) -> Option<String> {
    let changed = |(text, _): (Cow<'_, str>, ScrubStats)| match text {
        Cow::Borrowed(_) => None,
        Cow::Owned(checked) => Some(checked),
    };
    match contract_class(key).unwrap_or_else(|| classify_key(key)) {
        KeyClass::Secret | KeyClass::Identity => Some(SENSITIVE_VALUE_MASK.to_owned()),
        KeyClass::ClientAddress => Some(client_address_value(text)).filter(|c| c != text),
        KeyClass::Url => changed(scrub_url_with_stats(text, usize::MAX)),
        _ => changed(scrub_with_stats(text, usize::MAX)),
    }
}

/// What a client-address key may carry out: the address anonymised, or
/// the mask when the value is not an IP address.
fn client_address_value(text: &str) -> String {
    anonymize_client_address(text).unwrap_or_else(|| SENSITIVE_VALUE_MASK.to_owned())
}

/// `n` in decimal, written at the end of `buf`.
fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &str {
    let mut start = buf.len();
    loop {
        start -= 1;
        buf[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    // Only ASCII digits were written.
    std::str::from_utf8(&buf[start..]).unwrap_or_default()
}

/// How one attribute's value is checked.
pub(super) struct ValueCheck<'a> {
    pub(super) redactor: &'a Redactor,
    /// The key holds a URL, path or query.
    pub(super) url: bool,
    /// The key is `user.hash`: a well-formed hash passes unchanged.
    pub(super) user_hash: bool,
    /// Characters kept of a text value.
    pub(super) max: usize,
}

impl ValueCheck<'_> {
    /// The checked text, or `None` when it needs no change.
    pub(super) fn text(&self, text: &str, tally: &mut Tally) -> Option<String> {
        // A well-formed hash is safe by construction, and a run of 13+
        // decimal digits inside it could pass the Luhn check and be masked
        // as a card, breaking correlation for that user.
        if self.user_hash && is_user_hash(text) {
            None
        } else if self.url {
            self.redactor.check_url(text, self.max, tally)
        } else {
            self.redactor.check_text(text, self.max, tally)
        }
    }
}

/// An attribute in one of the representations the exit check sees.
pub(super) trait Attribute {
    /// The key.
    fn key(&self) -> &str;
    /// Replaces the key.
    fn set_key(&mut self, key: String);
    /// The value as text (an identity is hashed from it).
    fn value_text(&self) -> Cow<'_, str>;
    /// Replaces the value by `text`.
    fn set_text(&mut self, text: String);
    /// A `user.hash` attribute.
    fn user_hash(hash: String) -> Self;
    /// Checks the value in place; whether it changed.
    fn check_value(&mut self, check: &ValueCheck<'_>, tally: &mut Tally) -> bool;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contract_keys_are_looked_up_with_their_class() {
        assert_eq!(contract_class("url.full"), Some(KeyClass::Url));
        assert_eq!(contract_class("cart.id"), Some(KeyClass::Plain));
        assert_eq!(
            contract_class("checkout.item_count_bucket"),
            Some(KeyClass::Plain)
        );
        assert_eq!(contract_class("db.password"), None);
        assert_eq!(contract_class("cart.id.x"), None);
        let mut a = WordHash::default();
        let mut b = WordHash::default();
        a.write(b"checkout.status");
        b.write(b"checkout.statuS");
        assert_ne!(a.finish(), b.finish());
    }

    #[test]
    fn decimal_text_of_integers() {
        let mut buf = [0u8; 20];
        assert_eq!(decimal(0, &mut buf), "0");
        assert_eq!(decimal(4111111111111111, &mut buf), "4111111111111111");
        assert_eq!(decimal(u64::MAX, &mut buf), "18446744073709551615");
    }

    #[test]
    fn card_numbers_recorded_as_numbers_are_masked() {
        let r = Redactor::new(RedactionCounters::default());
        let mut tally = Tally::default();
        assert!(r.check_int(4111111111111111, &mut tally).is_some());
        assert!(r.check_int(-4111111111111111, &mut tally).is_some());
        assert!(r.check_float(4111111111111111.0, &mut tally).is_some());
        assert_eq!(r.check_int(4111111111111112, &mut tally), None);
        assert_eq!(r.check_int(1234, &mut tally), None);
        assert_eq!(r.check_float(4111111111111111.5, &mut tally), None);
        assert_eq!(r.check_float(f64::NAN, &mut tally), None);
        assert_eq!(r.check_float(1e300, &mut tally), None);
        assert_eq!(tally.cards, 3);
    }

    #[test]
    fn client_addresses_are_anonymised_not_hashed_into_user_hash() {
        let r = Redactor::new(RedactionCounters::default());
        let mut tally = Tally::default();
        let mut attributes = vec![
            KeyValue::new("client.address", "203.0.113.77"),
            KeyValue::new("http.client_ip", "[2001:db8:cafe:1::17]:4711"),
            KeyValue::new("clientAddress", "jane.example.com"),
        ];
        assert!(r.redact_list(&mut attributes, Filter::Spans, &mut tally));
        let texts: Vec<_> = attributes
            .iter()
            .map(|kv| (kv.key.as_str(), kv.value.to_string()))
            .collect();
        assert_eq!(
            texts,
            [
                ("client.address", "203.0.113.0".to_owned()),
                ("http.client_ip", "2001:db8:cafe::".to_owned()),
                ("clientAddress", SENSITIVE_VALUE_MASK.to_owned()),
            ]
        );
        assert_eq!((tally.identities, tally.masked_values), (0, 3));

        // Already anonymised (as the server layer records it): unchanged.
        let mut anonymised = vec![KeyValue::new("client.address", "203.0.113.0")];
        assert!(!r.redact_list(&mut anonymised, Filter::Spans, &mut tally));
        assert_eq!(
            check_log_field("client.address", "198.51.100.9").as_deref(),
            Some("198.51.100.0")
        );
        assert_eq!(check_log_field("client.address", "198.51.100.0"), None);
    }
}
