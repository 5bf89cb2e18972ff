//! Multiple-comparison correction and significance marks.

use crate::{Result, StatsError};

/// Holm–Bonferroni step-down adjustment (Holm 1979).
///
/// `p_values` may be in any order; the adjusted values are returned in the
/// same order. With the `m` p-values sorted ascending, `p_(1) <= … <= p_(m)`,
/// the adjusted value of the `i`-th smallest is
/// `min(1, max_{j <= i} (m - j + 1) · p_(j))`, which makes the adjusted
/// values monotone in the raw ones and capped at 1 (identical to
/// `statsmodels.stats.multitest.multipletests(p, method="holm")[1]`).
/// An empty input gives an empty output.
///
/// # Errors
/// [`StatsError::InvalidPValue`] if a value is NaN or outside [0, 1].
pub fn holm_adjust(p_values: &[f64]) -> Result<Vec<f64>> {
    for (index, &value) in p_values.iter().enumerate() {
        if !(0.0..=1.0).contains(&value) {
            return Err(StatsError::InvalidPValue { index, value });
        }
    }
    let m = p_values.len();
    let mut order: Vec<usize> = (0..m).collect();
    // Stable sort: ties keep their input order (irrelevant to the result).
    order.sort_by(|&i, &j| p_values[i].total_cmp(&p_values[j]));
    let mut adjusted = vec![0.0; m];
    let mut running_max: f64 = 0.0;
    for (rank, &idx) in order.iter().enumerate() {
        let scaled = ((m - rank) as f64 * p_values[idx]).min(1.0);
        running_max = running_max.max(scaled);
        adjusted[idx] = running_max;
    }
    Ok(adjusted)
}

/// Significance mark for an (adjusted) p-value: `"***"` if `p < 0.001`,
/// `"**"` if `p < 0.01`, `"*"` if `p < 0.05`, otherwise `""` (also for NaN).
/// Thresholds are strict: `p = 0.05` gets no mark.
pub fn significance_mark(p_adjusted: f64) -> &'static str {
    if p_adjusted < 0.001 {
        "***"
    } else if p_adjusted < 0.01 {
        "**"
    } else if p_adjusted < 0.05 {
        "*"
    } else {
        ""
    }
}
