//! Aggregation of cell records into a [`Report`]: per (method, budget) summaries with 95 %
//! t-intervals, differences from the `random` baseline (paired or Welch t-test,
//! Holm-adjusted across the table), per-budget and average ranks, the Friedman /
//! Iman–Davenport test with the Nemenyi critical difference, DD-Ranking IOR / HLR / LRS and
//! the accuracy-vs-storage Pareto frontier.
//!
//! Every statistic comes from `distillery_stats`; nothing is computed by hand here except
//! arithmetic means of bookkeeping quantities (bytes, seconds).

use crate::protocol::Loaded;
use crate::record::{Record, Status};
use distillery_stats as stats;
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// The baseline every method is compared with.
pub const BASELINE: &str = "random";
/// The reference line (whole train split) that HLR / LRS are measured against.
pub const REFERENCE: &str = "full";
/// Significance level of the Nemenyi critical difference.
pub const NEMENYI_ALPHA: f64 = 0.05;

/// Difference of a cell from another (method − random in a report; B − A in a comparison).
#[derive(Clone, Debug, Serialize)]
pub struct Comparison {
    /// Difference of means, in accuracy fractions.
    pub diff: f64,
    /// 95 % t-interval of the difference.
    pub ci_low: f64,
    pub ci_high: f64,
    /// Two-sided p-value of the test, unadjusted.
    pub p: f64,
    /// Holm-adjusted p-value (across every comparison of the table).
    pub p_holm: f64,
    /// "paired" (seeds pair the runs) or "welch".
    pub test: &'static str,
    /// `*`, `**`, `***` from `p_holm`, or empty.
    pub mark: &'static str,
}

/// A [`Comparison`] as read from JSON, before its labels become the fixed `&'static str`s.
#[derive(Deserialize)]
struct ComparisonText {
    diff: f64,
    ci_low: f64,
    ci_high: f64,
    p: f64,
    p_holm: f64,
    test: String,
    mark: String,
}

// By hand: serde's derive would ask `'de: 'static` for the `&'static str` fields.
impl<'de> Deserialize<'de> for Comparison {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let c = ComparisonText::deserialize(d)?;
        let fixed = |s: &str| {
            ["paired", "welch", "", "*", "**", "***"]
                .into_iter()
                .find(|l| *l == s)
                .ok_or_else(|| serde::de::Error::custom(format!("unknown test or mark `{s}`")))
        };
        Ok(Comparison {
            diff: c.diff,
            ci_low: c.ci_low,
            ci_high: c.ci_high,
            p: c.p,
            p_holm: c.p_holm,
            test: fixed(&c.test)?,
            mark: fixed(&c.mark)?,
        })
    }
}

/// `null` (how JSON writes a non-finite float) reads back as `f64::INFINITY`.
fn null_as_infinity<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::INFINITY))
}

/// One (method, budget) entry of the table.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Aggregate {
    pub method: String,
    pub family: String,
    pub budget: String,
    /// Accuracies (fractions) by seed, finished cells only.
    pub by_seed: BTreeMap<u64, f64>,
    /// Finished seeds (`by_seed.len()`).
    pub n: usize,
    /// Cells whose record says `failed`.
    pub failed: usize,
    /// Seeds of the failed cells, with the first line of their error.
    pub failures: Vec<(u64, String)>,
    /// Expected seeds with no record at all (neither finished nor failed).
    pub missing: usize,
    /// Mean, sample std and 95 % t-interval (`ci_low`, `ci_high`) over `by_seed`.
    pub summary: Option<stats::Summary>,
    pub vs_random: Option<Comparison>,
    /// Rank of the mean among the competing methods at this budget (1 = best, ties averaged).
    pub rank: Option<f64>,
    /// DD-Ranking improvement over random, mean − mean(random) at this budget (fractions).
    pub ior: Option<f64>,
    /// DD-Ranking hard-label recovery, mean(full) − mean (fractions); needs a `full` row.
    pub hlr: Option<f64>,
    /// DD-Ranking label-robust score N(½·IOR − ½·HLR) in [0, 1]; needs `full` and `random`.
    pub lrs: Option<f64>,
    /// Mean of `storage.total_bytes` (images + labels) over finished cells.
    pub mean_total_bytes: Option<f64>,
    pub mean_compress_seconds: Option<f64>,
    /// On the accuracy-vs-total-bytes Pareto frontier of the whole table.
    pub pareto: bool,
}

