//! Settings shared by the distillation plugins' `[methods.<name>]` tables: the preset switch,
//! the matching network, DSA, value checks, and the loss trace recorded with every cell.

use distillery_api::nn::augment::{Dsa, DSA_GROUPS};
use distillery_api::spec::{Arch, ModelSpec, TeacherSpec, TrainSpec};
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

/// A model a method trains for itself through the harness's teacher service
/// (`Context::teacher_for`: best-validation epoch kept, cached per user under a content hash),
/// e.g. SRe2L's BatchNorm squeeze model or RDED's observer. A nested table of
/// `[methods.<name>]`, every key optional: `{ model = { arch = "convnet-bn", width = 128,
/// depth = 3 }, epochs = 4, batch_size = 64, lr = 0.01, patience = 0, seed = 0 }`. The recipe
/// is the protocol's `[train]` (optimiser, momentum, weight decay, schedule, augmentation) with
/// these keys overriding it, without batch mixing.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OwnModel {
    pub model: Option<ModelSpec>,
    pub epochs: Option<usize>,
    pub batch_size: Option<usize>,
    pub lr: Option<f64>,
    /// Stop this many epochs after the best validation epoch (0: run every epoch).
    pub patience: Option<usize>,
    pub seed: Option<u64>,
}

/// The values an [`OwnModel`] table falls back to (a method's preset).
#[derive(Clone, Debug)]
pub struct OwnModelDefaults {
    pub model: ModelSpec,
    pub epochs: usize,
    pub batch_size: usize,
    pub patience: usize,
}

impl OwnModel {
    /// The teacher spec `key` (the table's name, for messages) describes, over the protocol's
    /// recipe `base`.
    pub fn resolve(
        &self,
        key: &str,
        d: &OwnModelDefaults,
        base: &TrainSpec,
    ) -> Result<TeacherSpec, MethodError> {
        let model = self.model.clone().unwrap_or_else(|| d.model.clone());
        let model = matching_model(Some(&model), &model, None)
            .map_err(|e| MethodError::Config(format!("{key}.{e}")))?;
        let mut train = base.clone();
        train.epochs = at_least_one(&format!("{key}.epochs"), self.epochs.unwrap_or(d.epochs))?;
        train.batch_size = at_least_one(
            &format!("{key}.batch_size"),
            self.batch_size.unwrap_or(d.batch_size),
        )?;
        if let Some(lr) = self.lr {
            train.lr = positive(&format!("{key}.lr"), lr)?;
        }
        train.mix = distillery_api::nn::mix::Mix::None;
        let spec = TeacherSpec {
            model,
            train,
            seed: self.seed.unwrap_or(0),
            patience: self.patience.unwrap_or(d.patience),
            pretrained: None,
        };
        spec.validate()
            .map_err(|(k, why)| MethodError::Config(format!("{key}: {k}: {why}")))?;
        Ok(spec)
    }
}

/// The BatchNorm variant of a ConvNet spec (`convnet` → `convnet-bn`); other specs unchanged.
pub fn with_batch_norm(m: &ModelSpec) -> ModelSpec {
    let mut m = m.clone();
    if m.arch == Arch::Convnet {
        m.arch = Arch::ConvnetBn;
    }
    m
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
    fn own_model_overrides_the_protocol_recipe() {
        let base: TrainSpec = serde_json::from_value(serde_json::json!({
            "epochs": 300, "batch_size": 256, "optimizer": "sgd", "lr": 0.01,
            "momentum": 0.9, "weight_decay": 0.0005, "schedule": "step", "augment": "dsa"
        }))
        .unwrap();
        let d = OwnModelDefaults {
            model: with_batch_norm(&ModelSpec::convnet()),
            epochs: 4,
            batch_size: 64,
            patience: 0,
        };
        let s = OwnModel::default().resolve("squeeze", &d, &base).unwrap();
        assert_eq!(s.model.arch, Arch::ConvnetBn);
        assert_eq!(
            (s.train.epochs, s.train.batch_size, s.train.lr),
            (4, 64, 0.01)
        );
        assert_eq!((s.seed, s.patience, s.train.momentum), (0, 0, 0.9));
        let o: OwnModel = serde_json::from_value(serde_json::json!({
            "model": {"arch": "convnet", "width": 8, "depth": 2}, "epochs": 1, "lr": 0.1,
            "seed": 3, "patience": 2
        }))
        .unwrap();
        let s = o.resolve("squeeze", &d, &base).unwrap();
        assert_eq!(
            (s.model.width, s.train.epochs, s.train.lr, s.seed),
            (8, 1, 0.1, 3)
        );
        let bad: OwnModel = serde_json::from_value(serde_json::json!({"epochs": 0})).unwrap();
        let e = bad.resolve("squeeze", &d, &base).unwrap_err().to_string();
        assert!(e.contains("squeeze.epochs"), "{e}");
        assert!(serde_json::from_value::<OwnModel>(serde_json::json!({"epoch": 1})).is_err());
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
