//! Reading results: a `bench --out` directory into a [`Report`] ([`load`]), one side of
//! `bench compare` ([`read_side`]: records or a published `cells.csv`), the hard-label side of
//! the label gain ([`find_label_gain`]) and the caption facts of `plan.json`
//! ([`Report::with_protocol_text`]). Nothing here prints.

use super::aggregate::{build, label_gains};
use super::comparable::{check, Across, SideFacts};
use super::error::ReportError;
use super::model::{CellRow, Report, Setup};
use super::rows::CellCsvRow;
use crate::protocol::Loaded;
use crate::record::{self, Record, Status};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Reads `dir/cells/*.json` and `dir/plan.json` (when present) and builds the report.
/// Expected seeds come from the plan's cells, else from the records (max seed + 1).
///
/// # Errors
/// [`ReportError::Records`] when `dir/cells` cannot be read.
pub fn load(dir: &Path) -> Result<(Report, Vec<Record>), ReportError> {
    let (records, bad) = record::read_all(dir).map_err(ReportError::Records)?;
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

/// One side of a comparison: its cells, and the records that could not be read.
#[derive(Clone, Debug, Default)]
pub struct Side {
    pub rows: Vec<CellRow>,
    /// One note per unreadable record file (a `bench --out` side only).
    pub unreadable: Vec<String>,
}

/// The `cells.csv` columns `bench compare` needs (the others may be absent in older files).
const SIDE_COLUMNS: [&str; 12] = [
    "method",
    "family",
    "budget",
    "seed",
    "status",
    "accuracy",
    "protocol",
    "protocol_version",
    "protocol_hash",
    "dataset_checksum",
    "device",
    "plugin_version",
];

/// Reads one side: `DIR/cells/*.json` records, else `DIR/cells.csv` through [`CellCsvRow`].
///
/// # Errors
/// [`ReportError::NotASide`] when `dir` holds neither; [`ReportError::Records`],
/// [`ReportError::CsvRead`], [`ReportError::MissingColumn`] or [`ReportError::BadField`] when
/// what it holds does not read.
pub fn read_side(dir: &Path) -> Result<Side, ReportError> {
    if dir.join("cells").is_dir() {
        let (recs, bad) = record::read_all(dir).map_err(ReportError::Records)?;
        return Ok(Side {
            rows: recs.iter().map(CellRow::from).collect(),
            unreadable: bad,
        });
    }
    let path = dir.join("cells.csv");
    if !path.is_file() {
        return Err(ReportError::NotASide(dir.to_path_buf()));
    }
    let read_err = |e: csv::Error| ReportError::CsvRead {
        path: path.clone(),
        message: e.to_string(),
    };
    let mut rd = csv::Reader::from_path(&path).map_err(read_err)?;
    let headers = rd.headers()?.clone();
    for column in SIDE_COLUMNS {
        if !headers.iter().any(|h| h == column) {
            return Err(ReportError::MissingColumn {
                path,
                column: column.into(),
            });
        }
    }
    let status_col = headers.iter().position(|h| h == "status");
    let mut rows = Vec::new();
    for (i, record) in rd.records().enumerate() {
        let bad = |field: &str, message: String| ReportError::BadField {
            path: path.clone(),
            row: i + 2,
            field: field.into(),
            message,
        };
        let mut record = record.map_err(read_err)?;
        let ok = status_col.and_then(|c| record.get(c)) == Some("ok");
        // A field compare does not use (or the accuracy of a cell that did not finish) is
        // not checked, as before the typed rows: blanked and read again, once per field.
        let row = loop {
            let e = match record.deserialize::<CellCsvRow>(Some(&headers)) {
                Ok(row) => break row,
                Err(e) => e,
            };
            let csv::ErrorKind::Deserialize { err, .. } = e.kind() else {
                return Err(read_err(e));
            };
            let Some(f) = err.field().map(|f| f as usize) else {
                return Err(read_err(e));
            };
            let name = headers.get(f).unwrap_or("?");
            let unused = !SIDE_COLUMNS.contains(&name) || (name == "accuracy" && !ok);
            if !unused || record.get(f) == Some("") {
                return Err(bad(name, err.kind().to_string()));
            }
            record = record
                .iter()
                .enumerate()
                .map(|(j, v)| if j == f { "" } else { v })
                .collect();
        };
        if row.status == Status::Ok && row.accuracy.is_none() {
            return Err(bad(
                "accuracy",
                "cannot parse float from empty string".into(),
            ));
        }
        rows.push(CellRow::from(row));
    }
    Ok(Side {
        rows,
        unreadable: Vec::new(),
    })
}

/// For a soft- or native-label report, finds the hard-label results of the same dataset
/// (`explicit`, else `<dir>/../../hard-label/<dataset>` (or `<dataset>-<checksum[..8]>`, the
/// default output folder of a dataset read from a path) as `bench` lays out its output, else
/// `<dir>/../hard-label` as `--publish` does) and fills the label gain. Returns the
/// unreadable-record notes of the hard-label side (what `bench` prints as warnings).
///
/// A found directory whose results are not comparable ([`super::comparable::check`] across
/// the label regime: another dataset, or another recipe apart from the labels) is skipped with
/// a warning; use [`label_gain`] to refuse an explicit one.
pub fn find_label_gain(rep: &mut Report, dir: &Path, explicit: Option<&Path>) -> Vec<String> {
    match label_gain(rep, dir, explicit) {
        Ok(notes) => notes,
        Err(e) => {
            rep.warnings.push(format!("label gain not computed: {e}"));
            Vec::new()
        }
    }
}

/// [`find_label_gain`], refusing an `explicit` hard-label directory that is not comparable
/// with this report's results.
///
/// # Errors
/// [`ReportError::Incomparable`] when `explicit` holds no cells of this dataset or cells of
/// another recipe (apart from the label regime); [`ReportError`]s of [`read_side`] for an
/// unreadable `explicit` directory are reported as warnings, as before.
pub fn label_gain(
    rep: &mut Report,
    dir: &Path,
    explicit: Option<&Path>,
) -> Result<Vec<String>, ReportError> {
    let mut notes = Vec::new();
    let labels = rep
        .setup
        .as_ref()
        .map(|s| s.labels.clone())
        .unwrap_or_default();
    if labels != "soft" && labels != "native" {
        return Ok(notes);
    }
    let candidates: Vec<PathBuf> = match explicit {
        Some(p) => vec![p.to_path_buf()],
        None => {
            let mut v = Vec::new();
            if let Some(pp) = dir.parent().and_then(Path::parent) {
                v.push(pp.join("hard-label").join(&rep.dataset));
                if rep.dataset_checksum.len() >= 8 {
                    v.push(pp.join("hard-label").join(format!(
                        "{}-{}",
                        rep.dataset,
                        &rep.dataset_checksum[..8]
                    )));
                }
            }
            if let Some(p) = dir.parent() {
                v.push(p.join("hard-label"));
            }
            v.into_iter().filter(|p| p.is_dir()).collect()
        }
    };
    let this = SideFacts::of(
        dir,
        [rep.protocol_hash.as_str()],
        [rep.dataset_checksum.as_str()],
    );
    for c in candidates {
        let rows = match read_side(&c) {
            Ok(side) => {
                notes.extend(side.unreadable);
                side.rows
            }
            Err(e) => {
                rep.warnings
                    .push(format!("label gain: cannot read {}: {e}", c.display()));
                continue;
            }
        };
        // The hard side's cells of this dataset, checked against this report's recipe; a
        // side without any is "another dataset".
        let same_data: Vec<CellRow> = rows
            .iter()
            .filter(|r| r.dataset_checksum == rep.dataset_checksum)
            .cloned()
            .collect();
        let judged: &[CellRow] = if same_data.is_empty() {
            &rows
        } else {
            &same_data
        };
        let other = SideFacts::of(
            &c,
            judged.iter().map(|r| r.protocol_hash.as_str()),
            judged.iter().map(|r| r.dataset_checksum.as_str()),
        );
        let verdict = check(&this, &other, Across::LabelRegime);
        for u in &verdict.unchecked {
            rep.warnings.push(format!("label gain: {u}"));
        }
        if !verdict.is_comparable() || same_data.is_empty() {
            let e = ReportError::Incomparable {
                what: "label gain".into(),
                problems: verdict.problems.clone(),
            };
            if explicit.is_some() {
                return Err(e);
            }
            rep.warnings
                .push(format!("label gain: {} skipped: {e}", c.display()));
            continue;
        }
        let hashes: BTreeSet<&str> = same_data.iter().map(|r| &r.protocol_hash[..12]).collect();
        rep.label_gain = Some(label_gains(rep, &same_data));
        rep.label_gain_source = Some(format!(
            "{} (protocol hash {})",
            c.display(),
            hashes.into_iter().collect::<Vec<_>>().join(", ")
        ));
        return Ok(notes);
    }
    Ok(notes)
}

impl Report {
    /// Adds the caption facts from the protocol text of `plan.json` (student, epochs, labels).
    pub fn with_protocol_text(mut self, text: &str, origin: &str) -> Self {
        match Loaded::parse(text, origin) {
            Ok(l) => {
                let p = &l.protocol;
                let arch = serde_json::to_value(p.student.arch)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_else(|| format!("{:?}", p.student.arch));
                let student = if arch.starts_with("convnet") {
                    format!(
                        "{arch} (width {}, depth {})",
                        p.student.width, p.student.depth
                    )
                } else {
                    arch
                };
                let augment = serde_json::to_value(p.train.augment)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                // A pretrained teacher's weights are part of the records' hash (Loaded::with_teacher)
                // and not of the text: nothing to compare the text against then.
                let pretrained = p.teacher.as_ref().is_some_and(|t| t.pretrained.is_some());
                if l.hash != self.protocol_hash && !self.protocol_hash.is_empty() && !pretrained {
                    self.warnings.push(format!(
                        "plan.json protocol hash {} differs from the records' {}",
                        &l.hash[..12],
                        &self.protocol_hash[..12.min(self.protocol_hash.len())]
                    ));
                }
                self.setup = Some(Setup {
                    protocol_origin: origin.to_string(),
                    description: p.description.clone(),
                    source: p.source.clone(),
                    student,
                    labels: serde_json::to_value(p.labels)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default(),
                    epochs: p.train.epochs,
                    reference_epochs: p.reference.epochs,
                    augment,
                });
            }
            Err(e) => self
                .warnings
                .push(format!("protocol text in plan.json does not parse: {e}")),
        }
        self
    }
}
