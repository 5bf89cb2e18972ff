//! Matching distances.
//!
//! - [`layer_distance`] / [`gradient_distance`]: the DC paper's layer-wise gradient distance
//!   ("ours", `distance_wb` / `match_loss` of the reference code). A layer's gradient is
//!   reshaped to one row per output unit (conv `[out, in, h, w]` → `[out, in·h·w]`, linear
//!   `[out, in]` as it is, a rank-3 gradient `[a, b, c]` → `[a, b·c]`), and the distance is
//!   `Σ_rows (1 − ⟨g_real, g_syn⟩ / (‖g_real‖·‖g_syn‖ + 1e-6))`. Rank-1 gradients (biases, norm
//!   scales and shifts) contribute 0 — the reference code returns 0 for them, so biases are
//!   not matched. The distance of a network is the sum over its layers.
//! - [`mean_embedding_distance`]: DM's `‖mean(φ(real)) − mean(φ(syn))‖²`.

use tch::{Kind, Tensor};

/// The reference code's `1e-6` in the cosine denominator.
pub const COSINE_EPS: f64 = 1e-6;

/// Whether a parameter of this shape takes part in gradient matching (rank ≥ 2; rank-1
/// parameters contribute 0, so their gradients need not even be computed).
pub fn is_matched(shape: &[i64]) -> bool {
    shape.len() >= 2
}

/// Distance between the real and synthetic gradients of one parameter (see the module docs).
pub fn layer_distance(g_real: &Tensor, g_syn: &Tensor) -> Tensor {
    let s = g_real.size();
    assert_eq!(
        s,
        g_syn.size(),
        "gradient shapes differ: real {s:?}, synthetic {:?}",
        g_syn.size()
    );
    let (gr, gs) = match s.len() {
        0 | 1 => return Tensor::zeros([], (g_real.kind(), g_real.device())),
        2 => (g_real.shallow_clone(), g_syn.shallow_clone()),
        _ => {
            let rows = s[0];
            (g_real.reshape([rows, -1]), g_syn.reshape([rows, -1]))
        }
    };
    let dot = (&gr * &gs).sum_dim_intlist(-1, false, Kind::Float);
    let norms = gr.norm_scalaropt_dim(2, [-1], false) * gs.norm_scalaropt_dim(2, [-1], false);
    let cos: Tensor = dot / (norms + COSINE_EPS);
    cos.neg().g_add_scalar(1.0).sum(Kind::Float)
}

/// Sum of [`layer_distance`] over matching lists of real and synthetic gradients.
pub fn gradient_distance(g_real: &[Tensor], g_syn: &[Tensor]) -> Tensor {
    assert_eq!(g_real.len(), g_syn.len(), "one gradient per parameter");
    let mut total: Option<Tensor> = None;
    for (r, s) in g_real.iter().zip(g_syn) {
        let d = layer_distance(r, s);
        total = Some(match total {
            Some(t) => t + d,
            None => d,
        });
    }
    total.unwrap_or_else(|| Tensor::zeros([], (Kind::Float, tch::Device::Cpu)))
}

