//! Distillation losses, per sample (so per-sample weights still apply). Logits are `[B, K]`.

use tch::{Kind, Tensor};

/// `T^2 * KL(softmax(t/T) || softmax(s/T))` per sample: the soft-label protocol's loss and the
/// KD term of Hinton et al. (the `T^2` keeps gradient magnitudes comparable across T).
pub fn kl_t(student: &Tensor, teacher: &Tensor, temperature: f64) -> Tensor {
    kl(student, teacher, temperature) * (temperature * temperature)
}

/// `KL(softmax(t/T) || softmax(s/T))` per sample, without the `T^2` factor: the large-image
/// benchmark's loss (rethinkdc / SRe2L `train_KD.py`: `KLDivLoss(reduction="batchmean")` of
/// `log_softmax(s/T)` against `softmax(t/T)`, the `T^2` commented out). Its batch mean is
/// `batchmean`.
pub fn kl(student: &Tensor, teacher: &Tensor, temperature: f64) -> Tensor {
    let log_p_s = (student / temperature).log_softmax(1, Kind::Float);
    let log_p_t = (teacher / temperature).log_softmax(1, Kind::Float);
    (log_p_t.exp() * (&log_p_t - log_p_s)).sum_dim_intlist(1, false, Kind::Float)
}

/// Soft cross-entropy `-sum p log softmax(s)` per sample.
pub fn soft_ce(student: &Tensor, p: &Tensor) -> Tensor {
    -(p * student.log_softmax(1, Kind::Float)).sum_dim_intlist(1, false, Kind::Float)
}

/// Vanilla KD per sample: `alpha * CE(target) + (1 - alpha) * T^2 * KL`. `target` is a
/// distribution `[B, K]` (one-hot for hard labels, mixed under CutMix/Mixup).
pub fn kd(
    student: &Tensor,
    teacher: &Tensor,
    target: &Tensor,
    temperature: f64,
    alpha: f64,
) -> Tensor {
    soft_ce(student, target) * alpha + kl_t(student, teacher, temperature) * (1.0 - alpha)
}

/// Decoupled KD (Zhao et al., CVPR 2022) per sample, without the CE term:
/// `alpha * TCKD + beta * NCKD`, both `T^2`-scaled. TCKD is the KL between the binary
/// (target, rest) distributions of teacher and student; NCKD the KL between their
/// distributions over the non-target classes (the target logit masked out). `gt` holds the
/// target class of each sample `[B]`.
pub fn dkd(
    student: &Tensor,
    teacher: &Tensor,
    gt: &Tensor,
    alpha: f64,
    beta: f64,
    temperature: f64,
) -> Tensor {
    let k = student.size()[1];
    let gt_mask = gt.one_hot(k).to_kind(Kind::Float);
    let other_mask = 1.0 - &gt_mask;
    let p_s = (student / temperature).softmax(1, Kind::Float);
    let p_t = (teacher / temperature).softmax(1, Kind::Float);
    let binary = |p: &Tensor| {
        Tensor::stack(
            &[
                (p * &gt_mask).sum_dim_intlist(1, false, Kind::Float),
                (p * &other_mask).sum_dim_intlist(1, false, Kind::Float),
            ],
            1,
        )
    };
    let (b_s, b_t) = (binary(&p_s), binary(&p_t));
    let tckd = (&b_t * (b_t.clamp_min(1e-12).log() - b_s.clamp_min(1e-12).log())).sum_dim_intlist(
        1,
        false,
        Kind::Float,
    );
    // Non-target distributions: softmax with the target logit pushed to -inf (1000/T below).
    let masked = |z: &Tensor| z / temperature - &gt_mask * 1000.0;
    let log_q_s = masked(student).log_softmax(1, Kind::Float);
    let log_q_t = masked(teacher).log_softmax(1, Kind::Float);
    let nckd = (log_q_t.exp() * (&log_q_t - log_q_s)).sum_dim_intlist(1, false, Kind::Float);
    (tckd * alpha + nckd * beta) * (temperature * temperature)
}

