//! Summaries and t-tests against SciPy 1.17.1 / NumPy reference values.
//!
//! Reference numbers were produced with `python3 -m venv`, `pip install scipy
//! numpy` (SciPy 1.17.1) on exactly the inputs below and pasted verbatim.

mod common;

use common::{assert_rel, P_TOL, STAT_TOL};
use distillery_stats::{
    one_sample_t_test, paired_t_test, sample_std, summarize, summarize_with_conf, welch_t_test,
    welch_t_test_with_conf, StatsError,
};

/// Five seeds of a hypothetical method A.
const A: [f64; 5] = [0.712, 0.698, 0.731, 0.705, 0.719];
/// Six seeds of a hypothetical method B.
const B: [f64; 6] = [0.684, 0.701, 0.676, 0.690, 0.669, 0.695];

/// m = np.mean(A); s = np.std(A, ddof=1); sem = scipy.stats.sem(A)
///   -> 0.713, 0.012747548783981974, 0.005700877125495695
/// scipy.stats.t.interval(0.95, 4, loc=m, scale=sem)
///   -> (0.6971718276095834, 0.7288281723904165)
/// scipy.stats.t.interval(0.99, 4, loc=m, scale=sem)
///   -> (0.6867526208643088, 0.7392473791356912)
#[test]
fn summary_matches_scipy_t_interval() {
    let s = summarize(&A).unwrap();
    assert_eq!(s.n, 5);
    assert_rel(s.mean, 0.713, STAT_TOL);
    assert_rel(s.std.unwrap(), 0.012747548783981974, STAT_TOL);
    assert_rel(s.sem.unwrap(), 0.005700877125495695, STAT_TOL);
    assert_rel(s.ci_low.unwrap(), 0.6971718276095834, STAT_TOL);
    assert_rel(s.ci_high.unwrap(), 0.7288281723904165, STAT_TOL);
    assert_eq!(s.conf, 0.95);
    assert_rel(s.half_width().unwrap(), 0.7288281723904165 - 0.713, 1e-7);

    let s99 = summarize_with_conf(&A, 0.99).unwrap();
    assert_rel(s99.ci_low.unwrap(), 0.6867526208643088, STAT_TOL);
    assert_rel(s99.ci_high.unwrap(), 0.7392473791356912, STAT_TOL);

    assert_rel(sample_std(&A).unwrap(), 0.012747548783981974, STAT_TOL);
}

/// Two observations: df = 1, t_{0.975,1} = 12.706...
/// scipy.stats.t.interval(0.95, 1, loc=0.55, scale=scipy.stats.sem([0.5, 0.6]))
///   -> (-0.08531023680873451, 1.1853102368087347)
#[test]
fn summary_two_observations_df1() {
    let s = summarize(&[0.5, 0.6]).unwrap();
    assert_rel(s.ci_low.unwrap(), -0.08531023680873451, STAT_TOL);
    assert_rel(s.ci_high.unwrap(), 1.1853102368087347, STAT_TOL);
}

/// n = 1: std/sem/interval are None (documented), n = 0 is an error, a
/// constant sample has a zero-width interval, bad conf / NaN are errors.
#[test]
fn summary_edge_cases() {
    let one = summarize(&[0.42]).unwrap();
    assert_eq!(one.n, 1);
    assert_eq!(one.mean, 0.42);
    assert_eq!(
        (one.std, one.sem, one.ci_low, one.ci_high),
        (None, None, None, None)
    );

    assert_eq!(
        summarize(&[]),
        Err(StatsError::TooFewObservations {
            what: "mean",
            need: 1,
            got: 0
        })
    );

    let c = summarize(&[0.1, 0.1, 0.1]).unwrap();
    assert_eq!(c.std, Some(0.0));
    assert_eq!(c.ci_low, Some(c.mean));
    assert_eq!(c.ci_high, Some(c.mean));

    assert_eq!(
        summarize_with_conf(&A, 1.0),
        Err(StatsError::InvalidConfidence(1.0))
    );
    assert!(matches!(
        summarize(&[0.1, f64::NAN]),
        Err(StatsError::NonFinite { index: 1, .. })
    ));
}

