//! Percentile bootstrap interval for the mean (secondary to the t-interval
//! of [`crate::summary`]; useful as a distribution-free cross-check).
//!
//! Resampling uses a built-in SplitMix64 generator so results are
//! reproducible from the seed alone, on every platform, without a `rand`
//! dependency.

use serde::{Deserialize, Serialize};

use crate::summary::mean;
use crate::util::{check_conf, check_finite};
use crate::{Result, StatsError};

/// Percentile bootstrap interval for the mean.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BootstrapInterval {
    /// Sample mean of the original data.
    pub mean: f64,
    /// `(1 − conf)/2` percentile of the bootstrap means.
    pub ci_low: f64,
    /// `(1 + conf)/2` percentile of the bootstrap means.
    pub ci_high: f64,
    /// Confidence level.
    pub conf: f64,
    /// Number of bootstrap resamples.
    pub n_resamples: usize,
    /// Seed of the SplitMix64 generator.
    pub seed: u64,
}

/// SplitMix64 (Steele, Lea & Flood 2014), the seeding generator of
/// xoshiro/xoroshiro.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Index in `0..n` by Lemire's multiply-shift (bias < n / 2^64).
    fn index(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }
}

/// `q`-quantile (`q` in [0, 1]) of `xs` with linear interpolation between
/// order statistics: with `xs` sorted and `h = (n − 1) q`, the result is
/// `x[⌊h⌋] + (h − ⌊h⌋)(x[⌊h⌋+1] − x[⌊h⌋])`. This is NumPy's default
/// (`numpy.quantile(xs, q)`, method `"linear"`). `xs` need not be sorted.
///
/// # Errors
/// [`StatsError::TooFewObservations`] if `xs` is empty,
/// [`StatsError::NonFinite`], [`StatsError::InvalidParameter`] unless
/// `0 <= q <= 1`.
pub fn percentile(xs: &[f64], q: f64) -> Result<f64> {
    if xs.is_empty() {
        return Err(StatsError::TooFewObservations {
            what: "percentile",
            need: 1,
            got: 0,
        });
    }
    check_finite("percentile", xs)?;
    if !(0.0..=1.0).contains(&q) {
        return Err(StatsError::InvalidParameter(format!(
            "quantile must be in [0, 1], got {q}"
        )));
    }
    let mut sorted = xs.to_vec();
    sorted.sort_by(f64::total_cmp);
    Ok(quantile_sorted(&sorted, q))
}

fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

