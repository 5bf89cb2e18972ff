//! Rank-based comparison of `k` methods over `N` blocks (data sets, IPC
//! settings, …), following Demšar (2006), "Statistical Comparisons of
//! Classifiers over Multiple Data Sets", JMLR 7:1–30.
//!
//! Scores are given as a `N x k` matrix (one row per block, one column per
//! method) where **higher is better**; rank 1 is the best method in a block
//! and tied scores share the mean of the ranks they span.

use serde::{Deserialize, Serialize};
use statrs::distribution::{ChiSquared, ContinuousCDF, FisherSnedecor};
use statrs::function::factorial::ln_factorial;

use crate::util::check_finite;
use crate::{Result, StatsError};

/// Two-tailed Nemenyi critical values `q_0.05` for `k = 2..=10` methods
/// (Demšar 2006, Table 5(a); studentized range statistic divided by √2).
/// `NEMENYI_Q05[k - 2]` is the value for `k` methods.
pub const NEMENYI_Q05: [f64; 9] = [
    1.960, 2.343, 2.569, 2.728, 2.850, 2.949, 3.031, 3.102, 3.164,
];

/// Ranks of one block's scores, higher score = better = smaller rank
/// (rank 1 is the best). Tied scores get the mean of the ranks they occupy,
/// e.g. `[0.9, 0.7, 0.9]` → `[1.5, 3.0, 1.5]`.
///
/// # Errors
/// [`StatsError::NonFinite`] if a score is NaN or infinite.
pub fn rank_block(scores: &[f64]) -> Result<Vec<f64>> {
    check_finite("rank_block", scores)?;
    Ok(rank_block_unchecked(scores).0)
}

/// Returns the ranks and the tie term `sum over tie groups of (t^3 - t)`.
fn rank_block_unchecked(scores: &[f64]) -> (Vec<f64>, f64) {
    let k = scores.len();
    let mut order: Vec<usize> = (0..k).collect();
    // Descending by score: best first.
    order.sort_by(|&i, &j| scores[j].total_cmp(&scores[i]));
    let mut ranks = vec![0.0; k];
    let mut ties = 0.0;
    let mut start = 0;
    while start < k {
        let mut end = start + 1;
        while end < k && scores[order[end]] == scores[order[start]] {
            end += 1;
        }
        // Positions start..end (0-based) hold ranks start+1..=end; mean rank:
        let avg = (start + 1 + end) as f64 / 2.0;
        for &idx in &order[start..end] {
            ranks[idx] = avg;
        }
        let t = (end - start) as f64;
        ties += t * t * t - t;
        start = end;
    }
    (ranks, ties)
}

/// Validates the matrix and returns `(N, k)`.
fn check_matrix<R: AsRef<[f64]>>(scores: &[R], min_blocks: usize) -> Result<(usize, usize)> {
    let n = scores.len();
    if n < min_blocks {
        return Err(StatsError::TooFewObservations {
            what: "rank comparison (blocks)",
            need: min_blocks,
            got: n,
        });
    }
    let k = scores[0].as_ref().len();
    if k < 2 {
        return Err(StatsError::TooFewObservations {
            what: "rank comparison (methods)",
            need: 2,
            got: k,
        });
    }
    for (block, row) in scores.iter().enumerate() {
        let row = row.as_ref();
        if row.len() != k {
            return Err(StatsError::RaggedMatrix {
                block,
                got: row.len(),
                expected: k,
            });
        }
        check_finite("score matrix", row)?;
    }
    Ok((n, k))
}

/// Average rank of each method over all blocks (`N x k` matrix, higher score
/// is better, rank 1 = best, ties get the mean rank).
///
/// # Errors
/// [`StatsError::TooFewObservations`] for no blocks or fewer than 2 methods,
/// [`StatsError::RaggedMatrix`], [`StatsError::NonFinite`].
pub fn average_ranks<R: AsRef<[f64]>>(scores: &[R]) -> Result<Vec<f64>> {
    let (n, k) = check_matrix(scores, 1)?;
    let mut sums = vec![0.0; k];
    for row in scores {
        let (r, _) = rank_block_unchecked(row.as_ref());
        for (s, x) in sums.iter_mut().zip(r) {
            *s += x;
        }
    }
    Ok(sums.into_iter().map(|s| s / n as f64).collect())
}

