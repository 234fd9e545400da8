//! Pipeline assembly: the providers, processors, readers and propagator a
//! resolved configuration describes. Every exporter goes through
//! [`Wiring::spans`] or [`Wiring::metrics`], so every one is accounted and
//! passes the same exit check (spans, their resource, metric requests). The
//! providers get the resource already checked, so what the user's own
//! processors and readers see is checked too.

use std::sync::Arc;

use opentelemetry_sdk::Resource;
use opentelemetry_sdk::logs::{LogExporter, LoggerProviderBuilder, SdkLoggerProvider};
use opentelemetry_sdk::metrics::{MeterProviderBuilder, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{
    SdkTracerProvider, SimpleSpanProcessor, SpanExporter, TracerProviderBuilder,
};

use super::accounted::{Accounted, MetricSink};
use super::config::{Exporter, RedactionPolicy, TelemetryConfig};
use super::console_metrics::ConsoleMetrics;
use super::propagator::SharedPropagator;
use super::shutdown::ExportAccounts;
use crate::error::ConfigError;
use crate::pii::{LogExitCheck, RedactionCounters, Redactor, UserHasher};
use crate::waterfall::WaterfallExporter;

/// A span processor the user added.
pub(crate) type AddProcessor =
    Box<dyn FnOnce(TracerProviderBuilder) -> TracerProviderBuilder + Send>;
/// A log processor the user added.
pub(crate) type AddLogProcessor =
    Box<dyn FnOnce(LoggerProviderBuilder) -> LoggerProviderBuilder + Send>;
/// A metric reader the user added.
pub(crate) type AddReader = Box<dyn FnOnce(MeterProviderBuilder) -> MeterProviderBuilder + Send>;
/// Exporters attached at the end of the pipeline, through its wiring.
pub(crate) type AddSpanExporter =
    Box<dyn FnOnce(&Wiring<'_>, TracerProviderBuilder) -> TracerProviderBuilder + Send>;
/// A metric exporter attached at the end of the pipeline, through its wiring.
pub(crate) type AddMetricExporter =
    Box<dyn FnOnce(&Wiring<'_>, MeterProviderBuilder) -> MeterProviderBuilder + Send>;
/// A log exporter attached at the end of the pipeline, through its wiring.
pub(crate) type AddLogExporter =
    Box<dyn FnOnce(&Wiring<'_>, LoggerProviderBuilder) -> LoggerProviderBuilder + Send>;

/// What the builder adds beyond the configuration. None of it is added in a
/// disabled (`OTEL_SDK_DISABLED`) set-up.
#[derive(Default)]
pub(crate) struct Extras {
    pub(crate) span_processors: Vec<AddProcessor>,
    pub(crate) metric_readers: Vec<AddReader>,
    pub(crate) log_processors: Vec<AddLogProcessor>,
    pub(crate) span_exporters: Vec<AddSpanExporter>,
    pub(crate) metric_exporters: Vec<AddMetricExporter>,
    pub(crate) log_exporters: Vec<AddLogExporter>,
}

/// Everything `build` set up; the guard owns it.
pub(crate) struct Pipeline {
    pub(crate) tracer_provider: SdkTracerProvider,
    pub(crate) meter_provider: SdkMeterProvider,
    pub(crate) logger_provider: SdkLoggerProvider,
    pub(crate) propagator: SharedPropagator,
    /// The resource the providers carry: the configured one after the exit
    /// check.
    pub(crate) resource: Resource,
    /// `None` when redaction is off.
    pub(crate) redaction: Option<RedactionCounters>,
    pub(crate) accounts: ExportAccounts,
}

/// The exit check of this pipeline's configuration.
#[derive(Clone, Copy)]
struct ExitCheck<'a> {
    config: &'a TelemetryConfig,
    counters: &'a RedactionCounters,
    /// The configured key's hasher; `None`: the process-wide one.
    user_hasher: &'a Option<Arc<UserHasher>>,
}

impl ExitCheck<'_> {
    /// A redactor by the policy; `None` when redaction is off.
    fn redactor(self) -> Option<Redactor> {
        let base = || {
            Redactor::new(self.counters.clone())
                .with_user_hasher(self.user_hasher.clone())
                .keep_trace_state(self.config.export_tracestate)
        };
        match &self.config.redaction {
            RedactionPolicy::Off => None,
            RedactionPolicy::Scrub => Some(base()),
            RedactionPolicy::Strict(allow) => Some(base().strict(allow.iter().cloned())),
        }
    }

    /// The configured resource, checked once for every provider.
    fn resource(self) -> Resource {
        self.redactor()
            .and_then(|r| r.redact_resource(&self.config.resource))
            .unwrap_or_else(|| self.config.resource.clone())
    }
}

/// How an exporter joins this pipeline.
pub(crate) struct Wiring<'a> {
    accounts: &'a ExportAccounts,
    exit: ExitCheck<'a>,
}

impl Wiring<'_> {
    /// `exporter` accounted as a span exporter, behind the exit check.
    pub(crate) fn spans<E: SpanExporter>(&self, exporter: E) -> Accounted<E> {
        Accounted::new(exporter, self.accounts.traces.clone())
            .redacted(self.exit.redactor())
            .keeping_trace_state(self.exit.config.export_tracestate)
    }

    /// `exporter` accounted as a metric exporter, behind the exit check.
    pub(crate) fn metrics<E: MetricSink>(&self, exporter: E) -> Accounted<E> {
        Accounted::new(exporter, self.accounts.metrics.clone()).redacted(self.exit.redactor())
    }

    /// `exporter` accounted as a log exporter. Records reach it checked:
    /// the exit check is the logger provider's first processor.
    pub(crate) fn logs<E: LogExporter>(&self, exporter: E) -> Accounted<E> {
        Accounted::new(exporter, self.accounts.logs.clone()).redacted(self.exit.redactor())
    }
}

