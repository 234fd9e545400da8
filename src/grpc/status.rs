//! The gRPC status of a call and how it ends the span: which codes are
//! errors on which side (semantic conventions 1.42), where the status is
//! read from (`grpc-status` in the headers of a trailers-only response, or
//! in the trailers), and what a call that never got one records.

use http::HeaderMap;
use opentelemetry::{ContextGuard, KeyValue};

use crate::attributes::{self as attr, ErrorType, FailureKind};
use crate::spans::TypedSpan;

/// The header (or trailer) carrying the status code.
const GRPC_STATUS: &str = "grpc-status";

/// The names of the gRPC status codes, indexed by code
/// (<https://github.com/grpc/grpc/blob/v1.75.0/doc/statuscodes.md>).
const NAMES: [&str; 17] = [
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];

/// A gRPC status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Code(u8);

impl Code {
    const OK: Code = Code(0);
    const UNKNOWN: Code = Code(2);
    const PERMISSION_DENIED: Code = Code(7);
    const UNIMPLEMENTED: Code = Code(12);
    const INTERNAL: Code = Code(13);
    const UNAVAILABLE: Code = Code(14);
    const UNAUTHENTICATED: Code = Code(16);

    /// The code of a `grpc-status` value; anything but a known code is
    /// `UNKNOWN`, as gRPC implementations read it.
    fn parse(value: &[u8]) -> Code {
        std::str::from_utf8(value)
            .ok()
            .and_then(|v| v.trim().parse::<u8>().ok())
            .filter(|&c| usize::from(c) < NAMES.len())
            .map_or(Code::UNKNOWN, Code)
    }

    /// The code gRPC derives from the HTTP status of a response without a
    /// `grpc-status` (gRPC's `http-grpc-status-mapping.md`).
    fn from_http_status(status: http::StatusCode) -> Code {
        match status.as_u16() {
            400 => Code::INTERNAL,
            401 => Code::UNAUTHENTICATED,
            403 => Code::PERMISSION_DENIED,
            404 => Code::UNIMPLEMENTED,
            429 | 502..=504 => Code::UNAVAILABLE,
            _ => Code::UNKNOWN,
        }
    }

    /// `rpc.response.status_code`: `OK`, `NOT_FOUND`, ...
    pub(super) fn name(self) -> &'static str {
        NAMES.get(usize::from(self.0)).copied().unwrap_or("UNKNOWN")
    }

    /// Whether the call failed, seen from `side`: on a client every code but
    /// `OK`; on a server only the codes that say the server failed (the
    /// others are the caller's mistake or a business answer).
    fn is_error(self, side: Side) -> bool {
        match side {
            Side::Client => self != Code::OK,
            Side::Server => self.is_server_fault(),
        }
    }

    /// `UNKNOWN`, `DEADLINE_EXCEEDED`, `UNIMPLEMENTED`, `INTERNAL`,
    /// `UNAVAILABLE`, `DATA_LOSS`: the codes the conventions call errors on
    /// a server.
    fn is_server_fault(self) -> bool {
        matches!(self.0, 2 | 4 | 12 | 13 | 14 | 15)
    }
}

/// Which end of the call a span records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Side {
    Server,
    Client,
}

/// The span of one call until its status is known: ended by the status, a
/// failure, or (recorded as cancelled) when dropped without either.
pub(super) struct CallSpan {
    span: Option<TypedSpan>,
    side: Side,
}

impl CallSpan {
    pub(super) fn new(span: TypedSpan, side: Side) -> Self {
        CallSpan {
            span: Some(span),
            side,
        }
    }

    /// Whether the call has ended (its status recorded).
    pub(super) fn is_done(&self) -> bool {
        self.span.is_none()
    }

    /// On a server, attaches the span's context while the response body is
    /// produced (a streaming handler runs then), so spans started there are
    /// its children.
    pub(super) fn enter_for_body(&self) -> Option<ContextGuard> {
        match (&self.span, self.side) {
            (Some(span), Side::Server) => Some(span.context().clone().attach()),
            _ => None,
        }
    }

