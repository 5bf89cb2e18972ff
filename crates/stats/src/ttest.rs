//! Student-t hypothesis tests with confidence intervals for the effect:
//! Welch's unequal-variance two-sample test, the paired test and the
//! one-sample test.
//!
//! All p-values are two-sided. Zero-variance inputs are resolved
//! deterministically instead of producing NaN (see [`TTest`]).

use serde::{Deserialize, Serialize};

use crate::summary::{mean, DEFAULT_CONF};
use crate::util::{check_conf, check_finite, sample_variance, t_critical, t_two_sided_p};
use crate::{Result, StatsError};

/// Result of a t-test together with a confidence interval for the tested
/// difference.
///
/// `estimate` is the quantity under test: `mean(a) - mean(b)` for
/// [`welch_t_test`], `mean(a - b)` for [`paired_t_test`] and `mean(x) - mu`
/// for [`one_sample_t_test`]. `ci_low`/`ci_high` is the two-sided `conf`
/// t-interval for it with `df` degrees of freedom.
///
/// # Zero standard error
/// When the standard error is exactly zero (every sample involved is
/// constant) the test is degenerate and `zero_variance` is `true`:
/// * equal means (e.g. identical constant samples): `statistic = 0`,
///   `p_value = 1`;
/// * different means: `statistic = ±inf` (sign of `estimate`), `p_value = 0`;
/// * the interval is `[estimate, estimate]` (zero width).
///
/// No field is ever NaN. (SciPy returns NaN in these cases.)
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TTest {
    /// t statistic.
    pub statistic: f64,
    /// Degrees of freedom (Welch–Satterthwaite for the Welch test, so
    /// generally fractional).
    pub df: f64,
    /// Two-sided p-value.
    pub p_value: f64,
    /// Estimated difference (see the type docs).
    pub estimate: f64,
    /// Standard error of `estimate`.
    pub std_err: f64,
    /// Lower bound of the `conf` interval for `estimate`.
    pub ci_low: f64,
    /// Upper bound of the `conf` interval for `estimate`.
    pub ci_high: f64,
    /// Confidence level of the interval.
    pub conf: f64,
    /// `true` when the standard error was exactly zero (see type docs).
    pub zero_variance: bool,
}

/// Builds a [`TTest`] from an estimate, its standard error and df.
fn finish(estimate: f64, std_err: f64, df: f64, conf: f64) -> TTest {
    if std_err == 0.0 {
        let (statistic, p_value) = if estimate == 0.0 {
            (0.0, 1.0)
        } else {
            (f64::INFINITY.copysign(estimate), 0.0)
        };
        return TTest {
            statistic,
            df,
            p_value,
            estimate,
            std_err,
            ci_low: estimate,
            ci_high: estimate,
            conf,
            zero_variance: true,
        };
    }
    let statistic = estimate / std_err;
    let half = t_critical(df, conf) * std_err;
    TTest {
        statistic,
        df,
        p_value: t_two_sided_p(statistic, df),
        estimate,
        std_err,
        ci_low: estimate - half,
        ci_high: estimate + half,
        conf,
        zero_variance: false,
    }
}

fn need_two(what: &'static str, xs: &[f64]) -> Result<()> {
    if xs.len() < 2 {
        return Err(StatsError::TooFewObservations {
            what,
            need: 2,
            got: xs.len(),
        });
    }
    check_finite(what, xs)
}

/// Welch's two-sample t-test (unequal variances) with a 95 % interval for
/// `mean(a) - mean(b)`. See [`welch_t_test_with_conf`].
///
/// # Errors
/// As [`welch_t_test_with_conf`].
pub fn welch_t_test(a: &[f64], b: &[f64]) -> Result<TTest> {
    welch_t_test_with_conf(a, b, DEFAULT_CONF)
}

