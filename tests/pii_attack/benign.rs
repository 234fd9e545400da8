//! Known-benign checkout data, placed beside the attack, that must arrive
//! exactly as recorded: amounts, ids, dates, timestamps, UUIDs, status
//! codes, the contract's attributes, the resource. Over-masking fails here.

use checkout_otel::init::TelemetryGuard;
use checkout_otel::opentelemetry::trace::{Span as _, Status, Tracer as _};
use checkout_otel::opentelemetry::{Array, KeyValue, StringValue, Value};
use checkout_otel::pii::PaymentMethod;
use checkout_otel::spans::{CheckoutProcess, Failure, PaymentGatewayCall, PaymentProcess};
use opentelemetry_proto::tonic::common::v1::{KeyValue as ProtoKeyValue, any_value};

use crate::common::received_text::{self, PATH_TAG};
use crate::common::receiver::Received;
use crate::placements::total;
use crate::servers::BENIGN_TRACE_ID;
use crate::{SERVICE, for_each_point};

/// Checkout data that must arrive exactly as recorded.
pub(crate) const ORDER_ID: &str = "ORD-2024-000123";
pub(crate) const CART_ID: &str = "cart-7f3a";
const CUSTOMER_ID: &str = "customer-8812";
const ISO_TIMESTAMP: &str = "2024-06-10T14:03:22.123+02:00";
pub(crate) const ISO_DATE: &str = "2024-06-10";
const UUID: &str = "123e4567-e89b-12d3-a456-426614174000";
const EPOCH_SECONDS: &str = "1718035200";
/// 13 digits like a card, but not Luhn-valid (checked in the matcher test).
pub(crate) const EPOCH_MILLIS: i64 = 1_718_035_200_124;
const ORDER_NUMBER: &str = "000123456789";
const SUMMARY: &str = "2 items, total 129.99 EUR (VAT 20.67), order ORD-2024-000123 at \
                       2024-06-10T14:03:22Z, HTTP 503 from upstream, retry 3 of 5";
pub(crate) const LOG_MESSAGE: &str =
    "order ORD-2024-000123 paid 129.99 EUR at 2024-06-10T14:03:22Z";
const CHARGE_ID: &str = "ch_3PqX9a2eZvKYlo2C";
pub(crate) const BENIGN_TRACESTATE: &str = "shop=benign-42";

pub(crate) fn benign_texts() -> Vec<&'static str> {
    vec![
        ORDER_ID,
        CART_ID,
        ISO_TIMESTAMP,
        ISO_DATE,
        UUID,
        EPOCH_SECONDS,
        ORDER_NUMBER,
        SUMMARY,
        LOG_MESSAGE,
        CHARGE_ID,
        "129.99",
        "12999",
        "upstream timeout after 30s",
        "retry 2 of 3",
        "insufficient_funds",
        "/checkout/{cart}",
    ]
}

/// Benign attributes of the raw benign span, as recorded.
fn benign_attributes() -> Vec<KeyValue> {
    vec![
        KeyValue::new("order.id", ORDER_ID),
        KeyValue::new("checkout.total", "129.99"),
        KeyValue::new("payment.amount_minor", 12999i64),
        KeyValue::new("http.response.status_code", 503i64),
        KeyValue::new("http.route", "/checkout/{cart}"),
        KeyValue::new("checkout.created_at", ISO_TIMESTAMP),
        KeyValue::new("checkout.date", ISO_DATE),
        KeyValue::new("checkout.epoch", EPOCH_SECONDS),
        KeyValue::new("checkout.epoch_ms", EPOCH_MILLIS),
        KeyValue::new("request.id", UUID),
        KeyValue::new("order.number", ORDER_NUMBER),
        KeyValue::new("payment.decline_code", "insufficient_funds"),
        KeyValue::new("checkout.summary", SUMMARY),
        KeyValue::new(
            "checkout.tags",
            Value::Array(Array::String(vec![
                StringValue::from(ORDER_ID),
                StringValue::from("129.99"),
                StringValue::from(ISO_DATE),
            ])),
        ),
    ]
}