impl Aggregate {
    pub fn is_reference(&self) -> bool {
        self.family == "reference"
    }
    pub fn mean(&self) -> Option<f64> {
        self.summary.as_ref().map(|s| s.mean)
    }
}

/// Friedman test (tie-corrected χ²_F) with the Iman–Davenport F over budget blocks, and the
/// Nemenyi critical difference at α = 0.05.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RankTest {
    /// Methods compared (columns), in table order.
    pub methods: Vec<String>,
    /// Budgets used as blocks (those where every method has a mean).
    pub blocks: Vec<String>,
    pub k: usize,
    pub n_blocks: usize,
    pub avg_ranks: Vec<f64>,
    pub chi2: f64,
    pub chi2_df: f64,
    pub chi2_p: f64,
    /// Iman–Davenport F_F; `f64::INFINITY` when every block ranks the methods alike (JSON
    /// writes it as `null`, and reading `null` gives infinity back).
    #[serde(deserialize_with = "null_as_infinity")]
    pub f_stat: f64,
    pub f_df1: f64,
    pub f_df2: f64,
    pub f_p: f64,
    /// Nemenyi CD at α = 0.05 (`None` unless 2 <= k <= 10).
    pub nemenyi_cd: Option<f64>,
}

/// One member of the accuracy-vs-storage Pareto frontier.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ParetoMember {
    pub method: String,
    pub budget: String,
    pub mean_accuracy: f64,
    pub mean_total_bytes: f64,
}

/// Label gain (acc_soft − acc_hard, fractions) of one (method, budget): this report's
/// accuracy (a soft- or native-label protocol) minus the same method's accuracy under the
/// hard-label protocol on the same dataset, on the means over the seeds each side has
/// (`distillery_stats::label_gain`), with the number of seeds both sides share.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LabelGain {
    pub method: String,
    pub budget: String,
    pub gain: f64,
    pub acc_labels: f64,
    pub acc_hard: f64,
    pub n_labels: usize,
    pub n_hard: usize,
}

/// Pairs this report's cells with the finished hard-label cells of the same dataset
/// (`hard`: one row per cell, as `bench compare` reads them).
pub fn label_gains(rep: &Report, hard: &[super::compare::CellRow]) -> Vec<LabelGain> {
    let mut out = Vec::new();
    for c in &rep.cells {
        let accs: Vec<f64> = hard
            .iter()
            .filter(|h| h.method == c.method && h.budget == c.budget)
            .filter_map(|h| h.accuracy)
            .collect();
        let Some(a) = c.summary.as_ref().map(|x| x.mean) else {
            continue;
        };
        if accs.is_empty() {
            continue;
        }
        let b = accs.iter().sum::<f64>() / accs.len() as f64;
        if let Ok(gain) = distillery_stats::label_gain(a, b) {
            out.push(LabelGain {
                method: c.method.clone(),
                budget: c.budget.clone(),
                gain,
                acc_labels: a,
                acc_hard: b,
                n_labels: c.n,
                n_hard: accs.len(),
            });
        }
    }
    out
}

/// The teacher(s) the records' labels came from, for captions.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TeacherSummary {
    pub key: String,
    pub model: String,
    pub val_acc: f64,
    pub test_acc: f64,
    pub parameter_bytes: u64,
}

