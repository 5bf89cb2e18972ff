//! Result tables: aggregation of cell records into (method x budget) summaries with
//! significance against the random-subset baseline, and the terminal table.

use crate::record::{Record, Status};
use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell as TCell, CellAlignment, Table};
use distillery_stats as stats;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// The baseline every method is compared with.
pub const BASELINE: &str = "random";

#[derive(Clone, Debug, Serialize)]
pub struct Comparison {
    /// Difference method - random, in accuracy fractions.
    pub diff: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    pub p: f64,
    pub p_holm: f64,
    /// "paired" (seeds pair the runs) or "welch".
    pub test: &'static str,
    pub mark: &'static str,
}

#[derive(Clone, Debug, Serialize)]
pub struct Aggregate {
    pub method: String,
    pub family: String,
    pub budget: String,
    /// Accuracies (fractions) by seed, finished cells only.
    pub by_seed: BTreeMap<u64, f64>,
    pub failed: usize,
    pub summary: Option<stats::Summary>,
    pub vs_random: Option<Comparison>,
    pub mean_total_bytes: Option<f64>,
    pub mean_compress_seconds: Option<f64>,
}

/// A whole table: what the records say, plus the caption facts.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub protocol: String,
    pub protocol_version: String,
    pub protocol_hash: String,
    pub dataset: String,
    pub dataset_checksum: String,
    pub devices: Vec<String>,
    pub seeds: Vec<u64>,
    pub budgets: Vec<String>,
    pub methods: Vec<String>,
    pub cells: Vec<Aggregate>,
    /// Average rank per method over the budgets (1 = best; reference lines excluded).
    pub avg_rank: BTreeMap<String, f64>,
    pub expected_seeds: usize,
    pub warnings: Vec<String>,
}

fn budget_sort_key(label: &str) -> (u8, f64) {
    if let Some(k) = label.strip_prefix("ipc") {
        (0, k.parse().unwrap_or(0.0))
    } else if let Some(f) = label.strip_prefix("frac") {
        (1, f.parse().unwrap_or(0.0))
    } else if let Some(b) = label.strip_prefix("bytes") {
        (2, b.parse().unwrap_or(0.0))
    } else {
        (3, 0.0)
    }
}

pub fn budget_header(label: &str) -> String {
    if let Some(k) = label.strip_prefix("ipc") {
        format!("IPC {k}")
    } else if let Some(f) = label.strip_prefix("frac") {
        format!("{}%", f.parse::<f64>().map(|v| v * 100.0).unwrap_or(0.0))
    } else if let Some(b) = label.strip_prefix("bytes") {
        format!("{b} B")
    } else {
        label.to_string()
    }
}

