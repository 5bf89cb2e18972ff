//! Large-image augmentation ("Rethinking dataset compression" protocols): RandomResizedCrop with
//! horizontal flip, and CutMix / Mixup with their mixed targets. Every draw comes from
//! libtorch's generator (seeded per cell), so the same seed gives the same stream.

use tch::{Device, Kind, Tensor};

/// RandomResizedCrop(size, scale = (lo, hi), ratio = (3/4, 4/3)) + horizontal flip (p = 0.5),
/// per image, as torchvision samples it (10 tries, then the whole image clipped to the ratio
/// range), resampled bilinearly with an affine grid (differentiable w.r.t. the images).
pub fn random_resized_crop_flip(x: &Tensor, size: i64, scale: (f64, f64)) -> Tensor {
    let s = x.size();
    let (n, c, h, w) = (s[0], s[1], s[2] as f64, s[3] as f64);
    let (r_lo, r_hi) = ((3.0f64 / 4.0).ln(), (4.0f64 / 3.0).ln());
    let area = h * w;
    let mut theta = Vec::with_capacity((n * 6) as usize);
    // Draws on CPU: a fixed number per image, so the stream does not depend on the device.
    let u =
        Vec::<f64>::try_from(Tensor::rand([n, 10, 4], (Kind::Double, Device::Cpu)).flatten(0, -1))
            .unwrap();
    let flips = Vec::<f64>::try_from(Tensor::rand([n], (Kind::Double, Device::Cpu))).unwrap();
    for i in 0..n as usize {
        let mut chosen = None;
        for t in 0..10 {
            let d = &u[(i * 10 + t) * 4..(i * 10 + t) * 4 + 4];
            let target = area * (scale.0 + d[0] * (scale.1 - scale.0));
            let ratio = (r_lo + d[1] * (r_hi - r_lo)).exp();
            let cw = (target * ratio).sqrt().round();
            let ch = (target / ratio).sqrt().round();
            if cw > 0.0 && ch > 0.0 && cw <= w && ch <= h {
                let top = (d[2] * (h - ch + 1.0)).floor();
                let left = (d[3] * (w - cw + 1.0)).floor();
                chosen = Some((top, left, ch, cw));
                break;
            }
        }
        let (top, left, ch, cw) = chosen.unwrap_or_else(|| {
            let r = w / h;
            let (cw, ch) = if r < 3.0 / 4.0 {
                (w, (w / (3.0 / 4.0)).round())
            } else if r > 4.0 / 3.0 {
                ((h * 4.0 / 3.0).round(), h)
            } else {
                (w, h)
            };
            (((h - ch) / 2.0).floor(), ((w - cw) / 2.0).floor(), ch, cw)
        });
        // Normalised coordinates (align_corners = false): centre and half-extent of the box.
        let cx = (left + cw / 2.0) / w * 2.0 - 1.0;
        let cy = (top + ch / 2.0) / h * 2.0 - 1.0;
        let sx = cw / w * if flips[i] < 0.5 { -1.0 } else { 1.0 };
        theta.extend_from_slice(&[sx, 0.0, cx, 0.0, ch / h, cy]);
    }
    let theta = Tensor::from_slice(&theta)
        .view([n, 2, 3])
        .to_kind(x.kind())
        .to_device(x.device());
    let grid = Tensor::affine_grid_generator(&theta, [n, c, size, size], false);
    x.grid_sampler(&grid, 0, 0, false)
}

/// A Beta(alpha, alpha) draw from libtorch's generator (two Gamma draws).
pub fn beta(alpha: f64) -> f64 {
    let a = Tensor::full([2], alpha, (Kind::Double, Device::Cpu));
    let g = Vec::<f64>::try_from(a.internal_standard_gamma()).unwrap();
    if g[0] + g[1] > 0.0 {
        g[0] / (g[0] + g[1])
    } else {
        0.5
    }
}

/// Which batch-mixing augmentation a recipe uses.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mix {
    /// No batch mixing.
    None,
    /// CutMix (Yun et al. 2019): paste a box of a permuted batch; targets mixed by box area.
    Cutmix,
    /// Mixup (Zhang et al. 2018): convex combination of the batch and a permutation.
    Mixup,
}

