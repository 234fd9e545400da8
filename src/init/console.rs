//! The local default when no endpoint is configured: one compact line per
//! finished span on stderr, nothing on the network.
//!
//! Kept in its own small type so that a richer developer view (the waterfall)
//! can replace it without touching the rest of the set-up.

use std::fmt::Write as _;
use std::io::Write as _;
use std::time::Duration;

use opentelemetry::trace::{SpanId, SpanKind, Status};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

use crate::attributes::SERVICE_NAME;

/// Prints `[service] trace_id span_id parent=… name kind duration status`.
#[derive(Debug, Default)]
pub(crate) struct CompactSpanExporter {
    service: String,
}

impl SpanExporter for CompactSpanExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let mut out = String::new();
        for span in &batch {
            out.push_str(&format_line(&self.service, span));
            out.push('\n');
        }
        // A closed or full stderr must not disturb the application.
        let _ = std::io::stderr().lock().write_all(out.as_bytes());
        Ok(())
    }

    fn set_resource(&mut self, resource: &Resource) {
        if let Some(name) = resource.get(&SERVICE_NAME.into()) {
            self.service = name.as_str().into_owned();
        }
    }
}

pub(crate) fn format_line(service: &str, span: &SpanData) -> String {
    let parent = if span.parent_span_id == SpanId::INVALID {
        "-".to_owned()
    } else {
        span.parent_span_id.to_string()
    };
    let kind = match span.span_kind {
        SpanKind::Client => "client",
        SpanKind::Server => "server",
        SpanKind::Producer => "producer",
        SpanKind::Consumer => "consumer",
        SpanKind::Internal => "internal",
    };
    let duration = span
        .end_time
        .duration_since(span.start_time)
        .unwrap_or(Duration::ZERO);
    let mut line = format!(
        "[{service}] {} {} parent={parent} {} {kind} {:.3}ms ",
        span.span_context.trace_id(),
        span.span_context.span_id(),
        span.name,
        duration.as_secs_f64() * 1000.0,
    );
    let _ = match &span.status {
        Status::Unset => write!(line, "unset"),
        Status::Ok => write!(line, "ok"),
        Status::Error { description } if description.is_empty() => write!(line, "error"),
        Status::Error { description } => write!(line, "error({description})"),
    };
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::InstrumentationScope;
    use opentelemetry::trace::{SpanContext, TraceFlags, TraceId, TraceState};
    use std::time::SystemTime;

    #[test]
    fn line_has_ids_parent_name_kind_duration_status() {
        let start = SystemTime::UNIX_EPOCH;
        let span = SpanData {
            span_context: SpanContext::new(
                TraceId::from(0x0af7651916cd43dd8448eb211c80319c_u128),
                SpanId::from(0xb7ad6b7169203331_u64),
                TraceFlags::SAMPLED,
                false,
                TraceState::default(),
            ),
            parent_span_id: SpanId::from(0x00f067aa0ba902b7_u64),
            parent_span_is_remote: false,
            span_kind: SpanKind::Client,
            name: "payment.gateway_call".into(),
            start_time: start,
            end_time: start + Duration::from_micros(12_345),
            attributes: vec![],
            dropped_attributes_count: 0,
            events: Default::default(),
            links: Default::default(),
            status: Status::error("card_declined"),
            instrumentation_scope: InstrumentationScope::builder("t").build(),
        };
        assert_eq!(
            format_line("payments", &span),
            "[payments] 0af7651916cd43dd8448eb211c80319c b7ad6b7169203331 parent=00f067aa0ba902b7 payment.gateway_call client 12.345ms error(card_declined)"
        );
    }
}