/// Facts about the run that come from the protocol text in `plan.json`, for captions.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Setup {
    pub protocol_origin: String,
    pub description: String,
    pub source: String,
    /// e.g. `convnet (width 32, depth 3)`.
    pub student: String,
    pub labels: String,
    pub epochs: usize,
    pub reference_epochs: usize,
    pub augment: String,
}

/// A whole table: what the records say, plus the caption facts.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Report {
    pub protocol: String,
    pub protocol_version: String,
    pub protocol_hash: String,
    pub dataset: String,
    pub dataset_checksum: String,
    /// From the protocol text in `plan.json`, when available.
    pub setup: Option<Setup>,
    pub devices: Vec<String>,
    pub seeds: Vec<u64>,
    pub budgets: Vec<String>,
    pub methods: Vec<String>,
    pub cells: Vec<Aggregate>,
    /// Average rank per method over the budgets where every competing method has a mean
    /// (1 = best; reference lines excluded).
    pub avg_rank: BTreeMap<String, f64>,
    pub rank_test: Option<RankTest>,
    /// Why `rank_test` is absent, when it is.
    pub rank_test_note: Option<String>,
    /// Pareto frontier of mean accuracy vs mean total bytes, over every cell with storage
    /// (references included), sorted by bytes.
    pub pareto: Vec<ParetoMember>,
    /// See [`LabelGain`]: filled when a hard-label report of the same dataset is found for a
    /// soft- or native-label report; `None` otherwise.
    pub label_gain: Option<Vec<LabelGain>>,
    /// Where the hard-label side of the label gain came from.
    pub label_gain_source: Option<String>,
    /// Teachers recorded in the cells (soft- and native-label protocols).
    pub teachers: Vec<TeacherSummary>,
    pub expected_seeds: usize,
    pub warnings: Vec<String>,
}

