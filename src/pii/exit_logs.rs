//! The exit check of log records: body, event name, target (the scope name
//! OTLP exports) and attribute keys and values of every type, nested lists
//! and maps included, with the rule spans have (see [`exit`](super::exit)).
//!
//! A log exporter receives records by shared reference, so the check runs as
//! the first [`LogProcessor`] of the pipeline, before the batch processor
//! queues the record ([`LogExitCheck`]). The SDK's record lets a processor set
//! its body but not replace or remove an attribute, so a record that needs a
//! change is rebuilt; a clean one (the common case) is only read.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Duration;

use opentelemetry::logs::{AnyValue, LogRecord as _, Logger as _, LoggerProvider as _};
use opentelemetry::{InstrumentationScope, Key, StringValue};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{LogProcessor, SdkLogRecord, SdkLogger, SdkLoggerProvider};

use super::exit::{Attribute, Filter, Redactor, ValueCheck};
use super::redact::{SENSITIVE_VALUE_MASK, Tally};
use crate::attributes::USER_HASH;

/// Lists and maps nested deeper than this are replaced by
/// [`SENSITIVE_VALUE_MASK`] rather than walked: the check's work per record
/// stays bounded whatever a caller builds.
pub(crate) const MAX_LOG_VALUE_DEPTH: u8 = 8;

impl Redactor {
    /// Checks one log record in place and counts what changed.
    pub(crate) fn redact_log(&self, record: &mut SdkLogRecord) {
        let mut tally = Tally::default();
        if let Some(checked) = self.check_log(record, &mut tally) {
            *record = checked;
        }
        self.counters.add(&tally);
    }

    /// The record with every path checked, or `None` when it passes as is.
    fn check_log(&self, record: &SdkLogRecord, tally: &mut Tally) -> Option<SdkLogRecord> {
        let text = ValueCheck {
            redactor: self,
            url: false,
            user_hash: false,
            max: self.max_chars,
        };
        let body = record
            .body()
            .and_then(|body| check_any(&text, body, 0, tally));
        let target = record
            .target()
            .and_then(|t| self.check_text(t, self.config_limit(), tally));
        // An event name is a `&'static str` in the SDK: one that needs a
        // change is replaced by the mask, never by a leaked copy.
        let event_name_masked = record
            .event_name()
            .is_some_and(|name| self.check_text(name, self.config_limit(), tally).is_some());
        let mut attributes: Vec<LogAttr<'_>> = record
            .attributes_iter()
            .map(|(key, value)| LogAttr::borrowed(key, value, 0))
            .collect();
        let attributes_changed = self.redact_list(&mut attributes, Filter::Spans, tally);
        if body.is_none() && target.is_none() && !event_name_masked && !attributes_changed {
            return None;
        }

        let mut out = blank_record();
        if let Some(name) = record.event_name() {
            out.set_event_name(if event_name_masked {
                SENSITIVE_VALUE_MASK
            } else {
                name
            });
        }
        match target {
            Some(checked) => out.set_target(checked),
            None => {
                if let Some(t) = record.target() {
                    out.set_target(t.clone());
                }
            }
        }
        if let Some(t) = record.timestamp() {
            out.set_timestamp(t);
        }
        if let Some(t) = record.observed_timestamp() {
            out.set_observed_timestamp(t);
        }
        if let Some(tc) = record.trace_context() {
            out.set_trace_context(tc.trace_id, tc.span_id, tc.trace_flags);
        }
        if let Some(text) = record.severity_text() {
            out.set_severity_text(text);
        }
        if let Some(number) = record.severity_number() {
            out.set_severity_number(number);
        }
        if let Some(b) = body.or_else(|| record.body().cloned()) {
            out.set_body(b);
        }
        for attribute in attributes {
            out.add_attribute(attribute.key.into_owned(), attribute.value.into_owned());
        }
        Some(out)
    }
}

/// An empty SDK record: the SDK creates records only through a logger, and
/// a logger of a provider without processors does nothing else.
fn blank_record() -> SdkLogRecord {
    static LOGGER: OnceLock<SdkLogger> = OnceLock::new();
    LOGGER
        .get_or_init(|| SdkLoggerProvider::builder().build().logger("checkout-otel"))
        .create_log_record()
}

