//! DD-Ranking scores (values computed by hand from the formulas in Li et al.
//! 2025, "DD-Ranking: Rethinking the Evaluation of Dataset Distillation") and
//! the Pareto frontier on a hand-made set.

mod common;

use common::{assert_rel, STAT_TOL};
use distillery_stats::{
    ars, hlr, ior, label_gain, lrs, normalise_exp, pareto_frontier, ArsInputs, LrsInputs,
    ParetoPoint, StatsError, DEFAULT_GAMMA, DEFAULT_W,
};

const LRS_IN: LrsInputs = LrsInputs {
    acc_full_hard: 0.84,
    acc_syn_hard: 0.46,
    acc_syn: 0.63,
    acc_random: 0.41,
};

/// N(x) = (e^x − e^−1)/(e − e^−1): N(−1) = 0, N(1) = 1 and
/// N(0) = (1 − e^−1)/(e − e^−1) = 1/(1 + e) = 0.2689414213699951 (by hand).
#[test]
fn normalisation_endpoints() {
    assert!(normalise_exp(-1.0).abs() < 1e-15);
    assert_rel(normalise_exp(1.0), 1.0, 1e-15);
    assert_rel(normalise_exp(0.0), 0.2689414213699951, 1e-15);
}

/// By hand: HLR = 0.84 − 0.46 = 0.38, IOR = 0.63 − 0.41 = 0.22,
/// α = 0.5·0.22 − 0.5·0.38 = −0.08,
/// LRS = (e^−0.08 − e^−1)/(e − e^−1)
///     = (0.923116346386636 − 0.367879441171442)/2.350402387287603
///     = 0.23623057405755302.
/// With w = 0.7: α = 0.7·0.22 − 0.3·0.38 = 0.04, LRS = 0.28630473516388744.
#[test]
fn lrs_by_hand() {
    let s = lrs(&LRS_IN, DEFAULT_W).unwrap();
    assert_rel(s.hlr, 0.38, 1e-12);
    assert_rel(s.ior, 0.22, 1e-12);
    assert_rel(s.alpha, -0.08, 1e-12);
    assert_rel(s.lrs, 0.23623057405755302, STAT_TOL);
    assert_eq!(s.w, 0.5);
    let s7 = lrs(&LRS_IN, 0.7).unwrap();
    assert_rel(s7.alpha, 0.04, 1e-12);
    assert_rel(s7.lrs, 0.28630473516388744, STAT_TOL);
    assert_rel(hlr(0.84, 0.46).unwrap(), 0.38, 1e-12);
    assert_rel(ior(0.63, 0.41).unwrap(), 0.22, 1e-12);
}

/// By hand: β = 0.5·(0.66 − 0.52) + 0.5·(0.55 − 0.47) = 0.5·0.14 + 0.5·0.08
/// = 0.11, ARS = (e^0.11 − e^−1)/(e − e^−1) = 0.3184129804050665.
/// With γ = 0.25: β = 0.25·0.14 + 0.75·0.08 = 0.095, ARS = 0.3113421846031837.
#[test]
fn ars_by_hand() {
    let inputs = ArsInputs {
        acc_syn_aug: 0.66,
        acc_rand_aug: 0.52,
        acc_syn_noaug: 0.55,
        acc_rand_noaug: 0.47,
    };
    let s = ars(&inputs, DEFAULT_GAMMA).unwrap();
    assert_rel(s.beta, 0.11, 1e-12);
    assert_rel(s.ars, 0.3184129804050665, STAT_TOL);
    let s25 = ars(&inputs, 0.25).unwrap();
    assert_rel(s25.ars, 0.3113421846031837, STAT_TOL);
}

/// Label gain = acc_soft − acc_hard = 0.71 − 0.58 = 0.13 (by hand).
#[test]
fn label_gain_by_hand() {
    assert_rel(label_gain(0.71, 0.58).unwrap(), 0.13, 1e-12);
    assert_rel(label_gain(0.50, 0.58).unwrap(), -0.08, 1e-12);
}

