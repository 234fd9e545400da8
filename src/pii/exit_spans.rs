//! The exit check of spans: every path out of a span (name, attributes,
//! events, links, status, `tracestate`, scope) and the SDK's attribute
//! representation (see [`exit`](super::exit) for the rule itself).

use std::borrow::Cow;

use opentelemetry::trace::{SpanContext, Status, TraceState};
use opentelemetry::{Array, InstrumentationScope, Key, KeyValue, StringValue, Value};
use opentelemetry_sdk::trace::SpanData;

use super::exit::{Attribute, Filter, Redactor, ValueCheck};
use super::redact::Tally;
use crate::attributes::USER_HASH;

impl Redactor {
    /// Redacts spans in place and counts what changed.
    pub(crate) fn redact_batch(&self, batch: &mut [SpanData]) {
        let mut tally = Tally::default();
        let mut scopes = ScopeCache::default();
        for span in batch {
            self.redact_span(span, &mut scopes, &mut tally);
        }
        self.counters.add(&tally);
    }

    fn redact_span(&self, span: &mut SpanData, scopes: &mut ScopeCache, tally: &mut Tally) {
        if let Some(name) = self.check_text(&span.name, self.max_chars, tally) {
            span.name = Cow::Owned(name);
        }
        self.redact_list(&mut span.attributes, Filter::Spans, tally);
        for event in span.events.events.iter_mut() {
            if let Some(name) = self.check_text(&event.name, self.max_chars, tally) {
                event.name = Cow::Owned(name);
            }
            self.redact_list(&mut event.attributes, Filter::Spans, tally);
        }
        for link in span.links.links.iter_mut() {
            self.redact_list(&mut link.attributes, Filter::Spans, tally);
            self.redact_trace_state(&mut link.span_context, tally);
        }
        if let Status::Error { description } = &mut span.status {
            if let Some(scrubbed) = self.check_text(description, self.max_chars, tally) {
                *description = Cow::Owned(scrubbed);
            }
        }
        self.redact_trace_state(&mut span.span_context, tally);
        if let Some(scope) = scopes.check(self, &span.instrumentation_scope, tally) {
            span.instrumentation_scope = scope;
        }
    }

    /// Removes the context's `tracestate` (kept and checked when the service
    /// opted in), keeping ids, flags and remoteness.
    fn redact_trace_state(&self, context: &mut SpanContext, tally: &mut Tally) {
        let state = context.trace_state();
        if *state == TraceState::NONE {
            return;
        }
        let replacement = if self.keep_trace_state {
            let mut changed = false;
            let members: Vec<(String, String)> = state
                .into_iter()
                .map(|(k, v)| {
                    let value = self.check_text(v, self.max_chars, tally);
                    changed |= value.is_some();
                    (k.to_owned(), value.unwrap_or_else(|| v.to_owned()))
                })
                .collect();
            if !changed {
                return;
            }
            // A masked value is still a valid member value; if not, the
            // whole state goes rather than the raw one.
            TraceState::from_key_value(members).unwrap_or_default()
        } else {
            tally.trace_states += 1;
            TraceState::NONE
        };
        *context = with_trace_state(context, replacement);
    }

    /// The scope with name, version, schema URL and attributes checked, or
    /// `None` when nothing changed.
    fn redact_scope(
        &self,
        scope: &InstrumentationScope,
        tally: &mut Tally,
    ) -> Option<InstrumentationScope> {
        let max = self.config_limit();
        let name = self.check_text(scope.name(), max, tally);
        let version = scope.version().and_then(|v| self.check_text(v, max, tally));
        let schema_url = scope
            .schema_url()
            .and_then(|u| self.check_url(u, max, tally));
        let mut attributes: Vec<KeyValue> = scope.attributes().cloned().collect();
        let attributes_changed = self.redact_list(&mut attributes, Filter::Keep, tally);
        if name.is_none() && version.is_none() && schema_url.is_none() && !attributes_changed {
            return None;
        }
        let mut builder = InstrumentationScope::builder(
            name.map_or_else(|| Cow::Owned(scope.name().to_owned()), Cow::Owned),
        )
        .with_attributes(attributes);
        if let Some(v) = version.or_else(|| scope.version().map(str::to_owned)) {
            builder = builder.with_version(v);
        }
        if let Some(u) = schema_url.or_else(|| scope.schema_url().map(str::to_owned)) {
            builder = builder.with_schema_url(u);
        }
        Some(builder.build())
    }
}

