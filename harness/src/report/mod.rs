//! Result tables: aggregation of cell records into (method × budget) summaries with
//! significance against the random-subset baseline, their renderings (terminal, Markdown,
//! CSV, JSON, LaTeX), SVG figures, publishing into `results/`, and `bench compare`.
//!
//! | module | contents |
//! |---|---|
//! | [`args`] | [`Format`], [`ReportArgs`]: what the commands ask for |
//! | [`error`] | [`ReportError`] |
//! | [`fmt`] | percentages, points, p-values, bytes, budget labels |
//! | [`model`] | [`Report`], [`Aggregate`], [`CompareReport`], [`CellRow`]: the data, no logic beyond lookups |
//! | [`rows`] | the CSV schemas as serde structs (written and read back); columns in `SCHEMA.md` |
//! | [`aggregate`] | [`build`]: summaries, t-tests vs random (Holm), ranks, Friedman / Nemenyi, IOR / HLR / LRS, Pareto; label gain |
//! | [`input`] | reading a `bench --out` directory, a `bench compare` side, the hard-label side, `plan.json` |
//! | [`comparable`] | whether two result sets may be combined into one number (label gain, compare) |
//! | [`compare`] | B − A per (method, budget) for two result directories |
//! | [`render`] | one module per output format, serving both `report` and `compare` |
//! | [`plots`] | SVG: accuracy vs budget, accuracy vs storage with the Pareto frontier, label gain |
//! | [`publish`] | `results/<dataset>/<protocol>/…` and the `results/README.md` index, atomic writes |
//!
//! Layers (each imports only from the layers above it; nothing imports back):
//! 1. `args`, `fmt`, `model` — leaves, nothing from `report/`;
//! 2. `error` (→ args), `rows` (→ model);
//! 3. `aggregate` (→ fmt, model);
//! 4. `comparable` (nothing from `report/`; `crate::protocol`), then `input` (→ aggregate,
//!    comparable, error, model, rows);
//! 5. `compare` (→ aggregate, error, fmt, input, model);
//! 6. `render::{text, tables}` (→ fmt, model), then `render::{terminal, markdown, latex}`
//!    (→ fmt, model), `render::{csv, json}` (→ model, rows), `render` itself (→ args, error,
//!    model); `plots` (→ fmt, model);
//! 7. `publish` (→ error, fmt, model, plots, render);
//! 8. this file: [`render_report`] / [`render_compare`] return the text; only the
//!    `cli_*` wrappers print.

pub mod aggregate;
pub mod args;
pub mod comparable;
pub mod compare;
pub mod error;
pub mod fmt;
pub mod input;
pub mod model;
pub mod plots;
pub mod publish;
pub mod render;
pub mod rows;

#[cfg(test)]
mod published_tests;

pub use aggregate::build;
pub use args::{Format, ReportArgs};
pub use error::ReportError;
pub use fmt::budget_header;
pub use input::{find_label_gain, load, read_side, Side};
pub use model::{
    Aggregate, CellRow, CompareReport, CompareRow, Comparison, LabelGain, ParetoMember, RankTest,
    Report, Setup, TeacherSummary, BASELINE, NEMENYI_ALPHA, REFERENCE,
};
pub use render::csv::cells_csv;
pub use rows::{
    AggregateRow, CellCsvRow, CompareCsvRow, AGGREGATE_COLUMNS, AGGREGATE_NUMERIC, CELL_COLUMNS,
    COMPARE_COLUMNS,
};

use std::path::{Path, PathBuf};

/// What `bench report` produced: the text for standard output, the warnings for standard
/// error (printed first, as `warning: …`), and where it published, if it did.
#[derive(Clone, Debug)]
pub struct ReportOutput {
    pub text: String,
    pub warnings: Vec<String>,
    pub published: Option<PathBuf>,
}

/// What `bench compare` produced: the text for standard output and the warnings for
/// standard error (unreadable records of A, of B, then the comparison's own warnings).
#[derive(Clone, Debug)]
pub struct CompareOutput {
    pub text: String,
    pub warnings: Vec<String>,
}

/// `bench report`: loads `a.dir`, adds the label gain, and renders it in `a.format` — or,
/// with `a.publish`, publishes it under `a.results` and returns the terminal table.
///
/// # Errors
/// From [`load`], [`publish::publish`] and [`render::report`].
pub fn render_report(a: &ReportArgs) -> Result<ReportOutput, ReportError> {
    let (mut rep, records) = load(&a.dir)?;
    let warnings = input::label_gain(&mut rep, &a.dir, a.hard_label.as_deref())?;
    if a.publish {
        let dir = publish::publish(&rep, &records, &a.results)?;
        return Ok(ReportOutput {
            text: rep.terminal(a.width),
            warnings,
            published: Some(dir),
        });
    }
    Ok(ReportOutput {
        text: render::report(&rep, &records, a.format, a.per_cell, a.width)?,
        warnings,
        published: None,
    })
}

/// `bench compare A B`: B − A per (method, budget) present on both sides, in `format`.
///
/// # Errors
/// From [`read_side`] and [`render::compare`].
pub fn render_compare(
    a: &Path,
    b: &Path,
    format: Format,
    width: Option<u16>,
) -> Result<CompareOutput, ReportError> {
    let sa = read_side(a)?;
    let sb = read_side(b)?;
    let c = compare::compare(
        &sa.rows,
        &sb.rows,
        &a.display().to_string(),
        &b.display().to_string(),
    );
    // The one comparability check: what differs, and what could not be checked.
    let facts = |dir: &Path, s: &Side| {
        comparable::SideFacts::of(
            dir,
            s.rows.iter().map(|r| r.protocol_hash.as_str()),
            s.rows.iter().map(|r| r.dataset_checksum.as_str()),
        )
    };
    let verdict = comparable::check(&facts(a, &sa), &facts(b, &sb), comparable::Across::Protocol);
    let text = render::compare(&c, format, width)?;
    let mut warnings = sa.unreadable;
    warnings.extend(
        verdict
            .problems
            .iter()
            .map(|p| format!("not comparable: {p}")),
    );
    warnings.extend(verdict.unchecked.iter().cloned());
    warnings.extend(sb.unreadable);
    warnings.extend(c.warnings.iter().cloned());
    Ok(CompareOutput { text, warnings })
}