    /// Ends the span with the status of a response's headers: the
    /// `grpc-status` of a trailers-only response, or the code its HTTP status
    /// stands for when it is not 200. Leaves it running otherwise (the status
    /// comes in the trailers).
    pub(super) fn end_from_head(&mut self, status: http::StatusCode, headers: &HeaderMap) {
        if let Some(value) = headers.get(GRPC_STATUS) {
            self.end_with(Code::parse(value.as_bytes()));
        } else if status != http::StatusCode::OK {
            self.end_with(Code::from_http_status(status));
        }
    }

    /// Ends the span with the `grpc-status` of the trailers.
    pub(super) fn end_from_trailers(&mut self, trailers: &HeaderMap) {
        let code = trailers
            .get(GRPC_STATUS)
            .map_or(Code::UNKNOWN, |v| Code::parse(v.as_bytes()));
        self.end_with(code);
    }

    /// `rpc.response.status_code`, and a failure when `code` is an error on
    /// this side: `error.type` the code's name, no description (the code
    /// says it all, and `grpc-message` is free text from the peer).
    pub(super) fn end_with(&mut self, code: Code) {
        let Some(span) = self.span.take() else {
            return;
        };
        span.set_attribute(KeyValue::new(attr::RPC_RESPONSE_STATUS_CODE, code.name()));
        if code.is_error(self.side) {
            let kind = if code.is_server_fault() {
                FailureKind::Fault
            } else {
                FailureKind::Rejection
            };
            span.fail_without_exception(ErrorType::new(code.name()), kind, String::new());
        }
        span.end();
    }

    /// Ends the span as failed before any status: `error_type` (the error's
    /// type name, `cancelled`, `_OTHER`) and a fixed `message`.
    pub(super) fn end_failed(&mut self, error_type: ErrorType, message: &'static str) {
        if let Some(span) = self.span.take() {
            span.fail_without_exception(error_type, FailureKind::Fault, message.to_owned());
            span.end();
        }
    }
}

impl Drop for CallSpan {
    /// A call given up before its status (the client went away, a timeout
    /// dropped the future, the caller stopped reading the stream) is
    /// recorded as cancelled rather than leaked.
    fn drop(&mut self) {
        self.end_failed(ErrorType::CANCELLED, "call dropped before its status");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_values_parse_to_known_codes_or_unknown() {
        assert_eq!(Code::parse(b"0").name(), "OK");
        assert_eq!(Code::parse(b"5").name(), "NOT_FOUND");
        assert_eq!(Code::parse(b"16").name(), "UNAUTHENTICATED");
        for bad in [&b"17"[..], b"-1", b"", b"abc", b"\xff", b"999"] {
            assert_eq!(Code::parse(bad), Code::UNKNOWN, "{bad:?}");
        }
    }

    #[test]
    fn server_errors_are_the_conventions_six_and_client_errors_all_but_ok() {
        let server_errors: Vec<&str> = (0..17u8)
            .map(Code)
            .filter(|c| c.is_error(Side::Server))
            .map(Code::name)
            .collect();
        assert_eq!(
            server_errors,
            [
                "UNKNOWN",
                "DEADLINE_EXCEEDED",
                "UNIMPLEMENTED",
                "INTERNAL",
                "UNAVAILABLE",
                "DATA_LOSS"
            ]
        );
        assert!((1..17u8).all(|c| Code(c).is_error(Side::Client)));
        assert!(!Code::OK.is_error(Side::Client));
    }

    #[test]
    fn http_statuses_map_as_grpc_maps_them() {
        let code = |s: u16| Code::from_http_status(http::StatusCode::from_u16(s).unwrap()).name();
        assert_eq!(code(400), "INTERNAL");
        assert_eq!(code(401), "UNAUTHENTICATED");
        assert_eq!(code(403), "PERMISSION_DENIED");
        assert_eq!(code(404), "UNIMPLEMENTED");
        assert_eq!(code(503), "UNAVAILABLE");
        assert_eq!(code(500), "UNKNOWN");
    }
}
