//! What the server span records of a request: the semantic conventions'
//! HTTP server attributes, each read without trusting the request (headers
//! that are not UTF-8 or not well-formed are skipped, every value is
//! bounded and checked like the exit check would).

use std::borrow::Cow;
use std::net::IpAddr;

use http::header::{FORWARDED, HOST, USER_AGENT};
use http::{HeaderMap, Version};
use opentelemetry::trace::SpanKind;

use crate::attributes as attr;
use crate::pii;
use crate::pii::client_address::{anonymize_ip, parse_ip};
use crate::spans::http::{request_method, span_name_of_method};
use crate::spans::{Attrs, CheckoutTracer, SpanSpec, TypedSpan};

/// Longest `http.route` (and route in the span name), in characters.
const MAX_ROUTE_CHARS: usize = 256;
/// Longest `user_agent.original`, in characters.
const MAX_USER_AGENT_CHARS: usize = 512;
/// Longest `http.request.method_original`, in characters.
const MAX_METHOD_CHARS: usize = 32;
/// Longest host name (DNS allows 253).
const MAX_HOST_BYTES: usize = 255;

/// Reads the route template of a request from its extensions.
pub(super) type RouteFn = for<'a> fn(&'a http::Extensions) -> Option<&'a str>;

/// How the layer reads what a request does not say for itself.
#[derive(Clone, Copy)]
pub(super) struct Options {
    /// `url.scheme` when the service knows it better than the request
    /// (behind TLS termination).
    pub(super) scheme: Option<&'static str>,
    /// Whether `Forwarded` / `X-Forwarded-For` / `X-Forwarded-Proto` are read.
    pub(super) forwarded: bool,
    pub(super) route: RouteFn,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            scheme: None,
            forwarded: true,
            route: default_route,
        }
    }
}

/// axum's `MatchedPath` (feature `axum`); nothing otherwise.
fn default_route(extensions: &http::Extensions) -> Option<&str> {
    #[cfg(feature = "axum")]
    {
        extensions
            .get::<axum::extract::MatchedPath>()
            .map(axum::extract::MatchedPath::as_str)
    }
    #[cfg(not(feature = "axum"))]
    {
        let _ = extensions;
        None
    }
}

/// The `SERVER` span of one request, as a [`SpanSpec`]: started with the
/// crate's span core like every other span.
pub(super) struct ServerRequest<'a> {
    parts: RequestParts<'a>,
    options: &'a Options,
    method: &'static str,
    route: Option<Cow<'a, str>>,
}

/// The parts of an `http::Request` the span reads (not its body).
pub(super) struct RequestParts<'a> {
    pub(super) method: &'a http::Method,
    pub(super) uri: &'a http::Uri,
    pub(super) version: Version,
    pub(super) headers: &'a HeaderMap,
    pub(super) extensions: &'a http::Extensions,
}

impl<'a> ServerRequest<'a> {
    pub(super) fn new(parts: RequestParts<'a>, options: &'a Options) -> Self {
        let method = request_method(parts.method.as_str());
        let route = (options.route)(parts.extensions)
            .map(|route| pii::scrub_with_limit(route, MAX_ROUTE_CHARS));
        ServerRequest {
            parts,
            options,
            method,
            route,
        }
    }