/// Friedman test and Iman–Davenport correction for `k` methods over `N`
/// blocks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FriedmanResult {
    /// Number of blocks `N`.
    pub n_blocks: usize,
    /// Number of methods `k`.
    pub k: usize,
    /// Average rank of each method (rank 1 = best), in column order.
    pub avg_ranks: Vec<f64>,
    /// Tie-corrected Friedman statistic χ²_F (the one all p-values use).
    pub chi2: f64,
    /// Friedman statistic without the tie correction, `C · chi2`, as in
    /// Demšar (2006) and Friedman (1937); equal to `chi2` when there are no
    /// ties. Reported for reproducing published numbers only.
    pub chi2_uncorrected: f64,
    /// Degrees of freedom of χ²_F, `k - 1`.
    pub chi2_df: f64,
    /// p-value of χ²_F under χ²(k - 1).
    pub chi2_p: f64,
    /// Tie-correction divisor `C = 1 - Σ(t³ - t) / (N k (k² - 1))` (1 when
    /// there are no ties).
    pub tie_correction: f64,
    /// Iman–Davenport statistic `F_F = (N - 1) χ²_F / (N (k - 1) - χ²_F)`.
    pub f_stat: f64,
    /// Numerator degrees of freedom of `F_F`, `k - 1`.
    pub f_df1: f64,
    /// Denominator degrees of freedom of `F_F`, `(k - 1)(N - 1)`.
    pub f_df2: f64,
    /// p-value of `F_F` under F(k - 1, (k - 1)(N - 1)).
    pub f_p: f64,
}

/// Friedman rank test of "all `k` methods perform equally" over `N` blocks,
/// with the Iman–Davenport F correction (Demšar 2006, §3.2.2).
///
/// `scores` is `N x k`, higher is better. The statistic is the
/// **tie-corrected** Friedman statistic, identical to
/// `scipy.stats.friedmanchisquare` (which additionally requires `k >= 3`):
///
/// `χ²_F = [12 / (N k (k+1)) · Σ_j R_j² − 3 N (k+1)] / C`, where `R_j` is the
/// rank sum of method `j` and `C = 1 − Σ_blocks Σ_ties (t³ − t) / (N k (k² − 1))`.
/// Without ties `C = 1` and this is Demšar's formula
/// `12N/(k(k+1)) [Σ_j r̄_j² − k(k+1)²/4]`. Its p-value uses χ²(k − 1).
///
/// `F_F = (N − 1) χ²_F / (N (k − 1) − χ²_F)` with p from
/// F(k − 1, (k − 1)(N − 1)).
///
/// Degenerate cases (never NaN):
/// * every block fully tied (`C = 0`): no evidence of any difference,
///   `chi2 = 0`, `chi2_p = 1`, `f_stat = 0`, `f_p = 1`;
/// * perfect agreement (every block ranks the methods identically, so
///   `χ²_F = N (k − 1)`): `f_stat = +inf` and `f_p` is the exact permutation
///   p-value `(k!)^-(N-1)` (tie groups: `Π t! / k!` per block after the first),
///   since the F approximation has no tail left to measure; `chi2_p` stays the
///   χ² approximation (SciPy's value).
///
/// # Errors
/// [`StatsError::TooFewObservations`] for fewer than 2 blocks or 2 methods,
/// [`StatsError::RaggedMatrix`], [`StatsError::NonFinite`].
pub fn friedman<R: AsRef<[f64]>>(scores: &[R]) -> Result<FriedmanResult> {
    let (n, k) = check_matrix(scores, 2)?;
    let (nf, kf) = (n as f64, k as f64);
    let mut rank_sums = vec![0.0; k];
    let mut ties = 0.0;
    for row in scores {
        let (r, t) = rank_block_unchecked(row.as_ref());
        ties += t;
        for (s, x) in rank_sums.iter_mut().zip(r) {
            *s += x;
        }
    }
    let avg_ranks: Vec<f64> = rank_sums.iter().map(|s| s / nf).collect();
    let tie_correction = 1.0 - ties / (nf * kf * (kf * kf - 1.0));
    let chi2_df = kf - 1.0;
    let f_df1 = kf - 1.0;
    let f_df2 = (kf - 1.0) * (nf - 1.0);

    // Equivalent to 12/(Nk(k+1)) ΣR² − 3N(k+1) but without cancellation.
    let centre = nf * (kf + 1.0) / 2.0;
    let ss: f64 = rank_sums.iter().map(|r| (r - centre) * (r - centre)).sum();
    let max_chi2 = nf * (kf - 1.0);

    let chi2_uncorrected = (12.0 / (nf * kf * (kf + 1.0)) * ss).min(max_chi2);
    let (chi2, chi2_p, f_stat, f_p) = if tie_correction <= 1e-12 {
        (0.0, 1.0, 0.0, 1.0)
    } else {
        let chi2 = (chi2_uncorrected / tie_correction).min(max_chi2);
        let chi2_p = ChiSquared::new(chi2_df)
            .expect("k >= 2 so df >= 1")
            .sf(chi2);
        let denom = max_chi2 - chi2;
        let (f_stat, f_p) = if denom <= 1e-12 * max_chi2 {
            (f64::INFINITY, perfect_agreement_p(scores))
        } else {
            let f = (nf - 1.0) * chi2 / denom;
            let p = FisherSnedecor::new(f_df1, f_df2)
                .expect("N >= 2 and k >= 2 so both df >= 1")
                .sf(f);
            (f, p)
        };
        (chi2, chi2_p, f_stat, f_p)
    };

    Ok(FriedmanResult {
        n_blocks: n,
        k,
        avg_ranks,
        chi2,
        chi2_uncorrected,
        chi2_df,
        chi2_p,
        tie_correction,
        f_stat,
        f_df1,
        f_df2,
        f_p,
    })
}

