//! `bench compare A B`: B − A per (method, budget), with tests.
//!
//! The library renders ([`report::render_compare`]); this module prints.

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
    let out = report::render_compare(&a.a, &a.b, a.format, a.width)?;
    super::print_warnings(&out.warnings);
    super::print_text(&out.text);
    Ok(exit_code::SUCCESS)
}