/// res = scipy.stats.ttest_ind(A, B, equal_var=False)
///   -> statistic=3.6197205638353376, pvalue=0.006248945491898256,
///      df=8.402255523563182
/// res.confidence_interval(0.95) -> (0.010002850744049958, 0.04433048258928317)
/// res.confidence_interval(0.99) -> (0.0023302852252560964, 0.05200304810807703)
#[test]
fn welch_matches_scipy_ttest_ind() {
    let t = welch_t_test(&A, &B).unwrap();
    assert_rel(t.statistic, 3.6197205638353376, STAT_TOL);
    assert_rel(t.df, 8.402255523563182, STAT_TOL);
    assert_rel(t.p_value, 0.006248945491898256, P_TOL);
    assert_rel(t.estimate, 0.713 - 0.6858333333333333, STAT_TOL);
    assert_rel(t.ci_low, 0.010002850744049958, STAT_TOL);
    assert_rel(t.ci_high, 0.04433048258928317, STAT_TOL);
    assert!(!t.zero_variance);

    let t99 = welch_t_test_with_conf(&A, &B, 0.99).unwrap();
    assert_rel(t99.ci_low, 0.0023302852252560964, STAT_TOL);
    assert_rel(t99.ci_high, 0.05200304810807703, STAT_TOL);

    // Swapping the samples flips the sign and keeps p.
    let s = welch_t_test(&B, &A).unwrap();
    assert_rel(s.statistic, -3.6197205638353376, STAT_TOL);
    assert_rel(s.p_value, 0.006248945491898256, P_TOL);
}

/// Small p-value keeps its relative precision.
/// scipy.stats.ttest_ind(C, D, equal_var=False)
///   -> statistic=19.310000160401085, pvalue=2.6460511303390867e-08,
///      df=8.47666103977391, CI95 = (2.336607402822641, 2.963392597177358)
#[test]
fn welch_small_p_value() {
    let c = [10.1, 10.3, 9.9, 10.2, 10.0, 10.4, 10.1, 9.8];
    let d = [7.2, 7.9, 7.5, 7.1, 7.6, 7.4];
    let t = welch_t_test(&c, &d).unwrap();
    assert_rel(t.statistic, 19.310000160401085, STAT_TOL);
    assert_rel(t.df, 8.47666103977391, STAT_TOL);
    assert_rel(t.p_value, 2.6460511303390867e-08, P_TOL);
    assert_rel(t.ci_low, 2.336607402822641, STAT_TOL);
    assert_rel(t.ci_high, 2.963392597177358, STAT_TOL);
}

/// One constant sample: Welch df reduces to n_other - 1.
/// scipy.stats.ttest_ind([0.5]*3, [0.4, 0.45, 0.52, 0.41], equal_var=False)
///   -> statistic=2.0195672024949447, pvalue=0.13671332579392462, df=3.0,
///      CI95 = (-0.03166933517952199, 0.14166933517952196)
#[test]
fn welch_one_constant_sample() {
    let t = welch_t_test(&[0.5, 0.5, 0.5], &[0.4, 0.45, 0.52, 0.41]).unwrap();
    assert_rel(t.statistic, 2.0195672024949447, STAT_TOL);
    assert_rel(t.df, 3.0, STAT_TOL);
    assert_rel(t.p_value, 0.13671332579392462, P_TOL);
    assert_rel(t.ci_low, -0.03166933517952199, STAT_TOL);
    assert_rel(t.ci_high, 0.14166933517952196, STAT_TOL);
}

/// Both samples constant (SciPy returns NaN here; we resolve it as
/// documented on `TTest`): identical -> t = 0, p = 1; different -> t = +inf,
/// p = 0; df = n_a + n_b - 2; zero-width interval.
#[test]
fn welch_zero_variance_is_deterministic() {
    let same = welch_t_test(&[0.5, 0.5, 0.5], &[0.5, 0.5]).unwrap();
    assert_eq!(
        (same.statistic, same.p_value, same.df, same.zero_variance),
        (0.0, 1.0, 3.0, true)
    );
    assert_eq!((same.ci_low, same.ci_high), (0.0, 0.0));

    let diff = welch_t_test(&[0.5, 0.5, 0.5], &[0.25, 0.25, 0.25]).unwrap();
    assert_eq!(diff.statistic, f64::INFINITY);
    assert_eq!(diff.p_value, 0.0);
    assert_eq!(diff.df, 4.0);
    assert_eq!((diff.ci_low, diff.ci_high), (0.25, 0.25));

    let neg = welch_t_test(&[0.25, 0.25], &[0.5, 0.5]).unwrap();
    assert_eq!((neg.statistic, neg.p_value), (f64::NEG_INFINITY, 0.0));
}

