//! `cargo run --example checkout_demo`: the article's checkout, for real.
//!
//! Six services, each with its own `service.name`, call each other over HTTP
//! (and gRPC from the gateway to the payment service) on loopback with W3C
//! trace context, so each checkout is one trace across all of them. Each scenario prints its outcome, its trace id and the
//! waterfall of its trace; the run ends with the gateway's checkout metrics.
//! `--serve` keeps the shop up for curl and load generators. See `--help`.

mod cli;
mod grpc;
mod net;
mod pipeline;
mod report;
mod scenarios;
mod serve;
mod services;

use std::process::ExitCode;

use crate::cli::Command;
use crate::pipeline::{Pipeline, PipelineConfig};

#[tokio::main]
async fn main() -> ExitCode {
    let scenarios = match cli::parse(std::env::args().skip(1)) {
        Ok(Command::Run(scenarios)) => scenarios,
        Ok(Command::Serve(options)) => {
            return match serve::run(&options).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: could not serve on {}: {e}", options.addr);
                    ExitCode::FAILURE
                }
            };
        }
        Ok(Command::List) => {
            let names: String = scenarios::Scenario::ALL
                .iter()
                .map(|s| format!("{}\n", s.name()))
                .collect();
            show(&names);
            return ExitCode::SUCCESS;
        }
        Ok(Command::Help) => {
            show(&cli::usage());
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            use std::io::Write as _;
            let _ = write!(std::io::stderr(), "error: {e}\n\n{}", cli::usage());
            return ExitCode::from(2);
        }
    };

    let pipeline = match Pipeline::start(PipelineConfig::default()).await {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: could not start the services: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Ok(endpoint) = std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT") {
        show(&format!(
            "exporting traces, metrics and logs over OTLP to {endpoint}\n"
        ));
    }
    let mut code = ExitCode::SUCCESS;
    for scenario in scenarios {
        let shown = match scenarios::run(&pipeline, scenario).await {
            Ok(result) => show(&report::scenario(&result)),
            Err(e) => {
                eprintln!("error: scenario {} failed to run: {e}", scenario.name());
                code = ExitCode::FAILURE;
                true
            }
        };
        if !shown {
            break; // stdout closed (`| head`): stop, but still shut down cleanly.
        }
    }
    show(&report::metrics(pipeline.gateway_metrics().as_ref()));
    // Flushes every service's telemetry (OTLP included) before exiting.
    pipeline.shutdown().await;
    code
}

/// Prints to stdout; `false` once stdout is closed.
fn show(text: &str) -> bool {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .is_ok()
}