/// Percentile bootstrap `conf` interval for the mean of `xs`: draws
/// `n_resamples` resamples of size `n` with replacement (SplitMix64 seeded
/// with `seed`), and returns the `(1 − conf)/2` and `(1 + conf)/2` quantiles
/// (see [`percentile`]) of the resample means. 10 000 resamples is a sensible
/// default. With very few observations the interval is too narrow; prefer
/// the t-interval of [`crate::summarize`] for the published tables.
///
/// # Errors
/// [`StatsError::TooFewObservations`] if `xs` is empty,
/// [`StatsError::NonFinite`], [`StatsError::InvalidConfidence`],
/// [`StatsError::InvalidParameter`] if `n_resamples == 0`.
pub fn bootstrap_mean_ci(
    xs: &[f64],
    conf: f64,
    n_resamples: usize,
    seed: u64,
) -> Result<BootstrapInterval> {
    check_conf(conf)?;
    let m = mean(xs)?;
    if n_resamples == 0 {
        return Err(StatsError::InvalidParameter(
            "bootstrap needs at least one resample".into(),
        ));
    }
    let n = xs.len();
    let mut rng = SplitMix64(seed);
    let mut means: Vec<f64> = (0..n_resamples)
        .map(|_| (0..n).map(|_| xs[rng.index(n)]).sum::<f64>() / n as f64)
        .collect();
    means.sort_by(f64::total_cmp);
    Ok(BootstrapInterval {
        mean: m,
        ci_low: quantile_sorted(&means, (1.0 - conf) / 2.0),
        ci_high: quantile_sorted(&means, (1.0 + conf) / 2.0),
        conf,
        n_resamples,
        seed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// First five outputs of SplitMix64 seeded with 1234567, as published on
    /// Rosetta Code, "Pseudo-random numbers/Splitmix64" (reference algorithm:
    /// Vigna, https://prng.di.unimi.it/splitmix64.c).
    #[test]
    fn splitmix64_reference_vector() {
        let mut rng = SplitMix64(1_234_567);
        let got: Vec<u64> = (0..5).map(|_| rng.next_u64()).collect();
        assert_eq!(
            got,
            vec![
                6_457_827_717_110_365_317,
                3_203_168_211_198_807_973,
                9_817_491_932_198_370_423,
                4_593_380_528_125_082_431,
                16_408_922_859_458_223_821,
            ]
        );
    }

    /// numpy.quantile([3, 1, 4, 1, 5, 9, 2, 6], q) for q = 0, 0.25, 0.5, 0.9, 1
    /// -> 1.0, 1.75, 3.5, 6.9, 9.0 (NumPy 2, default method="linear").
    #[test]
    fn percentile_matches_numpy_linear() {
        let xs = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0];
        for (q, want) in [(0.0, 1.0), (0.25, 1.75), (0.5, 3.5), (0.9, 6.9), (1.0, 9.0)] {
            let got = percentile(&xs, q).unwrap();
            assert!((got - want).abs() < 1e-12, "q={q}: {got} vs {want}");
        }
        assert!(matches!(
            percentile(&xs, 1.5),
            Err(StatsError::InvalidParameter(_))
        ));
    }

    /// For xs = [0, 1] the bootstrap mean takes 0, 0.5, 1 with probabilities
    /// 1/4, 1/2, 1/4 (by hand), so with 4000 resamples the 2.5 % and 97.5 %
    /// quantiles are exactly 0 and 1; a constant sample gives a zero-width
    /// interval.
    #[test]
    fn bootstrap_known_distribution() {
        let b = bootstrap_mean_ci(&[0.0, 1.0], 0.95, 4000, 7).unwrap();
        assert_eq!((b.mean, b.ci_low, b.ci_high), (0.5, 0.0, 1.0));
        // 50 % interval: quartiles of {0 (1/4), 0.5 (1/2), 1 (1/4)} are 0.5 and 0.5
        // up to sampling noise in where the 25 % / 75 % cut falls.
        let b50 = bootstrap_mean_ci(&[0.0, 1.0], 0.5, 4000, 7).unwrap();
        assert!(b50.ci_low >= 0.0 && b50.ci_low <= 0.5);
        assert!(b50.ci_high >= 0.5 && b50.ci_high <= 1.0);
        let c = bootstrap_mean_ci(&[0.7; 5], 0.95, 100, 1).unwrap();
        assert_eq!((c.ci_low, c.ci_high), (0.7, 0.7));
    }

    /// Reproducible from the seed; the interval for a skewed sample brackets
    /// the mean and is narrower than the data range.
    #[test]
    fn bootstrap_is_seeded_and_sane() {
        let xs = [0.61, 0.64, 0.58, 0.70, 0.66, 0.59, 0.63, 0.90];
        let a = bootstrap_mean_ci(&xs, 0.95, 2000, 42).unwrap();
        let b = bootstrap_mean_ci(&xs, 0.95, 2000, 42).unwrap();
        assert_eq!(a, b);
        assert!((a.mean - 0.66375).abs() < 1e-12);
        assert!(a.ci_low < a.mean && a.mean < a.ci_high);
        assert!(a.ci_low > 0.58 && a.ci_high < 0.90);
        assert!(bootstrap_mean_ci(&xs, 0.95, 0, 1).is_err());
        assert!(bootstrap_mean_ci(&[], 0.95, 10, 1).is_err());
    }
}