/// Label-smoothed cross-entropy per sample: CE against `(1 - eps) * onehot + eps / K`.
pub fn smoothed_ce(student: &Tensor, y: &Tensor, epsilon: f64) -> Tensor {
    let k = student.size()[1];
    let target = y.one_hot(k).to_kind(Kind::Float) * (1.0 - epsilon) + epsilon / k as f64;
    soft_ce(student, &target)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(v: &[f32], rows: i64) -> Tensor {
        Tensor::from_slice(v).view([rows, -1])
    }
    fn vals(x: &Tensor) -> Vec<f64> {
        Vec::<f64>::try_from(&x.to_kind(Kind::Double)).unwrap()
    }

    // Reference values computed independently with numpy (float64):
    //   s = [1, 2, 0.5], t = [2, 0, 1], T = 2
    //   KL(softmax(t/2) || softmax(s/2)) * T^2 = 0.7811334
    #[test]
    fn kl_matches_a_hand_computed_value() {
        let s = t(&[1.0, 2.0, 0.5], 1);
        let tt = t(&[2.0, 0.0, 1.0], 1);
        let v = vals(&kl_t(&s, &tt, 2.0))[0];
        assert!((v - 0.781_133).abs() < 1e-5, "{v}");
        // KL of identical logits is 0 at any temperature; T = 1 has no scaling.
        assert!(vals(&kl_t(&s, &s, 3.0))[0].abs() < 1e-6);
        // Without T^2: the same KL divided by T^2 = 4.
        let v = vals(&kl(&s, &tt, 2.0))[0];
        assert!((v - 0.781_133 / 4.0).abs() < 1e-6, "{v}");
    }

    //   y = 0, alpha = 0.5: CE = -log softmax(s)[0] = 1.4643688; 0.5 * CE + 0.5 * 0.7811334
    #[test]
    fn kd_mixes_ce_and_kl() {
        let s = t(&[1.0, 2.0, 0.5], 1);
        let tt = t(&[2.0, 0.0, 1.0], 1);
        let y = Tensor::from_slice(&[0i64]);
        let onehot = y.one_hot(3).to_kind(Kind::Float);
        let v = vals(&kd(&s, &tt, &onehot, 2.0, 0.5))[0];
        let ce = 1.464_368_8;
        assert!((v - (0.5 * ce + 0.5 * 0.781_133)).abs() < 1e-5, "{v}");
    }

    //   s = [1, 2, 0.5, -1], t = [3, 0, 1, 0.5], gt = 0, T = 1:
    //   b_t = [0.7891, 0.2109], b_s = [0.2242, 0.7758]; TCKD = 0.7183370 (natural log)
    //   q_t over {1,2,3} = softmax([0, 1, 0.5]) = [0.1863, 0.5065, 0.3072],
    //   q_s = softmax([2, 0.5, -1]) = [0.7856, 0.1753, 0.0391]; NCKD = 0.9024282
    //   alpha 1, beta 8: 0.6309 + 8 * 0.8584
    #[test]
    fn dkd_matches_a_hand_computed_value() {
        let s = t(&[1.0, 2.0, 0.5, -1.0], 1);
        let tt = t(&[3.0, 0.0, 1.0, 0.5], 1);
        let gt = Tensor::from_slice(&[0i64]);
        let tckd = vals(&dkd(&s, &tt, &gt, 1.0, 0.0, 1.0))[0];
        let nckd = vals(&dkd(&s, &tt, &gt, 0.0, 1.0, 1.0))[0];
        assert!((tckd - 0.718_337).abs() < 1e-5, "TCKD {tckd}");
        assert!((nckd - 0.902_428).abs() < 1e-5, "NCKD {nckd}");
        let both = vals(&dkd(&s, &tt, &gt, 1.0, 8.0, 1.0))[0];
        assert!((both - (tckd + 8.0 * nckd)).abs() < 1e-5);
        // The T^2 factor.
        let t2 = vals(&dkd(&s, &tt, &gt, 1.0, 0.0, 2.0))[0];
        let p = |z: [f64; 4]| {
            let e: Vec<f64> = z.iter().map(|v| (v / 2.0).exp()).collect();
            e[0] / e.iter().sum::<f64>()
        };
        let (bt, bs) = (p([3.0, 0.0, 1.0, 0.5]), p([1.0, 2.0, 0.5, -1.0]));
        let expect = 4.0 * (bt * (bt / bs).ln() + (1.0 - bt) * ((1.0 - bt) / (1.0 - bs)).ln());
        assert!((t2 - expect).abs() < 1e-5, "{t2} vs {expect}");
    }

    //   K = 4, eps = 0.2: target = [0.05, 0.85, 0.05, 0.05] for y = 1
    #[test]
    fn smoothing_is_ce_against_the_smoothed_target() {
        let s = t(&[0.3, 1.2, -0.4, 0.0], 1);
        let y = Tensor::from_slice(&[1i64]);
        let v = vals(&smoothed_ce(&s, &y, 0.2))[0];
        let z = [0.3f64, 1.2, -0.4, 0.0];
        let lse = z.iter().map(|v| v.exp()).sum::<f64>().ln();
        let target = [0.05, 0.85, 0.05, 0.05];
        let expect: f64 = z.iter().zip(target).map(|(z, p)| -p * (z - lse)).sum();
        assert!((v - expect).abs() < 1e-5, "{v} vs {expect}");
    }
}
