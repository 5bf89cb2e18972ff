//! What `bench report` and `bench compare` are asked for: the output [`Format`] and the
//! [`ReportArgs`]. A leaf: it imports nothing from `report/`.

use std::path::PathBuf;

/// Output format of `bench report` / `bench compare`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Tables for a terminal.
    Terminal,
    /// Markdown tables with caption.
    Md,
    /// CSV (schema in harness/src/report/SCHEMA.md).
    Csv,
    /// The full report as JSON.
    Json,
    /// A booktabs LaTeX table.
    Latex,
}

/// What `bench report` was asked for.
#[derive(Clone, Debug)]
pub struct ReportArgs {
    /// A `bench --out` directory (`cells/*.json`, `plan.json`).
    pub dir: PathBuf,
    pub format: Format,
    /// One row per cell record instead of per (method, budget); CSV or JSON only.
    pub per_cell: bool,
    /// Write `results/<dataset>/<protocol>/` instead of printing.
    pub publish: bool,
    /// The results root `--publish` writes under.
    pub results: PathBuf,
    /// Terminal table width in characters (`None`: comfy-table's own layout).
    pub width: Option<u16>,
    /// Hard-label results of the same dataset for the label gain (default: looked up next
    /// to `dir`).
    pub hard_label: Option<PathBuf>,
}