    /// `url.scheme`: the configured one, the request's own (an absolute
    /// URI, HTTP/2's `:scheme`), the proxy's (`Forwarded: proto=`,
    /// `X-Forwarded-Proto`), or `http`. Only `http` and `https` are
    /// recorded: anything else is a client's invention.
    fn scheme(&self) -> &'static str {
        if let Some(scheme) = self.options.scheme {
            return scheme;
        }
        let forwarded = || {
            forwarded_param(self.parts.headers, "proto")
                .or_else(|| first_value(self.parts.headers, "x-forwarded-proto"))
        };
        let known = |s: &str| match s.trim().trim_matches('"') {
            s if s.eq_ignore_ascii_case("https") => Some("https"),
            s if s.eq_ignore_ascii_case("http") => Some("http"),
            _ => None,
        };
        self.parts
            .uri
            .scheme_str()
            .and_then(known)
            .or_else(|| {
                self.options
                    .forwarded
                    .then(forwarded)
                    .flatten()
                    .and_then(known)
            })
            .unwrap_or("http")
    }

    /// The path as the client sent it: axum's `OriginalUri` (feature
    /// `axum`) keeps the prefix a nested router strips from the URI.
    fn path(&self) -> &'a str {
        #[cfg(feature = "axum")]
        if let Some(original) = self.parts.extensions.get::<axum::extract::OriginalUri>() {
            return original.0.path();
        }
        self.parts.uri.path()
    }

    /// `client.address`: the first hop of `Forwarded: for=` or
    /// `X-Forwarded-For` (the original client behind proxies, as the
    /// semantic conventions ask), else the peer of the connection (axum's
    /// `ConnectInfo<SocketAddr>`, feature `axum`); anonymised.
    fn client_address(&self) -> Option<IpAddr> {
        let headers = self.parts.headers;
        let forwarded = || {
            forwarded_param(headers, "for")
                .and_then(parse_ip)
                .or_else(|| first_value(headers, "x-forwarded-for").and_then(parse_ip))
        };
        let peer = || {
            #[cfg(feature = "axum")]
            {
                self.parts
                    .extensions
                    .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                    .map(|info| info.0.ip())
            }
            #[cfg(not(feature = "axum"))]
            {
                None
            }
        };
        self.options
            .forwarded
            .then(forwarded)
            .flatten()
            .or_else(peer)
            .map(anonymize_ip)
    }
}

impl SpanSpec for ServerRequest<'_> {
    type Span = TypedSpan;

    /// `{method} {route}`, or `{method}` without a route; `HTTP` stands for
    /// a method outside the well-known set.
    fn name(&self) -> Cow<'static, str> {
        let method = span_name_of_method(self.method);
        match &self.route {
            Some(route) => Cow::Owned(format!("{method} {route}")),
            None => Cow::Borrowed(method),
        }
    }

    fn kind(&self) -> SpanKind {
        SpanKind::Server
    }

    fn attributes(&self, attrs: &mut Attrs<'_>) {
        attrs.str(attr::HTTP_REQUEST_METHOD, self.method);
        if self.method == "_OTHER" {
            let original = pii::scrub_with_limit(self.parts.method.as_str(), MAX_METHOD_CHARS);
            attrs.str(attr::HTTP_REQUEST_METHOD_ORIGINAL, original.into_owned());
        }
        let scheme = self.scheme();
        attrs.str(attr::URL_SCHEME, scheme);
        let path = self.path();
        if !path.is_empty() {
            attrs.str(attr::URL_PATH, pii::scrub_url(path).into_owned());
        }
        if let Some(route) = &self.route {
            attrs.str(attr::HTTP_ROUTE, route.clone().into_owned());
        }
        if let Some((host, port)) = server_authority(self.parts.uri, self.parts.headers) {
            attrs.str(attr::SERVER_ADDRESS, host.to_owned());
            let port = port.or(match scheme {
                "https" => Some(443),
                _ => Some(80),
            });
            if let Some(port) = port {
                attrs.int(attr::SERVER_PORT, u64::from(port));
            }
        }
        if let Some(ip) = self.client_address() {
            attrs.str(attr::CLIENT_ADDRESS, ip.to_string());
        }
        if let Some(version) = protocol_version(self.parts.version) {
            attrs.str(attr::NETWORK_PROTOCOL_VERSION, version);
        }
        if let Some(agent) = self
            .parts
            .headers
            .get(USER_AGENT)
            .and_then(|v| v.to_str().ok())
        {
            let agent = pii::scrub_with_limit(agent, MAX_USER_AGENT_CHARS);
            attrs.str(attr::USER_AGENT_ORIGINAL, agent.into_owned());
        }
    }

    fn wrap(self, span: TypedSpan, _: &CheckoutTracer) -> TypedSpan {
        span
    }
}

/// `network.protocol.version` as the semantic conventions write it.
fn protocol_version(version: Version) -> Option<&'static str> {
    match version {
        Version::HTTP_09 => Some("0.9"),
        Version::HTTP_10 => Some("1.0"),
        Version::HTTP_11 => Some("1.1"),
        Version::HTTP_2 => Some("2"),
        Version::HTTP_3 => Some("3"),
        _ => None,
    }
}

