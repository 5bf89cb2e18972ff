//! Settings shared by the distillation plugins' `[methods.<name>]` tables: the preset switch,
//! the matching network, DSA, value checks, and the loss trace recorded with every cell.

use distillery_api::nn::augment::{Dsa, DSA_GROUPS};
use distillery_api::spec::{Arch, ModelSpec};
use distillery_api::{Context, MethodError};
use serde::{Deserialize, Serialize};

/// Which set of defaults fills the keys a `[methods.<name>]` table leaves out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// Runnable on `mnist-5k` on a CPU in minutes per cell (each plugin's README says how it
    /// deviates from the paper and why).
    #[default]
    Default,
    /// The paper's / reference code's values (iterations, learning rates, batch sizes,
    /// matching network = the protocol's student, ConvNet-3 width 128 in `hard-label`).
    Paper,
}

impl Preset {
    pub fn as_str(self) -> &'static str {
        match self {
            Preset::Default => "default",
            Preset::Paper => "paper",
        }
    }
}

/// The matching network: `explicit` if the table sets `model`; otherwise the protocol's
/// student, narrowed to `default_width` channels when the preset asks for it (only ever
/// narrower than the student, and only for ConvNets).
pub fn matching_model(
    explicit: Option<&ModelSpec>,
    student: &ModelSpec,
    default_width: Option<i64>,
) -> Result<ModelSpec, MethodError> {
    let m = match explicit {
        Some(m) => m.clone(),
        None => {
            let mut m = student.clone();
            if let Some(w) = default_width {
                if matches!(m.arch, Arch::Convnet | Arch::ConvnetBn) {
                    m.width = m.width.min(w);
                }
            }
            m
        }
    };
    if matches!(m.arch, Arch::Convnet | Arch::ConvnetBn) && (m.width < 1 || m.depth < 1) {
        return Err(MethodError::Config(format!(
            "model: a ConvNet needs width >= 1 and depth >= 1, got width {} depth {}",
            m.width, m.depth
        )));
    }
    Ok(m)
}

/// Whether a network has BatchNorm layers (their statistics depend on the batch, which the
/// reference code handles specially).
pub fn has_batch_norm(m: &ModelSpec) -> bool {
    matches!(
        m.arch,
        Arch::ConvnetBn | Arch::Resnet18 | Arch::Resnet18Imagenet
    )
}

/// The DSA augmenter for `strategy` (the protocol's when `None`), with `flip` dropped on
/// datasets that are not mirror invariant. Unknown operation groups are a configuration error.
pub fn dsa(ctx: &Context, strategy: Option<&str>) -> Result<Dsa, MethodError> {
    let s = strategy.unwrap_or(&ctx.protocol().train.dsa_strategy);
    dsa_from(s, ctx.protocol().mirror_invariant)
}

/// [`dsa`] without a context.
pub fn dsa_from(strategy: &str, mirror_invariant: bool) -> Result<Dsa, MethodError> {
    for op in strategy.split('_') {
        if !DSA_GROUPS.contains(&op) {
            return Err(MethodError::Config(format!(
                "dsa_strategy: unknown DSA operation group '{op}' in '{strategy}' (known: {})",
                DSA_GROUPS.join(", ")
            )));
        }
    }
    Ok(Dsa::new(strategy, mirror_invariant))
}

/// `key` must be a positive, finite number.
pub fn positive(key: &str, v: f64) -> Result<f64, MethodError> {
    if v > 0.0 && v.is_finite() {
        Ok(v)
    } else {
        Err(MethodError::Config(format!(
            "{key} must be a positive number, got {v}"
        )))
    }
}

/// `key` must be in [0, 1).
pub fn momentum(key: &str, v: f64) -> Result<f64, MethodError> {
    if (0.0..1.0).contains(&v) {
        Ok(v)
    } else {
        Err(MethodError::Config(format!(
            "{key} must be in [0, 1), got {v}"
        )))
    }
}

