//! Validation hold-out and normalization statistics.

use super::RawSplit;

/// The same SplitMix64 + Fisher–Yates the harness and plugins use (`distillery_api::rng`):
/// one specified generator, so splits never change with a dependency's version.
pub use distillery_api::rng::SplitMix64;

/// Splits example indices into (train, validation), per class, deterministically.
///
/// For each class `k` in `0..num_classes` with `m` examples:
/// * the validation count is `round(fraction * m)` (half away from zero), clamped to
///   `1..=m-1` when `fraction > 0` and `m >= 2`; a class with fewer than 2 examples, or
///   `fraction == 0`, contributes nothing to validation (every class keeps at least one
///   training example);
/// * the class's indices, in ascending order, are shuffled by [`SplitMix64::shuffle`] with a
///   generator seeded by `seed ^ (k as u64).wrapping_mul(0x9E3779B97F4A7C15)` — so a class's
///   hold-out depends only on the seed, the class index and the class's own indices — and the
///   first `count` shuffled indices go to validation.
///
/// Both returned lists are sorted ascending and together hold every index exactly once.
///
/// # Panics
/// If `fraction` is not in `[0, 1]` or a label is outside `0..num_classes`.
pub fn split_validation(
    labels: &[i64],
    num_classes: usize,
    fraction: f64,
    seed: u64,
) -> (Vec<usize>, Vec<usize>) {
    assert!(
        (0.0..=1.0).contains(&fraction),
        "split_validation: fraction must be in [0, 1], got {fraction}"
    );
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); num_classes];
    for (i, &y) in labels.iter().enumerate() {
        assert!(
            y >= 0 && (y as usize) < num_classes,
            "split_validation: example {i} has label {y}, outside 0..{num_classes}"
        );
        by_class[y as usize].push(i);
    }
    let mut train = Vec::with_capacity(labels.len());
    let mut val = Vec::new();
    for (k, mut idx) in by_class.into_iter().enumerate() {
        let m = idx.len();
        let count = if fraction > 0.0 && m >= 2 {
            ((fraction * m as f64).round() as usize).clamp(1, m - 1)
        } else {
            0
        };
        let mut rng = SplitMix64::new(seed ^ (k as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        rng.shuffle(&mut idx);
        val.extend_from_slice(&idx[..count]);
        train.extend_from_slice(&idx[count..]);
    }
    train.sort_unstable();
    val.sort_unstable();
    (train, val)
}

/// Per-channel mean and population standard deviation of the split's pixels scaled to
/// `[0, 1]` (`x / 255`), over all examples and positions. Computed from exact integer sums.
/// An empty split gives NaN for every channel.
pub fn normalization_stats(split: &RawSplit) -> (Vec<f64>, Vec<f64>) {
    let hw = split.h * split.w;
    if split.c == 0 || hw == 0 {
        let nan = vec![f64::NAN; split.c];
        return (nan.clone(), nan);
    }
    let mut sum = vec![0u128; split.c];
    let mut sum_sq = vec![0u128; split.c];
    for img in split.images.chunks_exact(split.c * hw) {
        for (ch, plane) in img.chunks_exact(hw).enumerate() {
            let (mut s, mut s2) = (0u64, 0u64);
            for &x in plane {
                s += x as u64;
                s2 += (x as u64) * (x as u64);
            }
            sum[ch] += s as u128;
            sum_sq[ch] += s2 as u128;
        }
    }
    let count = (split.n * hw) as u128;
    let mut mean = Vec::with_capacity(split.c);
    let mut std = Vec::with_capacity(split.c);
    for ch in 0..split.c {
        if count == 0 {
            mean.push(f64::NAN);
            std.push(f64::NAN);
            continue;
        }
        // var * 255^2 * count^2 = count * sum_sq - sum^2 (exact, non-negative)
        let num = count * sum_sq[ch] - sum[ch] * sum[ch];
        mean.push(sum[ch] as f64 / count as f64 / 255.0);
        std.push((num as f64).sqrt() / count as f64 / 255.0);
    }
    (mean, std)
}