/// Removes the `tracestate` of every span and link of `batch`: what the
/// set-up does without the rest of the exit check (redaction off), unless
/// the service opted in to exporting it.
pub(crate) fn strip_trace_states(batch: &mut [SpanData]) {
    let strip = |context: &mut SpanContext| {
        if *context.trace_state() != TraceState::NONE {
            *context = with_trace_state(context, TraceState::NONE);
        }
    };
    for span in batch {
        strip(&mut span.span_context);
        for link in span.links.links.iter_mut() {
            strip(&mut link.span_context);
        }
    }
}

/// `context` with `state` as its `tracestate`: ids, flags and remoteness kept.
fn with_trace_state(context: &SpanContext, state: TraceState) -> SpanContext {
    SpanContext::new(
        context.trace_id(),
        context.span_id(),
        context.trace_flags(),
        context.is_remote(),
        state,
    )
}

impl Attribute for KeyValue {
    fn key(&self) -> &str {
        self.key.as_str()
    }

    fn set_key(&mut self, key: String) {
        self.key = Key::from(key);
    }

    fn value_text(&self) -> Cow<'_, str> {
        self.value.as_str()
    }

    fn set_text(&mut self, text: String) {
        self.value = Value::from(text);
    }

    fn user_hash(hash: String) -> Self {
        KeyValue::new(USER_HASH, hash)
    }

    fn check_value(&mut self, check: &ValueCheck<'_>, tally: &mut Tally) -> bool {
        let r = check.redactor;
        let replacement = match &mut self.value {
            Value::String(s) => {
                return match check.text(s.as_str(), tally) {
                    Some(text) => {
                        *s = StringValue::from(text);
                        true
                    }
                    None => false,
                };
            }
            Value::Array(Array::String(items)) => {
                let mut changed = false;
                for item in items.iter_mut() {
                    if let Some(text) = check.text(item.as_str(), tally) {
                        *item = StringValue::from(text);
                        changed = true;
                    }
                }
                return changed;
            }
            Value::I64(v) => r.check_int(*v, tally).map(Value::from),
            Value::F64(v) => r.check_float(*v, tally).map(Value::from),
            Value::Array(Array::I64(items)) => {
                numbers_as_text(items, |v| r.check_int(*v, tally), i64::to_string)
            }
            Value::Array(Array::F64(items)) => {
                numbers_as_text(items, |v| r.check_float(*v, tally), f64::to_string)
            }
            _ => None,
        };
        match replacement {
            Some(value) => {
                self.value = value;
                true
            }
            None => false,
        }
    }
}

/// A number array with a masked element becomes a string array (arrays are
/// homogeneous): `None` when no element changed.
fn numbers_as_text<T>(
    items: &[T],
    mut check: impl FnMut(&T) -> Option<String>,
    text: impl Fn(&T) -> String,
) -> Option<Value> {
    let masked: Vec<Option<String>> = items.iter().map(&mut check).collect();
    if masked.iter().all(Option::is_none) {
        return None;
    }
    let strings = items
        .iter()
        .zip(masked)
        .map(|(item, masked)| StringValue::from(masked.unwrap_or_else(|| text(item))))
        .collect();
    Some(Value::Array(Array::String(strings)))
}

/// The checked scopes of one batch: a batch holds few distinct scopes, so
/// each is checked once.
#[derive(Default)]
struct ScopeCache(Vec<(InstrumentationScope, Option<InstrumentationScope>)>);

impl ScopeCache {
    /// The replacement of `scope`, or `None` when it passes unchanged.
    fn check(
        &mut self,
        redactor: &Redactor,
        scope: &InstrumentationScope,
        tally: &mut Tally,
    ) -> Option<InstrumentationScope> {
        if let Some((_, checked)) = self.0.iter().find(|(seen, _)| seen == scope) {
            return checked.clone();
        }
        let checked = redactor.redact_scope(scope, tally);
        // Bounded: a pathological batch with a scope per span rechecks.
        if self.0.len() < 8 {
            self.0.push((scope.clone(), checked.clone()));
        }
        checked
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pii::RedactionCounters;

    #[test]
    fn scopes_are_checked_once_per_batch() {
        let r = Redactor::new(RedactionCounters::default());
        let mut tally = Tally::default();
        let mut cache = ScopeCache::default();
        let scope = InstrumentationScope::builder("lib jane@example.com")
            .with_version("1.0")
            .build();
        let checked = cache.check(&r, &scope, &mut tally).expect("masked");
        assert_eq!(checked.name(), "lib [REDACTED:email]");
        assert_eq!(checked.version(), Some("1.0"));
        assert_eq!(cache.check(&r, &scope, &mut tally), Some(checked));
        assert_eq!(tally.emails, 1, "the second span reuses the first check");
        let clean = InstrumentationScope::builder("checkout-otel").build();
        assert_eq!(cache.check(&r, &clean, &mut tally), None);
    }
}
