//! Result tables: aggregation of cell records into (method × budget) summaries with
//! significance against the random-subset baseline, their renderings (terminal, Markdown,
//! CSV, JSON, LaTeX), SVG figures, publishing into `results/`, and `bench compare`.
//!
//! | module | contents |
//! |---|---|
//! | [`aggregate`] | [`build`] → [`Report`]: summaries, t-tests vs random (Holm), ranks, Friedman / Nemenyi, IOR / HLR / LRS, Pareto |
//! | [`formats`] | `Report::{terminal, markdown, csv, json, latex}`, [`cells_csv`]; CSV schema in `SCHEMA.md` |
//! | [`plots`] | SVG: accuracy vs budget, accuracy vs storage with the Pareto frontier |
//! | [`publish`] | `results/<dataset>/<protocol>/…` and the `results/README.md` index, atomic writes |
//! | [`compare`] | B − A per (method, budget) for two result directories |

pub mod aggregate;
pub mod compare;
pub mod formats;
pub mod plots;
pub mod publish;

#[cfg(test)]
mod published_tests;

pub use aggregate::{
    budget_header, build, Aggregate, Comparison, LabelGain, ParetoMember, RankTest, Report, Setup,
    BASELINE, REFERENCE,
};
pub use formats::{cells_csv, AGGREGATE_COLUMNS, AGGREGATE_NUMERIC, CELL_COLUMNS};

use crate::record::{self, Record};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

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

