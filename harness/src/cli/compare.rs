//! `bench compare A B`: B − A per (method, budget), with tests.
//!
//! Prints through `report::cli_compare`, which still prints itself (see `report.rs` here).

use crate::error::{exit_code, BenchError};
use crate::report::{self, Format};
use std::path::PathBuf;

/// Options of `bench compare`.
#[derive(clap::Args, Clone, Debug)]
pub struct CompareArgs {
    /// Baseline side: a `bench --out` directory or a published results directory.
    pub a: PathBuf,
    /// Other side, same kinds.
    pub b: PathBuf,
    #[arg(long, value_enum, default_value_t = Format::Terminal)]
    pub format: Format,
    #[arg(long)]
    pub width: Option<u16>,
}

/// Prints the comparison; an unreadable side is bad input (exit 2).
pub fn run(a: &CompareArgs) -> Result<u8, BenchError> {
    report::cli_compare(&a.a, &a.b, a.format, a.width).map_err(BenchError::bad_input)?;
    Ok(exit_code::SUCCESS)
}
