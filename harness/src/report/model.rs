//! The data the report layer passes around: a [`Report`] (one table) and its parts, a
//! [`CompareReport`] (`bench compare`), and the [`CellRow`] facts a comparison reads per
//! cell. Plain data with serde derives plus lookups; no rendering, no statistics. A leaf:
//! it imports nothing from `report/`.

use crate::record::{Record, Status};
use distillery_stats as stats;
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;

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
    #[serde(serialize_with = "crate::record::float::serialize")]
    pub diff: f64,
    /// 95 % t-interval of the difference.
    #[serde(serialize_with = "crate::record::float::serialize")]
    pub ci_low: f64,
    #[serde(serialize_with = "crate::record::float::serialize")]
    pub ci_high: f64,
    /// Two-sided p-value of the test, unadjusted.
    #[serde(serialize_with = "crate::record::float::serialize")]
    pub p: f64,
    /// Holm-adjusted p-value (across every comparison of the table).
    #[serde(serialize_with = "crate::record::float::serialize")]
    pub p_holm: f64,
    /// "paired" (seeds pair the runs) or "welch".
    pub test: &'static str,
    /// `*`, `**`, `***` from `p_holm`, or empty.
    pub mark: &'static str,
}

/// A [`Comparison`] as read from JSON, before its labels become the fixed `&'static str`s.
#[derive(Deserialize)]
struct ComparisonText {
    #[serde(deserialize_with = "crate::record::float::deserialize")]
    diff: f64,
    #[serde(deserialize_with = "crate::record::float::deserialize")]
    ci_low: f64,
    #[serde(deserialize_with = "crate::record::float::deserialize")]
    ci_high: f64,
    #[serde(deserialize_with = "crate::record::float::deserialize")]
    p: f64,
    #[serde(deserialize_with = "crate::record::float::deserialize")]
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
    #[serde(default, with = "crate::record::float::opt")]
    pub rank: Option<f64>,
    /// DD-Ranking improvement over random, mean − mean(random) at this budget (fractions).
    #[serde(default, with = "crate::record::float::opt")]
    pub ior: Option<f64>,
    /// DD-Ranking hard-label recovery, mean(full) − mean (fractions); needs a `full` row.
    #[serde(default, with = "crate::record::float::opt")]
    pub hlr: Option<f64>,
    /// DD-Ranking label-robust score N(½·IOR − ½·HLR) in [0, 1]; needs `full` and `random`.
    #[serde(default, with = "crate::record::float::opt")]
    pub lrs: Option<f64>,
    /// Mean of `storage.total_bytes` (images + labels) over finished cells.
    #[serde(default, with = "crate::record::float::opt")]
    pub mean_total_bytes: Option<f64>,
    #[serde(default, with = "crate::record::float::opt")]
    pub mean_compress_seconds: Option<f64>,
    /// On the accuracy-vs-total-bytes Pareto frontier of the whole table.
    pub pareto: bool,
    /// Finished seeds whose student's training diverged (non-finite training loss), with the
    /// 1-based epoch it diverged at (record field `evaluation.diverged_at_epoch`). Their
    /// accuracy (that of the diverged network) is in `by_seed` like any other; the tables
    /// mark the entry `(diverged)` and say which seeds under the table. Absent when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub diverged: Vec<(u64, usize)>,
    /// Set when the mean top-1 is clearly below chance (see [`BelowChance`]). Absent
    /// otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub below_chance: Option<BelowChance>,
}

/// A (method, budget) whose mean top-1 is clearly below chance: `mean + 2·se < chance`, with
/// `chance = 1 / classes` and `se = sqrt(max(s² / n, chance·(1 − chance) / (n · n_test)))`,
/// `s` the sample std over the `n` finished seeds (0 with one seed) and `n_test` the test
/// images per seed. The second term is the binomial standard error of a chance-level
/// classifier, a floor so that one seed or identical seeds are not flagged by rounding. A
/// student that is *below* chance predicts wrong classes systematically: worth a look at the
/// confusion matrices in the records (`evaluation.confusion`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct BelowChance {
    /// `1 / classes`, a fraction.
    #[serde(with = "crate::record::float")]
    pub chance: f64,
    /// `mean + 2·se`, a fraction (below `chance`).
    #[serde(with = "crate::record::float")]
    pub upper: f64,
    /// The most frequent top-1 prediction per true class, summed over the seeds' confusion
    /// matrices (index = true class); empty when the records carry no confusion matrix.
    pub most_predicted: Vec<usize>,
    /// Top-1 per true class from the summed confusion matrices (fractions; index = class).
    #[serde(default, with = "crate::record::float::vec")]
    pub per_class_top1: Vec<f64>,
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
    #[serde(with = "crate::record::float")]
    pub chi2: f64,
    #[serde(with = "crate::record::float")]
    pub chi2_df: f64,
    #[serde(with = "crate::record::float")]
    pub chi2_p: f64,
    /// Iman–Davenport F_F; `f64::INFINITY` when every block ranks the methods alike (JSON
    /// writes it as `null`, and reading `null` gives infinity back).
    #[serde(deserialize_with = "null_as_infinity")]
    pub f_stat: f64,
    #[serde(with = "crate::record::float")]
    pub f_df1: f64,
    #[serde(with = "crate::record::float")]
    pub f_df2: f64,
    #[serde(with = "crate::record::float")]
    pub f_p: f64,
    /// Nemenyi CD at α = 0.05 (`None` unless 2 <= k <= 10).
    #[serde(default, with = "crate::record::float::opt")]
    pub nemenyi_cd: Option<f64>,
}

