//! Aggregation of cell records into a [`Report`]: per (method, budget) summaries with 95 %
//! t-intervals, differences from the `random` baseline (paired or Welch t-test,
//! Holm-adjusted across the table), per-budget and average ranks, the Friedman /
//! Iman–Davenport test with the Nemenyi critical difference, DD-Ranking IOR / HLR / LRS and
//! the accuracy-vs-storage Pareto frontier.
//!
//! Every statistic comes from `distillery_stats`; nothing is computed by hand here except
//! arithmetic means of bookkeeping quantities (bytes, seconds).

use super::fmt::budget_sort_key;
use super::model::{
    Aggregate, BelowChance, CellRow, Comparison, LabelGain, ParetoMember, RankTest, Report,
    TeacherSummary, BASELINE, REFERENCE,
};
use crate::record::{Record, Status};
use distillery_stats as stats;
use std::collections::{BTreeMap, BTreeSet};

/// Pairs this report's cells with the finished hard-label cells of the same dataset
/// (`hard`: one row per cell, as `bench compare` reads them).
pub fn label_gains(rep: &Report, hard: &[CellRow]) -> Vec<LabelGain> {
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
    // Classes and test size (for the chance level): from a record that loaded the data.
    let (classes, n_test) = records
        .iter()
        .find(|r| r.dataset.classes > 0 && r.dataset.checksum == checksum)
        .map(|r| (r.dataset.classes, r.dataset.test))
        .unwrap_or((0, 0));
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
            let diverged: Vec<(u64, usize)> = ok
                .iter()
                .filter_map(|r| {
                    let e = r.evaluation.as_ref()?.diverged_at_epoch?;
                    Some((r.seed, e))
                })
                .collect();
            let summary = stats::summarize(&accs).ok();
            let below_chance = summary
                .as_ref()
                .and_then(|s| below_chance(s, n, classes, n_test, &ok));
            Aggregate {
                family: rs[0].family.clone(),
                summary,
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
                diverged,
                below_chance,
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
        classes,
    }
}

/// [`BelowChance`] when `s` (the summary of `n` finished seeds' top-1) is clearly below
/// `1 / classes` by the rule documented there; `ok` are the finished records (their confusion
/// matrices, when present, give the most predicted class per true class). `None` when it is
/// not, or when the class count or test size is unknown (0).
pub(crate) fn below_chance(
    s: &stats::Summary,
    n: usize,
    classes: usize,
    n_test: usize,
    ok: &[&Record],
) -> Option<BelowChance> {
    if classes < 2 || n_test == 0 || n == 0 {
        return None;
    }
    let chance = 1.0 / classes as f64;
    let seed_var = s.std.map_or(0.0, |sd| sd * sd / n as f64);
    let binomial_var = chance * (1.0 - chance) / (n as f64 * n_test as f64);
    let upper = s.mean + 2.0 * seed_var.max(binomial_var).sqrt();
    if upper >= chance {
        return None;
    }
    let mut sum = vec![vec![0u64; classes]; classes];
    let mut any = false;
    for m in ok
        .iter()
        .filter_map(|r| r.evaluation.as_ref()?.confusion.as_ref())
    {
        if m.len() != classes || m.iter().any(|row| row.len() != classes) {
            continue;
        }
        any = true;
        for (t, row) in m.iter().enumerate() {
            for (p, v) in row.iter().enumerate() {
                sum[t][p] += v;
            }
        }
    }
    let (most_predicted, per_class_top1) = if any {
        (
            sum.iter()
                .map(|row| {
                    // The first of the largest counts (lowest class index on ties).
                    let max = *row.iter().max().unwrap_or(&0);
                    row.iter().position(|&v| v == max).unwrap_or(0)
                })
                .collect(),
            crate::record::Evaluation::per_class_from_confusion(&sum),
        )
    } else {
        (Vec::new(), Vec::new())
    };
    Some(BelowChance {
        chance,
        upper,
        most_predicted,
        per_class_top1,
    })
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
