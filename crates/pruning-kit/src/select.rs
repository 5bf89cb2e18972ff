//! Budgets and score-based selection.
//!
//! Conventions shared by every pruning plugin:
//!
//! - `Budget::Ipc(k)` → [`Plan::PerClass`]: exactly `min(k, class size)` images of every class.
//! - `Budget::Fraction(f)` → [`Plan::Global`]: `round(f * N)` images in total (at least 1, at
//!   most N), chosen across all classes at once (class proportions are whatever the scores give).
//! - `Budget::Bytes` → `MethodError::Unsupported`.
//!
//! Ranking: by score in the requested [`Order`]; scores that are NaN always rank last; equal
//! scores are ordered by the [`TieBreak`] key (the lower index by default, or a seeded random
//! permutation), so a selection is a pure function of (scores, budget, tie-break seed).

use distillery_api::rng::SplitMix64;
use distillery_api::{Budget, MethodError};
use std::cmp::Ordering;

/// How many images to keep, and whether per class or over the whole split.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plan {
    /// Class-balanced: `min(k, class size)` per class.
    PerClass(usize),
    /// Global: this many in total, across classes.
    Global(usize),
}

impl Plan {
    /// The plan for a budget over a train split of `n` images.
    pub fn from_budget(budget: &Budget, n: usize, method: &str) -> Result<Plan, MethodError> {
        match *budget {
            Budget::Ipc(k) => Ok(Plan::PerClass(k)),
            Budget::Fraction(f) => {
                if !(f > 0.0 && f <= 1.0) {
                    return Err(MethodError::Config(format!(
                        "fraction budget must be in (0, 1], got {f}"
                    )));
                }
                Ok(Plan::Global(Budget::fraction_images(f, n)))
            }
            Budget::Bytes(_) => Err(MethodError::Unsupported(format!(
                "{method} selects whole images by count; a byte budget is not supported"
            ))),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Plan::PerClass(k) => format!("class-balanced, {k} per class"),
            Plan::Global(t) => format!("global, {t} in total"),
        }
    }
}

/// Which end of the score range is kept first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    HighestFirst,
    LowestFirst,
}

/// How equal scores are ordered.
#[derive(Clone, Debug)]
pub enum TieBreak {
    /// The lower index into the train split first.
    Index,
    /// A random permutation of `0..n` drawn from this seed (SplitMix64): the earlier an index
    /// comes in the permutation, the earlier it is kept.
    Seeded(u64),
}

impl TieBreak {
    /// Tie-break keys for indices `0..n` (lower key = kept first).
    pub fn keys(&self, n: usize) -> Vec<usize> {
        match self {
            TieBreak::Index => (0..n).collect(),
            TieBreak::Seeded(seed) => {
                let perm = SplitMix64::new(*seed).permutation(n);
                let mut key = vec![0; n];
                for (pos, &i) in perm.iter().enumerate() {
                    key[i] = pos;
                }
                key
            }
        }
    }
}

/// Compares two candidate indices for ranking: better score first, NaN last, then tie key.
fn compare(scores: &[f64], keys: &[usize], order: Order, a: usize, b: usize) -> Ordering {
    let (sa, sb) = (scores[a], scores[b]);
    match (sa.is_nan(), sb.is_nan()) {
        (true, true) => return keys[a].cmp(&keys[b]),
        (true, false) => return Ordering::Greater,
        (false, true) => return Ordering::Less,
        _ => {}
    }
    let by_score = match order {
        Order::HighestFirst => sb.partial_cmp(&sa).unwrap(),
        Order::LowestFirst => sa.partial_cmp(&sb).unwrap(),
    };
    by_score.then(keys[a].cmp(&keys[b]))
}

/// `candidates` sorted best first (see the module docs for the order).
pub fn rank(scores: &[f64], candidates: &[usize], order: Order, tie: &TieBreak) -> Vec<usize> {
    let keys = tie.keys(scores.len());
    let mut c = candidates.to_vec();
    c.sort_by(|&a, &b| compare(scores, &keys, order, a, b));
    c
}

/// Indices of each class in ascending order (labels outside `0..num_classes` are ignored).
pub fn by_class(labels: &[i64], num_classes: usize) -> Vec<Vec<usize>> {
    let mut by = vec![Vec::new(); num_classes];
    for (i, &l) in labels.iter().enumerate() {
        if l >= 0 && (l as usize) < num_classes {
            by[l as usize].push(i);
        }
    }
    by
}

/// Top-k selection by score under a plan: per class (`min(k, size)` each, classes in label
/// order) or global. Returns indices into `scores` / `labels`, in rank order within each group.
pub fn select_top(
    scores: &[f64],
    labels: &[i64],
    num_classes: usize,
    plan: Plan,
    order: Order,
    tie: &TieBreak,
) -> Vec<usize> {
    assert_eq!(scores.len(), labels.len(), "one score per example");
    match plan {
        Plan::PerClass(k) => by_class(labels, num_classes)
            .iter()
            .flat_map(|members| {
                let mut r = rank(scores, members, order, tie);
                r.truncate(k.min(members.len()));
                r
            })
            .collect(),
        Plan::Global(total) => {
            let all: Vec<usize> = (0..scores.len()).collect();
            let mut r = rank(scores, &all, order, tie);
            r.truncate(total.min(scores.len()));
            r
        }
    }
}

