//! DD-Ranking-style scores for dataset distillation (Li et al. 2025,
//! "DD-Ranking: Rethinking the Evaluation of Dataset Distillation").
//!
//! **All accuracies are fractions in `[0, 1]`.** The scores pass accuracy
//! differences through `exp`, so feeding percentages (e.g. `45.2` instead of
//! `0.452`) silently produces meaningless numbers — a documented mistake of
//! existing harnesses. Every function here rejects an accuracy greater than 1
//! with [`StatsError::PercentageNotFraction`].
//!
//! Definitions (`N(x) = (e^x − e^{−1}) / (e − e^{−1})` maps `[−1, 1]` onto
//! `[0, 1]`, see [`normalise_exp`]):
//! * `HLR = acc_full_hard − acc_syn_hard` (hard-label recovery: the gap to
//!   training on the full data set with hard labels);
//! * `IOR = acc_syn − acc_random` (improvement over a random subset of the
//!   same size evaluated with the same setup);
//! * `α = w · IOR − (1 − w) · HLR`, `LRS = N(α)` (label-robust score), `w = 0.5`
//!   by default;
//! * `β = γ (acc_syn_aug − acc_rand_aug) + (1 − γ)(acc_syn_noaug − acc_rand_noaug)`,
//!   `ARS = N(β)` (augmentation-robust score), `γ = 0.5` by default;
//! * label gain `= acc_soft − acc_hard`.

use serde::{Deserialize, Serialize};

use crate::{Result, StatsError};

/// Default weight `w` of IOR against HLR in [`lrs`].
pub const DEFAULT_W: f64 = 0.5;
/// Default weight `γ` of the with-augmentation gap in [`ars`].
pub const DEFAULT_GAMMA: f64 = 0.5;

/// Accepts a fraction in [0, 1]; rejects percentages with a dedicated error.
fn fraction(name: &'static str, value: f64) -> Result<f64> {
    if value > 1.0 && value.is_finite() {
        Err(StatsError::PercentageNotFraction { name, value })
    } else if (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(StatsError::OutOfUnitInterval { name, value })
    }
}

/// `N(x) = (e^x − e^{−1}) / (e − e^{−1})`: maps `x = −1` to 0, `x = 0` to
/// `(1 − e^{−1}) / (e − e^{−1}) ≈ 0.2689` and `x = 1` to 1.
pub fn normalise_exp(x: f64) -> f64 {
    let e = std::f64::consts::E;
    (x.exp() - (-1.0f64).exp()) / (e - (-1.0f64).exp())
}

/// Hard-label recovery `HLR = acc_full_hard − acc_syn_hard` (fractions).
///
/// # Errors
/// [`StatsError::PercentageNotFraction`] for an accuracy > 1,
/// [`StatsError::OutOfUnitInterval`] for a negative or NaN accuracy.
pub fn hlr(acc_full_hard: f64, acc_syn_hard: f64) -> Result<f64> {
    Ok(fraction("acc_full_hard", acc_full_hard)? - fraction("acc_syn_hard", acc_syn_hard)?)
}

/// Improvement over random `IOR = acc_syn − acc_random` (fractions, both
/// evaluated with the same setup).
///
/// # Errors
/// As [`hlr`].
pub fn ior(acc_syn: f64, acc_random: f64) -> Result<f64> {
    Ok(fraction("acc_syn", acc_syn)? - fraction("acc_random", acc_random)?)
}

/// Label gain `acc_soft − acc_hard` (fractions): what soft labels add over
/// hard labels on the same synthetic set.
///
/// # Errors
/// As [`hlr`].
pub fn label_gain(acc_soft: f64, acc_hard: f64) -> Result<f64> {
    Ok(fraction("acc_soft", acc_soft)? - fraction("acc_hard", acc_hard)?)
}

/// Inputs of the label-robust score (all fractions in [0, 1]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LrsInputs {
    /// Accuracy of training on the full data set with hard labels.
    pub acc_full_hard: f64,
    /// Accuracy of training on the synthetic set with hard labels.
    pub acc_syn_hard: f64,
    /// Accuracy of the synthetic set under the method's own evaluation setup.
    pub acc_syn: f64,
    /// Accuracy of a same-size random subset under that same setup.
    pub acc_random: f64,
}

/// Label-robust score and its parts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LrsScore {
    /// `acc_full_hard − acc_syn_hard`.
    pub hlr: f64,
    /// `acc_syn − acc_random`.
    pub ior: f64,
    /// `w · IOR − (1 − w) · HLR`, in [−1, 1].
    pub alpha: f64,
    /// `N(alpha)`, in [0, 1].
    pub lrs: f64,
    /// The weight `w` used.
    pub w: f64,
}

/// Label-robust score `LRS = N(w · IOR − (1 − w) · HLR)` (see module docs).
/// Use [`DEFAULT_W`] (0.5) unless a study says otherwise.
///
/// # Errors
/// [`StatsError::PercentageNotFraction`] for an accuracy > 1,
/// [`StatsError::OutOfUnitInterval`] for a negative/NaN accuracy or a `w`
/// outside [0, 1].
pub fn lrs(inputs: &LrsInputs, w: f64) -> Result<LrsScore> {
    if !(0.0..=1.0).contains(&w) {
        return Err(StatsError::OutOfUnitInterval {
            name: "w",
            value: w,
        });
    }
    let hlr = hlr(inputs.acc_full_hard, inputs.acc_syn_hard)?;
    let ior = ior(inputs.acc_syn, inputs.acc_random)?;
    let alpha = w * ior - (1.0 - w) * hlr;
    Ok(LrsScore {
        hlr,
        ior,
        alpha,
        lrs: normalise_exp(alpha),
        w,
    })
}

/// Inputs of the augmentation-robust score (all fractions in [0, 1]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ArsInputs {
    /// Synthetic set, evaluated with augmentation.
    pub acc_syn_aug: f64,
    /// Same-size random subset, evaluated with augmentation.
    pub acc_rand_aug: f64,
    /// Synthetic set, evaluated without augmentation.
    pub acc_syn_noaug: f64,
    /// Same-size random subset, evaluated without augmentation.
    pub acc_rand_noaug: f64,
}

/// Augmentation-robust score and its exponent.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ArsScore {
    /// `γ (acc_syn_aug − acc_rand_aug) + (1 − γ)(acc_syn_noaug − acc_rand_noaug)`.
    pub beta: f64,
    /// `N(beta)`, in [0, 1].
    pub ars: f64,
    /// The weight `γ` used.
    pub gamma: f64,
}

/// Augmentation-robust score `ARS = N(β)` (see module docs). Use
/// [`DEFAULT_GAMMA`] (0.5) unless a study says otherwise.
///
/// # Errors
/// As [`lrs`] (with `gamma` in place of `w`).
pub fn ars(inputs: &ArsInputs, gamma: f64) -> Result<ArsScore> {
    if !(0.0..=1.0).contains(&gamma) {
        return Err(StatsError::OutOfUnitInterval {
            name: "gamma",
            value: gamma,
        });
    }
    let aug = fraction("acc_syn_aug", inputs.acc_syn_aug)?
        - fraction("acc_rand_aug", inputs.acc_rand_aug)?;
    let noaug = fraction("acc_syn_noaug", inputs.acc_syn_noaug)?
        - fraction("acc_rand_noaug", inputs.acc_rand_noaug)?;
    let beta = gamma * aug + (1.0 - gamma) * noaug;
    Ok(ArsScore {
        beta,
        ars: normalise_exp(beta),
        gamma,
    })
}
