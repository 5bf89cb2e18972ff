//! `bench report DIR`: the table of a result directory, or its publication under results/.
//!
//! The library renders ([`report::render_report`]); this module prints: warnings to standard
//! error, the table to standard output.

use crate::error::{exit_code, BenchError};
use crate::report::{self, Format};
use std::path::PathBuf;

/// Options of `bench report`.
#[derive(clap::Args, Clone, Debug)]
pub struct ReportArgs {
    pub dir: PathBuf,
    /// Output format (CSV columns: harness/src/report/SCHEMA.md).
    #[arg(long, value_enum, default_value_t = Format::Terminal)]
    pub format: Format,
    /// With --format csv or json: one row per cell record instead of per (method, budget).
    #[arg(long)]
    pub per_cell: bool,
    /// Same as --format json (kept for older scripts).
    #[arg(long, hide = true)]
    pub json: bool,
    /// Write tables, figures and a README to RESULTS/<dataset>/<protocol>/ and update RESULTS/README.md.
    #[arg(long)]
    pub publish: bool,
    /// Root of the published results (with --publish).
    #[arg(long, default_value = "results")]
    pub results: PathBuf,
    /// Terminal table width in columns (default: the terminal's).
    #[arg(long)]
    pub width: Option<u16>,
    /// Soft/native-label reports: the hard-label results of the same dataset for the label
    /// gain (default: bench-out/hard-label/<dataset> or results/<dataset>/hard-label next to DIR).
    #[arg(long)]
    pub hard_label: Option<PathBuf>,
}

/// Prints (or publishes) the report; an unreadable directory is bad input (exit 2).
pub fn run(a: ReportArgs) -> Result<u8, BenchError> {
    let args = report::ReportArgs {
        format: if a.json { Format::Json } else { a.format },
        dir: a.dir,
        per_cell: a.per_cell,
        publish: a.publish,
        results: a.results,
        width: a.width,
        hard_label: a.hard_label,
    };
    let out = report::render_report(&args)?;
    super::print_warnings(&out.warnings);
    match &out.published {
        Some(dir) => {
            println!("{}", out.text);
            eprintln!(
                "published to {} (index: {})",
                dir.display(),
                args.results.join("README.md").display()
            );
        }
        None => super::print_text(&out.text),
    }
    Ok(exit_code::SUCCESS)
}