/// The benign placements, beside the attack.
pub(crate) fn place_benign(guard: &TelemetryGuard, benign_card: &str) {
    let tracer = guard.sdk_tracer();
    let linked = tracer.start("attack.linked");
    let linked_context = linked.span_context().clone();
    drop(linked);
    let mut span = tracer.start("checkout.benign");
    span.set_attribute(KeyValue::new(PATH_TAG, "benign.raw"));
    span.set_attributes(benign_attributes());
    span.add_event(
        "payment_processed",
        vec![
            KeyValue::new("order.id", ORDER_ID),
            KeyValue::new("amount", "129.99"),
        ],
    );
    span.add_link(
        linked_context,
        vec![KeyValue::new("link.reason", "retry 2 of 3")],
    );
    span.set_status(Status::error("upstream timeout after 30s"));
    span.end();

    let typed = guard.tracer();
    let user = typed.user(CUSTOMER_ID);
    let checkout = typed.start(CheckoutProcess::new(CART_ID).total(total()).user(&user));
    checkout.set_attribute(KeyValue::new(PATH_TAG, "benign.checkout"));
    {
        let _in_checkout = checkout.enter();
        let method = PaymentMethod::card_from_number(benign_card).expect("a Luhn-valid card");
        let payment = typed.start(PaymentProcess::new(ORDER_ID, total()).method(&method));
        payment.set_attribute(KeyValue::new(PATH_TAG, "benign.payment"));
        payment.succeeded(CHARGE_ID);
        let call = typed.start(PaymentGatewayCall::new(
            "stripe",
            "POST",
            "https://pay.example.com/v1/charges",
        ));
        call.set_attribute(KeyValue::new(PATH_TAG, "benign.gateway"));
        call.response_status(200);
        call.succeeded(CHARGE_ID);
    }
    checkout.finish(&Ok::<(), Failure>(()));

    let span = tracing::info_span!(
        "checkout.benign.tracing",
        attack.path = "benign.tracing",
        order.id = ORDER_ID,
        amount = "129.99",
        at = ISO_TIMESTAMP,
    );
    span.in_scope(|| tracing::info!("{LOG_MESSAGE}"));

    guard.meter().u64_counter("attack.benign").build().add(
        3,
        &[
            KeyValue::new(PATH_TAG, "benign.metric"),
            KeyValue::new("checkout.status", "success"),
            KeyValue::new("http.response.status_code", 200i64),
            KeyValue::new("order.channel", "web"),
        ],
    );
}

enum Want {
    Str(String),
    Int(i64),
    Strs(Vec<&'static str>),
}

fn check_attr(
    problems: &mut Vec<String>,
    at: &str,
    attrs: &[ProtoKeyValue],
    key: &str,
    want: Want,
) {
    let got = attrs
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.clone());
    let ok =
        match (&want, &got) {
            (Want::Str(w), Some(any_value::Value::StringValue(g))) => w == g,
            (Want::Int(w), Some(any_value::Value::IntValue(g))) => w == g,
            (Want::Strs(w), Some(any_value::Value::ArrayValue(a))) => a.values.len() == w.len()
                && a.values.iter().zip(w).all(
                    |(v, w)| matches!(&v.value, Some(any_value::Value::StringValue(s)) if s == w),
                ),
            _ => false,
        };
    if !ok {
        let want = match want {
            Want::Str(s) => format!("{s:?}"),
            Want::Int(i) => i.to_string(),
            Want::Strs(v) => format!("{v:?}"),
        };
        problems.push(format!("{at}: {key} should be {want}, got {got:?}"));
    }
}

fn want_str(v: &str) -> Want {
    Want::Str(v.to_owned())
}

