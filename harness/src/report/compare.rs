//! `bench compare A B`: the same grid run twice (two plugin versions, two devices, two
//! harness versions). For every (method, budget) present on both sides: B − A with its 95 %
//! interval and a t-test (paired by seed when both sides finished the same seeds, Welch
//! otherwise), Holm-adjusted across the table. Cells present on one side only are listed.
//!
//! A side is either a `bench --out` directory (`cells/*.json`) or a published results
//! directory (`cells.csv`, see `SCHEMA.md`).

use super::aggregate::{apply_holm, budget_header, budget_sort_key, test_difference, Comparison};
use super::formats::{pct, pp, pval};
use crate::record::{self, Record, Status};
use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell as TCell, CellAlignment, Table};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The per-cell facts a comparison needs (from a record or a `cells.csv` row).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct CellRow {
    pub method: String,
    pub family: String,
    pub budget: String,
    pub seed: u64,
    /// Accuracy fraction; `None` when the cell failed.
    pub accuracy: Option<f64>,
    pub protocol: String,
    pub protocol_hash: String,
    pub dataset_checksum: String,
    pub device: String,
    pub plugin_version: String,
}

impl From<&Record> for CellRow {
    fn from(r: &Record) -> Self {
        CellRow {
            method: r.method.clone(),
            family: r.family.clone(),
            budget: r.budget_label.clone(),
            seed: r.seed,
            accuracy: if r.status == Status::Ok {
                r.accuracy()
            } else {
                None
            },
            protocol: format!("{} v{}", r.protocol.name, r.protocol.version),
            protocol_hash: r.protocol.hash.clone(),
            dataset_checksum: r.dataset.checksum.clone(),
            device: r.device.clone(),
            plugin_version: r.plugin_version.clone(),
        }
    }
}

/// Reads one side: `DIR/cells/*.json` records, else `DIR/cells.csv`.
pub fn load_side(dir: &Path) -> anyhow::Result<Vec<CellRow>> {
    if dir.join("cells").is_dir() {
        let (recs, bad) = record::read_all(dir)?;
        for b in bad {
            eprintln!("warning: {b}");
        }
        return Ok(recs.iter().map(CellRow::from).collect());
    }
    let path = dir.join("cells.csv");
    if !path.is_file() {
        anyhow::bail!(
            "{}: neither cells/ (a `bench --out` directory) nor cells.csv (a published results directory)",
            dir.display()
        );
    }
    let mut rd =
        csv::Reader::from_path(&path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let headers = rd.headers()?.clone();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| anyhow::anyhow!("{}: no column `{name}`", path.display()))
    };
    let [method, family, budget, seed, status, acc, proto, ver, hash, checksum, device, pv] = [
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
    ]
    .map(col);
    let (method, family, budget, seed, status, acc) =
        (method?, family?, budget?, seed?, status?, acc?);
    let (proto, ver, hash, checksum, device, pv) = (proto?, ver?, hash?, checksum?, device?, pv?);
    let mut out = Vec::new();
    for (i, row) in rd.records().enumerate() {
        let row = row.map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let ok = &row[status] == "ok";
        out.push(CellRow {
            method: row[method].to_string(),
            family: row[family].to_string(),
            budget: row[budget].to_string(),
            seed: row[seed]
                .parse()
                .map_err(|e| anyhow::anyhow!("{} row {}: seed: {e}", path.display(), i + 2))?,
            accuracy: if ok {
                Some(row[acc].parse().map_err(|e| {
                    anyhow::anyhow!("{} row {}: accuracy: {e}", path.display(), i + 2)
                })?)
            } else {
                None
            },
            protocol: format!("{} v{}", &row[proto], &row[ver]),
            protocol_hash: row[hash].to_string(),
            dataset_checksum: row[checksum].to_string(),
            device: row[device].to_string(),
            plugin_version: row[pv].to_string(),
        });
    }
    Ok(out)
}

