//! Internal helpers shared by the modules.

use statrs::distribution::{ContinuousCDF, StudentsT};

use crate::{Result, StatsError};

/// Fails on the first NaN or infinite value of `xs`.
pub(crate) fn check_finite(what: &'static str, xs: &[f64]) -> Result<()> {
    match xs.iter().position(|x| !x.is_finite()) {
        Some(index) => Err(StatsError::NonFinite {
            what,
            index,
            value: xs[index],
        }),
        None => Ok(()),
    }
}

/// Fails unless `conf` lies in the open interval (0, 1).
pub(crate) fn check_conf(conf: f64) -> Result<()> {
    if conf > 0.0 && conf < 1.0 {
        Ok(())
    } else {
        Err(StatsError::InvalidConfidence(conf))
    }
}

/// Two-pass sample variance (denominator `n - 1`). Returns exactly `0.0`
/// when all values are equal, so that constant samples are detected
/// deterministically regardless of rounding in the mean. Requires `n >= 2`.
pub(crate) fn sample_variance(xs: &[f64], mean: f64) -> f64 {
    debug_assert!(xs.len() >= 2);
    if xs.iter().all(|&x| x == xs[0]) {
        return 0.0;
    }
    let ss: f64 = xs.iter().map(|&x| (x - mean) * (x - mean)).sum();
    ss / (xs.len() as f64 - 1.0)
}

/// Upper `(1 + conf) / 2` quantile of Student's t with `df` degrees of
/// freedom, i.e. the half-width multiplier of a two-sided `conf` interval.
pub(crate) fn t_critical(df: f64, conf: f64) -> f64 {
    // df > 0 and finite is guaranteed by every caller; location 0, scale 1 are valid.
    let dist = StudentsT::new(0.0, 1.0, df).expect("t distribution with df > 0");
    dist.inverse_cdf(0.5 + conf / 2.0)
}

/// Two-sided p-value `P(|T| >= |t|)` for Student's t with `df` degrees of
/// freedom, computed directly from the regularised incomplete beta function
/// `I_{df/(df+t^2)}(df/2, 1/2)` so that small p-values keep full relative
/// precision. `t = ±inf` gives 0, `t = 0` gives 1.
pub(crate) fn t_two_sided_p(t: f64, df: f64) -> f64 {
    if t.is_infinite() {
        return 0.0;
    }
    if t == 0.0 {
        return 1.0;
    }
    let x = df / (df + t * t);
    statrs::function::beta::beta_reg(df / 2.0, 0.5, x).clamp(0.0, 1.0)
}