/// Benign data that did not arrive exactly as recorded.
pub(crate) fn benign_problems(
    r: &Received,
    guard: &TelemetryGuard,
    benign_card: &str,
) -> Vec<String> {
    let mut p = Vec::new();
    let spans = r.spans();
    let tagged = |tag: &str| {
        spans
            .iter()
            .find(|s| received_text::tag(&s.span.attributes).as_deref() == Some(tag))
    };

    match tagged("benign.raw") {
        Some(span) => {
            if span.span.name != "checkout.benign" {
                p.push(format!("benign span name became {:?}", span.span.name));
            }
            if span.scope != "checkout-otel" {
                p.push(format!("benign span scope became {:?}", span.scope));
            }
            let a = &span.span.attributes;
            let at = "benign raw span";
            for (key, want) in [
                ("order.id", want_str(ORDER_ID)),
                ("checkout.total", want_str("129.99")),
                ("payment.amount_minor", Want::Int(12999)),
                ("http.response.status_code", Want::Int(503)),
                ("http.route", want_str("/checkout/{cart}")),
                ("checkout.created_at", want_str(ISO_TIMESTAMP)),
                ("checkout.date", want_str(ISO_DATE)),
                ("checkout.epoch", want_str(EPOCH_SECONDS)),
                ("checkout.epoch_ms", Want::Int(EPOCH_MILLIS)),
                ("request.id", want_str(UUID)),
                ("order.number", want_str(ORDER_NUMBER)),
                ("payment.decline_code", want_str("insufficient_funds")),
                ("checkout.summary", want_str(SUMMARY)),
                (
                    "checkout.tags",
                    Want::Strs(vec![ORDER_ID, "129.99", ISO_DATE]),
                ),
            ] {
                check_attr(&mut p, at, a, key, want);
            }
            match span.span.events.first() {
                Some(e) if e.name == "payment_processed" => {
                    check_attr(
                        &mut p,
                        "benign event",
                        &e.attributes,
                        "order.id",
                        want_str(ORDER_ID),
                    );
                    check_attr(
                        &mut p,
                        "benign event",
                        &e.attributes,
                        "amount",
                        want_str("129.99"),
                    );
                }
                other => p.push(format!("benign event became {other:?}")),
            }
            match span.span.links.first() {
                Some(l) => check_attr(
                    &mut p,
                    "benign link",
                    &l.attributes,
                    "link.reason",
                    want_str("retry 2 of 3"),
                ),
                None => p.push("benign link missing".to_owned()),
            }
            let status = span.span.status.as_ref().map(|s| s.message.as_str());
            if status != Some("upstream timeout after 30s") {
                p.push(format!("benign status message became {status:?}"));
            }
        }
        None => p.push("benign raw span missing".to_owned()),
    }

    let hash = guard.user_hasher().hash(CUSTOMER_ID);
    let hash = hash.key_value().value.as_str().into_owned();
    match tagged("benign.checkout") {
        Some(span) => {
            let a = &span.span.attributes;
            for (key, want) in [
                ("cart.id", want_str(CART_ID)),
                ("checkout.total", want_str("129.99")),
                ("checkout.total_minor", Want::Int(12999)),
                ("checkout.currency", want_str("EUR")),
                ("checkout.status", want_str("success")),
                ("user.hash", Want::Str(hash)),
            ] {
                check_attr(&mut p, "benign checkout.process", a, key, want);
            }
        }
        None => p.push("benign checkout.process missing".to_owned()),
    }
    match tagged("benign.payment") {
        Some(span) => {
            let a = &span.span.attributes;
            let last4 = &benign_card[benign_card.len() - 4..];
            for (key, want) in [
                ("order.id", want_str(ORDER_ID)),
                ("payment.amount", want_str("129.99")),
                ("payment.amount_minor", Want::Int(12999)),
                ("payment.currency", want_str("EUR")),
                ("payment.method_type", want_str("card")),
                ("payment.card.last4", want_str(last4)),
                ("payment.charge_id", want_str(CHARGE_ID)),
                ("payment.status", want_str("succeeded")),
            ] {
                check_attr(&mut p, "benign payment.process", a, key, want);
            }
        }
        None => p.push("benign payment.process missing".to_owned()),
    }
    match tagged("benign.gateway") {
        Some(span) => {
            let a = &span.span.attributes;
            for (key, want) in [
                ("url.full", want_str("https://pay.example.com/v1/charges")),
                ("server.address", want_str("pay.example.com")),
                ("peer.service", want_str("stripe")),
                ("http.request.method", want_str("POST")),
                ("http.response.status_code", Want::Int(200)),
            ] {
                check_attr(&mut p, "benign payment.gateway_call", a, key, want);
            }
        }
        None => p.push("benign payment.gateway_call missing".to_owned()),
    }
    match tagged("benign.tracing") {
        Some(span) => {
            let a = &span.span.attributes;
            check_attr(
                &mut p,
                "benign tracing span",
                a,
                "order.id",
                want_str(ORDER_ID),
            );
            check_attr(
                &mut p,
                "benign tracing span",
                a,
                "amount",
                want_str("129.99"),
            );
            check_attr(
                &mut p,
                "benign tracing span",
                a,
                "at",
                want_str(ISO_TIMESTAMP),
            );
            let names: Vec<&str> = span.span.events.iter().map(|e| e.name.as_str()).collect();
            if names != [LOG_MESSAGE] {
                p.push(format!("benign log message became {names:?}"));
            }
        }
        None => p.push("benign tracing span missing".to_owned()),
    }

    // The server span of the benign request and its client call.
    let trace: Vec<_> = spans
        .iter()
        .filter(|s| s.trace_id() == BENIGN_TRACE_ID)
        .collect();
    match trace
        .iter()
        .find(|s| s.span.name == "POST /a/checkout/{cart}")
    {
        Some(server) => {
            let a = &server.span.attributes;
            check_attr(
                &mut p,
                "benign server span",
                a,
                "http.request.method",
                want_str("POST"),
            );
            check_attr(
                &mut p,
                "benign server span",
                a,
                "http.route",
                want_str("/a/checkout/{cart}"),
            );
            check_attr(
                &mut p,
                "benign server span",
                a,
                "http.response.status_code",
                Want::Int(200),
            );
            // Exported only when the service opts in (issue #14).
            if !server.span.trace_state.is_empty() {
                p.push(format!(
                    "tracestate exported without opt-in: {:?}",
                    server.span.trace_state
                ));
            }
        }
        None => p.push(format!(
            "benign server span missing from trace {BENIGN_TRACE_ID}: {:?}",
            trace.iter().map(|s| &s.span.name).collect::<Vec<_>>()
        )),
    }
    match trace
        .iter()
        .find(|s| s.span.name == "POST" && s.span.kind == 3)
    {
        Some(client) => {
            let a = &client.span.attributes;
            let url = client.attr("url.full").unwrap_or_default();
            if !(url.starts_with("http://127.0.0.1:")
                && url.ends_with(&format!("/charges/{ORDER_ID}")))
            {
                p.push(format!("benign client url.full became {url:?}"));
            }
            check_attr(
                &mut p,
                "benign client span",
                a,
                "server.address",
                want_str("127.0.0.1"),
            );
            check_attr(
                &mut p,
                "benign client span",
                a,
                "http.response.status_code",
                Want::Int(200),
            );
        }
        None => p.push("benign client span missing".to_owned()),
    }

    // Resource of both signals.
    let resources = spans
        .first()
        .map(|s| s.resource.clone())
        .into_iter()
        .chain(r.metric_resources());
    for resource in resources {
        for (key, want) in [
            ("service.name", SERVICE),
            ("service.version", "2.3.4"),
            ("deployment.environment.name", "staging"),
            ("team", "payments"),
            ("region", "eu-west 1"),
            ("build.date", ISO_DATE),
        ] {
            if resource.get(key).map(String::as_str) != Some(want) {
                p.push(format!("resource {key} became {:?}", resource.get(key)));
            }
        }
    }

    let mut metric_ok = false;
    for_each_point(r, |name, attrs, value| {
        if name == "attack.benign" {
            let mut q = Vec::new();
            check_attr(&mut q, "", attrs, "checkout.status", want_str("success"));
            check_attr(
                &mut q,
                "",
                attrs,
                "http.response.status_code",
                Want::Int(200),
            );
            check_attr(&mut q, "", attrs, "order.channel", want_str("web"));
            metric_ok |= q.is_empty() && value == 3;
        }
    });
    if !metric_ok {
        p.push("benign metric attack.benign did not arrive unchanged with value 3".to_owned());
    }
    p
}