/// `key` must be at least 1.
pub fn at_least_one(key: &str, v: usize) -> Result<usize, MethodError> {
    if v >= 1 {
        Ok(v)
    } else {
        Err(MethodError::Config(format!(
            "{key} must be at least 1, got 0"
        )))
    }
}

/// The matching loss of every iteration, summarised for the cell's record.
#[derive(Clone, Debug, Default)]
pub struct LossTrace {
    losses: Vec<f64>,
}

impl LossTrace {
    pub fn push(&mut self, loss: f64) {
        self.losses.push(loss);
    }

    pub fn len(&self) -> usize {
        self.losses.len()
    }

    pub fn is_empty(&self) -> bool {
        self.losses.is_empty()
    }

    pub fn losses(&self) -> &[f64] {
        &self.losses
    }

    /// Means of up to `k` consecutive, near-equal windows of iterations.
    pub fn window_means(&self, k: usize) -> Vec<f64> {
        let n = self.losses.len();
        let k = k.min(n);
        (0..k)
            .map(|i| {
                let w = &self.losses[i * n / k..(i + 1) * n / k];
                w.iter().sum::<f64>() / w.len() as f64
            })
            .collect()
    }

    /// `{iterations, first, last, window_means}` (10 windows).
    pub fn summary(&self) -> serde_json::Value {
        serde_json::json!({
            "iterations": self.losses.len(),
            "first": self.losses.first(),
            "last": self.losses.last(),
            "window_means": self.window_means(10),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching_model_defaults_to_the_student_narrowed_only_by_the_preset() {
        let student = ModelSpec::convnet();
        assert_eq!(matching_model(None, &student, None).unwrap(), student);
        let m = matching_model(None, &student, Some(64)).unwrap();
        assert_eq!((m.width, m.depth), (64, 3));
        // Never wider than the student.
        let narrow = ModelSpec {
            width: 16,
            ..ModelSpec::convnet()
        };
        assert_eq!(matching_model(None, &narrow, Some(64)).unwrap().width, 16);
        let explicit = ModelSpec {
            arch: Arch::ConvnetBn,
            width: 32,
            depth: 2,
        };
        assert_eq!(
            matching_model(Some(&explicit), &student, Some(64)).unwrap(),
            explicit
        );
        let bad = ModelSpec {
            width: 0,
            ..ModelSpec::convnet()
        };
        assert!(matching_model(Some(&bad), &student, None).is_err());
        assert!(has_batch_norm(&explicit) && !has_batch_norm(&student));
    }

    #[test]
    fn dsa_strategy_is_checked_and_flip_dropped_for_digits() {
        let d = dsa_from("color_crop_cutout_flip_scale_rotate", false).unwrap();
        assert_eq!(d.strategy(), "color_crop_cutout_scale_rotate");
        let e = dsa_from("color_warp", true).err().unwrap().to_string();
        assert!(e.contains("'warp'") && e.contains("dsa_strategy"), "{e}");
    }

    #[test]
    fn value_checks_name_the_key() {
        assert!(positive("lr_img", 1.0).is_ok());
        assert!(positive("lr_img", 0.0)
            .unwrap_err()
            .to_string()
            .contains("lr_img"));
        assert!(positive("lr_img", f64::NAN).is_err());
        assert!(momentum("momentum_img", 0.5).is_ok());
        assert!(momentum("momentum_img", 1.0).is_err());
        assert!(at_least_one("iterations", 0)
            .unwrap_err()
            .to_string()
            .contains("iterations"));
    }

    #[test]
    fn loss_trace_windows() {
        let mut t = LossTrace::default();
        for v in [4.0, 2.0, 3.0, 1.0, 0.0] {
            t.push(v);
        }
        // 5 losses in 2 windows: [0, 2) and [2, 5).
        assert_eq!(t.window_means(2), vec![3.0, 4.0 / 3.0]);
        assert_eq!(t.window_means(10).len(), 5);
        let s = t.summary();
        assert_eq!(s["first"], 4.0);
        assert_eq!(s["last"], 0.0);
        assert!(LossTrace::default().window_means(3).is_empty());
    }
}