/// Mixes a batch `x` and its target distributions `p` ([N, K]); returns both mixed.
pub fn mix(kind: Mix, alpha: f64, x: &Tensor, p: &Tensor) -> (Tensor, Tensor) {
    let n = x.size()[0];
    if kind == Mix::None || n < 2 {
        return (x.shallow_clone(), p.shallow_clone());
    }
    let lam = beta(alpha);
    let perm = Tensor::randperm(n, (Kind::Int64, Device::Cpu)).to_device(x.device());
    let xp = x.index_select(0, &perm);
    let pp = p.index_select(0, &perm);
    match kind {
        Mix::Mixup => (x * lam + xp * (1.0 - lam), p * lam + pp * (1.0 - lam)),
        Mix::Cutmix => {
            let s = x.size();
            let (h, w) = (s[2], s[3]);
            let cut = (1.0 - lam).sqrt();
            let (ch, cw) = ((h as f64 * cut) as i64, (w as f64 * cut) as i64);
            let c =
                Vec::<i64>::try_from(Tensor::randint(h.max(w), [2], (Kind::Int64, Device::Cpu)))
                    .unwrap();
            let (cy, cx) = (c[0] % h, c[1] % w);
            let (y1, y2) = ((cy - ch / 2).clamp(0, h), (cy + ch / 2).clamp(0, h));
            let (x1, x2) = ((cx - cw / 2).clamp(0, w), (cx + cw / 2).clamp(0, w));
            let rows = Tensor::arange(h, (Kind::Int64, x.device())).view([1, 1, h, 1]);
            let cols = Tensor::arange(w, (Kind::Int64, x.device())).view([1, 1, 1, w]);
            let inside = rows
                .ge(y1)
                .logical_and(&rows.lt(y2))
                .logical_and(&cols.ge(x1))
                .logical_and(&cols.lt(x2));
            let mixed = xp.where_self(&inside, x);
            let lam_adj = 1.0 - ((y2 - y1) * (x2 - x1)) as f64 / (h * w) as f64;
            (mixed, p * lam_adj + pp * (1.0 - lam_adj))
        }
        Mix::None => unreachable!(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rrc_shapes_determinism_and_full_box_identity() {
        let _rng = crate::rng::test_lock();
        let x = Tensor::rand([3, 3, 40, 40], (Kind::Double, Device::Cpu));
        tch::manual_seed(1);
        let a = random_resized_crop_flip(&x, 24, (0.08, 1.0));
        tch::manual_seed(1);
        let b = random_resized_crop_flip(&x, 24, (0.08, 1.0));
        assert_eq!(a.size(), vec![3, 3, 24, 24]);
        assert!(a.equal(&b));
        // scale (1, 1) on a square image: the whole image, possibly mirrored.
        tch::manual_seed(2);
        let y = random_resized_crop_flip(&x, 40, (1.0, 1.0));
        for i in 0..3 {
            let same = y.get(i).allclose(&x.get(i), 1e-9, 1e-9, false);
            let mirrored = y.get(i).allclose(&x.get(i).flip([2]), 1e-9, 1e-9, false);
            assert!(
                same || mirrored,
                "image {i} is neither the original nor its mirror"
            );
        }
    }

    #[test]
    fn mixup_and_cutmix_keep_targets_distributions_and_mass() {
        let _rng = crate::rng::test_lock();
        tch::manual_seed(3);
        let x = Tensor::rand([8, 1, 10, 10], (Kind::Double, Device::Cpu));
        let p = Tensor::eye(8, (Kind::Double, Device::Cpu));
        for kind in [Mix::Mixup, Mix::Cutmix] {
            let (xm, pm) = mix(kind, 1.0, &x, &p);
            assert_eq!(xm.size(), x.size());
            let sums = pm.sum_dim_intlist(1, false, Kind::Double);
            assert!(sums.allclose(
                &Tensor::ones([8], (Kind::Double, Device::Cpu)),
                1e-12,
                1e-12,
                false
            ));
            assert!(pm.ge(0.0).all().int64_value(&[]) == 1);
        }
        // CutMix: the kept share of each image equals its target weight on its own class.
        tch::manual_seed(4);
        let x = Tensor::arange(8, (Kind::Double, Device::Cpu))
            .view([8, 1, 1, 1])
            .expand([8, 1, 10, 10], true)
            * 1.0;
        let (xm, pm) = mix(Mix::Cutmix, 1.0, &x, &p);
        for i in 0..8 {
            let own = xm
                .get(i)
                .eq(i as f64)
                .to_kind(Kind::Double)
                .mean(Kind::Double)
                .double_value(&[]);
            let w = pm.double_value(&[i, i]);
            assert!(
                (own - w).abs() < 1e-12 || w == 1.0,
                "image {i}: kept {own} vs target weight {w}"
            );
        }
    }

    #[test]
    fn beta_is_seeded_and_in_range() {
        let _rng = crate::rng::test_lock();
        tch::manual_seed(5);
        let a: Vec<f64> = (0..20).map(|_| beta(1.0)).collect();
        tch::manual_seed(5);
        let b: Vec<f64> = (0..20).map(|_| beta(1.0)).collect();
        assert_eq!(a, b);
        assert!(a.iter().all(|&v| (0.0..=1.0).contains(&v)));
        let mean = a.iter().sum::<f64>() / 20.0;
        assert!((0.25..0.75).contains(&mean), "Beta(1,1) mean {mean}");
    }
}
