//! [`CheckoutTracer`]: what every span helper is started with. It carries
//! the tracer, the checkout meter, the propagator and the user hasher, so
//! a span, its metrics, its propagation and its `user.hash` all come from
//! the same set-up.

use std::borrow::Cow;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use opentelemetry::Context;
use opentelemetry::global::{self, BoxedTracer};
use opentelemetry::propagation::{TextMapCompositePropagator, TextMapPropagator};
use opentelemetry::trace::{SpanKind, TraceContextExt, TracerProvider as _};
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::propagation::BaggagePropagator;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};

use super::exception::{self, ExceptionSignal};
use super::span::{self, TypedSpan};
use super::spec::{Attrs, SpanSpec};
use crate::metrics::CheckoutMetrics;
use crate::pii;
use crate::propagation::{self, AllowedHosts, TraceContextPropagator};
use crate::scope::instrumentation_scope;

/// The tracer the span helpers start spans with.
///
/// Cheap to clone. Every way to obtain one records the same spans *and* the
/// checkout metrics (step durations, outcomes, declines, shortfalls, gateway
/// latency) under the one instrumentation scope of the crate
/// ([`SCOPE_NAME`](crate::SCOPE_NAME), version, schema URL):
///
/// | obtained with | spans and metrics | propagator ([`inject`](Self::inject), [`extract`](Self::extract)) | user hasher ([`user`](Self::user)) | hosts given `baggage` and `tracestate` ([`inject_for`](Self::inject_for)) |
/// |---|---|---|---|---|
/// | `guard.tracer()` ([`TelemetryGuard::tracer`](crate::init::TelemetryGuard::tracer)) | the guard's providers | the guard's (`OTEL_PROPAGATORS`) | the guard's key | the guard's ([`propagate_context_to`](crate::TelemetryBuilder::propagate_context_to)) |
/// | [`CheckoutTracer::from_providers`] | the providers given | W3C trace-context + baggage | the process-wide one | none |
/// | [`CheckoutTracer::global`] | the global providers | the global one | the process-wide one | none |
///
/// [`with_propagator`](Self::with_propagator),
/// [`with_user_hasher`](Self::with_user_hasher) and
/// [`with_allowed_hosts`](Self::with_allowed_hosts) replace the last three. Holding
/// an explicit tracer lets one process host several services, each with its
/// own `service.name`.
#[derive(Clone)]
pub struct CheckoutTracer {
    inner: TracerInner,
    metrics: CheckoutMetrics,
    /// The propagator of [`CheckoutTracer::inject`]/[`CheckoutTracer::extract`]
    /// (and the HTTP helpers): `None` only for [`CheckoutTracer::global`],
    /// which reads the global one.
    propagator: Option<Arc<dyn TextMapPropagator + Send + Sync>>,
    /// The hasher of [`CheckoutTracer::user`]: the guard's, or `None` for
    /// the process-wide one.
    user_hasher: Option<Arc<pii::UserHasher>>,
    /// The hosts [`CheckoutTracer::inject_for`] gives inbound baggage and
    /// tracestate to.
    allowed_hosts: AllowedHosts,
    /// Whether the last root span this tracer (or a clone) started was
    /// recorded: the guess for the next root (see `start_typed`).
    roots_recorded: Arc<AtomicBool>,
    /// Where failures' exceptions are recorded.
    exception_signal: ExceptionSignal,
    /// Whether the provider's trace ids are random (the crate's pipeline
    /// keeps the SDK's random id generator): the traces this tracer starts
    /// then go out with W3C's `random-trace-id` flag.
    random_trace_ids: bool,
}

#[derive(Clone)]
enum TracerInner {
    // The SDK tracer is used directly (no boxing of every span) on the hot path.
    Sdk(SdkTracer),
    Global(Arc<BoxedTracer>),
}

impl fmt::Debug for CheckoutTracer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tracer = match self.inner {
            TracerInner::Sdk(_) => "sdk",
            TracerInner::Global(_) => "global",
        };
        let propagator = match self.propagator {
            Some(_) => "explicit",
            None => "global",
        };
        let user_hasher = match self.user_hasher {
            Some(_) => "explicit",
            None => "process-wide",
        };
        f.debug_struct("CheckoutTracer")
            .field("tracer", &tracer)
            .field("propagator", &propagator)
            .field("user_hasher", &user_hasher)
            .field("allowed_hosts", &self.allowed_hosts)
            .finish_non_exhaustive()
    }
}