/// Builds the report from records (all of one protocol and dataset; others are warned about).
pub fn build(records: &[Record], expected_seeds: usize) -> Report {
    let mut warnings = Vec::new();
    let first = records
        .iter()
        .find(|r| r.status == Status::Ok)
        .or(records.first());
    let (proto, hash, dataset, checksum, pver) = first
        .map(|r| {
            (
                r.protocol.name.clone(),
                r.protocol.hash.clone(),
                r.dataset.name.clone(),
                r.dataset.checksum.clone(),
                r.protocol.version.clone(),
            )
        })
        .unwrap_or_default();
    let mut groups: BTreeMap<(String, String), Vec<&Record>> = BTreeMap::new();
    let mut devices = BTreeSet::new();
    let mut seeds = BTreeSet::new();
    for r in records {
        if r.protocol.hash != hash || (r.dataset.checksum != checksum && r.status == Status::Ok) {
            warnings.push(format!(
                "{}: made under another protocol or dataset; left out",
                r.cell_id
            ));
            continue;
        }
        devices.insert(r.device.clone());
        seeds.insert(r.seed);
        groups
            .entry((r.method.clone(), r.budget_label.clone()))
            .or_default()
            .push(r);
    }
    let mut cells: Vec<Aggregate> = groups
        .into_iter()
        .map(|((method, budget), rs)| {
            let ok: Vec<&&Record> = rs
                .iter()
                .filter(|r| r.status == Status::Ok && r.accuracy().is_some())
                .collect();
            let by_seed: BTreeMap<u64, f64> =
                ok.iter().map(|r| (r.seed, r.accuracy().unwrap())).collect();
            let accs: Vec<f64> = by_seed.values().copied().collect();
            let mean_of = |v: Vec<f64>| {
                if v.is_empty() {
                    None
                } else {
                    Some(v.iter().sum::<f64>() / v.len() as f64)
                }
            };
            Aggregate {
                family: rs[0].family.clone(),
                summary: stats::summarize(&accs).ok(),
                failed: rs.len() - ok.len(),
                mean_total_bytes: mean_of(
                    ok.iter()
                        .filter_map(|r| r.storage.as_ref().map(|s| s.total_bytes as f64))
                        .collect(),
                ),
                mean_compress_seconds: mean_of(
                    ok.iter().map(|r| r.timings.compress_seconds).collect(),
                ),
                by_seed,
                vs_random: None,
                method,
                budget,
            }
        })
        .collect();

    // Differences from random at the same budget; Holm across every comparison in the table.
    let mut idx = Vec::new();
    let mut raw = Vec::new();
    for i in 0..cells.len() {
        let c = &cells[i];
        if c.method == BASELINE || c.family == "reference" {
            continue;
        }
        let Some(base) = cells
            .iter()
            .find(|b| b.method == BASELINE && b.budget == c.budget)
        else {
            continue;
        };
        let common: Vec<u64> = c
            .by_seed
            .keys()
            .filter(|s| base.by_seed.contains_key(s))
            .copied()
            .collect();
        let paired = common.len() >= 2
            && common.len() == c.by_seed.len()
            && common.len() == base.by_seed.len();
        let (t, test) = if paired {
            let a: Vec<f64> = common.iter().map(|s| c.by_seed[s]).collect();
            let b: Vec<f64> = common.iter().map(|s| base.by_seed[s]).collect();
            (stats::paired_t_test(&a, &b), "paired")
        } else {
            let a: Vec<f64> = c.by_seed.values().copied().collect();
            let b: Vec<f64> = base.by_seed.values().copied().collect();
            (stats::welch_t_test(&a, &b), "welch")
        };
        if let Ok(t) = t {
            idx.push(i);
            raw.push(t.p_value);
            cells[i].vs_random = Some(Comparison {
                diff: t.estimate,
                ci_low: t.ci_low,
                ci_high: t.ci_high,
                p: t.p_value,
                p_holm: t.p_value,
                test,
                mark: "",
            });
        }
    }
    if let Ok(adj) = stats::holm_adjust(&raw) {
        for (k, &i) in idx.iter().enumerate() {
            if let Some(c) = cells[i].vs_random.as_mut() {
                c.p_holm = adj[k];
                c.mark = stats::significance_mark(adj[k]);
            }
        }
    }

    let mut budgets: Vec<String> = cells
        .iter()
        .filter(|c| c.family != "reference")
        .map(|c| c.budget.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    budgets.sort_by(|a, b| budget_sort_key(a).partial_cmp(&budget_sort_key(b)).unwrap());
    let mut methods: Vec<String> = cells
        .iter()
        .map(|c| c.method.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let is_ref = |m: &str| {
        cells
            .iter()
            .any(|c| c.method == m && c.family == "reference")
    };
    methods.sort_by_key(|m| (m != BASELINE, is_ref(m), m.clone()));

    // Average ranks over budgets where every competing method has a mean.
    let competitors: Vec<String> = methods.iter().filter(|m| !is_ref(m)).cloned().collect();
    let mut blocks = Vec::new();
    for b in &budgets {
        let row: Option<Vec<f64>> = competitors
            .iter()
            .map(|m| {
                cells
                    .iter()
                    .find(|c| &c.method == m && &c.budget == b)
                    .and_then(|c| c.summary.as_ref().map(|s| s.mean))
            })
            .collect();
        if let Some(row) = row {
            blocks.push(row);
        }
    }
    let mut avg_rank = BTreeMap::new();
    if competitors.len() >= 2 && !blocks.is_empty() {
        if let Ok(r) = stats::average_ranks(&blocks) {
            for (m, v) in competitors.iter().zip(r) {
                avg_rank.insert(m.clone(), v);
            }
        }
    }
    for c in &cells {
        if c.by_seed.len() + c.failed < expected_seeds {
            warnings.push(format!(
                "{} at {}: {} of {expected_seeds} seeds present",
                c.method,
                c.budget,
                c.by_seed.len()
            ));
        }
    }
    Report {
        protocol: proto,
        protocol_version: pver,
        protocol_hash: hash,
        dataset,
        dataset_checksum: checksum,
        devices: devices.into_iter().collect(),
        seeds: seeds.into_iter().collect(),
        budgets,
        methods,
        cells,
        avg_rank,
        expected_seeds,
        warnings,
    }
}

impl Report {
    pub fn cell(&self, method: &str, budget: &str) -> Option<&Aggregate> {
        self.cells
            .iter()
            .find(|c| c.method == method && c.budget == budget)
    }

    /// Text of one table entry: `mean ± std` in %, the mark, and `(n=k)` when incomplete.
    pub fn entry(&self, c: &Aggregate) -> String {
        let n = c.by_seed.len();
        let mut s = match &c.summary {
            None => {
                return if c.failed > 0 {
                    format!("failed ({}/{})", c.failed, c.failed)
                } else {
                    "—".into()
                }
            }
            Some(sm) => match sm.std {
                Some(sd) => format!("{:.2} ± {:.2}", sm.mean * 100.0, sd * 100.0),
                None => format!("{:.2}", sm.mean * 100.0),
            },
        };
        if let Some(v) = &c.vs_random {
            s.push_str(v.mark);
        }
        if n < self.expected_seeds || c.failed > 0 {
            s.push_str(&format!(
                " (n={n}{})",
                if c.failed > 0 {
                    format!(", {} failed", c.failed)
                } else {
                    String::new()
                }
            ));
        }
        s
    }

    pub fn caption(&self) -> String {
        let tests: BTreeSet<&str> = self
            .cells
            .iter()
            .filter_map(|c| c.vs_random.as_ref().map(|v| v.test))
            .collect();
        let test = match (tests.contains("paired"), tests.contains("welch")) {
            (true, true) => "paired t-test on per-seed differences where seeds pair the runs, Welch's t-test otherwise",
            (true, false) => "paired t-test on per-seed differences (seeds pair the runs)",
            (false, true) => "Welch's t-test",
            _ => "no comparison possible",
        };
        format!(
            "Protocol {} v{} (hash {}), dataset {} (checksum {}), device {}, seeds {}.\n\
             Top-1 test accuracy (%) at the last epoch, mean ± std over seeds. Marks: difference from {BASELINE} at the same budget, \
             {test}, Holm-adjusted across the table: * p<.05, ** p<.01, *** p<.001.",
            self.protocol,
            self.protocol_version,
            &self.protocol_hash[..12.min(self.protocol_hash.len())],
            self.dataset,
            &self.dataset_checksum[..12.min(self.dataset_checksum.len())],
            self.devices.join(", "),
            match (self.seeds.first(), self.seeds.last()) {
                (Some(a), Some(b)) if a != b => format!("{a}–{b} (n={})", self.seeds.len()),
                (Some(a), _) => format!("{a} (n=1)"),
                _ => "none".into(),
            },
        )
    }

    /// The terminal table (no colour, fixed width when `width` is set).
    pub fn terminal(&self, width: Option<u16>) -> String {
        let mut t = Table::new();
        t.load_preset(UTF8_FULL_CONDENSED);
        t.force_no_tty();
        if let Some(w) = width {
            t.set_width(w);
        }
        let mut header = vec![TCell::new("method"), TCell::new("family")];
        header.extend(self.budgets.iter().map(|b| TCell::new(budget_header(b))));
        header.push(TCell::new("avg rank"));
        t.set_header(header);
        for m in &self.methods {
            let any = self.cells.iter().find(|c| &c.method == m).unwrap();
            let mut row = vec![TCell::new(m), TCell::new(&any.family)];
            if any.family == "reference" {
                let txt = self.entry(any);
                for _ in &self.budgets {
                    row.push(TCell::new(&txt).set_alignment(CellAlignment::Right));
                }
                row.push(TCell::new("reference"));
            } else {
                for b in &self.budgets {
                    let txt = self
                        .cell(m, b)
                        .map(|c| self.entry(c))
                        .unwrap_or_else(|| "—".into());
                    row.push(TCell::new(txt).set_alignment(CellAlignment::Right));
                }
                row.push(TCell::new(
                    self.avg_rank
                        .get(m)
                        .map(|r| format!("{r:.2}"))
                        .unwrap_or_else(|| "—".into()),
                ));
            }
            t.add_row(row);
        }
        let mut s = t.to_string();
        s.push('\n');
        s.push_str(&self.caption());
        for w in &self.warnings {
            s.push_str(&format!("\nwarning: {w}"));
        }
        s
    }
}
