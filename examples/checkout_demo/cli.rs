//! Command line: `checkout_demo [--scenario NAME]... | --serve [ADDR]
//! [--psp-latency MS] | --list | --help`.

use std::net::SocketAddr;
use std::time::Duration;

use crate::scenarios::Scenario;

/// Where `--serve` listens when no address is given.
pub const DEFAULT_SERVE_ADDR: &str = "127.0.0.1:8080";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Run these scenarios, in this order.
    Run(Vec<Scenario>),
    /// Keep the shop up and serve the gateway's `POST /checkout` on this
    /// loopback address until interrupted.
    Serve(ServeOptions),
    /// Print the scenario names, one per line.
    List,
    Help,
}

/// What `--serve` was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeOptions {
    pub addr: SocketAddr,
    /// The simulated payment gateway's latency (`--psp-latency MS`);
    /// `None`: the demo's.
    pub psp_latency: Option<Duration>,
}

/// Parses the arguments after the program name. An unknown flag or
/// scenario is an error whose message says which.
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Command, String> {
    let mut scenarios = Vec::new();
    let mut serve = None;
    let mut psp_latency = None;
    let mut args = args.into_iter().peekable();
    while let Some(arg) = args.next() {
        let value = match arg.as_str() {
            "--list" => return Ok(Command::List),
            "-h" | "--help" => return Ok(Command::Help),
            "--serve" => {
                let addr = args.next_if(|next| !next.starts_with('-'));
                serve = Some(loopback(addr.as_deref().unwrap_or(DEFAULT_SERVE_ADDR))?);
                continue;
            }
            "--psp-latency" => {
                let ms = args.next().ok_or("--psp-latency needs milliseconds")?;
                let ms = ms.parse().map_err(|_| {
                    format!("--psp-latency: '{ms}' is not a number of milliseconds")
                })?;
                psp_latency = Some(Duration::from_millis(ms));
                continue;
            }
            "--scenario" | "-s" => args
                .next()
                .ok_or_else(|| format!("{arg} needs a scenario name"))?,
            other => {
                if let Some(addr) = other.strip_prefix("--serve=") {
                    serve = Some(loopback(addr)?);
                    continue;
                }
                match other.strip_prefix("--scenario=") {
                    Some(value) => value.to_owned(),
                    None => return Err(format!("unknown argument '{other}'")),
                }
            }
        };
        let scenario =
            Scenario::from_name(&value).ok_or_else(|| format!("unknown scenario '{value}'"))?;
        if !scenarios.contains(&scenario) {
            scenarios.push(scenario);
        }
    }
    match serve {
        Some(_) if !scenarios.is_empty() => Err("--serve runs no scenarios".to_owned()),
        Some(addr) => Ok(Command::Serve(ServeOptions { addr, psp_latency })),
        None if psp_latency.is_some() => Err("--psp-latency goes with --serve".to_owned()),
        None if scenarios.is_empty() => Ok(Command::Run(Scenario::ALL.to_vec())),
        None => Ok(Command::Run(scenarios)),
    }
}

/// The address to serve on, refused unless it is a loopback one: the demo
/// is not a hardened service (its test cards, its logs), and loopback is
/// all it needs for curl and a load generator on the same machine.
fn loopback(addr: &str) -> Result<SocketAddr, String> {
    let parsed: SocketAddr = addr.parse().map_err(|_| {
        format!(
            "--serve: '{addr}' is not IP:PORT (e.g. {DEFAULT_SERVE_ADDR}, or port 0 for a free one)"
        )
    })?;
    if !parsed.ip().is_loopback() {
        return Err(format!(
            "--serve: refusing {}: the demo serves on loopback only (127.0.0.1 or [::1]), \
             it is not meant to be reachable from other machines",
            parsed.ip()
        ));
    }
    Ok(parsed)
}

pub fn usage() -> String {
    let mut out = format!(
        "Usage: cargo run --example checkout_demo -- [--scenario NAME]... [--list] [--help]\n\
         \x20      cargo run --release --example checkout_demo -- --serve [ADDR] [--psp-latency MS]\n\n\
         Runs a shop of six services (gateway, cart, inventory, payment, order, notification)\n\
         on loopback, checks out carts through them and prints each checkout's trace.\n\
         Without --scenario, runs every scenario. Set OTEL_EXPORTER_OTLP_ENDPOINT to also\n\
         send the traces and metrics to a collector.\n\n\
         --serve [ADDR] keeps the shop up and serves the gateway's POST /checkout on the\n\
         loopback address ADDR (default {DEFAULT_SERVE_ADDR}; port 0 picks a free one) until\n\
         Ctrl-C or SIGTERM. --psp-latency MS sets the simulated payment gateway's latency.\n\n\
         Scenarios:\n",
    );
    for s in Scenario::ALL {
        out.push_str(&format!("  {:<22}{}\n", s.name(), s.description()));
    }
    out
}