/// Exact permutation p-value of perfect agreement, the only configuration that reaches the
/// maximum statistic: under H0 every block orders its values uniformly at random, so blocks
/// 2..N all repeat block 1's ranking with probability `Π_{b≥2} Π_g t_{b,g}! / k!` (tie groups of
/// sizes `t`; `(k!)^-(N-1)` without ties).
fn perfect_agreement_p<R: AsRef<[f64]>>(scores: &[R]) -> f64 {
    let ln_p: f64 = scores[1..]
        .iter()
        .map(|row| {
            let mut v = row.as_ref().to_vec();
            v.sort_by(f64::total_cmp);
            let ln_ties: f64 = v
                .chunk_by(|a, b| a == b)
                .map(|g| ln_factorial(g.len() as u64))
                .sum();
            ln_ties - ln_factorial(v.len() as u64)
        })
        .sum();
    ln_p.exp()
}

/// Nemenyi critical value `q_0.05` for `k` methods (see [`NEMENYI_Q05`]).
///
/// # Errors
/// [`StatsError::UnsupportedMethodCount`] unless `2 <= k <= 10`.
pub fn nemenyi_q05(k: usize) -> Result<f64> {
    if (2..=10).contains(&k) {
        Ok(NEMENYI_Q05[k - 2])
    } else {
        Err(StatsError::UnsupportedMethodCount(k))
    }
}

/// Nemenyi critical difference at α = 0.05 (Demšar 2006, §3.2.2):
/// `CD = q_0.05 · sqrt(k (k + 1) / (6 N))`. Two methods whose average ranks
/// differ by at least `CD` perform significantly differently.
///
/// # Errors
/// [`StatsError::UnsupportedMethodCount`] unless `2 <= k <= 10`,
/// [`StatsError::TooFewObservations`] if `n_blocks == 0`.
pub fn nemenyi_cd(k: usize, n_blocks: usize) -> Result<f64> {
    let q = nemenyi_q05(k)?;
    if n_blocks == 0 {
        return Err(StatsError::TooFewObservations {
            what: "Nemenyi critical difference (blocks)",
            need: 1,
            got: 0,
        });
    }
    let (kf, nf) = (k as f64, n_blocks as f64);
    Ok(q * (kf * (kf + 1.0) / (6.0 * nf)).sqrt())
}
