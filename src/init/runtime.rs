//! The private export runtime.
//!
//! Threads: the SDK's batch span processor and periodic metric reader each
//! run on their own OS thread and drive `export` with a plain
//! `futures_executor::block_on`. The HTTP exporter's blocking client needs
//! nothing more. The gRPC exporter's tonic channel, however, spawns its
//! connection tasks with `tokio::spawn` when it is built and needs a running
//! reactor and timer afterwards. Borrowing the application's runtime would
//! panic outside one (plain `fn main`) and deadlock on a current-thread
//! runtime whose only thread is blocked in `shutdown()`. So gRPC export gets a
//! private current-thread runtime on its own thread, alive exactly as long as
//! an exporter holds it.

use std::fmt;
use std::sync::Arc;
#[cfg(feature = "grpc")]
use std::sync::Mutex;

use super::config::{Protocol, TelemetryConfig};
use crate::error::ConfigError;

/// The private runtime that drives gRPC connections. Dropping the last
/// handle stops it; the runtime itself is dropped on its own thread, never
/// inside the application's async context.
pub(crate) struct ExportRuntime {
    #[cfg(feature = "grpc")]
    pub(crate) handle: tokio::runtime::Handle,
    #[cfg(feature = "grpc")]
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl fmt::Debug for ExportRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ExportRuntime")
    }
}

#[cfg(feature = "grpc")]
impl ExportRuntime {
    /// The process's export runtime, started on first use and shared by
    /// every guard (a process hosting several services needs one thread,
    /// not one per service). It stops when the last exporter using it is gone.
    pub(crate) fn shared() -> Result<Arc<Self>, ConfigError> {
        static SHARED: Mutex<std::sync::Weak<ExportRuntime>> = Mutex::new(std::sync::Weak::new());
        let mut slot = SHARED
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(runtime) = slot.upgrade() {
            return Ok(runtime);
        }
        let runtime = Self::start()?;
        *slot = Arc::downgrade(&runtime);
        Ok(runtime)
    }

    fn start() -> Result<Arc<Self>, ConfigError> {
        let fail = |reason: String| ConfigError::Exporter {
            signal: "traces and metrics",
            source: opentelemetry_otlp::ExporterBuildError::InternalFailure(reason),
        };
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("checkout-otel-export".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.to_string()));
                        return;
                    }
                };
                let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
                if ready_tx.send(Ok((rt.handle().clone(), stop_tx))).is_err() {
                    return;
                }
                // Resolves when the last ExportRuntime is dropped.
                rt.block_on(async {
                    let _ = stop_rx.await;
                });
            })
            .map_err(|e| fail(format!("could not start the export thread: {e}")))?;
        let (handle, stop) = ready_rx
            .recv()
            .map_err(|_| fail("the export thread stopped during start-up".into()))?
            .map_err(|e| fail(format!("could not build the export runtime: {e}")))?;
        Ok(Arc::new(ExportRuntime {
            handle,
            _stop: stop,
        }))
    }
}

/// The export runtime when a signal of `config` exports over gRPC, else `None`.
pub(crate) fn runtime_for(
    config: &TelemetryConfig,
) -> Result<Option<Arc<ExportRuntime>>, ConfigError> {
    let grpc = [&config.traces, &config.metrics, &config.logs]
        .into_iter()
        .flatten()
        .any(|s| s.protocol == Protocol::Grpc);
    #[cfg(feature = "grpc")]
    if grpc {
        return ExportRuntime::shared().map(Some);
    }
    let _ = grpc;
    Ok(None)
}
