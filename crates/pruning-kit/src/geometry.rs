//! Greedy herding and greedy k-center on embeddings, as pure functions.
//!
//! Points are rows `&[Vec<f32>]` of equal length; distances are Euclidean, accumulated in f64.
//! Ties (equal distances) go to the lower row index, so both functions are deterministic.

/// Squared Euclidean distance, accumulated in f64.
pub fn sq_dist(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| {
            let d = x as f64 - y as f64;
            d * d
        })
        .sum()
}

/// Mean of the rows (f64).
pub fn mean(points: &[Vec<f32>]) -> Vec<f64> {
    let d = points.first().map_or(0, Vec::len);
    let mut m = vec![0.0f64; d];
    for p in points {
        for (acc, &v) in m.iter_mut().zip(p) {
            *acc += v as f64;
        }
    }
    let n = points.len().max(1) as f64;
    m.iter_mut().for_each(|v| *v /= n);
    m
}

/// Row index nearest to the mean of all rows (lower index on ties). Panics on no points.
pub fn nearest_to_mean(points: &[Vec<f32>]) -> usize {
    assert!(!points.is_empty(), "nearest_to_mean of no points");
    let mu = mean(points);
    let mut best = (f64::INFINITY, 0usize);
    for (i, p) in points.iter().enumerate() {
        let d: f64 = p
            .iter()
            .zip(&mu)
            .map(|(&x, &m)| (x as f64 - m).powi(2))
            .sum();
        if d < best.0 {
            best = (d, i);
        }
    }
    best.1
}

/// Greedy herding (Welling 2009; the variant of Chen et al. 2010 / DC / DeepCore): starting
/// from nothing, repeatedly add the row that makes the mean of the selected rows closest to the
/// mean of all rows. Returns `min(k, n)` distinct row indices in selection order. The first
/// pick is therefore the row nearest the mean.
pub fn herding(points: &[Vec<f32>], k: usize) -> Vec<usize> {
    let n = points.len();
    let k = k.min(n);
    if k == 0 {
        return Vec::new();
    }
    let mu = mean(points);
    let d = mu.len();
    let mut sum = vec![0.0f64; d];
    let mut taken = vec![false; n];
    let mut out = Vec::with_capacity(k);
    for t in 0..k {
        // Minimise || mu - (sum + x)/(t+1) || <=> || (t+1) mu - sum - x ||.
        let target: Vec<f64> = mu
            .iter()
            .zip(&sum)
            .map(|(&m, &s)| (t as f64 + 1.0) * m - s)
            .collect();
        let mut best = (f64::INFINITY, usize::MAX);
        for (i, p) in points.iter().enumerate() {
            if taken[i] {
                continue;
            }
            let dist: f64 = p
                .iter()
                .zip(&target)
                .map(|(&x, &g)| (g - x as f64).powi(2))
                .sum();
            if dist < best.0 {
                best = (dist, i);
            }
        }
        let i = best.1;
        taken[i] = true;
        for (s, &v) in sum.iter_mut().zip(&points[i]) {
            *s += v as f64;
        }
        out.push(i);
    }
    out
}

/// `|| mean(points[order[..t]]) - mean(points) ||` for t = 1..=len: how herding's running mean
/// approaches the target mean (for tests and metadata).
pub fn running_mean_errors(points: &[Vec<f32>], order: &[usize]) -> Vec<f64> {
    let mu = mean(points);
    let mut sum = vec![0.0f64; mu.len()];
    order
        .iter()
        .enumerate()
        .map(|(t, &i)| {
            for (s, &v) in sum.iter_mut().zip(&points[i]) {
                *s += v as f64;
            }
            sum.iter()
                .zip(&mu)
                .map(|(&s, &m)| (s / (t as f64 + 1.0) - m).powi(2))
                .sum::<f64>()
                .sqrt()
        })
        .collect()
}

/// Greedy k-center (Gonzalez 1985; the core-set selection of Sener & Savarese 2018): start
/// from `first`, then repeatedly add the row whose distance to its nearest selected center is
/// largest. Returns `min(k, n)` distinct row indices in selection order. Once every row is a
/// center (or duplicates remain at distance 0) the lowest unselected index is taken.
pub fn kcenter_greedy(points: &[Vec<f32>], k: usize, first: usize) -> Vec<usize> {
    let n = points.len();
    let k = k.min(n);
    if k == 0 {
        return Vec::new();
    }
    assert!(first < n, "k-center start {first} out of range {n}");
    let mut min_d: Vec<f64> = points.iter().map(|p| sq_dist(p, &points[first])).collect();
    let mut taken = vec![false; n];
    taken[first] = true;
    let mut out = vec![first];
    while out.len() < k {
        let mut best = (f64::NEG_INFINITY, usize::MAX);
        for i in 0..n {
            if !taken[i] && min_d[i] > best.0 {
                best = (min_d[i], i);
            }
        }
        let c = best.1;
        taken[c] = true;
        out.push(c);
        for i in 0..n {
            if !taken[i] {
                let d = sq_dist(&points[i], &points[c]);
                if d < min_d[i] {
                    min_d[i] = d;
                }
            }
        }
    }
    out
}

