//! Per-example scores computed from a scoring model's outputs or its training dynamics.
//!
//! The pure functions take plain slices so they are testable on hand-made numbers; the
//! `*_rows` helpers convert a logits tensor into rows once.

use tch::{Device, Kind, Tensor};

/// A `[B, K]` tensor as `B` rows of `K` f32 values (copied to the CPU).
pub fn rows(t: &Tensor) -> Vec<Vec<f32>> {
    let s = t.size();
    assert_eq!(s.len(), 2, "expected a [B, K] tensor, got {s:?}");
    let (b, k) = (s[0] as usize, s[1] as usize);
    let flat = Vec::<f32>::try_from(
        t.detach()
            .to_device(Device::Cpu)
            .to_kind(Kind::Float)
            .contiguous()
            .view([-1]),
    )
    .expect("float tensor");
    (0..b).map(|i| flat[i * k..(i + 1) * k].to_vec()).collect()
}

/// Numerically stable softmax of one row.
pub fn softmax(logits: &[f32]) -> Vec<f64> {
    let m = logits.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b)) as f64;
    let e: Vec<f64> = logits.iter().map(|&z| (z as f64 - m).exp()).collect();
    let s: f64 = e.iter().sum();
    e.iter().map(|v| v / s).collect()
}

/// Index of the largest logit (the lower index on ties, like `argmax` in PyTorch on CPU).
pub fn argmax(logits: &[f32]) -> usize {
    let mut best = 0;
    for (i, &z) in logits.iter().enumerate() {
        if z > logits[best] {
            best = i;
        }
    }
    best
}

/// EL2N (Paul et al. 2021): `|| softmax(z) - onehot(y) ||_2`.
pub fn el2n(logits: &[f32], label: usize) -> f64 {
    el2n_from_probs(&softmax(logits), label)
}

/// EL2N from probabilities.
pub fn el2n_from_probs(p: &[f64], label: usize) -> f64 {
    p.iter()
        .enumerate()
        .map(|(j, &pj)| {
            let d = pj - if j == label { 1.0 } else { 0.0 };
            d * d
        })
        .sum::<f64>()
        .sqrt()
}

/// GraNd restricted to the final linear layer `z = W h + b` under cross-entropy: the gradient
/// w.r.t. `W` is `(p - y) h^T` and w.r.t. `b` is `p - y`, so its norm is exactly
/// `||p - y|| * sqrt(||h||^2 + 1)`. (The paper's GraNd is the norm over all parameters.)
pub fn grand_last_layer(logits: &[f32], label: usize, features_sq_norm: f64) -> f64 {
    el2n(logits, label) * (features_sq_norm + 1.0).sqrt()
}

/// AUM margin (Pleiss et al. 2020): assigned-class logit minus the largest other logit.
/// Negative when the example is misclassified.
pub fn margin(logits: &[f32], label: usize) -> f64 {
    let other = logits
        .iter()
        .enumerate()
        .filter(|&(j, _)| j != label)
        .fold(f64::NEG_INFINITY, |a, (_, &z)| a.max(z as f64));
    logits[label] as f64 - other
}

/// Forgetting events (Toneva et al. 2019), counted over the sequence of correctness values an
/// example gets each time it is presented in a minibatch. A forgetting event is a transition
/// from correct to incorrect between consecutive presentations. An example that is never
/// classified correctly is "forgotten infinitely often": its score is `+inf`, ranking it above
/// every example that was learned.
#[derive(Clone, Debug)]
pub struct ForgettingTracker {
    last_correct: Vec<bool>,
    ever_correct: Vec<bool>,
    presented: Vec<u32>,
    forgets: Vec<u32>,
}

impl ForgettingTracker {
    pub fn new(n: usize) -> Self {
        Self {
            last_correct: vec![false; n],
            ever_correct: vec![false; n],
            presented: vec![0; n],
            forgets: vec![0; n],
        }
    }

    /// Records one presentation of example `i`.
    pub fn record(&mut self, i: usize, correct: bool) {
        if self.presented[i] > 0 && self.last_correct[i] && !correct {
            self.forgets[i] += 1;
        }
        self.last_correct[i] = correct;
        self.ever_correct[i] |= correct;
        self.presented[i] += 1;
    }

    /// Records a batch: `idx` into the split, its logits rows and labels of the whole split.
    pub fn record_batch(&mut self, idx: &[i64], logits: &[Vec<f32>], labels: &[i64]) {
        for (&i, z) in idx.iter().zip(logits) {
            let i = i as usize;
            self.record(i, argmax(z) == labels[i] as usize);
        }
    }

    /// Number of forgetting events of each example (finite counts only).
    pub fn counts(&self) -> &[u32] {
        &self.forgets
    }

    /// Whether each example was ever classified correctly.
    pub fn learned(&self) -> &[bool] {
        &self.ever_correct
    }

    /// Scores: forgetting events, `+inf` for examples never learned (or never presented).
    pub fn scores(&self) -> Vec<f64> {
        (0..self.forgets.len())
            .map(|i| {
                if self.ever_correct[i] {
                    self.forgets[i] as f64
                } else {
                    f64::INFINITY
                }
            })
            .collect()
    }
}

/// Area under the margin: the mean of an example's margins over all its presentations.
#[derive(Clone, Debug)]
pub struct AumTracker {
    sum: Vec<f64>,
    count: Vec<u32>,
}