pub(crate) fn budget_sort_key(label: &str) -> (u8, f64) {
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

/// Column header of a budget label: `ipc10` → `IPC 10`, `frac0.1` → `10%`, `bytes4096` → `4096 B`.
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

fn mean_of(v: &[f64]) -> Option<f64> {
    if v.is_empty() {
        None
    } else {
        Some(v.iter().sum::<f64>() / v.len() as f64)
    }
}

/// Builds the report from records (all of one protocol and dataset; others are warned about
/// and left out). `expected_seeds` is the number of seeds every cell should have.
pub fn build(records: &[Record], expected_seeds: usize) -> Report {
    let mut warnings = Vec::new();
    let mut teachers: Vec<TeacherSummary> = Vec::new();
    for t in records.iter().filter_map(|r| r.teacher.as_ref()) {
        if !teachers.iter().any(|x| x.key == t.key) {
            teachers.push(TeacherSummary {
                key: t.key.clone(),
                model: t.model.clone(),
                val_acc: t.val_acc,
                test_acc: t.test_acc,
                parameter_bytes: t.parameter_bytes,
            });
        }
    }
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
            // One record per seed; a later finished record wins over a failed one.
            let mut per_seed: BTreeMap<u64, &Record> = BTreeMap::new();
            for r in &rs {
                let keep = match per_seed.get(&r.seed) {
                    None => true,
                    Some(old) => old.status != Status::Ok && r.status == Status::Ok,
                };
                if keep {
                    per_seed.insert(r.seed, r);
                }
            }
            let ok: Vec<&Record> = per_seed
                .values()
                .copied()
                .filter(|r| r.status == Status::Ok && r.accuracy().is_some())
                .collect();
            let failures: Vec<(u64, String)> = per_seed
                .values()
                .filter(|r| !(r.status == Status::Ok && r.accuracy().is_some()))
                .map(|r| {
                    (
                        r.seed,
                        r.error
                            .as_deref()
                            .unwrap_or("no accuracy recorded")
                            .lines()
                            .next()
                            .unwrap_or("")
                            .to_string(),
                    )
                })
                .collect();
            let by_seed: BTreeMap<u64, f64> =
                ok.iter().map(|r| (r.seed, r.accuracy().unwrap())).collect();
            let accs: Vec<f64> = by_seed.values().copied().collect();
            let n = by_seed.len();
            let failed = failures.len();
            Aggregate {
                family: rs[0].family.clone(),
                summary: stats::summarize(&accs).ok(),
                n,
                failed,
                failures,
                missing: expected_seeds.saturating_sub(n + failed),
                mean_total_bytes: mean_of(
                    &ok.iter()
                        .filter_map(|r| r.storage.as_ref().map(|s| s.total_bytes as f64))
                        .collect::<Vec<_>>(),
                ),
                mean_compress_seconds: mean_of(
                    &ok.iter()
                        .map(|r| r.timings.compress_seconds)
                        .collect::<Vec<_>>(),
                ),
                by_seed,
                vs_random: None,
                rank: None,
                ior: None,
                hlr: None,
                lrs: None,
                pareto: false,
                method,
                budget,
            }
        })
        .collect();

    compare_with_baseline(&mut cells);
    dd_ranking(&mut cells, &mut warnings);

    let mut budgets: Vec<String> = cells
        .iter()
        .filter(|c| !c.is_reference())
        .map(|c| c.budget.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    budgets.sort_by(|a, b| budget_sort_key(a).partial_cmp(&budget_sort_key(b)).unwrap());
    let is_ref = |m: &str| cells.iter().any(|c| c.method == m && c.is_reference());
    let mut methods: Vec<String> = cells
        .iter()
        .map(|c| c.method.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    methods.sort_by_key(|m| (m != BASELINE, is_ref(m), m.clone()));
    let competitors: Vec<String> = methods.iter().filter(|m| !is_ref(m)).cloned().collect();

    // Rank within each budget among the competitors that have a mean there.
    for b in &budgets {
        let idx: Vec<usize> = (0..cells.len())
            .filter(|&i| {
                &cells[i].budget == b && !cells[i].is_reference() && cells[i].summary.is_some()
            })
            .collect();
        if idx.len() >= 2 {
            let means: Vec<f64> = idx.iter().map(|&i| cells[i].mean().unwrap()).collect();
            if let Ok(r) = stats::rank_block(&means) {
                for (&i, v) in idx.iter().zip(r) {
                    cells[i].rank = Some(v);
                }
            }
        }
    }

    // Average ranks and the Friedman test over budgets where every competitor has a mean.
    let mut blocks = Vec::new();
    let mut block_names = Vec::new();
    for b in &budgets {
        let row: Option<Vec<f64>> = competitors
            .iter()
            .map(|m| {
                cells
                    .iter()
                    .find(|c| &c.method == m && &c.budget == b)
                    .and_then(|c| c.mean())
            })
            .collect();
        if let Some(row) = row {
            blocks.push(row);
            block_names.push(b.clone());
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
    let k = competitors.len();
    let (rank_test, rank_test_note) = if k < 2 {
        (
            None,
            Some(format!(
                "Friedman test not computed: {k} competing method(s), needs at least 2"
            )),
        )
    } else if blocks.len() < 2 {
        (
            None,
            Some(format!(
                "Friedman test not computed: {} budget(s) where all {k} methods finished, needs at least 2",
                blocks.len()
            )),
        )
    } else {
        match stats::friedman(&blocks) {
            Ok(f) => (
                Some(RankTest {
                    methods: competitors.clone(),
                    blocks: block_names,
                    k: f.k,
                    n_blocks: f.n_blocks,
                    avg_ranks: f.avg_ranks.clone(),
                    chi2: f.chi2,
                    chi2_df: f.chi2_df,
                    chi2_p: f.chi2_p,
                    f_stat: f.f_stat,
                    f_df1: f.f_df1,
                    f_df2: f.f_df2,
                    f_p: f.f_p,
                    nemenyi_cd: stats::nemenyi_cd(f.k, f.n_blocks).ok(),
                }),
                None,
            ),
            Err(e) => (None, Some(format!("Friedman test not computed: {e}"))),
        }
    };

    // Table order: methods as listed (random, competitors, references), budgets ascending.
    cells.sort_by(|a, b| {
        let ma = methods.iter().position(|m| m == &a.method);
        let mb = methods.iter().position(|m| m == &b.method);
        (ma, budget_sort_key(&a.budget))
            .partial_cmp(&(mb, budget_sort_key(&b.budget)))
            .unwrap()
    });
    let pareto = pareto(&mut cells, &mut warnings);

    for c in &cells {
        if c.n < expected_seeds {
            warnings.push(format!(
                "{} at {}: {} of {expected_seeds} seeds finished{}{}",
                c.method,
                c.budget,
                c.n,
                if c.failed > 0 {
                    format!(", {} failed", c.failed)
                } else {
                    String::new()
                },
                if c.missing > 0 {
                    format!(", {} missing", c.missing)
                } else {
                    String::new()
                }
            ));
        }
        // One line per distinct error, naming the seeds that hit it.
        let mut by_err: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for (seed, err) in &c.failures {
            by_err
                .entry(err.as_str())
                .or_default()
                .push(seed.to_string());
        }
        for (err, seeds) in by_err {
            warnings.push(format!(
                "{} at {} failed (seed{} {}): {err}",
                c.method,
                c.budget,
                if seeds.len() > 1 { "s" } else { "" },
                seeds.join(", ")
            ));
        }
    }
    Report {
        protocol: proto,
        protocol_version: pver,
        protocol_hash: hash,
        dataset,
        dataset_checksum: checksum,
        setup: None,
        devices: devices.into_iter().collect(),
        seeds: seeds.into_iter().collect(),
        budgets,
        methods,
        cells,
        avg_rank,
        rank_test,
        rank_test_note,
        pareto,
        label_gain: None,
        label_gain_source: None,
        teachers,
        expected_seeds,
        warnings,
    }
}

/// Differences from random at the same budget; Holm across every comparison in the table.
fn compare_with_baseline(cells: &mut [Aggregate]) {
    let mut idx = Vec::new();
    let mut raw = Vec::new();
    for i in 0..cells.len() {
        let c = &cells[i];
        if c.method == BASELINE || c.is_reference() {
            continue;
        }
        let Some(base) = cells
            .iter()
            .find(|b| b.method == BASELINE && b.budget == c.budget)
        else {
            continue;
        };
        if let Some(t) = test_difference(&c.by_seed, &base.by_seed) {
            idx.push(i);
            raw.push(t.p);
            cells[i].vs_random = Some(t);
        }
    }
    apply_holm(cells.iter_mut().filter_map(|c| c.vs_random.as_mut()), &raw);
}

/// `a − b` with its 95 % interval: the paired t-test when both have the same (>= 2) seeds,
/// Welch's t-test otherwise. `None` when neither is possible (fewer than 2 values a side).
pub(crate) fn test_difference(
    a: &BTreeMap<u64, f64>,
    b: &BTreeMap<u64, f64>,
) -> Option<Comparison> {
    let paired = a.len() >= 2 && a.keys().eq(b.keys());
    let (t, test) = if paired {
        let x: Vec<f64> = a.values().copied().collect();
        let y: Vec<f64> = b.values().copied().collect();
        (stats::paired_t_test(&x, &y), "paired")
    } else {
        let x: Vec<f64> = a.values().copied().collect();
        let y: Vec<f64> = b.values().copied().collect();
        (stats::welch_t_test(&x, &y), "welch")
    };
    t.ok().map(|t| Comparison {
        diff: t.estimate,
        ci_low: t.ci_low,
        ci_high: t.ci_high,
        p: t.p_value,
        p_holm: t.p_value,
        test,
        mark: "",
    })
}

/// Holm-adjusts `raw` (the p-values of `comps`, in order) and sets the marks.
pub(crate) fn apply_holm<'a>(comps: impl Iterator<Item = &'a mut Comparison>, raw: &[f64]) {
    if let Ok(adj) = stats::holm_adjust(raw) {
        for (c, p) in comps.zip(adj) {
            c.p_holm = p;
            c.mark = stats::significance_mark(p);
        }
    }
}

/// DD-Ranking scores on fractions: IOR against random at the same budget; HLR and LRS
/// against the `full` reference row, when there is one.
fn dd_ranking(cells: &mut [Aggregate], warnings: &mut Vec<String>) {
    let full = cells
        .iter()
        .find(|c| c.method == REFERENCE && c.is_reference())
        .and_then(|c| c.mean());
    let random: BTreeMap<String, f64> = cells
        .iter()
        .filter(|c| c.method == BASELINE)
        .filter_map(|c| c.mean().map(|m| (c.budget.clone(), m)))
        .collect();
    for c in cells.iter_mut().filter(|c| !c.is_reference()) {
        let Some(acc) = c.mean() else { continue };
        let rnd = random.get(&c.budget).copied();
        let mut note = |e: stats::StatsError| {
            warnings.push(format!(
                "{} at {}: DD-Ranking score: {e}",
                c.method, c.budget
            ))
        };
        if let Some(r) = rnd {
            match stats::ior(acc, r) {
                Ok(v) => c.ior = Some(v),
                Err(e) => note(e),
            }
        }
        if let Some(f) = full {
            match stats::hlr(f, acc) {
                Ok(v) => c.hlr = Some(v),
                Err(e) => note(e),
            }
            if let Some(r) = rnd {
                // Hard-label protocol: the method's own evaluation *is* the hard-label one.
                let inputs = stats::LrsInputs {
                    acc_full_hard: f,
                    acc_syn_hard: acc,
                    acc_syn: acc,
                    acc_random: r,
                };
                match stats::lrs(&inputs, stats::DEFAULT_W) {
                    Ok(s) => c.lrs = Some(s.lrs),
                    Err(e) => note(e),
                }
            }
        }
    }
}

fn pareto(cells: &mut [Aggregate], warnings: &mut Vec<String>) -> Vec<ParetoMember> {
    let points: Vec<stats::ParetoPoint<usize>> = cells
        .iter()
        .enumerate()
        .filter_map(|(i, c)| {
            Some(stats::ParetoPoint {
                id: i,
                accuracy: c.mean()?,
                total_bytes: c.mean_total_bytes?.round() as u64,
            })
        })
        .collect();
    match stats::pareto_frontier(&points) {
        Ok(ids) => ids
            .into_iter()
            .map(|i| {
                cells[i].pareto = true;
                ParetoMember {
                    method: cells[i].method.clone(),
                    budget: cells[i].budget.clone(),
                    mean_accuracy: cells[i].mean().unwrap(),
                    mean_total_bytes: cells[i].mean_total_bytes.unwrap(),
                }
            })
            .collect(),
        Err(e) => {
            warnings.push(format!("Pareto frontier not computed: {e}"));
            Vec::new()
        }
    }
}

impl Report {
    pub fn cell(&self, method: &str, budget: &str) -> Option<&Aggregate> {
        self.cells
            .iter()
            .find(|c| c.method == method && c.budget == budget)
    }

    /// The reference row of a method (reference methods have one cell, budget `full`).
    pub fn reference_cell(&self, method: &str) -> Option<&Aggregate> {
        self.cells
            .iter()
            .find(|c| c.method == method && c.is_reference())
    }

    pub fn is_reference_method(&self, method: &str) -> bool {
        self.reference_cell(method).is_some()
    }

    /// Whether the number of finished seeds differs between cells or from the expected count.
    pub fn n_varies(&self) -> bool {
        self.cells.iter().any(|c| c.n != self.expected_seeds)
    }

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
                if l.hash != self.protocol_hash && !self.protocol_hash.is_empty() {
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
