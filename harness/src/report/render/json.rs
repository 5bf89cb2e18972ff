//! JSON: the [`Report`] / [`CompareReport`] structs and the records, pretty-printed with
//! serde. Field docs: `model.rs`; overview: `SCHEMA.md`.

use crate::record::Record;
use crate::report::model::{CompareReport, Report};

/// `report.json` / `bench report --format json` (no trailing newline).
///
/// # Errors
/// serde_json's (not expected: every float that cannot be JSON is written as `null`).
pub fn report_json(rep: &Report) -> Result<String, serde_json::Error> {
    serde_json::to_string_pretty(rep)
}

/// `bench report --format json --per-cell`: the records as they are on disk.
///
/// # Errors
/// As [`report_json`].
pub fn records_json(records: &[Record]) -> Result<String, serde_json::Error> {
    serde_json::to_string_pretty(records)
}

/// `bench compare --format json`.
///
/// # Errors
/// As [`report_json`].
pub fn compare_json(c: &CompareReport) -> Result<String, serde_json::Error> {
    serde_json::to_string_pretty(c)
}

impl Report {
    /// The report as pretty JSON ([`report_json`]; a report always serialises).
    pub fn json(&self) -> String {
        report_json(self).expect("a report serialises")
    }
}