#[test]
fn welch_rejects_bad_input() {
    assert_eq!(
        welch_t_test(&[0.5], &B),
        Err(StatsError::TooFewObservations {
            what: "Welch t-test sample a",
            need: 2,
            got: 1
        })
    );
    assert!(matches!(
        welch_t_test(&A, &[0.1, f64::INFINITY]),
        Err(StatsError::NonFinite { index: 1, .. })
    ));
}

/// res = scipy.stats.ttest_rel([0.712, 0.698, 0.731, 0.705, 0.719],
///                             [0.700, 0.690, 0.722, 0.701, 0.709])
///   -> statistic=6.482493908421917, pvalue=0.002919067215363514, df=4.0
/// res.confidence_interval(0.95) -> (0.004916629334016041, 0.012283370665983973)
/// mean difference np.mean(a - b) = 0.008600000000000007
#[test]
fn paired_matches_scipy_ttest_rel() {
    let b = [0.700, 0.690, 0.722, 0.701, 0.709];
    let t = paired_t_test(&A, &b).unwrap();
    assert_rel(t.statistic, 6.482493908421917, STAT_TOL);
    assert_rel(t.df, 4.0, STAT_TOL);
    assert_rel(t.p_value, 0.002919067215363514, P_TOL);
    assert_rel(t.estimate, 0.008600000000000007, STAT_TOL);
    assert_rel(t.ci_low, 0.004916629334016041, STAT_TOL);
    assert_rel(t.ci_high, 0.012283370665983973, STAT_TOL);
}

/// Constant per-pair differences (exactly representable): zero shift -> p = 1,
/// constant non-zero shift -> p = 0 (documented on `TTest`).
#[test]
fn paired_zero_variance_and_errors() {
    let a = [1.5, 2.25, 3.0];
    let same = paired_t_test(&a, &a).unwrap();
    assert_eq!((same.statistic, same.p_value, same.df), (0.0, 1.0, 2.0));
    let shifted = paired_t_test(&a, &[1.25, 2.0, 2.75]).unwrap();
    assert_eq!((shifted.statistic, shifted.p_value), (f64::INFINITY, 0.0));
    assert_eq!(
        (shifted.estimate, shifted.ci_low, shifted.ci_high),
        (0.25, 0.25, 0.25)
    );
    assert!(shifted.zero_variance);

    assert_eq!(
        paired_t_test(&a, &[1.0, 2.0]),
        Err(StatsError::LengthMismatch {
            what: "paired t-test",
            left: 3,
            right: 2
        })
    );
    assert!(matches!(
        paired_t_test(&[1.0], &[2.0]),
        Err(StatsError::TooFewObservations {
            need: 2,
            got: 1,
            ..
        })
    ));
}

/// res = scipy.stats.ttest_1samp(A, 0.7)
///   -> statistic=2.2803508501982757, pvalue=0.08475375984473289, df=4
/// res.confidence_interval(0.95) -> (0.6971718276095834, 0.7288281723904165)
/// (SciPy reports the interval for the mean; ours is for mean - mu.)
#[test]
fn one_sample_matches_scipy_ttest_1samp() {
    let t = one_sample_t_test(&A, 0.7).unwrap();
    assert_rel(t.statistic, 2.2803508501982757, STAT_TOL);
    assert_rel(t.p_value, 0.08475375984473289, P_TOL);
    assert_rel(t.ci_low + 0.7, 0.6971718276095834, STAT_TOL);
    assert_rel(t.ci_high + 0.7, 0.7288281723904165, STAT_TOL);
}