/// The covering radius of `centers` over `points` (max over points of the distance to the
/// nearest center): what greedy k-center approximately minimises.
pub fn covering_radius(points: &[Vec<f32>], centers: &[usize]) -> f64 {
    points
        .iter()
        .map(|p| {
            centers
                .iter()
                .map(|&c| sq_dist(p, &points[c]))
                .fold(f64::INFINITY, f64::min)
        })
        .fold(0.0, f64::max)
        .sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use distillery_api::rng::SplitMix64;

    fn cloud(n: usize, d: usize, seed: u64) -> Vec<Vec<f32>> {
        let mut r = SplitMix64::new(seed);
        (0..n)
            .map(|_| (0..d).map(|_| (r.next_f64() * 2.0 - 1.0) as f32).collect())
            .collect()
    }

    #[test]
    fn kcenter_picks_the_farthest_points() {
        // A tight cluster near the origin plus three outliers at known distances.
        let pts = vec![
            vec![0.0, 0.0],  // 0: start
            vec![0.1, 0.0],  // 1
            vec![0.0, 0.1],  // 2
            vec![10.0, 0.0], // 3: farthest from 0
            vec![-6.0, 0.0], // 4: next farthest from {0, 3}
            vec![0.0, 4.0],  // 5: then this one
        ];
        assert_eq!(kcenter_greedy(&pts, 4, 0), vec![0, 3, 4, 5]);
        // Starting elsewhere: from 3 the farthest is 4 (distance 16), then 5 (sqrt(16+...)).
        assert_eq!(kcenter_greedy(&pts, 3, 3), vec![3, 4, 5]);
        assert_eq!(kcenter_greedy(&pts, 100, 0).len(), 6);
    }

    #[test]
    fn kcenter_radius_shrinks_and_beats_random_subsets() {
        let pts = cloud(300, 4, 1);
        let mut last = f64::INFINITY;
        for k in [1, 5, 20, 50] {
            let c = kcenter_greedy(&pts, k, 0);
            let mut s = c.clone();
            s.sort();
            s.dedup();
            assert_eq!(s.len(), k, "distinct centers");
            let r = covering_radius(&pts, &c);
            assert!(r <= last + 1e-12, "radius shrinks as k grows");
            last = r;
            if k >= 5 {
                for s in 0..5 {
                    let rand: Vec<usize> = SplitMix64::new(s).sample(300, k);
                    assert!(
                        r <= covering_radius(&pts, &rand),
                        "k={k}: greedy beats random"
                    );
                }
            }
        }
    }

    #[test]
    fn herding_first_pick_is_nearest_to_mean() {
        let pts = vec![
            vec![0.0, 0.0],
            vec![4.0, 4.0],
            vec![1.1, 0.9],
            vec![2.0, 2.0],
        ];
        // Mean = (1.775, 1.725): nearest is [2,2] (index 3).
        assert_eq!(nearest_to_mean(&pts), 3);
        let h = herding(&pts, 2);
        assert_eq!(h[0], 3);
        // Second pick: minimise ||2mu - [2,2] - x|| = ||[1.55,1.45] - x|| -> [1.1,0.9].
        assert_eq!(h[1], 2);
    }

    #[test]
    fn herding_running_mean_converges_to_the_class_mean() {
        let pts = cloud(200, 8, 3);
        let order = herding(&pts, 200);
        let mut s = order.clone();
        s.sort();
        s.dedup();
        assert_eq!(s.len(), 200, "herding never picks a row twice");
        let err = running_mean_errors(&pts, &order);
        assert!(err[199] < 1e-9, "all rows selected: mean is exact");
        // Much closer to the mean than a random subset of the same size.
        let rand = SplitMix64::new(5).sample(200, 10);
        let rerr = running_mean_errors(&pts, &rand);
        assert!(
            err[9] < 0.5 * rerr[9],
            "herding {} vs random {}",
            err[9],
            rerr[9]
        );
        // Error decays roughly like 1/t: the 20-point error is far below the 1-point error,
        // and never rises much above the best so far over the first 40 picks.
        assert!(err[19] < 0.25 * err[0]);
        let mut best = f64::INFINITY;
        for &e in &err[..40] {
            assert!(
                e <= 2.0 * best.max(1e-3),
                "error jumped: {e} after best {best}"
            );
            best = best.min(e);
        }
    }
}
