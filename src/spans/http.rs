//! HTTP spans: what may be recorded of a URL and a method, the HTTP
//! `CLIENT` span ([`HttpClientCall`]) and the `error.type` of a status code.

use std::borrow::Cow;
use std::sync::OnceLock;

use opentelemetry::KeyValue;
use opentelemetry::trace::SpanKind;

use super::handle::span_handle;
use super::{Attrs, CheckoutTracer, SpanSpec, TypedSpan};
use crate::attributes::{self as attr, ErrorType, FailureKind};

/// The recordable parts of a URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UrlParts<'a> {
    /// `scheme://host[:port]/path`: no credentials, no query, no fragment.
    pub full: String,
    pub host: &'a str,
    pub port: Option<u16>,
}

/// Splits `url` into what `url.full`, `server.address` and `server.port` may
/// carry. Credentials (`user:pass@`), the query string and the fragment are
/// dropped, since they routinely carry tokens, emails and card data.
/// Returns `None` for text that is not an absolute URL.
pub(crate) fn recordable_url(url: &str) -> Option<UrlParts<'_>> {
    let (scheme, rest) = url.split_once("://")?;
    if scheme.is_empty()
        || !scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
    {
        return None;
    }
    let rest = &rest[..rest.find(['?', '#']).unwrap_or(rest.len())];
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    let (host, port) = if let Some(v6) = host_port.strip_prefix('[') {
        let (h, after) = v6.split_once(']')?;
        (h, after.strip_prefix(':'))
    } else {
        match host_port.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (host_port, None),
        }
    };
    if host.is_empty() {
        return None;
    }
    let port = match port {
        Some(p) => Some(p.parse::<u16>().ok()?),
        None if scheme.eq_ignore_ascii_case("http") => Some(80),
        None if scheme.eq_ignore_ascii_case("https") => Some(443),
        None => None,
    };
    // Most URLs carry nothing to strip: copy them as they are. Otherwise
    // assemble the parts without the formatting machinery (a hot path).
    let untouched =
        host_port.len() == authority.len() && scheme.len() + 3 + rest.len() == url.len();
    let full = if untouched {
        url.to_owned()
    } else {
        let mut full = String::with_capacity(scheme.len() + 3 + host_port.len() + path.len());
        full.push_str(scheme);
        full.push_str("://");
        full.push_str(host_port);
        full.push_str(path);
        full
    };
    Some(UrlParts { full, host, port })
}

/// The `http.request.method` value: one of the well-known methods, or
/// `_OTHER` as the semantic conventions ask (an arbitrary method string would
/// be unbounded).
pub(crate) fn request_method(method: &str) -> &'static str {
    const KNOWN: [&str; 9] = [
        "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "CONNECT", "TRACE",
    ];
    KNOWN
        .into_iter()
        .find(|known| known.eq_ignore_ascii_case(method))
        .unwrap_or("_OTHER")
}

/// The `error.type` of an HTTP status code: the code as a string
/// (`"404"`, `"503"`) for 400..=599, as the semantic conventions ask;
/// [`ErrorType::OTHER`] for anything else.
pub(crate) fn status_error_type(status: u16) -> ErrorType {
    // `ErrorType` holds only `&'static str`, so the 200 strings live in a
    // table built once.
    static CODES: OnceLock<Box<[String]>> = OnceLock::new();
    let codes = CODES.get_or_init(|| (400..=599u16).map(|c| c.to_string()).collect());
    match status
        .checked_sub(400)
        .and_then(|i| codes.get(usize::from(i)))
    {
        Some(code) => ErrorType::new(code.as_str()),
        None => ErrorType::OTHER,
    }
}

/// The semantic conventions' name of an HTTP span without a route: the
/// method, or `HTTP` for a method outside the well-known set.
pub(crate) fn span_name_of_method(method: &'static str) -> &'static str {
    if method == "_OTHER" { "HTTP" } else { method }
}

/// Starts an HTTP `CLIENT` span for an outgoing request, as the semantic
/// conventions describe it: named after the method (`POST`), with
/// `http.request.method`, `url.full` (without credentials, query or
/// fragment, which routinely carry tokens and customer data),
/// `server.address` and `server.port`.
///
/// [`OtelMiddleware`](crate::http_client::OtelMiddleware) (feature `reqwest`)
/// starts these for every reqwest call; start one by hand for any other
/// client and inject its context into the request with
/// [`CheckoutTracer::inject`].
///
/// ```
/// use checkout_otel::spans::{CheckoutTracer, HttpClientCall};
///
/// let tracer = CheckoutTracer::global();
/// let call = tracer.start(HttpClientCall::new("GET", "http://inventory:8080/stock/sku-1?token=abc"));
/// let mut headers = http::HeaderMap::new();
/// tracer.inject(call.context(), &mut headers);
/// // ... send the request with `headers` ...
/// call.response_status(200);
/// call.end();
/// ```
#[derive(Debug, Clone, Copy)]
#[must_use = "a span spec does nothing until it is started with `tracer.start(..)`"]
pub struct HttpClientCall<'a> {
    method: &'a str,
    url: &'a str,
}

