//! Per-cell summaries: mean, sample standard deviation, standard error and a
//! two-sided Student-t confidence interval for the mean.

use serde::{Deserialize, Serialize};

use crate::util::{check_conf, check_finite, sample_variance, t_critical};
use crate::{Result, StatsError};

/// Default confidence level for intervals (95 %).
pub const DEFAULT_CONF: f64 = 0.95;

/// Summary of a sample of `n` observations (e.g. one method's accuracy over
/// `n` seeds).
///
/// The interval is `mean ± t_{n-1, (1+conf)/2} · sem`, the classical
/// two-sided Student-t interval for the mean.
///
/// Fields that need at least two observations (`std`, `sem`, `ci_low`,
/// `ci_high`) are `None` when `n == 1`; they are never NaN. A sample with zero
/// spread (`n >= 2`, all values equal) has `std = sem = 0` and a zero-width
/// interval `[mean, mean]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Number of observations (>= 1).
    pub n: usize,
    /// Arithmetic mean.
    pub mean: f64,
    /// Sample standard deviation (denominator `n - 1`); `None` when `n == 1`.
    pub std: Option<f64>,
    /// Standard error of the mean, `std / sqrt(n)`; `None` when `n == 1`.
    pub sem: Option<f64>,
    /// Lower bound of the `conf` t-interval; `None` when `n == 1`.
    pub ci_low: Option<f64>,
    /// Upper bound of the `conf` t-interval; `None` when `n == 1`.
    pub ci_high: Option<f64>,
    /// Confidence level of the interval, in (0, 1).
    pub conf: f64,
}

impl Summary {
    /// Half-width of the confidence interval (`ci_high - mean`), if defined.
    pub fn half_width(&self) -> Option<f64> {
        self.ci_high.map(|h| h - self.mean)
    }
}

/// Arithmetic mean of `xs`.
///
/// # Errors
/// [`StatsError::TooFewObservations`] if `xs` is empty,
/// [`StatsError::NonFinite`] if any value is NaN or infinite.
pub fn mean(xs: &[f64]) -> Result<f64> {
    if xs.is_empty() {
        return Err(StatsError::TooFewObservations {
            what: "mean",
            need: 1,
            got: 0,
        });
    }
    check_finite("mean", xs)?;
    Ok(xs.iter().sum::<f64>() / xs.len() as f64)
}

/// Sample standard deviation of `xs` (denominator `n - 1`, i.e. NumPy's
/// `ddof=1`). Exactly `0.0` when all values are equal.
///
/// # Errors
/// [`StatsError::TooFewObservations`] if `xs.len() < 2`,
/// [`StatsError::NonFinite`] if any value is NaN or infinite.
pub fn sample_std(xs: &[f64]) -> Result<f64> {
    if xs.len() < 2 {
        return Err(StatsError::TooFewObservations {
            what: "sample standard deviation",
            need: 2,
            got: xs.len(),
        });
    }
    let m = mean(xs)?;
    Ok(sample_variance(xs, m).sqrt())
}

/// Summarises `xs` with a 95 % t-interval. See [`summarize_with_conf`].
///
/// # Errors
/// As [`summarize_with_conf`].
pub fn summarize(xs: &[f64]) -> Result<Summary> {
    summarize_with_conf(xs, DEFAULT_CONF)
}

/// Summarises `xs` with a two-sided `conf` Student-t interval for the mean
/// (`n - 1` degrees of freedom; the critical value comes from
/// `statrs::distribution::StudentsT::inverse_cdf`).
///
/// # Errors
/// [`StatsError::TooFewObservations`] if `xs` is empty,
/// [`StatsError::NonFinite`] for NaN/infinite values,
/// [`StatsError::InvalidConfidence`] unless `0 < conf < 1`.
pub fn summarize_with_conf(xs: &[f64], conf: f64) -> Result<Summary> {
    check_conf(conf)?;
    let m = mean(xs)?;
    let n = xs.len();
    if n == 1 {
        return Ok(Summary {
            n,
            mean: m,
            std: None,
            sem: None,
            ci_low: None,
            ci_high: None,
            conf,
        });
    }
    let std = sample_variance(xs, m).sqrt();
    let sem = std / (n as f64).sqrt();
    let half = if sem == 0.0 {
        0.0
    } else {
        t_critical(n as f64 - 1.0, conf) * sem
    };
    Ok(Summary {
        n,
        mean: m,
        std: Some(std),
        sem: Some(sem),
        ci_low: Some(m - half),
        ci_high: Some(m + half),
        conf,
    })
}
