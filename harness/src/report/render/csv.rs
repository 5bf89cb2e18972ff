//! CSV through the row structs of [`crate::report::rows`]: `table.csv` (one
//! [`AggregateRow`] per (method, budget)), `cells.csv` (one [`CellCsvRow`] per record) and
//! the comparison ([`CompareCsvRow`]). Column schema: `SCHEMA.md`.

use crate::record::Record;
use crate::report::model::{CompareReport, Report};
use crate::report::rows::{write_csv, AggregateRow, CellCsvRow, CompareCsvRow};

/// `table.csv`: one row per (method, budget) in table order.
///
/// # Errors
/// The `csv` crate's, when a row does not serialise (not expected).
pub fn aggregate_csv(rep: &Report) -> Result<String, csv::Error> {
    write_csv(
        rep.ordered_cells()
            .into_iter()
            .map(|c| AggregateRow::new(rep, c)),
    )
}

/// `cells.csv`: one row per record, sorted by cell id.
///
/// # Errors
/// As [`aggregate_csv`].
pub fn cells(records: &[Record]) -> Result<String, csv::Error> {
    let mut sorted: Vec<&Record> = records.iter().collect();
    sorted.sort_by(|a, b| a.cell_id.cmp(&b.cell_id));
    write_csv(sorted.into_iter().map(CellCsvRow::from))
}

/// `bench compare --format csv`: one row per compared (method, budget).
///
/// # Errors
/// As [`aggregate_csv`].
pub fn compare_csv(c: &CompareReport) -> Result<String, csv::Error> {
    write_csv(c.rows.iter().map(CompareCsvRow::from))
}

/// [`cells`] for callers that hold records already checked (tests, snapshots): the rows
/// are flat structs of strings and numbers, which always serialise.
pub fn cells_csv(records: &[Record]) -> String {
    cells(records).expect("flat cell rows serialise")
}

impl Report {
    /// One row per (method, budget) aggregate, columns [`crate::report::AGGREGATE_COLUMNS`];
    /// [`aggregate_csv`] with the (never expected) error turned into a panic.
    pub fn csv(&self) -> String {
        aggregate_csv(self).expect("flat aggregate rows serialise")
    }
}

impl CompareReport {
    /// One row per compared cell, columns [`crate::report::COMPARE_COLUMNS`] (fractions);
    /// [`compare_csv`] with the (never expected) error turned into a panic.
    pub fn csv(&self) -> String {
        compare_csv(self).expect("flat comparison rows serialise")
    }
}