/// The tracer [`CheckoutTracer::global`] hands out after `init`.
static INSTALLED: RwLock<Option<CheckoutTracer>> = RwLock::new(None);

impl Default for CheckoutTracer {
    /// [`CheckoutTracer::global`].
    fn default() -> Self {
        CheckoutTracer::global()
    }
}

impl CheckoutTracer {
    /// A tracer over the global tracer and meter providers, for code that
    /// has no guard at hand: spans and checkout metrics go to the providers
    /// installed globally (by [`TelemetryBuilder::init`](crate::init::TelemetryBuilder::init)
    /// or your own set-up), propagation uses the global propagator and
    /// [`CheckoutTracer::user`] the process-wide hasher.
    ///
    /// The tracer and meter are bound to the providers that are global
    /// *now*: call this after installing them, not in a `static` initialised
    /// before. After [`init`](crate::init::TelemetryBuilder::init) it is a
    /// clone of the tracer `init` made over the providers it installed, so a
    /// call allocates nothing and may be made per request; before (or with
    /// providers you install yourself) it creates the checkout instruments
    /// on each call: create it once and clone it.
    pub fn global() -> Self {
        let installed = INSTALLED.read().ok().and_then(|t| t.clone());
        installed.unwrap_or_else(|| Self::over_globals(false))
    }

    /// Makes [`global`](Self::global) return clones of a tracer over the
    /// global providers as they are now (called by `init` once it has
    /// installed them).
    pub(crate) fn install_global() {
        // `init` has just installed the crate's own provider.
        let tracer = Self::over_globals(true);
        if let Ok(mut installed) = INSTALLED.write() {
            *installed = Some(tracer);
        }
    }

    fn over_globals(random_trace_ids: bool) -> Self {
        CheckoutTracer {
            inner: TracerInner::Global(Arc::new(
                global::tracer_with_scope(instrumentation_scope()),
            )),
            metrics: CheckoutMetrics::global(),
            propagator: None,
            user_hasher: None,
            allowed_hosts: AllowedHosts::default(),
            roots_recorded: Arc::new(AtomicBool::new(true)),
            exception_signal: exception::installed(),
            random_trace_ids,
        }
    }

    /// A tracer over providers you built yourself: spans go to
    /// `tracer_provider` and the checkout metrics to `meter_provider`, both
    /// under the crate's one instrumentation scope. Propagation uses W3C
    /// trace-context and baggage (replace it with
    /// [`with_propagator`](Self::with_propagator)), never the global
    /// propagator.
    ///
    /// ```
    /// use checkout_otel::CheckoutTracer;
    /// use checkout_otel::opentelemetry_sdk::metrics::SdkMeterProvider;
    /// use checkout_otel::opentelemetry_sdk::trace::SdkTracerProvider;
    /// use checkout_otel::spans::OrderCreate;
    ///
    /// let tracer_provider = SdkTracerProvider::builder().build();
    /// let meter_provider = SdkMeterProvider::builder().build();
    /// let tracer = CheckoutTracer::from_providers(&tracer_provider, &meter_provider);
    /// tracer.start(OrderCreate::new("order-1")).end();
    /// ```
    pub fn from_providers(
        tracer_provider: &SdkTracerProvider,
        meter_provider: &SdkMeterProvider,
    ) -> Self {
        CheckoutTracer {
            inner: TracerInner::Sdk(tracer_provider.tracer_with_scope(instrumentation_scope())),
            metrics: CheckoutMetrics::from_provider(meter_provider),
            propagator: Some(Arc::new(w3c_propagator())),
            user_hasher: None,
            allowed_hosts: AllowedHosts::default(),
            roots_recorded: Arc::new(AtomicBool::new(true)),
            exception_signal: ExceptionSignal::SpanEvent,
            // The providers' id generator is not known.
            random_trace_ids: false,
        }
    }

    /// A tracer over the parts of one set-up (the guard's): its SDK tracer,
    /// checkout meter, propagator, user hasher and propagation allow-list.
    pub(crate) fn from_parts(
        tracer: SdkTracer,
        metrics: CheckoutMetrics,
        propagator: Arc<dyn TextMapPropagator + Send + Sync>,
        user_hasher: Arc<pii::UserHasher>,
        allowed_hosts: AllowedHosts,
        exception_signal: ExceptionSignal,
    ) -> Self {
        CheckoutTracer {
            inner: TracerInner::Sdk(tracer),
            metrics,
            propagator: Some(propagator),
            user_hasher: Some(user_hasher),
            allowed_hosts,
            roots_recorded: Arc::new(AtomicBool::new(true)),
            exception_signal,
            random_trace_ids: true,
        }
    }

