//! The `bench` command line: parsing, one module per subcommand, and the exit code.
//!
//! `harness/src/main.rs` only calls [`main`]. The layers, top to bottom:
//! - this module: the [`Cli`] parser, the [`Cmd`] enum and the dispatch;
//! - one module per subcommand ([`run`] for `bench --protocol …`, [`report`], [`compare`],
//!   [`export`], [`status`], [`teacher`], [`plugin`], [`list`], [`env`], [`cell`], [`new_plugin`],
//!   [`reproduce`]):
//!   each turns its arguments into typed input, calls the library and prints the result;
//! - [`args`]: the options several subcommands share, declared once, each with one `resolve()`;
//! - [`resolve`]: the pure "resolve the run" step between parsing and running;
//! - [`crate::error`]: the one error type and the exit codes.
//!
//! Only this layer prints (library functions it calls that still print are listed in the
//! modules that call them).

pub mod args;
pub mod cell;
pub mod compare;
pub mod env;
pub mod export;
pub mod list;
pub mod new_plugin;
pub mod plugin;
pub mod report;
pub mod reproduce;
pub mod resolve;
pub mod run;
pub mod status;
pub mod teacher;

#[cfg(test)]
mod tests;

use crate::error::{BenchError, EXIT_CODES_HELP};
use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// What `bench` was asked to do: a subcommand, or (none) a run of a protocol.
#[derive(Parser)]
#[command(name = "bench", version = long_version(), about = "Distillery: evaluate dataset distillation, pruning and KD methods under identical, versioned protocols", args_conflicts_with_subcommands = true, after_help = EXIT_CODES_HELP)]
pub struct Cli {
    /// The subcommand; none means a run (`bench --protocol …`).
    #[command(subcommand)]
    pub cmd: Option<Cmd>,
    /// The options of a run.
    #[command(flatten)]
    pub run: run::RunArgs,
}

/// The version line: harness, rustc, tch and libtorch versions.
fn long_version() -> &'static str {
    let v = format!(
        "{} (rustc: {}; tch {}; libtorch {})",
        crate::VERSION,
        distillery_api::RUSTC_VERSION,
        distillery_api::TCH_VERSION,
        distillery_api::LIBTORCH_VERSION
    );
    Box::leak(v.into_boxed_str())
}

/// The subcommands.
#[derive(Subcommand)]
pub enum Cmd {
    /// Print versions, devices and threads.
    Env(env::EnvArgs),
    /// List plugins found on the search path, with their status.
    List(list::ListArgs),
    /// Print the table for a result directory (or publish it under results/).
    Report(report::ReportArgs),
    /// How far a run is: cells done, failed, running or pending (Slurm), missing.
    Status(status::StatusArgs),
    /// Compare two result directories (B - A per method and budget, with tests).
    Compare(compare::CompareArgs),
    /// Re-run the cells of a published table on this machine: per cell, exact agreement or
    /// the difference against the published seed spread.
    Reproduce(reproduce::ReproduceArgs),
    /// Plugin tools: `bench plugin check PATH` runs the conformance check on a library.
    Plugin {
        /// The plugin tool.
        #[command(subcommand)]
        cmd: plugin::PluginCmd,
    },
    /// Run a method once (one budget, one seed, exactly as a cell would) and write its
    /// compressed set: FILE.safetensors (the layout `--from` reads), FILE.npz or DIR/.
    Export(export::ExportArgs),
    /// Train (or load from the cache) the protocol's teacher and print its accuracy.
    Teacher(teacher::TeacherArgs),
    /// Start a new method plugin from the template: plugins/NAME, added to the workspace.
    NewPlugin(new_plugin::NewPluginArgs),
    /// Internal: run one cell of a plan (used by the executor in a child process).
    #[command(name = "__cell", hide = true)]
    Cell(cell::CellArgs),
}

/// Parses the command line, runs it, prints an error as `error: …` and returns the exit
/// code (see [`crate::error::exit_code`]).
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match dispatch(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// Runs one parsed command line; `Ok` carries the exit code of a command that finished.
pub fn dispatch(cli: Cli) -> Result<u8, BenchError> {
    match cli.cmd {
        Some(Cmd::Env(a)) => env::run(&a),
        Some(Cmd::List(a)) => list::run(&a),
        Some(Cmd::Report(a)) => report::run(a),
        Some(Cmd::Status(a)) => status::run(&a),
        Some(Cmd::Compare(a)) => compare::run(&a),
        Some(Cmd::Reproduce(a)) => reproduce::run(&a),
        Some(Cmd::Plugin { cmd }) => plugin::run(cmd),
        Some(Cmd::Export(a)) => export::run(&a),
        Some(Cmd::Teacher(a)) => teacher::run(&a),
        Some(Cmd::NewPlugin(a)) => new_plugin::run(&a),
        Some(Cmd::Cell(a)) => cell::run(&a),
        None => run::run(&cli.run),
    }
}

/// Prints each warning a library call returned to standard error as `warning: …`.
fn print_warnings(warnings: &[String]) {
    for w in warnings {
        eprintln!("warning: {w}");
    }
}

/// Prints `text` to standard output with exactly one trailing newline.
fn print_text(text: &str) {
    print!("{text}");
    if !text.ends_with('\n') {
        println!();
    }
}