#[derive(Clone, Debug, Serialize)]
pub struct CompareRow {
    pub method: String,
    pub family: String,
    pub budget: String,
    pub n_a: usize,
    pub failed_a: usize,
    pub n_b: usize,
    pub failed_b: usize,
    pub mean_a: Option<f64>,
    pub mean_b: Option<f64>,
    /// B − A (fractions), Holm-adjusted across the table; `None` with fewer than 2 finished
    /// seeds on a side.
    pub diff: Option<Comparison>,
    pub plugin_version_a: String,
    pub plugin_version_b: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct CompareReport {
    pub a: String,
    pub b: String,
    pub rows: Vec<CompareRow>,
    /// (method, budget) present only in A / only in B.
    pub only_a: Vec<(String, String)>,
    pub only_b: Vec<(String, String)>,
    pub devices_a: Vec<String>,
    pub devices_b: Vec<String>,
    pub warnings: Vec<String>,
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

impl CompareReport {
    const HEADER: [&'static str; 7] = [
        "method",
        "budget",
        "A (n)",
        "B (n)",
        "B − A [95% CI]",
        "test",
        "p (Holm)",
    ];

    fn table_rows(&self) -> Vec<Vec<String>> {
        let side = |m: Option<f64>, n: usize, failed: usize, v: &str| {
            let mut s = match m {
                Some(m) => format!("{} (n={n}", pct(m)),
                None => "failed (n=0".to_string(),
            };
            if failed > 0 {
                s.push_str(&format!(", {failed} failed"));
            }
            s.push(')');
            if !v.is_empty() {
                s.push_str(&format!(" v{v}"));
            }
            s
        };
        let same_versions = self
            .rows
            .iter()
            .all(|r| r.plugin_version_a == r.plugin_version_b);
        self.rows
            .iter()
            .map(|r| {
                let (va, vb) = if same_versions {
                    ("", "")
                } else {
                    (r.plugin_version_a.as_str(), r.plugin_version_b.as_str())
                };
                vec![
                    r.method.clone(),
                    if r.family == "reference" {
                        "full".into()
                    } else {
                        budget_header(&r.budget)
                    },
                    side(r.mean_a, r.n_a, r.failed_a, va),
                    side(r.mean_b, r.n_b, r.failed_b, vb),
                    r.diff
                        .as_ref()
                        .map(|d| format!("{} [{}, {}]", pp(d.diff), pp(d.ci_low), pp(d.ci_high)))
                        .unwrap_or_else(|| "— (needs n ≥ 2 a side)".into()),
                    r.diff
                        .as_ref()
                        .map(|d| d.test.to_string())
                        .unwrap_or_default(),
                    r.diff
                        .as_ref()
                        .map(|d| format!("{}{}", pval(d.p_holm), d.mark))
                        .unwrap_or_default(),
                ]
            })
            .collect()
    }

    fn notes(&self) -> Vec<String> {
        let mut v = vec![format!(
            "A = {} (device {}); B = {} (device {}). Differences B − A in accuracy points with 95% t-intervals; \
             paired t-test by seed where both sides finished the same seeds, Welch's t-test otherwise; \
             p Holm-adjusted across the {} comparisons: * p<.05, ** p<.01, *** p<.001.",
            self.a,
            self.devices_a.join(", "),
            self.b,
            self.devices_b.join(", "),
            self.rows.iter().filter(|r| r.diff.is_some()).count()
        )];
        let list = |xs: &[(String, String)]| {
            xs.iter()
                .map(|(m, b)| format!("{m} @ {b}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if !self.only_a.is_empty() {
            v.push(format!("Only in A: {}.", list(&self.only_a)));
        }
        if !self.only_b.is_empty() {
            v.push(format!("Only in B: {}.", list(&self.only_b)));
        }
        v.extend(self.warnings.iter().map(|w| format!("warning: {w}")));
        v
    }

    pub fn terminal(&self, width: Option<u16>) -> String {
        let mut t = Table::new();
        t.load_preset(UTF8_FULL_CONDENSED);
        t.force_no_tty();
        if let Some(w) = width {
            t.set_width(w);
        }
        t.set_header(Self::HEADER);
        for r in self.table_rows() {
            t.add_row(r.into_iter().enumerate().map(|(i, s)| {
                if i >= 2 {
                    TCell::new(s).set_alignment(CellAlignment::Right)
                } else {
                    TCell::new(s)
                }
            }));
        }
        let mut s = t.to_string();
        for n in self.notes() {
            s.push('\n');
            s.push_str(&n);
        }
        s
    }

    pub fn markdown(&self) -> String {
        let mut s = format!(
            "| {} |\n|---|---|---:|---:|---:|---|---:|\n",
            Self::HEADER.join(" | ")
        );
        for r in self.table_rows() {
            s.push_str(&format!("| {} |\n", r.join(" | ").replace('\n', " ")));
        }
        s.push('\n');
        for n in self.notes() {
            s.push_str(&format!("- {n}\n"));
        }
        s
    }

    /// One row per compared cell: method, family, budget, n_a, n_failed_a, n_b, n_failed_b,
    /// mean_a, mean_b, diff, diff_ci_low, diff_ci_high, p, p_holm, test, mark (fractions).
    pub fn csv(&self) -> String {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record([
            "method",
            "family",
            "budget",
            "n_a",
            "n_failed_a",
            "n_b",
            "n_failed_b",
            "mean_a",
            "mean_b",
            "diff",
            "diff_ci_low",
            "diff_ci_high",
            "p",
            "p_holm",
            "test",
            "mark",
        ])
        .unwrap();
        let f = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_default();
        for r in &self.rows {
            let d = r.diff.as_ref();
            w.write_record([
                r.method.clone(),
                r.family.clone(),
                r.budget.clone(),
                r.n_a.to_string(),
                r.failed_a.to_string(),
                r.n_b.to_string(),
                r.failed_b.to_string(),
                f(r.mean_a),
                f(r.mean_b),
                f(d.map(|d| d.diff)),
                f(d.map(|d| d.ci_low)),
                f(d.map(|d| d.ci_high)),
                f(d.map(|d| d.p)),
                f(d.map(|d| d.p_holm)),
                d.map(|d| d.test.to_string()).unwrap_or_default(),
                d.map(|d| d.mark.to_string()).unwrap_or_default(),
            ])
            .unwrap();
        }
        String::from_utf8(w.into_inner().unwrap()).unwrap()
    }
}