    /// Records failures' exceptions where `signal` says (span events, log
    /// records or both: see [`ExceptionSignal`]). A guard's tracer takes
    /// `OTEL_SEMCONV_EXCEPTION_SIGNAL_OPT_IN`, [`global`](Self::global) the
    /// choice `init` installed, [`from_providers`](Self::from_providers)
    /// span events.
    pub fn with_exception_signal(mut self, signal: ExceptionSignal) -> Self {
        self.exception_signal = signal;
        self
    }

    /// Uses `propagator` for [`CheckoutTracer::inject`],
    /// [`CheckoutTracer::extract`] and the HTTP helpers.
    pub fn with_propagator(mut self, propagator: Arc<dyn TextMapPropagator + Send + Sync>) -> Self {
        self.propagator = Some(propagator);
        self
    }

    /// Uses `hasher` (rather than the process-wide one) for [`CheckoutTracer::user`].
    pub fn with_user_hasher(mut self, hasher: Arc<pii::UserHasher>) -> Self {
        self.user_hasher = Some(hasher);
        self
    }

    /// Gives inbound `baggage` and `tracestate` to exactly these hosts in
    /// [`inject_for`](Self::inject_for) and the HTTP client middleware
    /// (replacing the list this tracer had).
    pub fn with_allowed_hosts(mut self, hosts: AllowedHosts) -> Self {
        self.allowed_hosts = hosts;
        self
    }

    /// The hosts [`inject_for`](Self::inject_for) gives inbound `baggage` and
    /// `tracestate` to.
    pub fn allowed_hosts(&self) -> &AllowedHosts {
        &self.allowed_hosts
    }

    /// Writes `cx`'s trace context (and baggage) into `headers` with this
    /// tracer's propagator (see the table above): everything, inbound
    /// `baggage` and `tracestate` included. For the service's own hops; for
    /// a request to any other host use [`inject_for`](Self::inject_for).
    pub fn inject(&self, cx: &Context, headers: &mut http::HeaderMap) {
        match &self.propagator {
            Some(p) => propagation::inject_with(p.as_ref(), cx, headers),
            None => propagation::inject(cx, headers),
        }
    }

    /// Writes `cx`'s trace context into the `headers` of a request to
    /// `host` (the URL's host, e.g. `url.host_str()`): `traceparent` always,
    /// and `baggage` and `tracestate` (which the service's own caller wrote)
    /// only when [`allowed_hosts`](Self::allowed_hosts) allows `host`. For a
    /// host outside the list, `baggage` and `tracestate` headers already in
    /// `headers` (copied from the inbound request, say) are removed too.
    ///
    /// ```
    /// use checkout_otel::CheckoutTracer;
    /// use checkout_otel::opentelemetry::baggage::BaggageExt;
    /// use checkout_otel::opentelemetry::KeyValue;
    /// use checkout_otel::propagation::AllowedHosts;
    /// use checkout_otel::spans::OrderCreate;
    /// # use checkout_otel::opentelemetry_sdk::{metrics::SdkMeterProvider, trace::SdkTracerProvider};
    /// # let (tp, mp) = (SdkTracerProvider::builder().build(), SdkMeterProvider::builder().build());
    ///
    /// let tracer = CheckoutTracer::from_providers(&tp, &mp)
    ///     .with_allowed_hosts(AllowedHosts::new(["*.internal.example.com"])?);
    /// let span = tracer.start(OrderCreate::new("order-1"));
    /// let cx = span.context().with_baggage([KeyValue::new("tenant", "eu")]);
    ///
    /// let mut to_partner = http::HeaderMap::new();
    /// tracer.inject_for(&cx, "api.payments.example", &mut to_partner);
    /// assert!(to_partner.contains_key("traceparent"));
    /// assert!(!to_partner.contains_key("baggage"));
    ///
    /// let mut to_own = http::HeaderMap::new();
    /// tracer.inject_for(&cx, "inventory.internal.example.com", &mut to_own);
    /// assert_eq!(to_own["baggage"], "tenant=eu");
    /// # Ok::<(), checkout_otel::ConfigError>(())
    /// ```
    pub fn inject_for(&self, cx: &Context, host: &str, headers: &mut http::HeaderMap) {
        self.inject_checked(cx, self.allowed_hosts.allows(host), headers);
    }