/// One member of the accuracy-vs-storage Pareto frontier.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ParetoMember {
    pub method: String,
    pub budget: String,
    #[serde(with = "crate::record::float")]
    pub mean_accuracy: f64,
    #[serde(with = "crate::record::float")]
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
    #[serde(with = "crate::record::float")]
    pub gain: f64,
    #[serde(with = "crate::record::float")]
    pub acc_labels: f64,
    #[serde(with = "crate::record::float")]
    pub acc_hard: f64,
    pub n_labels: usize,
    pub n_hard: usize,
}

/// The teacher(s) the records' labels came from, for captions.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TeacherSummary {
    pub key: String,
    pub model: String,
    #[serde(with = "crate::record::float")]
    pub val_acc: f64,
    #[serde(with = "crate::record::float")]
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
    /// Number of classes of the dataset (from the records; 0 when none says). Absent in
    /// reports written before it existed (and not written when 0, so that those re-render
    /// byte-identical).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub classes: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
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

    /// Cells in table order: methods as in `methods`, budgets as in `budgets`, reference last.
    pub fn ordered_cells(&self) -> Vec<&Aggregate> {
        let mut out = Vec::new();
        for m in &self.methods {
            if let Some(r) = self.reference_cell(m) {
                out.push(r);
                continue;
            }
            for b in &self.budgets {
                if let Some(c) = self.cell(m, b) {
                    out.push(c);
                }
            }
            // Budgets outside `budgets` (none today), kept rather than dropped.
            for c in self.cells.iter().filter(|c| &c.method == m) {
                if !self.budgets.contains(&c.budget) {
                    out.push(c);
                }
            }
        }
        out
    }
}

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

/// One (method, budget) present on both sides of a comparison.
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

/// `bench compare A B`: B − A per (method, budget), Holm-adjusted across the rows.
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

#[cfg(test)]
mod tests {
    use super::*;

    /// No float of report.json becomes unreadable (issue 21, item 1): a non-finite value is
    /// written as a string and read back, where serde_json alone would write `null` and then
    /// refuse it.
    #[test]
    fn non_finite_report_floats_round_trip() {
        let g = LabelGain {
            method: "m".into(),
            budget: "ipc1".into(),
            gain: f64::NAN,
            acc_labels: f64::INFINITY,
            acc_hard: 0.5,
            n_labels: 1,
            n_hard: 1,
        };
        let text = serde_json::to_string(&g).unwrap();
        assert!(
            text.contains("\"gain\":\"NaN\",\"acc_labels\":\"inf\",\"acc_hard\":0.5"),
            "{text}"
        );
        let back: LabelGain = serde_json::from_str(&text).unwrap();
        assert!(back.gain.is_nan() && back.acc_labels == f64::INFINITY);
        let c = Comparison {
            diff: f64::NAN,
            ci_low: f64::NEG_INFINITY,
            ci_high: f64::INFINITY,
            p: f64::NAN,
            p_holm: 1.0,
            test: "paired",
            mark: "",
        };
        let back: Comparison = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert!(back.diff.is_nan() && back.p.is_nan());
        assert_eq!(
            (back.ci_low, back.ci_high),
            (f64::NEG_INFINITY, f64::INFINITY)
        );
        let b = BelowChance {
            chance: 0.1,
            upper: 0.05,
            most_predicted: vec![1, 0],
            per_class_top1: vec![0.0, f64::NAN],
        };
        let back: BelowChance = serde_json::from_str(&serde_json::to_string(&b).unwrap()).unwrap();
        assert!(back.per_class_top1[1].is_nan());
    }
}
