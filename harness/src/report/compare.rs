//! `bench compare A B`: the same grid run twice (two plugin versions, two devices, two
//! harness versions). For every (method, budget) present on both sides: B − A with its 95 %
//! interval and a t-test (paired by seed when both sides finished the same seeds, Welch
//! otherwise), Holm-adjusted across the table. Cells present on one side only are listed.
//!
//! A side is either a `bench --out` directory (`cells/*.json`) or a published results
//! directory (`cells.csv`, see `SCHEMA.md`); [`read_side`] reads both. The renderings are in
//! `render/` like those of a report.

use super::aggregate::{apply_holm, test_difference};
use super::error::ReportError;
use super::fmt::budget_sort_key;
use super::input::read_side;
pub use super::model::CellRow;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

pub use super::input::Side;
pub use super::model::{CompareReport, CompareRow};

/// The rows of one side (`DIR/cells/*.json` records, else `DIR/cells.csv`); unreadable record
/// files are dropped, see [`read_side`] to get them as notes.
///
/// # Errors
/// As [`read_side`].
pub fn load_side(dir: &Path) -> Result<Vec<CellRow>, ReportError> {
    read_side(dir).map(|s| s.rows)
}

type Key = (String, String);

fn group(rows: &[CellRow]) -> BTreeMap<Key, Vec<&CellRow>> {
    let mut g: BTreeMap<Key, Vec<&CellRow>> = BTreeMap::new();
    for r in rows {
        g.entry((r.method.clone(), r.budget.clone()))
            .or_default()
            .push(r);
    }
    g
}

fn set<'a>(rows: &'a [CellRow], f: impl Fn(&'a CellRow) -> &'a str) -> BTreeSet<&'a str> {
    rows.iter().map(f).collect()
}

/// Compares side B with side A (labels are only for display).
pub fn compare(a: &[CellRow], b: &[CellRow], label_a: &str, label_b: &str) -> CompareReport {
    let mut warnings = Vec::new();
    for (what, f) in [
        (
            "protocol hashes",
            (|r: &CellRow| r.protocol_hash.as_str()) as fn(&CellRow) -> &str,
        ),
        ("dataset checksums", |r: &CellRow| {
            r.dataset_checksum.as_str()
        }),
    ] {
        let (sa, sb) = (set(a, f), set(b, f));
        if sa != sb {
            let show = |s: &BTreeSet<&str>| {
                s.iter()
                    .map(|h| &h[..12.min(h.len())])
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            warnings.push(format!(
                "{what} differ (A: {}; B: {}): the two sides were not measured under the same conditions, so differences mix the change under study with that",
                show(&sa),
                show(&sb)
            ));
        }
    }
    let (ga, gb) = (group(a), group(b));
    let mut rows = Vec::new();
    let mut only_a = Vec::new();
    let mut only_b = Vec::new();
    let by_seed = |rs: &[&CellRow]| -> BTreeMap<u64, f64> {
        rs.iter()
            .filter_map(|r| r.accuracy.map(|x| (r.seed, x)))
            .collect()
    };
    let mean = |m: &BTreeMap<u64, f64>| {
        distillery_stats::mean(&m.values().copied().collect::<Vec<_>>()).ok()
    };
    let mut keys: Vec<&Key> = ga
        .keys()
        .chain(gb.keys())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    keys.sort_by(|x, y| {
        (x.0.as_str(), budget_sort_key(&x.1))
            .partial_cmp(&(y.0.as_str(), budget_sort_key(&y.1)))
            .unwrap()
    });
    let mut raw = Vec::new();
    for k in keys {
        match (ga.get(k), gb.get(k)) {
            (Some(ra), Some(rb)) => {
                let (sa, sb) = (by_seed(ra), by_seed(rb));
                let diff = test_difference(&sb, &sa);
                if let Some(d) = &diff {
                    raw.push(d.p);
                }
                rows.push(CompareRow {
                    method: k.0.clone(),
                    family: ra[0].family.clone(),
                    budget: k.1.clone(),
                    n_a: sa.len(),
                    failed_a: ra.len() - sa.len(),
                    n_b: sb.len(),
                    failed_b: rb.len() - sb.len(),
                    mean_a: mean(&sa),
                    mean_b: mean(&sb),
                    diff,
                    plugin_version_a: versions(ra),
                    plugin_version_b: versions(rb),
                });
            }
            (Some(_), None) => only_a.push(k.clone()),
            (None, Some(_)) => only_b.push(k.clone()),
            (None, None) => {}
        }
    }
    apply_holm(rows.iter_mut().filter_map(|r| r.diff.as_mut()), &raw);
    CompareReport {
        a: label_a.to_string(),
        b: label_b.to_string(),
        rows,
        only_a,
        only_b,
        devices_a: set(a, |r| r.device.as_str())
            .into_iter()
            .map(String::from)
            .collect(),
        devices_b: set(b, |r| r.device.as_str())
            .into_iter()
            .map(String::from)
            .collect(),
        warnings,
    }
}

fn versions(rs: &[&CellRow]) -> String {
    rs.iter()
        .map(|r| r.plugin_version.as_str())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect::<Vec<_>>()
        .join(",")
}