impl AumTracker {
    pub fn new(n: usize) -> Self {
        Self {
            sum: vec![0.0; n],
            count: vec![0; n],
        }
    }
    pub fn record(&mut self, i: usize, margin: f64) {
        self.sum[i] += margin;
        self.count[i] += 1;
    }
    pub fn record_batch(&mut self, idx: &[i64], logits: &[Vec<f32>], labels: &[i64]) {
        for (&i, z) in idx.iter().zip(logits) {
            let i = i as usize;
            self.record(i, margin(z, labels[i] as usize));
        }
    }
    /// AUM of each example (NaN if it was never presented).
    pub fn scores(&self) -> Vec<f64> {
        self.sum
            .iter()
            .zip(&self.count)
            .map(|(&s, &c)| if c == 0 { f64::NAN } else { s / c as f64 })
            .collect()
    }
}

/// Element-wise mean of several score vectors (e.g. over independently initialised models).
pub fn mean_scores(runs: &[Vec<f64>]) -> Vec<f64> {
    let n = runs.first().map_or(0, Vec::len);
    let mut m = vec![0.0; n];
    for r in runs {
        assert_eq!(r.len(), n, "score runs of unequal length");
        for (a, &v) in m.iter_mut().zip(r) {
            *a += v;
        }
    }
    m.iter_mut().for_each(|v| *v /= runs.len().max(1) as f64);
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn el2n_on_hand_computed_softmax() {
        // Equal logits over 4 classes: p = 0.25 each; ||p - e_0||^2 = 0.75^2 + 3*0.0625 = 0.75.
        assert!(close(el2n(&[1.0, 1.0, 1.0, 1.0], 0), 0.75f64.sqrt()));
        // Two classes, logits (ln 3, 0): p = (0.75, 0.25).
        let z = [3.0f32.ln(), 0.0];
        assert!((el2n(&z, 0) - (2.0 * 0.0625f64).sqrt()).abs() < 1e-6);
        assert!((el2n(&z, 1) - (2.0 * 0.5625f64).sqrt()).abs() < 1e-6);
        // Confident and right -> ~0; confident and wrong -> ~sqrt(2).
        assert!(el2n(&[50.0, 0.0, 0.0], 0) < 1e-9);
        assert!((el2n(&[50.0, 0.0, 0.0], 1) - 2f64.sqrt()).abs() < 1e-9);
        // Softmax is shift invariant and stable for large logits.
        assert!(close(el2n(&[1001.0, 1000.0], 0), el2n(&[1.0, 0.0], 0)));
    }

    #[test]
    fn grand_last_layer_closed_form() {
        let z = [1.0f32, 1.0, 1.0, 1.0];
        // ||h||^2 = 3 -> factor 2.
        assert!(close(grand_last_layer(&z, 2, 3.0), 2.0 * 0.75f64.sqrt()));
    }

    #[test]
    fn aum_margins_on_hand_made_logits() {
        assert!(close(margin(&[3.0, 1.0, 2.0], 0), 1.0));
        assert!(close(margin(&[3.0, 1.0, 2.0], 1), -2.0));
        assert!(close(margin(&[3.0, 1.0, 2.0], 2), -1.0));
        let mut t = AumTracker::new(3);
        // Example 0 presented twice: margins 1 and 3 -> AUM 2. Example 1 once: -2.
        t.record_batch(&[0, 1], &[vec![3.0, 2.0], vec![1.0, 3.0]], &[0, 1, 0]);
        t.record_batch(&[0], &[vec![4.0, 1.0]], &[0, 1, 0]);
        let s = t.scores();
        assert!(close(s[0], 2.0));
        assert!(close(s[1], 2.0), "label 1: 3 - 1 = 2");
        assert!(s[2].is_nan(), "never presented");
    }

    #[test]
    fn forgetting_counts_on_a_scripted_sequence() {
        let seqs: [&[bool]; 6] = [
            &[true, true, true],                      // learned, never forgotten: 0
            &[false, true, false, true, false],       // forgotten twice: 2
            &[true, false, false, true],              // once: 1
            &[false, false, false],                   // never learned: inf
            &[false, true],                           // learned late, never forgotten: 0
            &[true, false, true, false, true, false], // three times: 3
        ];
        let mut t = ForgettingTracker::new(seqs.len());
        let longest = seqs.iter().map(|s| s.len()).max().unwrap();
        for step in 0..longest {
            for (i, s) in seqs.iter().enumerate() {
                if let Some(&c) = s.get(step) {
                    t.record(i, c);
                }
            }
        }
        assert_eq!(t.counts(), &[0, 2, 1, 0, 0, 3]);
        let s = t.scores();
        assert_eq!(&s[..3], &[0.0, 2.0, 1.0]);
        assert!(s[3].is_infinite() && s[3] > 0.0);
        assert_eq!(&s[4..], &[0.0, 3.0]);
        // Most forgotten first: never-learned, then 3, 2, 1 forgetting events, then the
        // unforgettable ones by index.
        let r = crate::select::rank(
            &s,
            &[0, 1, 2, 3, 4, 5],
            crate::Order::HighestFirst,
            &crate::TieBreak::Index,
        );
        assert_eq!(r, vec![3, 5, 1, 2, 0, 4]);
    }

    #[test]
    fn forgetting_from_logits_uses_argmax() {
        let mut t = ForgettingTracker::new(2);
        let labels = [1, 0];
        t.record_batch(&[0, 1], &[vec![0.0, 1.0], vec![2.0, 1.0]], &labels); // both right
        t.record_batch(&[0, 1], &[vec![1.0, 0.0], vec![2.0, 1.0]], &labels); // 0 forgets
        assert_eq!(t.counts(), &[1, 0]);
    }

    #[test]
    fn mean_of_runs() {
        assert_eq!(
            mean_scores(&[vec![1.0, 2.0], vec![3.0, 6.0]]),
            vec![2.0, 4.0]
        );
    }
}