impl<'a> HttpClientCall<'a> {
    /// A `method` request (`"POST"`) to `url`.
    pub fn new(method: &'a str, url: &'a str) -> Self {
        HttpClientCall { method, url }
    }
}

impl SpanSpec for HttpClientCall<'_> {
    type Span = HttpClientCallSpan;
    /// The method (`POST`): the registry's group is `http.client`, but the
    /// span is named after its method.
    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed(span_name_of_method(request_method(self.method)))
    }
    fn kind(&self) -> SpanKind {
        SpanKind::Client
    }
    fn attributes(&self, attrs: &mut Attrs<'_>) {
        attrs.str(attr::HTTP_REQUEST_METHOD, request_method(self.method));
        if let Some(url) = recordable_url(self.url) {
            attrs.str(attr::SERVER_ADDRESS, url.host.to_owned());
            if let Some(port) = url.port {
                attrs.int(attr::SERVER_PORT, u64::from(port));
            }
            attrs.str(attr::URL_FULL, url.full);
        }
    }
    fn wrap(self, span: TypedSpan, _: &CheckoutTracer) -> HttpClientCallSpan {
        HttpClientCallSpan { span }
    }
}

span_handle! {
    /// An HTTP `CLIENT` span (see [`HttpClientCall`]).
    HttpClientCallSpan {}
}

impl HttpClientCallSpan {
    /// Records the response's status code (`http.response.status_code`).
    ///
    /// A client span fails on 4xx and 5xx, as the semantic conventions ask,
    /// with `error.type` the status code (`"404"`); `failure.kind` is
    /// `rejection` for 4xx (the callee refused the request) and `fault` for
    /// 5xx.
    pub fn response_status(&self, status: u16) {
        self.span.set_attribute(KeyValue::new(
            attr::HTTP_RESPONSE_STATUS_CODE,
            i64::from(status),
        ));
        if status >= 400 {
            let kind = if status < 500 {
                FailureKind::Rejection
            } else {
                FailureKind::Fault
            };
            self.span.fail_with(
                status_error_type(status),
                kind,
                &format!("HTTP {status}"),
                HTTP_STATUS_EXCEPTION,
            );
        }
    }

    /// Records a request that got no response, and ends the span: a fault
    /// with `error_type` (for example [`ErrorType::TIMEOUT`] or
    /// [`ErrorType::UNAVAILABLE`]) and `message` (scrubbed before it is
    /// recorded; keep URLs out of it).
    // Inlined: a by-value handle would otherwise be copied into the call.
    #[inline]
    pub fn transport_error(
        self,
        error_type: ErrorType,
        message: &str,
        exception_type: &'static str,
    ) {
        self.span
            .fail_with(error_type, FailureKind::Fault, message, exception_type);
    }
}

/// `exception.type` of a failure derived from an HTTP status code.
const HTTP_STATUS_EXCEPTION: &str = "http_status";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_credentials_query_and_fragment() {
        let p = recordable_url(
            "https://user:secret@pay.example.com:8443/v1/charges?card=4111111111111111#x",
        )
        .unwrap();
        assert_eq!(p.full, "https://pay.example.com:8443/v1/charges");
        assert_eq!(p.host, "pay.example.com");
        assert_eq!(p.port, Some(8443));
    }

    #[test]
    fn default_ports_and_ipv6() {
        assert_eq!(recordable_url("http://gw/charge").unwrap().port, Some(80));
        assert_eq!(recordable_url("https://gw").unwrap().port, Some(443));
        let p = recordable_url("http://[::1]:9000/x?y=1").unwrap();
        assert_eq!((p.host, p.port), ("::1", Some(9000)));
        assert_eq!(p.full, "http://[::1]:9000/x");
    }

    #[test]
    fn status_error_types_are_the_code_for_errors_only() {
        assert_eq!(status_error_type(400).as_str(), "400");
        assert_eq!(status_error_type(404).as_str(), "404");
        assert_eq!(status_error_type(599).as_str(), "599");
        assert_eq!(status_error_type(399), ErrorType::OTHER);
        assert_eq!(status_error_type(600), ErrorType::OTHER);
        assert_eq!(status_error_type(0), ErrorType::OTHER);
    }

    #[test]
    fn rejects_non_urls() {
        assert_eq!(recordable_url("not a url"), None);
        assert_eq!(recordable_url("http://:80/"), None);
        assert_eq!(recordable_url("http://host:notaport/"), None);
    }
}
