//! Coverage-centric coreset selection (Zheng et al., ICLR 2023), the sampling part.
//!
//! Given a difficulty score per candidate (higher = harder):
//! 1. hard pruning: drop the `floor(beta * n)` hardest candidates (likely mislabeled or too
//!    hard; ties to the lower index), but never so many that fewer than `budget` remain;
//! 2. split the remaining candidates' score range `[min, max]` into `strata` equal-width bins
//!    (bin `floor((s - min) / width)`, the maximum falling into the last bin);
//! 3. allocate the budget over the bins starting from the smallest bin: each bin gets
//!    `min(size, rest / bins_left)` (integer division) and what it cannot use is carried to the
//!    larger bins that follow (bins of equal size in bin order);
//! 4. draw each bin's share uniformly at random without replacement (SplitMix64, seeded).

use crate::select::{rank, Order, TieBreak};
use distillery_api::rng::SplitMix64;

/// Equal-width bin of each score over `[min, max]` of `scores` (all in bin 0 when constant).
/// Scores must be finite.
pub fn strata_of(scores: &[f64], strata: usize) -> Vec<usize> {
    assert!(strata >= 1, "at least one stratum");
    assert!(
        scores.iter().all(|s| s.is_finite()),
        "CCS needs finite scores"
    );
    if scores.is_empty() {
        return Vec::new();
    }
    let lo = scores.iter().cloned().fold(f64::INFINITY, f64::min);
    let hi = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let width = (hi - lo) / strata as f64;
    scores
        .iter()
        .map(|&s| {
            if width <= 0.0 {
                0
            } else {
                (((s - lo) / width).floor() as usize).min(strata - 1)
            }
        })
        .collect()
}

/// Budget per stratum, smallest stratum first with carry-over (see the module docs).
pub fn allocate(budget: usize, sizes: &[usize]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..sizes.len()).collect();
    order.sort_by_key(|&i| (sizes[i], i));
    let mut out = vec![0; sizes.len()];
    let mut rest = budget;
    for (pos, &b) in order.iter().enumerate() {
        let left = sizes.len() - pos;
        let take = sizes[b].min(rest / left);
        out[b] = take;
        rest -= take;
    }
    out
}

/// What [`select`] did, for the cell's metadata.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct CcsReport {
    pub candidates: usize,
    pub hard_pruned: usize,
    pub strata_sizes: Vec<usize>,
    pub allocation: Vec<usize>,
}

