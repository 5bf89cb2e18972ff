//! The render layer of `bench report` and `bench compare`: one module per output format,
//! each turning a [`Report`] or a [`CompareReport`] into text, plus the pieces they share.
//!
//! | module | contents |
//! |---|---|
//! | [`text`] | the sentences of a report: entries, caption, rank-test / Pareto / DD-Ranking / teacher lines |
//! | [`tables`] | header and rows of the main, detail and comparison tables |
//! | [`terminal`] | `Report::terminal`, `CompareReport::terminal` (comfy-table) |
//! | [`markdown`] | `Report::markdown`, `CompareReport::markdown` |
//! | [`csv`] | `table.csv`, `cells.csv`, the comparison CSV, through `report::rows` |
//! | [`json`] | `report.json`, the records, the comparison |
//! | [`latex`] | `Report::latex` (booktabs) |
//!
//! SVG figures are in `report::plots`. The format modules use `tables` and `text`, which use
//! only `report::{model, fmt}`; nothing here is imported back by those. This file only picks
//! the module for a [`Format`].

pub mod csv;
pub mod json;
pub mod latex;
pub mod markdown;
pub mod tables;
pub mod terminal;
pub mod text;

use crate::record::Record;
use crate::report::args::Format;
use crate::report::error::ReportError;
use crate::report::model::{CompareReport, Report};

/// `rep` in `format`; with `per_cell`, the `records` instead (CSV or JSON only). `width`
/// fixes the terminal table width.
///
/// # Errors
/// [`ReportError::PerCellFormat`] for `per_cell` with another format; [`ReportError::Csv`] /
/// [`ReportError::Json`] if serialising fails (not expected).
pub fn report(
    rep: &Report,
    records: &[Record],
    format: Format,
    per_cell: bool,
    width: Option<u16>,
) -> Result<String, ReportError> {
    Ok(match (format, per_cell) {
        (Format::Csv, true) => csv::cells(records)?,
        (Format::Json, true) => json::records_json(records)?,
        (f, true) => return Err(ReportError::PerCellFormat(f)),
        (Format::Terminal, false) => rep.terminal(width),
        (Format::Md, false) => rep.markdown(),
        (Format::Csv, false) => csv::aggregate_csv(rep)?,
        (Format::Json, false) => json::report_json(rep)?,
        (Format::Latex, false) => rep.latex(),
    })
}

/// A comparison in `format` (no LaTeX).
///
/// # Errors
/// [`ReportError::CompareLatex`] for `Format::Latex`; [`ReportError::Csv`] /
/// [`ReportError::Json`] if serialising fails (not expected).
pub fn compare(
    c: &CompareReport,
    format: Format,
    width: Option<u16>,
) -> Result<String, ReportError> {
    Ok(match format {
        Format::Terminal => c.terminal(width),
        Format::Md => c.markdown(),
        Format::Csv => csv::compare_csv(c)?,
        Format::Json => json::compare_json(c)?,
        Format::Latex => return Err(ReportError::CompareLatex),
    })
}
