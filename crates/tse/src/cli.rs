//! The command line: its commands, their help texts and exit codes. It parses and dispatches; what
//! each command does is in [`crate::commands`].

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::{
    commands::{
        deploy::DeployCommand,
        names::{NAMES_HELP, NamesArgs},
        serve::{SERVE_ENV, ServeArgs},
        up::{UP_ENV, UpArgs},
    },
    failure::{Failure, runtime},
};

const STATUS_HELP: &str = "\
Where the registry is read:
  --url URL        from any instance's GET /api/v1/discovery/services
  REDIS_URL        directly from Redis, when set and --url is not given
  otherwise        from http://127.0.0.1:8080 (the first instance of a default `tse up`)
Then each instance's GET /api/v1/health is asked, with a 2 s timeout.
Exits 1 when the registry cannot be read.";

/// The Trading Simulation Ecosystem: simulated exchanges, custodians, market data, trading desks, a
/// production-like risk monitor, chaos scenarios and an audit correlator, as named instances.
#[derive(Debug, Parser)]
#[command(name = "tse", version, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a whole ecosystem in one process: by default the nine instances of the default
    /// ecosystem, on embedded storage.
    #[command(after_help = UP_ENV)]
    Up(UpArgs),
    /// Run one instance of a service (what a container runs), until SIGINT or SIGTERM.
    #[command(after_help = SERVE_ENV)]
    Serve(ServeArgs),
    /// Print the identity an instance would have: its PostgreSQL schema, Redis namespace, service
    /// type and entity type.
    #[command(after_help = NAMES_HELP)]
    Names(NamesArgs),
    /// List the instances the discovery registry holds, with each one's health.
    #[command(after_help = STATUS_HELP)]
    Status(StatusArgs),
    /// Generate a deployment of an ecosystem from its topology.
    #[command(subcommand)]
    Deploy(DeployCommand),
}

#[derive(Debug, Args)]
struct StatusArgs {
    /// Base URL of any instance whose registry to list, e.g. http://127.0.0.1:8080
    #[arg(long, value_name = "URL")]
    url: Option<String>,
    /// Print a JSON array instead of a table
    #[arg(long)]
    json: bool,
}

/// Parses the command line and runs the command; returns the process exit code. A panic is logged
/// as an error and exits 1 (see [`crate::panics`]).
pub fn main() -> ExitCode {
    crate::panics::install_hook();
    crate::panics::exit_1_on_panic(run)
}

fn run() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return clap_exit(&error),
    };
    let result = match cli.command {
        Command::Names(args) => crate::commands::names::run(&args),
        Command::Serve(args) => block_on(crate::commands::serve::run(args)),
        Command::Up(args) => block_on(crate::commands::up::run(args)),
        Command::Status(args) => block_on(crate::status::run(args.url, args.json)),
        Command::Deploy(command) => crate::commands::deploy::run(&command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Input(reason)) => {
            eprintln!("tse: {}", one_line(&reason));
            ExitCode::from(2)
        }
        Err(Failure::Runtime(reason)) => {
            eprintln!("tse: {}", one_line(&reason));
            ExitCode::FAILURE
        }
    }
}

/// Help and version go to stdout with exit 0; usage errors become one line and exit 2.
fn clap_exit(error: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match error.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = error.print();
            if error.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            }
        }
        _ => {
            eprintln!("tse: {}", usage_error(&error.to_string()));
            ExitCode::from(2)
        }
    }
}

/// Clap's usage error on one line: its first paragraph (which lists the missing arguments, when
/// some are missing), then the usage of the command it concerns.
fn usage_error(rendered: &str) -> String {
    let mut paragraphs = rendered.split("\n\n").map(one_line);
    let reason = paragraphs.next().unwrap_or_default();
    let reason = reason.trim_start_matches("error: ");
    let reason = if reason.is_empty() {
        "invalid arguments"
    } else {
        reason
    };
    match paragraphs.find_map(|p| p.strip_prefix("Usage: ").map(str::to_owned)) {
        Some(usage) => {
            let command: Vec<&str> = usage
                .split_whitespace()
                .take_while(|word| !word.starts_with(['<', '[', '-']))
                .collect();
            format!("{reason} (usage: {usage}; see {} --help)", command.join(" "))
        }
        None => format!("{reason} (see tse --help)"),
    }
}

fn one_line(text: &str) -> String {
    text.lines().map(str::trim).collect::<Vec<_>>().join(" ")
}

fn block_on(future: impl Future<Output = Result<(), Failure>>) -> Result<(), Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| runtime(format!("cannot start the async runtime: {e}")))?
        .block_on(future)
}