/// DM's distance between two embedded batches `[n, d]` and `[m, d]`: the squared Euclidean
/// distance of their means.
pub fn mean_embedding_distance(real: &Tensor, syn: &Tensor) -> Tensor {
    (real.mean_dim(0, false, Kind::Float) - syn.mean_dim(0, false, Kind::Float))
        .square()
        .sum(Kind::Float)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(v: &[f32], shape: &[i64]) -> Tensor {
        Tensor::from_slice(v).view(shape)
    }

    fn val(x: &Tensor) -> f64 {
        x.double_value(&[])
    }

    /// Hand-computed: rows (1,0)·(1,0): 1 − 1/(1+1e-6); rows (0,1)·(1,1): 1 − 1/(√2+1e-6);
    /// rows (3,4)·(−3,−4): 1 + 25/(25+1e-6).
    #[test]
    fn linear_gradient_distance_matches_hand_computation() {
        let gr = t(&[1., 0., 0., 1., 3., 4.], &[3, 2]);
        let gs = t(&[1., 0., 1., 1., -3., -4.], &[3, 2]);
        let want = (1.0 - 1.0 / (1.0 + 1e-6))
            + (1.0 - 1.0 / (2f64.sqrt() + 1e-6))
            + (1.0 + 25.0 / (25.0 + 1e-6));
        let got = val(&layer_distance(&gr, &gs));
        assert!((got - want).abs() < 1e-6, "{got} vs {want}");
        // Scale invariance per row: scaling the synthetic rows changes nothing (up to the eps
        // in the denominator and float32 rounding).
        let got2 = val(&layer_distance(&gr, &(&gs * 7.0)));
        assert!((got2 - want).abs() < 1e-5, "{got2} vs {want}");
    }

    /// A conv gradient `[out=2, in=1, 1, 2]` is compared per output unit over `in·h·w`.
    #[test]
    fn conv_gradient_is_reshaped_per_output_unit() {
        let gr = t(&[1., 2., 0., 5.], &[2, 1, 1, 2]);
        let gs = t(&[2., 4., 5., 0.], &[2, 1, 1, 2]);
        // unit 0: parallel -> 1 − 10/(√5·√20 + 1e-6) = 1 − 10/(10 + 1e-6); unit 1: orthogonal -> 1.
        let want = (1.0 - 10.0 / (10.0 + 1e-6)) + 1.0;
        let got = val(&layer_distance(&gr, &gs));
        assert!((got - want).abs() < 1e-6, "{got} vs {want}");
        // Flattened over the whole tensor instead it would be 1 − 10/(√30·√45) ≈ 0.728: the
        // per-unit reshape matters.
        assert!((got - (1.0 - 10.0 / (30f64.sqrt() * 45f64.sqrt()))).abs() > 0.1);
    }

    #[test]
    fn biases_contribute_nothing_and_layers_add_up() {
        let bias_r = t(&[1., 2., 3.], &[3]);
        let bias_s = t(&[-1., 5., 0.], &[3]);
        assert_eq!(val(&layer_distance(&bias_r, &bias_s)), 0.0);
        assert!(!is_matched(&[3]) && is_matched(&[3, 2]) && is_matched(&[2, 1, 3, 3]));
        let w_r = t(&[1., 0., 0., 1.], &[2, 2]);
        let w_s = t(&[0., 1., 0., 1.], &[2, 2]);
        let total = gradient_distance(&[w_r.copy(), bias_r], &[w_s.copy(), bias_s]);
        let only_w = layer_distance(&w_r, &w_s);
        assert!((val(&total) - val(&only_w)).abs() < 1e-12);
        // (1,0)·(0,1) = 0 -> 1; (0,1)·(0,1) -> 1 − 1/(1+1e-6).
        assert!((val(&only_w) - (2.0 - 1.0 / (1.0 + 1e-6))).abs() < 1e-6);
    }

    #[test]
    fn gradient_distance_is_differentiable_in_the_synthetic_gradient() {
        let gr = t(&[1., 2., 3., 4., 5., 6.], &[2, 3]);
        let gs = t(&[1., 0., 3., -4., 5., 1.], &[2, 3]).set_requires_grad(true);
        let d = layer_distance(&gr, &gs);
        let g = Tensor::run_backward(&[&d], &[&gs], false, false)
            .pop()
            .unwrap();
        // Moving gs a small step against its gradient lowers the distance.
        let stepped = (&gs.detach() - &g * 0.01).set_requires_grad(false);
        assert!(val(&layer_distance(&gr, &stepped)) < val(&d));
    }

    #[test]
    fn mean_embedding_distance_by_hand() {
        let real = t(&[1., 2., 3., 4.], &[2, 2]); // mean (2, 3)
        let syn = t(&[0., 1.], &[1, 2]); // mean (0, 1)
        assert!((val(&mean_embedding_distance(&real, &syn)) - 8.0).abs() < 1e-9);
    }
}