/// Welch's two-sample t-test of `H0: mean(a) = mean(b)` (equivalent to
/// `scipy.stats.ttest_ind(a, b, equal_var=False)`).
///
/// With `v_a = s_a^2 / n_a`, `v_b = s_b^2 / n_b`:
/// `t = (mean(a) - mean(b)) / sqrt(v_a + v_b)` and the Welch–Satterthwaite
/// degrees of freedom `df = (v_a + v_b)^2 / (v_a^2/(n_a-1) + v_b^2/(n_b-1))`.
/// The interval is `(mean(a) - mean(b)) ± t_{df,(1+conf)/2} · sqrt(v_a + v_b)`.
///
/// If both samples are constant the Welch–Satterthwaite df is 0/0; `df` is
/// then reported as `n_a + n_b - 2` and the result follows the zero-variance
/// rules of [`TTest`].
///
/// # Errors
/// [`StatsError::TooFewObservations`] if either sample has fewer than 2
/// values, [`StatsError::NonFinite`], [`StatsError::InvalidConfidence`].
pub fn welch_t_test_with_conf(a: &[f64], b: &[f64], conf: f64) -> Result<TTest> {
    check_conf(conf)?;
    need_two("Welch t-test sample a", a)?;
    need_two("Welch t-test sample b", b)?;
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let (ma, mb) = (mean(a)?, mean(b)?);
    let va = sample_variance(a, ma) / na;
    let vb = sample_variance(b, mb) / nb;
    let se2 = va + vb;
    let df = if se2 == 0.0 {
        na + nb - 2.0
    } else {
        se2 * se2 / (va * va / (na - 1.0) + vb * vb / (nb - 1.0))
    };
    Ok(finish(ma - mb, se2.sqrt(), df, conf))
}

/// Paired t-test with a 95 % interval for `mean(a - b)`. See
/// [`paired_t_test_with_conf`].
///
/// # Errors
/// As [`paired_t_test_with_conf`].
pub fn paired_t_test(a: &[f64], b: &[f64]) -> Result<TTest> {
    paired_t_test_with_conf(a, b, DEFAULT_CONF)
}

/// Paired t-test of `H0: mean(a_i - b_i) = 0` (equivalent to
/// `scipy.stats.ttest_rel(a, b)`): a one-sample t-test on the per-pair
/// differences `d_i = a_i - b_i` with `n - 1` degrees of freedom. Use it when
/// `a[i]` and `b[i]` share a seed / data split.
///
/// If all differences are equal the result follows the zero-variance rules of
/// [`TTest`] (all differences 0 → p = 1; a constant non-zero shift → p = 0).
///
/// # Errors
/// [`StatsError::LengthMismatch`] if `a.len() != b.len()`,
/// [`StatsError::TooFewObservations`] for fewer than 2 pairs,
/// [`StatsError::NonFinite`], [`StatsError::InvalidConfidence`].
pub fn paired_t_test_with_conf(a: &[f64], b: &[f64], conf: f64) -> Result<TTest> {
    if a.len() != b.len() {
        return Err(StatsError::LengthMismatch {
            what: "paired t-test",
            left: a.len(),
            right: b.len(),
        });
    }
    check_finite("paired t-test sample a", a)?;
    check_finite("paired t-test sample b", b)?;
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    one_sample_t_test_with_conf(&d, 0.0, conf)
}

/// One-sample t-test of `H0: mean(x) = mu` with a 95 % interval for
/// `mean(x) - mu`. See [`one_sample_t_test_with_conf`].
///
/// # Errors
/// As [`one_sample_t_test_with_conf`].
pub fn one_sample_t_test(xs: &[f64], mu: f64) -> Result<TTest> {
    one_sample_t_test_with_conf(xs, mu, DEFAULT_CONF)
}

/// One-sample t-test of `H0: mean(x) = mu` (equivalent to
/// `scipy.stats.ttest_1samp(x, mu)`), `n - 1` degrees of freedom. The
/// interval is for `mean(x) - mu`; a constant sample follows the
/// zero-variance rules of [`TTest`].
///
/// # Errors
/// [`StatsError::TooFewObservations`] for fewer than 2 values,
/// [`StatsError::NonFinite`] (also for a non-finite `mu`),
/// [`StatsError::InvalidConfidence`].
pub fn one_sample_t_test_with_conf(xs: &[f64], mu: f64, conf: f64) -> Result<TTest> {
    check_conf(conf)?;
    need_two("one-sample t-test", xs)?;
    check_finite("one-sample t-test mu", &[mu])?;
    let n = xs.len() as f64;
    let m = mean(xs)?;
    let se = (sample_variance(xs, m) / n).sqrt();
    Ok(finish(m - mu, se, n - 1.0, conf))
}