/// `value` checked (`None` when it needs no change): text like an attribute
/// value of the same key, numbers that could hold a card number as text,
/// UTF-8 bytes as text, lists element by element and maps key by key.
fn check_any(
    check: &ValueCheck<'_>,
    value: &AnyValue,
    depth: u8,
    tally: &mut Tally,
) -> Option<AnyValue> {
    let r = check.redactor;
    match value {
        AnyValue::String(s) => check.text(s.as_str(), tally).map(AnyValue::from),
        AnyValue::Int(v) => r.check_int(*v, tally).map(AnyValue::from),
        AnyValue::Double(v) => r.check_float(*v, tally).map(AnyValue::from),
        AnyValue::Bytes(bytes) => std::str::from_utf8(bytes)
            .ok()
            .and_then(|text| check.text(text, tally))
            .map(AnyValue::from),
        AnyValue::ListAny(_) | AnyValue::Map(_) if depth >= MAX_LOG_VALUE_DEPTH => {
            tally.masked_values += 1;
            Some(AnyValue::from(SENSITIVE_VALUE_MASK))
        }
        AnyValue::ListAny(items) => {
            let checked: Vec<Option<AnyValue>> = items
                .iter()
                .map(|item| check_any(check, item, depth + 1, tally))
                .collect();
            if checked.iter().all(Option::is_none) {
                return None;
            }
            let list = items
                .iter()
                .zip(checked)
                .map(|(item, c)| c.unwrap_or_else(|| item.clone()))
                .collect::<Vec<_>>();
            Some(AnyValue::ListAny(Box::new(list)))
        }
        AnyValue::Map(map) => {
            let mut entries: Vec<LogAttr<'_>> = map
                .iter()
                .map(|(k, v)| LogAttr::borrowed(k, v, depth + 1))
                .collect();
            if !r.redact_list(&mut entries, Filter::Spans, tally) {
                return None;
            }
            let map: HashMap<Key, AnyValue> = entries
                .into_iter()
                .map(|a| (a.key.into_owned(), a.value.into_owned()))
                .collect();
            Some(AnyValue::Map(Box::new(map)))
        }
        // Booleans hold nothing, and the enum is open upstream.
        _ => None,
    }
}

/// A log attribute (or map entry) under check: borrowed from the record
/// until something in it changes.
pub(super) struct LogAttr<'a> {
    key: Cow<'a, Key>,
    value: Cow<'a, AnyValue>,
    /// How deep in the record's values it sits (0: a record attribute).
    depth: u8,
}

impl<'a> LogAttr<'a> {
    fn borrowed(key: &'a Key, value: &'a AnyValue, depth: u8) -> Self {
        LogAttr {
            key: Cow::Borrowed(key),
            value: Cow::Borrowed(value),
            depth,
        }
    }
}

impl Attribute for LogAttr<'_> {
    fn key(&self) -> &str {
        self.key.as_str()
    }

    fn set_key(&mut self, key: String) {
        self.key = Cow::Owned(Key::from(key));
    }

    fn value_text(&self) -> Cow<'_, str> {
        match self.value.as_ref() {
            AnyValue::String(s) => Cow::Borrowed(s.as_str()),
            AnyValue::Int(v) => Cow::Owned(v.to_string()),
            AnyValue::Double(v) => Cow::Owned(v.to_string()),
            AnyValue::Boolean(v) => Cow::Owned(v.to_string()),
            other => Cow::Owned(format!("{other:?}")),
        }
    }

    fn set_text(&mut self, text: String) {
        self.value = Cow::Owned(AnyValue::String(StringValue::from(text)));
    }

    fn user_hash(hash: String) -> Self {
        LogAttr {
            key: Cow::Owned(Key::from_static_str(USER_HASH)),
            value: Cow::Owned(AnyValue::from(hash)),
            depth: 0,
        }
    }

    fn check_value(&mut self, check: &ValueCheck<'_>, tally: &mut Tally) -> bool {
        match check_any(check, &self.value, self.depth, tally) {
            Some(value) => {
                self.value = Cow::Owned(value);
                true
            }
            None => false,
        }
    }
}

/// The exit check as the first processor of the log pipeline: every record
/// is checked before any later processor (the batch queue, an exporter)
/// sees it.
#[derive(Debug)]
pub(crate) struct LogExitCheck {
    redactor: Redactor,
}

impl LogExitCheck {
    pub(crate) fn new(redactor: Redactor) -> Self {
        LogExitCheck { redactor }
    }
}