/// Reads `dir/cells/*.json` and `dir/plan.json` (when present) and builds the report.
/// Expected seeds come from the plan's cells, else from the records (max seed + 1).
pub fn load(dir: &Path) -> anyhow::Result<(Report, Vec<Record>)> {
    let (records, bad) = record::read_all(dir)?;
    // Read as loose JSON so that plan.json files of older or newer harness versions still
    // give their protocol text and cell list.
    let plan: Option<serde_json::Value> = std::fs::read_to_string(dir.join("plan.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    let planned: Vec<(String, u64)> = plan
        .as_ref()
        .and_then(|p| p["cells"].as_array())
        .map(|cells| {
            cells
                .iter()
                .filter_map(|c| Some((c["id"].as_str()?.to_string(), c["seed"].as_u64()?)))
                .collect()
        })
        .unwrap_or_default();
    let expected = if planned.is_empty() {
        records.iter().map(|r| r.seed + 1).max().unwrap_or(0) as usize
    } else {
        planned.iter().map(|c| c.1).collect::<BTreeSet<_>>().len()
    };
    let mut rep = build(&records, expected);
    if let Some(text) = plan.as_ref().and_then(|p| p["protocol_text"].as_str()) {
        let origin = plan.as_ref().and_then(|p| p["protocol_origin"].as_str());
        rep = rep.with_protocol_text(text, origin.unwrap_or("plan.json"));
    }
    // Cells the plan asked for that left no record at all (e.g. a killed run).
    let have: BTreeSet<&str> = records.iter().map(|r| r.cell_id.as_str()).collect();
    let absent: Vec<&str> = planned
        .iter()
        .map(|c| c.0.as_str())
        .filter(|id| !have.contains(id))
        .collect();
    if !absent.is_empty() {
        rep.warnings.push(format!(
            "{} planned cell(s) have no record: {}",
            absent.len(),
            absent.join(", ")
        ));
    }
    for b in bad {
        rep.warnings.push(format!("unreadable record: {b}"));
    }
    Ok((rep, records))
}

/// What `bench report` was asked for.
#[derive(Clone, Debug)]
pub struct ReportArgs {
    pub dir: PathBuf,
    pub format: Format,
    pub per_cell: bool,
    pub publish: bool,
    pub results: PathBuf,
    pub width: Option<u16>,
    /// Hard-label results of the same dataset for the label gain (default: looked up next
    /// to `dir`).
    pub hard_label: Option<PathBuf>,
}

/// For a soft- or native-label report, finds the hard-label results of the same dataset
/// (`explicit`, else `<dir>/../../hard-label/<dataset>` as `bench` lays out its output, else
/// `<dir>/../hard-label` as `--publish` does) and fills the label gain.
pub fn attach_label_gain(rep: &mut Report, dir: &Path, explicit: Option<&Path>) {
    let labels = rep
        .setup
        .as_ref()
        .map(|s| s.labels.clone())
        .unwrap_or_default();
    if labels != "soft" && labels != "native" {
        return;
    }
    let candidates: Vec<PathBuf> = match explicit {
        Some(p) => vec![p.to_path_buf()],
        None => {
            let mut v = Vec::new();
            if let Some(pp) = dir.parent().and_then(Path::parent) {
                v.push(pp.join("hard-label").join(&rep.dataset));
            }
            if let Some(p) = dir.parent() {
                v.push(p.join("hard-label"));
            }
            v.into_iter().filter(|p| p.is_dir()).collect()
        }
    };
    for c in candidates {
        let rows = match compare::load_side(&c) {
            Ok(r) => r,
            Err(e) => {
                rep.warnings
                    .push(format!("label gain: cannot read {}: {e}", c.display()));
                continue;
            }
        };
        let rows: Vec<compare::CellRow> = rows
            .into_iter()
            .filter(|r| r.dataset_checksum == rep.dataset_checksum)
            .collect();
        if rows.is_empty() {
            rep.warnings.push(format!(
                "label gain: {} has no cells of dataset checksum {}",
                c.display(),
                &rep.dataset_checksum[..12.min(rep.dataset_checksum.len())]
            ));
            continue;
        }
        let hashes: BTreeSet<&str> = rows.iter().map(|r| &r.protocol_hash[..12]).collect();
        rep.label_gain = Some(aggregate::label_gains(rep, &rows));
        rep.label_gain_source = Some(format!(
            "{} (protocol hash {})",
            c.display(),
            hashes.into_iter().collect::<Vec<_>>().join(", ")
        ));
        return;
    }
}

/// `bench report`: prints the report in `format`, or publishes it under `results`.
pub fn cli_report(a: &ReportArgs) -> anyhow::Result<()> {
    let (mut rep, records) = load(&a.dir)?;
    attach_label_gain(&mut rep, &a.dir, a.hard_label.as_deref());
    if a.publish {
        let dir = publish::publish(&rep, &records, &a.results)?;
        println!("{}", rep.terminal(a.width));
        eprintln!(
            "published to {} (index: {})",
            dir.display(),
            a.results.join("README.md").display()
        );
        return Ok(());
    }
    let out = match (a.format, a.per_cell) {
        (Format::Csv, true) => cells_csv(&records),
        (Format::Json, true) => serde_json::to_string_pretty(&records)?,
        (f, true) => anyhow::bail!("--per-cell needs --format csv or json, not {f:?}"),
        (Format::Terminal, false) => rep.terminal(a.width),
        (Format::Md, false) => rep.markdown(),
        (Format::Csv, false) => rep.csv(),
        (Format::Json, false) => rep.json(),
        (Format::Latex, false) => rep.latex(),
    };
    print!("{out}");
    if !out.ends_with('\n') {
        println!();
    }
    Ok(())
}

/// `bench compare A B`: prints B − A per (method, budget) present on both sides.
pub fn cli_compare(a: &Path, b: &Path, format: Format, width: Option<u16>) -> anyhow::Result<()> {
    let ra = compare::load_side(a)?;
    let rb = compare::load_side(b)?;
    let c = compare::compare(&ra, &rb, &a.display().to_string(), &b.display().to_string());
    let out = match format {
        Format::Terminal => c.terminal(width),
        Format::Md => c.markdown(),
        Format::Csv => c.csv(),
        Format::Json => serde_json::to_string_pretty(&c)?,
        Format::Latex => anyhow::bail!(
            "bench compare: --format latex is not supported (terminal, md, csv, json)"
        ),
    };
    for w in &c.warnings {
        eprintln!("warning: {w}");
    }
    print!("{out}");
    if !out.ends_with('\n') {
        println!();
    }
    Ok(())
}
