//! The RPC span of one gRPC call, as a [`SpanSpec`]: named after the method
//! it calls, with the semantic conventions' `rpc.*` attributes and the
//! server it is addressed to.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::Arc;

use opentelemetry::trace::SpanKind;

use crate::attributes as attr;
use crate::pii;
use crate::spans::{Attrs, CheckoutTracer, SpanSpec, TypedSpan};

/// `rpc.system.name`, and the span name of a call whose method is `_OTHER`.
const GRPC: &str = "grpc";
/// Longest `rpc.method` (and span name), in bytes: a method name is a
/// protobuf identifier path, far shorter in practice.
const MAX_METHOD_BYTES: usize = 256;

/// The `rpc.method` of a request path: `/{package.Service}/{Method}` gives
/// `{package.Service}/{Method}`; anything else is not a gRPC method and is
/// `None` (recorded as `_OTHER`, the path in `rpc.method_original`).
pub(super) fn rpc_method(path: &str) -> Option<&str> {
    let method = path.strip_prefix('/')?;
    let (service, name) = method.split_once('/')?;
    let identifier = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
    };
    (method.len() <= MAX_METHOD_BYTES && identifier(service) && identifier(name)).then_some(method)
}

/// The methods a server implements, when its layer was told them: any other
/// is recorded as `_OTHER`.
#[derive(Clone, Debug)]
pub(super) struct KnownMethods(Arc<HashSet<String>>);

impl KnownMethods {
    /// Takes `{package.Service}/{Method}` names; a leading `/` (a path) is
    /// accepted too.
    pub(super) fn new<I>(methods: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        KnownMethods(Arc::new(
            methods
                .into_iter()
                .map(|m| {
                    let m: String = m.into();
                    m.strip_prefix('/').map(str::to_owned).unwrap_or(m)
                })
                .collect(),
        ))
    }

    fn contains(&self, method: &str) -> bool {
        self.0.contains(method)
    }
}

/// The span of a gRPC call on either side.
pub(super) struct RpcCall<'a> {
    kind: SpanKind,
    path: &'a str,
    method: Option<&'a str>,
    server: Option<(&'a str, Option<u16>)>,
}

impl<'a> RpcCall<'a> {
    /// A call of the method at `path`, served by `server` (host and port).
    pub(super) fn new(
        kind: SpanKind,
        path: &'a str,
        server: Option<(&'a str, Option<u16>)>,
    ) -> Self {
        RpcCall {
            kind,
            path,
            method: rpc_method(path),
            server,
        }
    }

    /// The call with its method recorded as `_OTHER` when `known` is given
    /// and does not list it.
    pub(super) fn unless_unknown(mut self, known: Option<&KnownMethods>) -> Self {
        if let (Some(known), Some(method)) = (known, self.method) {
            if !known.contains(method) {
                self.method = None;
            }
        }
        self
    }
}

impl SpanSpec for RpcCall<'_> {
    type Span = TypedSpan;

    /// `{rpc.method}`, or `grpc` when it is `_OTHER` (semantic conventions).
    fn name(&self) -> Cow<'static, str> {
        match self.method {
            Some(method) => Cow::Owned(method.to_owned()),
            None => Cow::Borrowed(GRPC),
        }
    }

    fn kind(&self) -> SpanKind {
        self.kind.clone()
    }

    fn attributes(&self, attrs: &mut Attrs<'_>) {
        attrs.str(attr::RPC_SYSTEM_NAME, GRPC);
        match self.method {
            Some(method) => attrs.str(attr::RPC_METHOD, method.to_owned()),
            None => {
                attrs.str(attr::RPC_METHOD, "_OTHER");
                let original = pii::scrub_with_limit(self.path, MAX_METHOD_BYTES);
                attrs.str(attr::RPC_METHOD_ORIGINAL, original.into_owned());
            }
        }
        if let Some((host, port)) = self.server {
            attrs.str(attr::SERVER_ADDRESS, host.to_owned());
            if let Some(port) = port {
                attrs.int(attr::SERVER_PORT, u64::from(port));
            }
        }
    }

    fn wrap(self, span: TypedSpan, _: &CheckoutTracer) -> TypedSpan {
        span
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_formed_paths_are_methods() {
        assert_eq!(
            rpc_method("/shop.Payment/Charge"),
            Some("shop.Payment/Charge")
        );
        assert_eq!(rpc_method("/Echo/Echo"), Some("Echo/Echo"));
        for bad in [
            "",
            "/",
            "/shop.Payment",
            "/shop.Payment/",
            "//Charge",
            "/a/b/c",
            "shop.Payment/Charge",
            "/shop.Payment/Charge?card=4111111111111111",
            "/jane.doe@example.com/x",
        ] {
            assert_eq!(rpc_method(bad), None, "{bad}");
        }
        let long = format!("/s/{}", "m".repeat(MAX_METHOD_BYTES));
        assert_eq!(rpc_method(&long), None);
    }

    #[test]
    fn a_method_outside_the_known_list_is_other() {
        let known = KnownMethods::new(["shop.Payment/Charge", "/shop.Payment/Refund"]);
        let method = |path| {
            RpcCall::new(SpanKind::Server, path, None)
                .unless_unknown(Some(&known))
                .method
        };
        assert_eq!(method("/shop.Payment/Charge"), Some("shop.Payment/Charge"));
        assert_eq!(method("/shop.Payment/Refund"), Some("shop.Payment/Refund"));
        assert_eq!(method("/shop.Payment/Probe"), None);
        let unlisted = RpcCall::new(SpanKind::Server, "/shop.Payment/Probe", None);
        assert_eq!(
            unlisted.unless_unknown(None).method,
            Some("shop.Payment/Probe")
        );
    }
}
