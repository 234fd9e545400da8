//! Command line: `checkout_demo [--scenario NAME]... | --list | --help`.

use crate::scenarios::Scenario;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Run these scenarios, in this order.
    Run(Vec<Scenario>),
    /// Print the scenario names, one per line.
    List,
    Help,
}

/// Parses the arguments after the program name. An unknown flag or
/// scenario is an error whose message says which.
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Command, String> {
    let mut scenarios = Vec::new();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let value = match arg.as_str() {
            "--list" => return Ok(Command::List),
            "-h" | "--help" => return Ok(Command::Help),
            "--scenario" | "-s" => args
                .next()
                .ok_or_else(|| format!("{arg} needs a scenario name"))?,
            other => match other.strip_prefix("--scenario=") {
                Some(value) => value.to_owned(),
                None => return Err(format!("unknown argument '{other}'")),
            },
        };
        let scenario =
            Scenario::from_name(&value).ok_or_else(|| format!("unknown scenario '{value}'"))?;
        if !scenarios.contains(&scenario) {
            scenarios.push(scenario);
        }
    }
    if scenarios.is_empty() {
        scenarios = Scenario::ALL.to_vec();
    }
    Ok(Command::Run(scenarios))
}

pub fn usage() -> String {
    let mut out = String::from(
        "Usage: cargo run --example checkout_demo -- [--scenario NAME]... [--list] [--help]\n\n\
         Runs a shop of six services (gateway, cart, inventory, payment, order, notification)\n\
         on loopback, checks out carts through them and prints each checkout's trace.\n\
         Without --scenario, runs every scenario. Set OTEL_EXPORTER_OTLP_ENDPOINT to also\n\
         send the traces and metrics to a collector.\n\nScenarios:\n",
    );
    for s in Scenario::ALL {
        out.push_str(&format!("  {:<22}{}\n", s.name(), s.description()));
    }
    out
}
