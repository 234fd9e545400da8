//! The span export queue, with every span accounted for.
//!
//! The SDK's batch span processor drops spans when its queue is full but
//! keeps the count to itself (one log line at shutdown, and only with the
//! SDK's internal logs on). So the batch processor is wrapped: the wrapper
//! admits a finished span only while fewer than `capacity` spans wait to be
//! handed to the exporter, and the SDK's queue has that same capacity, so it
//! never overflows on its own. Every span is then counted exactly once as
//! dropped here, or (by the exporter's [`Accounted`](super::accounted::Accounted)
//! wrapper) as exported or failed.

// Without a transport there is no export queue to wrap.
#![cfg_attr(not(any(feature = "grpc", feature = "http-proto")), allow(dead_code))]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use opentelemetry::Context;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};

/// What happened to the spans sent to the OTLP exporter so far, from
/// [`TelemetryGuard::span_export_stats`](super::TelemetryGuard::span_export_stats).
///
/// `queued = exported + failed + pending`; `dropped` spans never entered the
/// queue. All zero when spans are not exported over OTLP.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SpanExportStats {
    /// The queue's capacity: how many finished spans may wait for export.
    pub capacity: u64,
    /// Spans admitted to the queue.
    pub queued: u64,
    /// Spans dropped because the queue was full.
    pub dropped: u64,
    /// Spans the collector accepted.
    pub exported: u64,
    /// Spans whose export failed (collector down, refused or timed out).
    pub failed: u64,
}

impl SpanExportStats {
    /// Spans admitted and not yet exported or failed: waiting in the queue or
    /// in an export under way. Never more than `capacity` plus one batch.
    pub fn pending(&self) -> u64 {
        self.queued
            .saturating_sub(self.exported)
            .saturating_sub(self.failed)
    }
}

/// Shared between the queue wrapper, the exporter wrapper and the guard.
#[derive(Debug, Default)]
pub(crate) struct QueueCounters {
    capacity: u64,
    /// Admitted and not yet handed to the exporter: what the SDK's queue holds
    /// (or a little more, for spans it has taken out but not yet handed over).
    waiting: AtomicU64,
    queued: AtomicU64,
    dropped: AtomicU64,
    exported: AtomicU64,
    failed: AtomicU64,
    /// `dropped` as of the last flush or shutdown report.
    reported_dropped: AtomicU64,
    /// `dropped` as of the last export, which passes the drops on to the
    /// WARN line (the request thread that drops never logs).
    warned_dropped: AtomicU64,
}

impl QueueCounters {
    pub(crate) fn new(capacity: usize) -> Self {
        QueueCounters {
            capacity: capacity as u64,
            ..Self::default()
        }
    }

    pub(crate) fn stats(&self) -> SpanExportStats {
        SpanExportStats {
            capacity: self.capacity,
            queued: self.queued.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            exported: self.exported.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
        }
    }

    /// Spans dropped since the previous call: each drop is reported once.
    pub(crate) fn take_new_drops(&self) -> u64 {
        let now = self.dropped.load(Ordering::Relaxed);
        now.saturating_sub(self.reported_dropped.swap(now, Ordering::Relaxed))
    }

    /// Spans dropped since the previous call, for the WARN line: a cursor
    /// apart from [`take_new_drops`](Self::take_new_drops)'s.
    pub(crate) fn take_drops_to_warn(&self) -> u64 {
        let now = self.dropped.load(Ordering::Relaxed);
        now.saturating_sub(self.warned_dropped.swap(now, Ordering::Relaxed))
    }

    pub(crate) fn capacity(&self) -> u64 {
        self.capacity
    }

    /// Admits one item to the queue, or counts it dropped when `capacity`
    /// items already wait.
    pub(crate) fn admit(&self) -> bool {
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.capacity {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        self.queued.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// `spans` were handed to the exporter: they no longer wait in the queue.
    pub(crate) fn hand_over(&self, spans: u64) {
        // Saturating: every span here was admitted, but never risk a wrap.
        let _ = self
            .waiting
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |w| {
                Some(w.saturating_sub(spans))
            });
    }

    /// The export of `spans` spans handed over succeeded (`ok`) or failed.
    pub(crate) fn settle(&self, spans: u64, ok: bool) {
        let outcome = if ok { &self.exported } else { &self.failed };
        outcome.fetch_add(spans, Ordering::Relaxed);
    }
}

/// A span processor (the SDK's batch processor) behind the counted queue bound.
#[derive(Debug)]
pub(crate) struct Bounded<P> {
    inner: P,
    counters: Arc<QueueCounters>,
}

impl<P> Bounded<P> {
    pub(crate) fn new(inner: P, counters: Arc<QueueCounters>) -> Self {
        Bounded { inner, counters }
    }
}

impl<P: SpanProcessor> SpanProcessor for Bounded<P> {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        self.inner.on_start(span, cx);
    }

