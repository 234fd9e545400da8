//! [`SpanSpec`], the description of a span (name, kind, typed attributes),
//! and [`Attrs`], where a spec writes its attributes.

use std::borrow::Cow;

use opentelemetry::trace::SpanKind;
use opentelemetry::{KeyValue, StringValue, Value};

use super::{CheckoutTracer, TypedSpan};

/// The description of a span: its name, kind and typed attributes.
///
/// Each domain helper of this crate is a `SpanSpec` (for example
/// [`PaymentProcess`](crate::spans::PaymentProcess)); you can write your own
/// for steps of your checkout this crate does not know, and get the same
/// parenting, failure recording and end-once behaviour. The name and the kind
/// are each stated once, by a method, so they can depend on the values (a
/// database span is named after its query; a checkout may be `SERVER`).
///
/// ```
/// use std::borrow::Cow;
/// use checkout_otel::opentelemetry::trace::SpanKind;
/// use checkout_otel::spans::{Attrs, CheckoutTracer, SpanSpec, TypedSpan};
///
/// struct FraudCheck<'a> { rule_set: &'a str }
///
/// impl SpanSpec for FraudCheck<'_> {
///     type Span = TypedSpan;
///     fn name(&self) -> Cow<'static, str> {
///         Cow::Borrowed("fraud.check")
///     }
///     fn kind(&self) -> SpanKind {
///         SpanKind::Internal
///     }
///     fn attributes(&self, attrs: &mut Attrs<'_>) {
///         attrs.str("fraud.rule_set", self.rule_set.to_owned());
///     }
///     fn wrap(self, span: TypedSpan, _tracer: &CheckoutTracer) -> TypedSpan { span }
/// }
///
/// let tracer = CheckoutTracer::global();
/// let span = tracer.start(FraudCheck { rule_set: "default" });
/// span.end();
/// ```
pub trait SpanSpec {
    /// The span handle this spec starts: [`TypedSpan`] for a spec of your
    /// own, or a domain handle named after the spec (`{Spec}Span`) with
    /// methods for the step's outcomes.
    type Span;

    /// The span name (a constant of [`crate::attributes`] for the contract's spans).
    fn name(&self) -> Cow<'static, str>;

    /// The span kind.
    fn kind(&self) -> SpanKind;

    /// Writes the span's start attributes. Called only when the span is
    /// expected to be recorded (see [`CheckoutTracer::start`]), so it may
    /// allocate freely: a span that is not sampled does not pay for it.
    ///
    /// The sampler sees these attributes when the span was expected to be
    /// recorded (a child of a sampled parent, or a root while the tracer's
    /// previous root was recorded). The SDK's samplers decide on trace ids and
    /// parents only; a custom sampler that decides on attributes should not
    /// rely on seeing them for the first root after an unsampled one.
    fn attributes(&self, attrs: &mut Attrs<'_>);

    /// Wraps the started span into [`SpanSpec::Span`].
    fn wrap(self, span: TypedSpan, tracer: &CheckoutTracer) -> Self::Span;
}

/// Where a [`SpanSpec`] writes its attributes: straight into the vector the
/// span is started with.
pub struct Attrs<'a> {
    pub(super) attributes: &'a mut Vec<KeyValue>,
}

impl Attrs<'_> {
    /// Adds an attribute.
    #[inline]
    pub fn push(&mut self, kv: KeyValue) {
        self.attributes.push(kv)
    }

    /// Adds a string attribute.
    #[inline]
    pub fn str(&mut self, key: &'static str, value: impl Into<StringValue>) {
        self.push(KeyValue::new(key, Value::String(value.into())))
    }

    /// Adds an integer attribute, saturating values above `i64::MAX`.
    #[inline]
    pub fn int(&mut self, key: &'static str, value: u64) {
        self.push(KeyValue::new(key, saturating_i64(value)))
    }

    /// Adds every attribute of an iterator.
    #[inline]
    pub fn extend(&mut self, kvs: impl IntoIterator<Item = KeyValue>) {
        for kv in kvs {
            self.push(kv)
        }
    }
}

/// Converts a count to an OpenTelemetry integer (which is `i64`).
#[inline]
pub(crate) fn saturating_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}