impl LogProcessor for LogExitCheck {
    fn emit(&self, record: &mut SdkLogRecord, _scope: &InstrumentationScope) {
        self.redactor.redact_log(record);
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pii::{CARD_MASK, EMAIL_MASK, RedactionCounters};
    use opentelemetry::logs::Severity;
    use opentelemetry::trace::{SpanId, TraceFlags, TraceId};

    fn record() -> SdkLogRecord {
        let mut r = blank_record();
        r.set_severity_number(Severity::Warn);
        r.set_severity_text("WARN");
        r.set_target("shop::payment");
        r.set_trace_context(
            TraceId::from(7u128),
            SpanId::from(9u64),
            Some(TraceFlags::SAMPLED),
        );
        r
    }

    fn attr<'a>(r: &'a SdkLogRecord, key: &str) -> Option<&'a AnyValue> {
        r.attributes_iter()
            .find(|(k, _)| k.as_str() == key)
            .map(|(_, v)| v)
    }

    #[test]
    fn a_clean_record_is_left_as_it_is() {
        let redactor = Redactor::new(RedactionCounters::default());
        let mut r = record();
        r.set_body("order placed".into());
        r.add_attribute("order.id", "ord-1");
        r.add_attribute("items", 3_i64);
        let before = r.clone();
        redactor.redact_log(&mut r);
        assert_eq!(r, before);
    }

    #[test]
    fn body_keys_values_and_nested_values_are_checked() {
        let counters = RedactionCounters::default();
        let redactor = Redactor::new(counters.clone());
        let mut r = record();
        r.set_body("card 4111 1111 1111 1111 declined".into());
        r.add_attribute("note", "mail jane@example.com");
        r.add_attribute("password", "hunter2");
        r.add_attribute("reference", 4111111111111111_i64);
        r.add_attribute("ok", true);
        r.add_attribute("jane@example.com", "key holds it");
        r.add_attribute(
            "nested",
            AnyValue::ListAny(Box::new(vec![
                AnyValue::from("x"),
                AnyValue::Map(Box::new(HashMap::from([(
                    Key::from("contact"),
                    AnyValue::from("bob@example.org"),
                )]))),
            ])),
        );
        r.add_attribute(
            "raw",
            AnyValue::Bytes(Box::new(b"jane@example.com".to_vec())),
        );
        redactor.redact_log(&mut r);

        assert_eq!(
            r.body(),
            Some(&AnyValue::from(format!("card {CARD_MASK} declined")))
        );
        assert_eq!(
            attr(&r, "note"),
            Some(&AnyValue::from(format!("mail {EMAIL_MASK}")))
        );
        assert_eq!(
            attr(&r, "password"),
            Some(&AnyValue::from(SENSITIVE_VALUE_MASK))
        );
        assert_eq!(attr(&r, "reference"), Some(&AnyValue::from(CARD_MASK)));
        assert_eq!(attr(&r, "ok"), Some(&AnyValue::from(true)));
        assert!(attr(&r, "jane@example.com").is_none());
        assert!(attr(&r, EMAIL_MASK).is_some());
        let Some(AnyValue::ListAny(list)) = attr(&r, "nested") else {
            panic!("nested list kept");
        };
        let AnyValue::Map(map) = &list[1] else {
            panic!("nested map kept");
        };
        assert_eq!(
            map.get(&Key::from("contact")),
            Some(&AnyValue::from(EMAIL_MASK))
        );
        assert_eq!(attr(&r, "raw"), Some(&AnyValue::from(EMAIL_MASK)));
        // Everything else survives the rebuild.
        assert_eq!(r.severity_number(), Some(Severity::Warn));
        assert_eq!(r.severity_text(), Some("WARN"));
        assert_eq!(r.target().map(|t| t.as_ref()), Some("shop::payment"));
        let tc = r.trace_context().expect("trace context kept");
        assert_eq!(
            (tc.trace_id, tc.span_id),
            (TraceId::from(7u128), SpanId::from(9u64))
        );
        assert_eq!(counters.cards(), 2);
        assert!(counters.emails() >= 4, "{}", counters.emails());
    }

    #[test]
    fn identity_keys_become_the_user_hash_and_names_are_masked() {
        let redactor = Redactor::new(RedactionCounters::default());
        let mut r = record();
        r.set_event_name("signup jane@example.com");
        r.set_target("svc jane@example.com");
        r.add_attribute("user.id", "customer-42");
        redactor.redact_log(&mut r);
        assert_eq!(r.event_name(), Some(SENSITIVE_VALUE_MASK));
        assert_eq!(
            r.target().map(|t| t.as_ref()),
            Some(format!("svc {EMAIL_MASK}").as_str())
        );
        assert!(attr(&r, "user.id").is_none());
        let Some(AnyValue::String(hash)) = attr(&r, USER_HASH) else {
            panic!("user.hash added");
        };
        assert_eq!(hash.as_str().len(), 64);
    }

    #[test]
    fn values_nested_too_deep_are_masked() {
        let redactor = Redactor::new(RedactionCounters::default());
        let mut value = AnyValue::from("clean");
        for _ in 0..=MAX_LOG_VALUE_DEPTH {
            value = AnyValue::ListAny(Box::new(vec![value]));
        }
        let mut r = record();
        r.add_attribute("deep", value);
        redactor.redact_log(&mut r);
        let mut v = attr(&r, "deep").expect("kept");
        let mut levels = 0;
        while let AnyValue::ListAny(items) = v {
            v = &items[0];
            levels += 1;
        }
        assert_eq!(levels, MAX_LOG_VALUE_DEPTH);
        assert_eq!(v, &AnyValue::from(SENSITIVE_VALUE_MASK));
    }
}