    fn on_end(&self, span: SpanData) {
        if self.counters.admit() {
            self.inner.on_end(span);
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::init::accounted::{Accounted, ExportHealth};
    use opentelemetry::trace::{Span as _, Tracer, TracerProvider as _};
    use opentelemetry_sdk::error::OTelSdkError;
    use opentelemetry_sdk::trace::{
        BatchConfigBuilder, BatchSpanProcessor, SdkTracerProvider, SpanExporter,
    };
    use std::sync::Mutex;
    use std::sync::mpsc;

    /// Blocks every export until released; fails them if told to.
    #[derive(Debug)]
    struct Gate {
        release: Mutex<mpsc::Receiver<bool>>,
    }

    impl SpanExporter for Gate {
        async fn export(&self, _batch: Vec<SpanData>) -> OTelSdkResult {
            let ok = self
                .release
                .lock()
                .ok()
                .and_then(|rx| rx.recv_timeout(Duration::from_secs(10)).ok())
                .unwrap_or(false);
            if ok {
                Ok(())
            } else {
                Err(OTelSdkError::InternalFailure("refused".into()))
            }
        }
    }

    fn provider(
        capacity: usize,
        batch: usize,
    ) -> (SdkTracerProvider, Arc<QueueCounters>, mpsc::Sender<bool>) {
        let (tx, rx) = mpsc::channel();
        let counters = Arc::new(QueueCounters::new(capacity));
        let exporter = Accounted::new(
            Gate {
                release: Mutex::new(rx),
            },
            Arc::new(ExportHealth::for_signal("traces")),
        )
        .draining(counters.clone());
        let config = BatchConfigBuilder::default()
            .with_max_queue_size(capacity)
            .with_max_export_batch_size(batch)
            .with_scheduled_delay(Duration::from_secs(3600))
            .build();
        let bsp = BatchSpanProcessor::new(exporter, config);
        let provider = SdkTracerProvider::builder()
            .with_span_processor(Bounded::new(bsp, counters.clone()))
            .build();
        (provider, counters, tx)
    }

    #[test]
    fn every_span_is_queued_or_dropped_and_drops_are_exact() {
        let (provider, counters, release) = provider(8, 8);
        let tracer = provider.tracer("t");
        for _ in 0..20 {
            tracer.start("s").end();
        }
        let s = counters.stats();
        // The exporter has not been handed anything yet (the batch export is
        // triggered, but blocks in the gate or has not started): at most
        // `capacity` plus the batch it took can have been admitted.
        assert_eq!(s.queued + s.dropped, 20);
        assert!(s.queued >= 8 && s.queued <= 16, "{s:?}");
        assert_eq!(counters.take_new_drops(), s.dropped);
        assert_eq!(counters.take_new_drops(), 0, "a drop is reported once");

        for _ in 0..4 {
            let _ = release.send(true);
        }
        provider.force_flush().expect("flush");
        let s = counters.stats();
        assert_eq!(s.exported, s.queued, "{s:?}");
        assert_eq!(s.failed, 0);
        assert_eq!(s.pending(), 0);
        assert_eq!(s.capacity, 8);
        drop(release);
        let _ = provider.shutdown();
    }

    #[test]
    fn failed_exports_are_counted_in_spans() {
        let (provider, counters, release) = provider(16, 4);
        let tracer = provider.tracer("t");
        for _ in 0..3 {
            tracer.start("s").end();
        }
        let _ = release.send(false);
        let _ = provider.force_flush();
        let s = counters.stats();
        assert_eq!((s.queued, s.failed, s.exported, s.dropped), (3, 3, 0, 0));
        drop(release);
        let _ = provider.shutdown();
    }
}