/// The groups a plan selects from, each with how many to take: one group per class
/// (`min(k, class size)` each, in label order) or a single group of every index.
pub fn groups(plan: Plan, labels: &[i64], num_classes: usize) -> Vec<(Vec<usize>, usize)> {
    match plan {
        Plan::PerClass(k) => by_class(labels, num_classes)
            .into_iter()
            .map(|m| {
                let take = k.min(m.len());
                (m, take)
            })
            .collect(),
        Plan::Global(total) => {
            let all: Vec<usize> = (0..labels.len()).collect();
            let take = total.min(all.len());
            vec![(all, take)]
        }
    }
}

/// Converts selected indices to the `i64` indices `Compressed::indices` wants.
pub fn to_i64(indices: &[usize]) -> Vec<i64> {
    indices.iter().map(|&i| i as i64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_from_budget() {
        assert_eq!(
            Plan::from_budget(&Budget::Ipc(3), 100, "m").unwrap(),
            Plan::PerClass(3)
        );
        assert_eq!(
            Plan::from_budget(&Budget::Fraction(0.1), 3600, "m").unwrap(),
            Plan::Global(360)
        );
        assert_eq!(
            Plan::from_budget(&Budget::Fraction(0.0001), 100, "m").unwrap(),
            Plan::Global(1)
        );
        assert_eq!(
            Plan::from_budget(&Budget::Fraction(0.125), 100, "m").unwrap(),
            Plan::Global(13)
        );
        assert!(matches!(
            Plan::from_budget(&Budget::Bytes(10), 100, "m"),
            Err(MethodError::Unsupported(_))
        ));
    }

    #[test]
    fn rank_orders_by_score_then_index() {
        let s = [0.5, 2.0, f64::NAN, 2.0, -1.0, 0.5];
        let all: Vec<usize> = (0..s.len()).collect();
        assert_eq!(
            rank(&s, &all, Order::HighestFirst, &TieBreak::Index),
            vec![1, 3, 0, 5, 4, 2]
        );
        assert_eq!(
            rank(&s, &all, Order::LowestFirst, &TieBreak::Index),
            vec![4, 0, 5, 1, 3, 2]
        );
    }

    #[test]
    fn infinite_scores_rank_first_when_highest_first() {
        let s = [1.0, f64::INFINITY, 3.0];
        assert_eq!(
            rank(&s, &[0, 1, 2], Order::HighestFirst, &TieBreak::Index),
            vec![1, 2, 0]
        );
    }

    #[test]
    fn seeded_tie_break_is_deterministic_and_depends_on_seed() {
        let s = vec![1.0; 50];
        let all: Vec<usize> = (0..50).collect();
        let a = rank(&s, &all, Order::HighestFirst, &TieBreak::Seeded(7));
        let b = rank(&s, &all, Order::HighestFirst, &TieBreak::Seeded(7));
        let c = rank(&s, &all, Order::HighestFirst, &TieBreak::Seeded(8));
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, all, "a seeded tie-break is not the index order");
        // Scores still dominate the tie-break.
        let mut s2 = s.clone();
        s2[42] = 2.0;
        assert_eq!(
            rank(&s2, &all, Order::HighestFirst, &TieBreak::Seeded(7))[0],
            42
        );
    }

    #[test]
    fn class_balanced_and_global_top_k() {
        // Class 0: idx 0,2,4 ; class 1: idx 1,3,5 ; class 2: idx 6 only.
        let labels = [0, 1, 0, 1, 0, 1, 2];
        let s = [0.1, 0.9, 0.7, 0.2, 0.7, 0.8, 0.0];
        let pc = select_top(
            &s,
            &labels,
            3,
            Plan::PerClass(2),
            Order::HighestFirst,
            &TieBreak::Index,
        );
        assert_eq!(pc, vec![2, 4, 1, 5, 6]); // the 0.7 tie goes to the lower index first
        let g = select_top(
            &s,
            &labels,
            3,
            Plan::Global(3),
            Order::HighestFirst,
            &TieBreak::Index,
        );
        assert_eq!(g, vec![1, 5, 2]);
        let low = select_top(
            &s,
            &labels,
            3,
            Plan::PerClass(1),
            Order::LowestFirst,
            &TieBreak::Index,
        );
        assert_eq!(low, vec![0, 3, 6]);
        let g = groups(Plan::PerClass(2), &labels, 3);
        assert_eq!(
            g,
            vec![(vec![0, 2, 4], 2), (vec![1, 3, 5], 2), (vec![6], 1)]
        );
        assert_eq!(
            groups(Plan::Global(100), &labels, 3),
            vec![((0..7).collect(), 7)]
        );
    }
}
