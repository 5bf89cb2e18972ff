//! [`ReportError`]: everything `bench report` / `bench compare` can fail with. The messages
//! are the ones users and tests know; each carries its path. Imports only [`super::args`].

use super::args::Format;
use std::path::PathBuf;

/// An error of the report layer. Where a message already quotes an underlying error
/// (`csv`, `io`), that error is part of the text and not repeated as a `source`, so that
/// printing the chain does not say it twice.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The records of a `bench --out` directory could not be read (`record::read_all`).
    #[error(transparent)]
    Records(#[from] crate::record::RecordError),
    /// `--per-cell` with a format other than CSV or JSON.
    #[error("--per-cell needs --format csv or json, not {0:?}")]
    PerCellFormat(Format),
    /// `bench compare --format latex`.
    #[error("bench compare: --format latex is not supported (terminal, md, csv, json)")]
    CompareLatex,
    /// A `bench compare` side that is neither kind of results directory.
    #[error("{}: neither cells/ (a `bench --out` directory) nor cells.csv (a published results directory)", .0.display())]
    NotASide(PathBuf),
    /// `cells.csv` could not be opened or a row could not be read.
    #[error("{}: {message}", path.display())]
    CsvRead { path: PathBuf, message: String },
    /// `cells.csv` lacks a column that `bench compare` needs.
    #[error("{}: no column `{column}`", path.display())]
    MissingColumn { path: PathBuf, column: String },
    /// A field of `cells.csv` does not parse (`row` counts the header as row 1).
    #[error("{} row {row}: {field}: {message}", path.display())]
    BadField {
        path: PathBuf,
        row: usize,
        field: String,
        message: String,
    },
    /// Two result sets that a number computed across them (`what`: the label gain) cannot
    /// combine: another dataset, or another recipe (see `report::comparable`).
    #[error("{what}: the two result sets are not comparable: {}", .problems.join("; "))]
    Incomparable { what: String, problems: Vec<String> },
    /// `--publish` of a directory without cell records.
    #[error("nothing to publish: no cell records")]
    NothingToPublish,
    /// A directory under the results root could not be created.
    #[error("{}: cannot create: {cause}", path.display())]
    CreateDir {
        path: PathBuf,
        cause: std::io::Error,
    },
    /// A published file could not be written.
    #[error("{}: cannot write: {cause}", path.display())]
    Write {
        path: PathBuf,
        cause: std::io::Error,
    },
    /// Writing CSV into memory failed (not expected for the flat row structs).
    #[error(transparent)]
    Csv(#[from] csv::Error),
    /// Writing JSON failed (not expected for the report structs).
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}
