//! The random subset of a budget, as a harness service: what the `random` baseline returns,
//! and the data selection KD-style methods train on so that only their labelling differs
//! from the baseline (same seed, same images).
//!
//! - IPC budget `k`: `k` images per class, drawn without replacement (a class with fewer than
//!   `k` images gives all of them).
//! - Fraction budget `f`: `round(f * N)` images in total, allocated to classes in proportion to
//!   their size by largest remainder (ties to the lower class index), then drawn per class.
//! - Byte budget `b`: as many images as fit at C·H·W bytes each plus a 1-byte label, allocated
//!   the same way.

use crate::method::{Budget, Input};
use crate::rng::SplitMix64;

/// Per-class counts for a fraction budget (largest-remainder apportionment).
pub fn apportion(class_sizes: &[usize], total: usize) -> Vec<usize> {
    let n: usize = class_sizes.iter().sum();
    if n == 0 {
        return vec![0; class_sizes.len()];
    }
    let quotas: Vec<f64> = class_sizes
        .iter()
        .map(|&s| s as f64 * total as f64 / n as f64)
        .collect();
    let mut counts: Vec<usize> = quotas.iter().map(|q| q.floor() as usize).collect();
    let mut rest: Vec<(usize, f64)> = quotas
        .iter()
        .enumerate()
        .map(|(i, q)| (i, q - q.floor()))
        .collect();
    rest.sort_by(|a, b| b.1.partial_cmp(&a.1).unwrap().then(a.0.cmp(&b.0)));
    let mut left = total.saturating_sub(counts.iter().sum());
    for (i, _) in rest {
        if left == 0 {
            break;
        }
        if counts[i] < class_sizes[i] {
            counts[i] += 1;
            left -= 1;
        }
    }
    counts
}

/// Indices into `input.train` of the class-balanced random subset of `input.budget`, drawn
/// from `seed` (the cell's selection seed).
pub fn random_subset(input: &Input, seed: u64) -> Vec<i64> {
    let by_class = input.train.indices_by_class(input.num_classes());
    let counts: Vec<usize> = match input.budget {
        Budget::Ipc(k) => by_class.iter().map(|c| k.min(c.len())).collect(),
        Budget::Fraction(_) => {
            let total = input
                .budget
                .max_images(input.num_classes(), input.train.len())
                .unwrap_or(0);
            apportion(&by_class.iter().map(Vec::len).collect::<Vec<_>>(), total)
        }
        Budget::Bytes(b) => {
            // Each kept image costs its uint8 pixels plus a 1-byte hard label (<= 256 classes),
            // as the harness counts storage.
            let s = input.train.images.size();
            let label = if input.num_classes() <= 256 { 1 } else { 2 };
            let per_image = (s[1] * s[2] * s[3]) as u64 + label;
            let total = (b / per_image) as usize;
            apportion(&by_class.iter().map(Vec::len).collect::<Vec<_>>(), total)
        }
    };
    let mut rng = SplitMix64::new(seed);
    let mut chosen = Vec::new();
    for (members, &k) in by_class.iter().zip(&counts) {
        for j in rng.sample(members.len(), k) {
            chosen.push(members[j] as i64);
        }
    }
    chosen
}

#[cfg(test)]
mod tests {
    use super::apportion;

    #[test]
    fn apportion_uses_largest_remainder() {
        assert_eq!(apportion(&[10, 10, 10], 10), vec![4, 3, 3]);
        assert_eq!(apportion(&[50, 30, 20], 10), vec![5, 3, 2]);
        assert_eq!(apportion(&[1, 99], 50), vec![1, 49]);
        assert_eq!(apportion(&[5, 5], 10), vec![5, 5]);
    }
}