/// CCS over `candidates` (indices into `difficulty`, higher = harder): returns `min(budget,
/// candidates)` indices. Non-finite difficulties (e.g. never-learned examples under forgetting)
/// rank hardest in step 1 and are binned at the maximum finite score + 1 if they survive.
pub fn select(
    difficulty: &[f64],
    candidates: &[usize],
    budget: usize,
    beta: f64,
    strata: usize,
    seed: u64,
) -> (Vec<usize>, CcsReport) {
    let n = candidates.len();
    let budget = budget.min(n);
    // 1. Hard pruning.
    let hardest_first = rank(
        difficulty,
        candidates,
        Order::HighestFirst,
        &TieBreak::Index,
    );
    let prune = ((beta * n as f64).floor() as usize).min(n - budget);
    let mut kept: Vec<usize> = hardest_first[prune..].to_vec();
    kept.sort_unstable();
    // 2. Strata over the kept scores.
    let finite: Vec<f64> = kept
        .iter()
        .map(|&i| difficulty[i])
        .filter(|s| s.is_finite())
        .collect();
    let hi = finite.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let lo = finite.iter().cloned().fold(f64::INFINITY, f64::min);
    let (hi, lo) = if finite.is_empty() {
        (0.0, 0.0)
    } else {
        (hi, lo)
    };
    let s: Vec<f64> = kept
        .iter()
        .map(|&i| match difficulty[i] {
            v if v.is_finite() => v,
            v if v > 0.0 => hi + 1.0,
            _ => lo - 1.0, // -inf or NaN: below everything
        })
        .collect();
    let bin = strata_of(&s, strata);
    let mut members = vec![Vec::new(); strata];
    for (pos, &b) in bin.iter().enumerate() {
        members[b].push(kept[pos]);
    }
    let sizes: Vec<usize> = members.iter().map(Vec::len).collect();
    // 3. Allocation.
    let alloc = allocate(budget, &sizes);
    // 4. Uniform draws within strata.
    let mut rng = SplitMix64::new(seed);
    let mut out = Vec::with_capacity(budget);
    for (m, &a) in members.iter().zip(&alloc) {
        for j in rng.sample(m.len(), a) {
            out.push(m[j]);
        }
    }
    let report = CcsReport {
        candidates: n,
        hard_pruned: prune,
        strata_sizes: sizes,
        allocation: alloc,
    };
    (out, report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_width_strata() {
        let s = [0.0, 1.0, 2.0, 2.9, 3.0, 4.0, 7.0, 8.0, 9.0];
        assert_eq!(strata_of(&s, 3), vec![0, 0, 0, 0, 1, 1, 2, 2, 2]);
        assert_eq!(strata_of(&[5.0, 5.0], 4), vec![0, 0]);
    }

    #[test]
    fn allocation_from_smallest_stratum_with_carry_over() {
        // Sizes 6, 1, 3; budget 6: bin1 gets min(1, 6/3=2) = 1; bin2 min(3, 5/2=2) = 2;
        // bin0 min(6, 3/1) = 3.
        assert_eq!(allocate(6, &[6, 1, 3]), vec![3, 1, 2]);
        // Empty strata give their share to the others.
        assert_eq!(allocate(4, &[0, 10, 0, 10]), vec![0, 2, 0, 2]);
        // Budget 1 over equal strata: all of it goes to the last one considered.
        assert_eq!(allocate(1, &[5, 5, 5]), vec![0, 0, 1]);
        // Budget larger than the data: everything.
        assert_eq!(allocate(100, &[2, 3]), vec![2, 3]);
        for b in 0..20 {
            let a = allocate(b, &[4, 0, 7, 1, 3]);
            assert_eq!(a.iter().sum::<usize>(), b.min(15), "budget {b} fully used");
        }
    }

    #[test]
    fn select_prunes_the_hardest_then_samples_per_stratum() {
        // Scores: six in [0,3), one in [3,6), three in [6,9], plus one outlier 100 (hardest).
        let d = vec![0.0, 1.0, 2.0, 2.0, 1.0, 0.0, 4.0, 7.0, 8.0, 9.0, 100.0];
        let cand: Vec<usize> = (0..d.len()).collect();
        // beta = 0.1 -> floor(1.1) = 1 pruned: the outlier.
        let (sel, rep) = select(&d, &cand, 6, 0.1, 3, 42);
        assert_eq!(rep.hard_pruned, 1);
        assert_eq!(rep.strata_sizes, vec![6, 1, 3]);
        assert_eq!(rep.allocation, vec![3, 1, 2]);
        assert_eq!(sel.len(), 6);
        assert!(!sel.contains(&10), "outlier pruned");
        assert!(sel.contains(&6), "the lone middle sample is always kept");
        let low = sel.iter().filter(|&&i| d[i] < 3.0).count();
        let high = sel.iter().filter(|&&i| (6.0..=9.0).contains(&d[i])).count();
        assert_eq!((low, high), (3, 2));
        // Deterministic per seed, different across seeds (for some seed).
        assert_eq!(select(&d, &cand, 6, 0.1, 3, 42).0, sel);
        assert!((0..20).any(|s| select(&d, &cand, 6, 0.1, 3, s).0 != sel));
    }

    #[test]
    fn select_never_prunes_below_the_budget() {
        let d: Vec<f64> = (0..10).map(|i| i as f64).collect();
        let cand: Vec<usize> = (0..10).collect();
        let (sel, rep) = select(&d, &cand, 9, 0.5, 5, 0);
        assert_eq!(rep.hard_pruned, 1);
        assert_eq!(sel.len(), 9);
        assert!(!sel.contains(&9));
    }

    #[test]
    fn infinite_difficulties_are_pruned_first() {
        let d = vec![f64::INFINITY, 1.0, 2.0, 3.0, f64::INFINITY];
        let (sel, rep) = select(&d, &[0, 1, 2, 3, 4], 2, 0.4, 2, 1);
        assert_eq!(rep.hard_pruned, 2);
        assert!(!sel.contains(&0) && !sel.contains(&4));
    }
}
