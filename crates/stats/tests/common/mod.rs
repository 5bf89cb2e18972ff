//! Shared assertion helpers for the reference tests.
// Each integration-test binary uses a different subset of these helpers.
#![allow(dead_code)]

/// Asserts `|got - want| <= tol * max(|want|, 1e-300)` (relative tolerance).
#[track_caller]
pub fn assert_rel(got: f64, want: f64, tol: f64) {
    let err = (got - want).abs();
    let scale = want.abs().max(1e-300);
    assert!(
        err <= tol * scale,
        "got {got:e}, want {want:e} (relative error {:e} > {tol:e})",
        err / scale
    );
}

/// Relative tolerance for statistics, degrees of freedom and interval bounds.
pub const STAT_TOL: f64 = 1e-9;
/// Relative tolerance for p-values (the brief allows 1e-6; statrs agrees with
/// SciPy to better than 1e-11 on every case here, so 1e-9 is kept).
pub const P_TOL: f64 = 1e-9;