/// The first comma-separated entry of the first `name` header, if UTF-8.
fn first_value<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    let value = headers.get(name)?.to_str().ok()?;
    value.split(',').next().map(str::trim)
}

/// The value of `param` (`for`, `proto`) in the first element of the
/// `Forwarded` header (RFC 7239), quotes kept.
fn forwarded_param<'h>(headers: &'h HeaderMap, param: &str) -> Option<&'h str> {
    let first = first_value(headers, FORWARDED.as_str())?;
    first.split(';').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case(param)
            .then_some(value.trim())
    })
}

/// `server.address` and the port the client asked for: the URI's authority
/// (HTTP/2's `:authority`, an absolute-form request), else the `Host`
/// header. `None` when neither holds a well-formed host.
pub(crate) fn server_authority<'r>(
    uri: &'r http::Uri,
    headers: &'r HeaderMap,
) -> Option<(&'r str, Option<u16>)> {
    let authority = match uri.authority() {
        Some(authority) => authority.as_str(),
        None => headers.get(HOST)?.to_str().ok()?,
    };
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    let (host, port) = match host_port.strip_prefix('[') {
        Some(v6) => {
            let (host, after) = v6.split_once(']')?;
            (host, after.strip_prefix(':'))
        }
        None => match host_port.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        },
    };
    let well_formed = !host.is_empty()
        && host.len() <= MAX_HOST_BYTES
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._:".contains(&b));
    if !well_formed {
        return None;
    }
    let port = match port {
        Some(port) => Some(port.parse::<u16>().ok()?),
        None => None,
    };
    Some((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &[u8])]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, http::HeaderValue::from_bytes(value).unwrap());
        }
        map
    }

    #[test]
    fn authority_from_the_uri_or_the_host_header() {
        let uri: http::Uri = "/pay".parse().unwrap();
        let h = headers(&[("host", b"shop.example:8443")]);
        assert_eq!(
            server_authority(&uri, &h),
            Some(("shop.example", Some(8443)))
        );
        let h = headers(&[("host", b"[2001:db8::1]:9000")]);
        assert_eq!(
            server_authority(&uri, &h),
            Some(("2001:db8::1", Some(9000)))
        );
        let h = headers(&[("host", b"shop.example")]);
        assert_eq!(server_authority(&uri, &h), Some(("shop.example", None)));
        let absolute: http::Uri = "https://api.example/pay".parse().unwrap();
        assert_eq!(
            server_authority(&absolute, &HeaderMap::new()),
            Some(("api.example", None))
        );
    }

    #[test]
    fn malformed_hosts_are_skipped() {
        let uri: http::Uri = "/pay".parse().unwrap();
        for host in [
            &b"shop\xff.example"[..],
            b"jane@example.com@",
            b"shop.example:notaport",
            b"",
            b"[::1",
            b"a b",
        ] {
            assert_eq!(server_authority(&uri, &headers(&[("host", host)])), None);
        }
        let long = "a".repeat(MAX_HOST_BYTES + 1);
        assert_eq!(
            server_authority(&uri, &headers(&[("host", long.as_bytes())])),
            None
        );
        assert_eq!(server_authority(&uri, &HeaderMap::new()), None);
    }

    #[test]
    fn forwarded_parameters_of_the_first_hop() {
        let h = headers(&[(
            "forwarded",
            b"for=\"[2001:db8:cafe::17]:4711\";proto=https, for=198.51.100.1",
        )]);
        assert_eq!(forwarded_param(&h, "proto"), Some("https"));
        assert_eq!(
            forwarded_param(&h, "for").and_then(parse_ip),
            "2001:db8:cafe::17".parse().ok()
        );
        let h = headers(&[("x-forwarded-for", b"203.0.113.9, 10.0.0.1")]);
        assert_eq!(first_value(&h, "x-forwarded-for"), Some("203.0.113.9"));
        assert_eq!(forwarded_param(&h, "for"), None);
    }
}