    /// [`inject_for`](Self::inject_for) once the host has been judged.
    pub(crate) fn inject_checked(
        &self,
        cx: &Context,
        allowed: bool,
        headers: &mut http::HeaderMap,
    ) {
        if allowed {
            self.inject(cx, headers);
        } else {
            propagation::remove_caller_data(headers);
            self.inject(&propagation::trace_identity(cx), headers);
            // A propagator of the user's may write them from the span context
            // or elsewhere: whatever it wrote does not go.
            propagation::remove_caller_data(headers);
        }
    }

    /// Reads the caller's trace context (and baggage) from `headers` with
    /// this tracer's propagator (see the table above): the parent to pass to
    /// [`CheckoutTracer::start_in`].
    pub fn extract(&self, headers: &http::HeaderMap) -> Context {
        match &self.propagator {
            Some(p) => propagation::extract_with(p.as_ref(), headers),
            None => propagation::extract(headers),
        }
    }

    /// The customer `customer_id` as a [`pii::UserRef`] (`user.hash`), hashed
    /// with this tracer's key.
    pub fn user(&self, customer_id: &str) -> pii::UserRef {
        match &self.user_hasher {
            Some(h) => h.hash(customer_id),
            None => pii::user_hasher().hash(customer_id),
        }
    }

    /// The checkout meter the spans of this tracer record into, for
    /// recording by hand.
    pub fn metrics(&self) -> &CheckoutMetrics {
        &self.metrics
    }

    /// Starts a span of `spec` as a child of the current context.
    pub fn start<S: SpanSpec>(&self, spec: S) -> S::Span {
        self.start_owned(spec, Context::current())
    }

    /// Starts a span of `spec` as a child of `parent` (for example a context
    /// extracted from incoming headers with [`CheckoutTracer::extract`]).
    pub fn start_in<S: SpanSpec>(&self, spec: S, parent: &Context) -> S::Span {
        self.start_owned(spec, parent.clone())
    }

    fn start_owned<S: SpanSpec>(&self, spec: S, parent: Context) -> S::Span {
        let span = self.start_typed(spec.name(), spec.kind(), parent, &mut |attrs| {
            spec.attributes(attrs)
        });
        spec.wrap(span, self)
    }

    /// Starts a span, building its attributes only if it is (or is expected
    /// to be) recording.
    ///
    /// This is the single place every helper goes through. The attributes go
    /// where a hand-written span puts them, into the builder (one vector, seen
    /// by the sampler), when the span is expected to be recorded: a child of a
    /// sampled parent, or a root while this tracer's last root was recorded.
    /// Otherwise the span is started bare and `fill` runs only if it turns out
    /// to be recording, so a span that is not sampled costs its ids and
    /// nothing else.
    ///
    /// The span is put into a [`Context`] only when something asks for one
    /// (see [`TypedSpan::context`]): most spans are leaves and never do.
    fn start_typed(
        &self,
        name: Cow<'static, str>,
        kind: SpanKind,
        parent: Context,
        fill: &mut dyn FnMut(&mut Attrs<'_>),
    ) -> TypedSpan {
        let parent_span = parent.span();
        let parent_sc = parent_span.span_context();
        let is_root = !parent_sc.is_valid();
        let expected = if is_root {
            self.roots_recorded.load(Ordering::Relaxed)
        } else {
            parent_sc.is_sampled()
        };
        let mut span = match &self.inner {
            TracerInner::Sdk(tracer) => span::start(tracer, name, kind, parent, expected, fill),
            TracerInner::Global(tracer) => {
                span::start(tracer.as_ref(), name, kind, parent, expected, fill)
            }
        };
        span.set_exception_signal(self.exception_signal);
        if is_root && self.random_trace_ids {
            span.mark_random_trace_id();
        }
        // Only written when the guess was wrong, so a steady sampling decision
        // never bounces the flag's cache line between threads.
        if is_root && span.is_recording() != expected {
            self.roots_recorded
                .store(span.is_recording(), Ordering::Relaxed);
        }
        span
    }
}

/// W3C trace-context and baggage: the propagator of a tracer built without a
/// guard's configuration.
fn w3c_propagator() -> TextMapCompositePropagator {
    TextMapCompositePropagator::new(vec![
        Box::new(TraceContextPropagator::new()),
        Box::new(BaggagePropagator::new()),
    ])
}
