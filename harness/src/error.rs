//! The error type of the `bench` binary and its exit codes.
//!
//! Every command returns `Result<u8, BenchError>`: `Ok` carries [`exit_code::SUCCESS`] or
//! [`exit_code::METHOD_FAILED`] (the run finished, but a method failed and its record or
//! report says why); `Err` is printed once by [`crate::cli::main`] as `error: {e:#}` and exits
//! with [`BenchError::exit_code`]. The message texts are those of the domain errors wrapped
//! here: they name the file, the key, what was expected and what was found.

use crate::data::DataError;
use crate::export::ExportError;
use crate::import::ImportError;
use crate::method_config::MethodConfigError;
use crate::protocol::ProtocolError;
use crate::report::ReportError;
use crate::scaffold::ScaffoldError;

/// The exit codes of `bench`, documented in `bench --help` and in the README.
pub mod exit_code {
    /// Everything asked for ran and succeeded.
    pub const SUCCESS: u8 = 0;
    /// The run finished, but a method failed: failed cells (their records say why), a failed
    /// `bench plugin check`, or the method of `bench export`.
    pub const METHOD_FAILED: u8 = 1;
    /// Bad input: options, protocol, dataset, method config, imported files, unknown method.
    /// Also what clap exits with on a malformed command line.
    pub const BAD_INPUT: u8 = 2;
    /// An internal error (I/O on the output directory, a crashed child process, a bug).
    pub const INTERNAL: u8 = 3;
}

/// The text appended to `bench --help`: the exit codes, stated once.
pub const EXIT_CODES_HELP: &str = "Exit codes:
  0  success
  1  the run finished but a method failed (failed cells: see their records; a failed plugin
     check; the method of `bench export`)
  2  bad input (options, protocol, dataset, method config, imported files, unknown method)
  3  internal error";

/// Everything a `bench` command can fail with.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// A command-line option is wrong (a budget, the device, a missing `--protocol`, ...);
    /// the text names the option and what it accepts.
    #[error("{0}")]
    Usage(String),
    /// A method is named (on the command line, in the protocol or as the baseline) for which
    /// no usable plugin was found. The command layer replaces it with the plugin loader's
    /// explanation (what is available, what was rejected) when it can.
    #[error("no plugin named '{0}'")]
    UnknownMethod(String),
    /// The protocol could not be found, read or validated.
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    /// The dataset could not be read.
    #[error(transparent)]
    Data(#[from] DataError),
    /// A compressed set given with `--from` / `file:PATH` was refused (names the file and the
    /// tensor or metadata key at fault).
    #[error(transparent)]
    Import(#[from] ImportError),
    /// A `--method-config` / `--config` file could not be read or was refused.
    #[error(transparent)]
    MethodConfig(#[from] MethodConfigError),
    /// A result directory could not be read, rendered or published (`bench report`,
    /// `bench compare`).
    #[error(transparent)]
    Report(#[from] ReportError),
    /// `bench export` failed: bad input (exit 2) or the method (exit 1).
    #[error(transparent)]
    Export(#[from] ExportError),
    /// `bench new-plugin` could not create the crate.
    #[error(transparent)]
    Scaffold(#[from] ScaffoldError),
    /// Other bad input, reported by a module without a typed error of its own yet (plugin
    /// lookup, a method-config table that names no plugin, dataset loading errors that are not
    /// a [`DataError`]): the error as that module gave it, often a boxed `String`.
    #[error(transparent)]
    Input(Box<dyn std::error::Error + Send + Sync>),
    /// An internal error with its chain of causes (printed `outer: cause: …`).
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl BenchError {
    /// The process exit code for this error (see [`exit_code`]).
    pub fn exit_code(&self) -> u8 {
        match self {
            BenchError::Usage(_)
            | BenchError::UnknownMethod(_)
            | BenchError::Protocol(_)
            | BenchError::Data(_)
            | BenchError::Scaffold(_)
            | BenchError::Import(_)
            | BenchError::MethodConfig(_)
            | BenchError::Report(_)
            | BenchError::Input(_) => exit_code::BAD_INPUT,
            BenchError::Export(ExportError::Method(_)) => exit_code::METHOD_FAILED,
            BenchError::Export(_) => exit_code::BAD_INPUT,
            BenchError::Internal(_) => exit_code::INTERNAL,
        }
    }

    /// Bad input given as text (exit 2).
    pub fn input(message: impl Into<String>) -> BenchError {
        BenchError::Input(message.into().into())
    }

    /// Bad input reported as an `anyhow::Error` by a library function: a dataset or protocol
    /// error keeps its type; anything else keeps its outermost message (the text `bench` has
    /// always printed for it), not the chain.
    pub fn bad_input(e: anyhow::Error) -> BenchError {
        let message = e.to_string();
        let e = match e.downcast::<DataError>() {
            Ok(d) if d.to_string() == message => return BenchError::Data(d),
            Ok(_) => return BenchError::input(message),
            Err(e) => e,
        };
        match e.downcast::<ProtocolError>() {
            Ok(p) if p.to_string() == message => BenchError::Protocol(p),
            _ => BenchError::input(message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_input_exits_2_and_keeps_its_text() {
        let e = BenchError::input("--ipc: budgets must be positive");
        assert_eq!(e.exit_code(), exit_code::BAD_INPUT);
        assert_eq!(format!("{e:#}"), "--ipc: budgets must be positive");
        let e = BenchError::Usage("--seeds must be at least 1".into());
        assert_eq!(e.exit_code(), 2);
        assert_eq!(format!("{e:#}"), "--seeds must be at least 1");
    }

    #[test]
    fn typed_domain_errors_keep_their_type_and_source() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "gone");
        let data = DataError::Io {
            path: "/d/x".into(),
            source: io,
        };
        let e = BenchError::bad_input(anyhow::Error::from(data));
        assert!(matches!(e, BenchError::Data(DataError::Io { .. })));
        assert_eq!(format!("{e:#}"), "/d/x: cannot read: gone");
        assert!(
            std::error::Error::source(&e).is_some(),
            "the io error is kept"
        );
        assert_eq!(e.exit_code(), exit_code::BAD_INPUT);
    }

    #[test]
    fn bad_input_with_context_prints_only_the_outer_message_as_before() {
        use anyhow::Context as _;
        let r: anyhow::Result<()> = Err(anyhow::anyhow!("inner")).context("reading r");
        let e = BenchError::bad_input(r.unwrap_err());
        assert_eq!(format!("{e:#}"), "reading r");
    }

    #[test]
    fn internal_errors_print_their_chain_and_exit_3() {
        use anyhow::Context as _;
        let r: anyhow::Result<()> = Err(anyhow::anyhow!("no such file")).context("reading p");
        let e = BenchError::from(r.unwrap_err());
        assert_eq!(format!("{e:#}"), "reading p: no such file");
        assert_eq!(e.exit_code(), exit_code::INTERNAL);
    }

    #[test]
    fn export_errors_exit_by_kind() {
        let m = BenchError::from(ExportError::Method("plugin 'x' failed".into()));
        assert_eq!(m.exit_code(), exit_code::METHOD_FAILED);
        assert_eq!(format!("{m:#}"), "plugin 'x' failed");
        let i = BenchError::from(ExportError::Input("bad".into()));
        assert_eq!(i.exit_code(), exit_code::BAD_INPUT);
    }
}