/// Percentages (63.0 instead of 0.63) are rejected with an error that says to
/// convert to fractions.
#[test]
fn percentages_are_rejected() {
    let pct = LrsInputs {
        acc_syn: 63.0,
        ..LRS_IN
    };
    let err = lrs(&pct, DEFAULT_W).unwrap_err();
    assert_eq!(
        err,
        StatsError::PercentageNotFraction {
            name: "acc_syn",
            value: 63.0
        }
    );
    let msg = err.to_string();
    assert!(
        msg.contains("percentages must be converted to fractions"),
        "{msg}"
    );
    assert!(msg.starts_with("acc_syn = 63 is greater than 1"), "{msg}");

    let aug = ArsInputs {
        acc_syn_aug: 0.66,
        acc_rand_aug: 52.0,
        acc_syn_noaug: 0.55,
        acc_rand_noaug: 0.47,
    };
    assert_eq!(
        ars(&aug, DEFAULT_GAMMA),
        Err(StatsError::PercentageNotFraction {
            name: "acc_rand_aug",
            value: 52.0
        })
    );
    assert!(matches!(
        label_gain(71.0, 58.0),
        Err(StatsError::PercentageNotFraction {
            name: "acc_soft",
            ..
        })
    ));
    // Negative / NaN accuracies and bad weights are a different error.
    assert_eq!(
        hlr(-0.1, 0.5),
        Err(StatsError::OutOfUnitInterval {
            name: "acc_full_hard",
            value: -0.1
        })
    );
    assert!(matches!(
        ior(0.5, f64::NAN),
        Err(StatsError::OutOfUnitInterval {
            name: "acc_random",
            ..
        })
    ));
    assert_eq!(
        lrs(&LRS_IN, 1.5),
        Err(StatsError::OutOfUnitInterval {
            name: "w",
            value: 1.5
        })
    );
    // Exactly 1.0 is a valid fraction.
    assert!(hlr(1.0, 0.0).is_ok());
}

fn pt(id: &'static str, accuracy: f64, total_bytes: u64) -> ParetoPoint<&'static str> {
    ParetoPoint {
        id,
        accuracy,
        total_bytes,
    }
}

/// Hand-made set (by hand):
/// G (0.58, 500)  frontier
/// A (0.60, 1000) frontier; F (0.55, 1000) dominated by A (same bytes)
/// B (0.65, 2000) frontier; C (0.63, 2500) dominated by B
/// D (0.70, 5000) frontier; H duplicate of D -> also frontier
/// E (0.70, 6000) dominated by D (same accuracy, more bytes)
/// I (0.59, 3000) dominated by B
/// -> [G, A, B, D, H] sorted by bytes.
#[test]
fn pareto_hand_made_set() {
    let points = vec![
        pt("A", 0.60, 1000),
        pt("B", 0.65, 2000),
        pt("C", 0.63, 2500),
        pt("D", 0.70, 5000),
        pt("E", 0.70, 6000),
        pt("F", 0.55, 1000),
        pt("G", 0.58, 500),
        pt("H", 0.70, 5000),
        pt("I", 0.59, 3000),
    ];
    assert_eq!(
        pareto_frontier(&points).unwrap(),
        vec!["G", "A", "B", "D", "H"]
    );
    // A single dominant point: smallest and most accurate.
    let dom = vec![pt("x", 0.5, 10), pt("y", 0.9, 5), pt("z", 0.7, 7)];
    assert_eq!(pareto_frontier(&dom).unwrap(), vec!["y"]);
    assert!(pareto_frontier::<u32>(&[]).unwrap().is_empty());
    assert!(matches!(
        pareto_frontier(&[pt("n", f64::NAN, 1)]),
        Err(StatsError::NonFinite { index: 0, .. })
    ));
}
