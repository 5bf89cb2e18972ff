//! Accuracy-versus-storage Pareto frontier.

use serde::{Deserialize, Serialize};

use crate::{Result, StatsError};

/// One candidate: an identifier, its accuracy (higher is better) and the
/// total bytes it needs (images + labels + anything else stored; lower is
/// better).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParetoPoint<Id> {
    /// Identifier returned for frontier members.
    pub id: Id,
    /// Accuracy (any consistent scale).
    pub accuracy: f64,
    /// Total storage in bytes.
    pub total_bytes: u64,
}

/// Ids of the points on the Pareto frontier that maximises accuracy while
/// minimising bytes, sorted by `total_bytes` ascending (ties keep input
/// order).
///
/// A point is dominated if another point has `accuracy >=` and
/// `total_bytes <=` with at least one of the two strict. Exact duplicates do
/// not dominate each other, so all copies of a frontier point are returned.
/// An empty input gives an empty frontier.
///
/// # Errors
/// [`StatsError::NonFinite`] if an accuracy is NaN or infinite.
pub fn pareto_frontier<Id: Clone>(points: &[ParetoPoint<Id>]) -> Result<Vec<Id>> {
    if let Some(index) = points.iter().position(|p| !p.accuracy.is_finite()) {
        return Err(StatsError::NonFinite {
            what: "Pareto point accuracy",
            index,
            value: points[index].accuracy,
        });
    }
    let mut order: Vec<usize> = (0..points.len()).collect();
    // Bytes ascending, then accuracy descending; stable for exact ties.
    order.sort_by(|&i, &j| {
        let (a, b) = (&points[i], &points[j]);
        a.total_bytes
            .cmp(&b.total_bytes)
            .then(b.accuracy.total_cmp(&a.accuracy))
    });
    let mut frontier = Vec::new();
    // Best accuracy among points with strictly fewer bytes than the group.
    let mut best_smaller = f64::NEG_INFINITY;
    let mut start = 0;
    while start < order.len() {
        let bytes = points[order[start]].total_bytes;
        let mut end = start;
        while end < order.len() && points[order[end]].total_bytes == bytes {
            end += 1;
        }
        let group_best = points[order[start]].accuracy;
        if group_best > best_smaller {
            for &idx in &order[start..end] {
                if points[idx].accuracy == group_best {
                    frontier.push(points[idx].id.clone());
                }
            }
            best_smaller = group_best;
        }
        start = end;
    }
    Ok(frontier)
}
