//! `bench status DIR`: how far a run is: the plan's cells by their record (done, failed,
//! missing), and for a Slurm run, which missing cells are running or pending in the queue.

use crate::error::{exit_code, BenchError};
use std::path::PathBuf;

/// Options of `bench status`.
#[derive(clap::Args, Clone, Debug)]
pub struct StatusArgs {
    /// The run's output folder (the one with plan.json).
    pub dir: PathBuf,
}

/// Prints the status; exit 0 (also while cells are missing or failed), 2 without a plan.
pub fn run(a: &StatusArgs) -> Result<u8, BenchError> {
    let text = crate::executor::slurm::status(&a.dir).map_err(BenchError::bad_input)?;
    super::print_text(&text);
    Ok(exit_code::SUCCESS)
}