/// Builds the providers for `config`. Touches no global.
pub(crate) fn assemble(config: &TelemetryConfig, extras: Extras) -> Result<Pipeline, ConfigError> {
    let propagator = SharedPropagator::for_config(config);
    if config.disabled {
        return Ok(Pipeline {
            tracer_provider: SdkTracerProvider::builder()
                .with_sampler(opentelemetry_sdk::trace::Sampler::AlwaysOff)
                .with_resource(config.resource.clone())
                .build(),
            meter_provider: SdkMeterProvider::builder()
                .with_resource(config.resource.clone())
                .build(),
            logger_provider: SdkLoggerProvider::builder()
                .with_resource(config.resource.clone())
                .build(),
            propagator,
            resource: config.resource.clone(),
            redaction: None,
            accounts: ExportAccounts::default(),
        });
    }

    let runtime = super::runtime::runtime_for(config)?;
    #[cfg_attr(not(any(feature = "grpc", feature = "http-proto")), allow(unused_mut))]
    let mut accounts = ExportAccounts::default();
    let counters = RedactionCounters::default();
    let user_hasher = config.user_hasher.clone().map(Arc::new);
    let exit = ExitCheck {
        config,
        counters: &counters,
        user_hasher: &user_hasher,
    };
    let resource = exit.resource();
    let mut tracer_builder = SdkTracerProvider::builder()
        .with_sampler(config.sampler.to_sdk())
        .with_span_limits(config.span_limits)
        .with_resource(resource.clone());
    let mut meter_builder = SdkMeterProvider::builder().with_resource(resource.clone());
    // The exit check first: every later processor and exporter sees the
    // checked record.
    let mut logger_builder = SdkLoggerProvider::builder().with_resource(resource.clone());
    if let Some(redactor) = exit.redactor() {
        logger_builder = logger_builder.with_log_processor(LogExitCheck::new(redactor));
    }

    #[cfg(any(feature = "grpc", feature = "http-proto"))]
    {
        use super::queue::{Bounded, QueueCounters};
        use super::{otlp, otlp_metrics};
        use opentelemetry_sdk::trace::{BatchConfigBuilder, BatchSpanProcessor};
        // Both exporters first, so a failure leaves no processor thread behind.
        let span_exporter = config
            .traces
            .as_ref()
            .map(|cfg| otlp::span_exporter(cfg, runtime.as_ref(), &accounts.traces))
            .transpose()?;
        let metric_exporter = config
            .metrics
            .as_ref()
            .map(|cfg| otlp_metrics::metric_exporter(cfg, runtime.as_ref(), &accounts.metrics))
            .transpose()?;
        let log_exporter = config
            .logs
            .as_ref()
            .map(|cfg| super::otlp_logs::log_exporter(cfg, runtime.as_ref(), &accounts.logs))
            .transpose()?;
        if let Some(exporter) = span_exporter {
            // The SDK's queue gets the same capacity as ours, so only
            // `Bounded` ever drops, and counts it.
            let queue = Arc::new(QueueCounters::new(config.span_queue_size));
            accounts.span_queue = queue.clone();
            let wiring = Wiring {
                accounts: &accounts,
                exit,
            };
            let exporter = wiring
                .spans(exporter)
                .draining(queue.clone())
                .on_runtime(runtime.clone());
            // Every value the SDK read from the process environment is
            // replaced by the checked one (see `batch`).
            let batch = BatchConfigBuilder::default()
                .with_max_queue_size(config.span_queue_size)
                .with_max_export_batch_size(config.span_export_batch_size)
                .with_scheduled_delay(config.span_schedule_delay)
                .build();
            let processor = BatchSpanProcessor::new(exporter, batch);
            tracer_builder = tracer_builder.with_span_processor(Bounded::new(processor, queue));
        }
        if let Some(exporter) = log_exporter {
            let queue = Arc::new(QueueCounters::new(config.log_export.queue_size));
            accounts.log_queue = queue.clone();
            let wiring = Wiring {
                accounts: &accounts,
                exit,
            };
            let exporter = wiring
                .logs(exporter)
                .draining(queue.clone())
                .on_runtime(runtime.clone());
            logger_builder = logger_builder.with_log_processor(super::logs::batch(
                exporter,
                queue,
                &config.log_export,
            ));
        }
        if let Some(exporter) = metric_exporter {
            let wiring = Wiring {
                accounts: &accounts,
                exit,
            };
            let exporter = wiring.metrics(exporter).on_runtime(runtime.clone());
            meter_builder = meter_builder.with_reader(
                PeriodicReader::builder(exporter)
                    .with_interval(config.metric_export_interval)
                    .build(),
            );
        }
    }
    // Without transports `resolve` already refused any endpoint.
    #[cfg(not(any(feature = "grpc", feature = "http-proto")))]
    let _ = &runtime;

    let wiring = Wiring {
        accounts: &accounts,
        exit,
    };
    if config.traces_exporter == Exporter::Console {
        let waterfall = WaterfallExporter::new();
        if config.logs_exporter == Exporter::Console {
            // Log records are drawn under their spans: the same buffer.
            logger_builder = logger_builder.with_log_processor(
                opentelemetry_sdk::logs::SimpleLogProcessor::new(wiring.logs(waterfall.clone())),
            );
        }
        let exporter = wiring.spans(waterfall);
        tracer_builder = tracer_builder.with_span_processor(SimpleSpanProcessor::new(exporter));
    }
    if config.metrics_exporter == Exporter::Console {
        let exporter = wiring.metrics(ConsoleMetrics::stderr());
        meter_builder = meter_builder.with_reader(
            PeriodicReader::builder(exporter)
                .with_interval(config.metric_export_interval)
                .build(),
        );
    }
    for add in extras.span_exporters {
        tracer_builder = add(&wiring, tracer_builder);
    }
    for add in extras.metric_exporters {
        meter_builder = add(&wiring, meter_builder);
    }
    for add in extras.log_exporters {
        logger_builder = add(&wiring, logger_builder);
    }
    for add in extras.span_processors {
        tracer_builder = add(tracer_builder);
    }
    for add in extras.metric_readers {
        meter_builder = add(meter_builder);
    }
    for add in extras.log_processors {
        logger_builder = add(logger_builder);
    }

    let redaction = (config.redaction != RedactionPolicy::Off).then_some(counters);
    Ok(Pipeline {
        tracer_provider: tracer_builder.build(),
        meter_provider: meter_builder.build(),
        logger_provider: logger_builder.build(),
        propagator,
        resource,
        redaction,
        accounts,
    })
}

/// A span exporter on a simple processor (spans visible as they end) and a
/// metric exporter on a reader whose timer never fires in practice (metrics
/// are read by an explicit flush): the test kit's end of the pipeline.
#[cfg(feature = "testing")]
pub(crate) fn test_exporters<S, M, L>(
    spans: S,
    metrics: M,
    logs: L,
) -> (AddSpanExporter, AddMetricExporter, AddLogExporter)
where
    S: SpanExporter + 'static,
    M: MetricSink,
    L: LogExporter + 'static,
{
    use opentelemetry_sdk::logs::SimpleLogProcessor;
    const READ_BY_FLUSH: std::time::Duration = std::time::Duration::from_secs(24 * 3600);
    (
        Box::new(move |wiring, builder| {
            builder.with_span_processor(SimpleSpanProcessor::new(wiring.spans(spans)))
        }),
        Box::new(move |wiring, builder| {
            builder.with_reader(
                PeriodicReader::builder(wiring.metrics(metrics))
                    .with_interval(READ_BY_FLUSH)
                    .build(),
            )
        }),
        Box::new(move |wiring, builder| {
            builder.with_log_processor(SimpleLogProcessor::new(wiring.logs(logs)))
        }),
    )
}
