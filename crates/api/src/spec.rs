//! Declarative specifications shared by protocols (TOML) and plugins (JSON across the ABI):
//! which network to build and how to train it. Unknown keys are rejected everywhere.

use serde::{Deserialize, Serialize};

/// A network architecture, built by [`crate::nn::models::build`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Arch {
    /// ConvNet-D as in the DC/DSA/DM/MTT evaluation code: D blocks of Conv3x3(width) ->
    /// GroupNorm(width groups, width channels; i.e. instance norm with affine) -> ReLU ->
    /// AvgPool2x2, then one linear layer. Single-channel input: first conv has padding 3.
    Convnet,
    /// The same ConvNet with BatchNorm2d instead of GroupNorm.
    ConvnetBn,
    /// ResNet-18 with the CIFAR stem (3x3 conv, stride 1, no max-pool).
    Resnet18,
    /// ResNet-18 with the ImageNet stem (7x7 conv stride 2, max-pool).
    Resnet18Imagenet,
}

/// Which network to build: `[student]`, `[teacher.model]` in a protocol, or a method's own
/// model. Unknown keys are rejected.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(from = "RawModelSpec")]
pub struct ModelSpec {
    /// The architecture.
    pub arch: Arch,
    /// ConvNets: channels of every block (default 128). ResNets: the base width, i.e. the
    /// channels of the stem and the first stage, doubled at each later stage (default 64,
    /// torchvision's; a narrower ResNet, e.g. 8, is for tests).
    pub width: i64,
    /// Number of ConvNet blocks (ignored by ResNets).
    pub depth: i64,
}

/// [`ModelSpec`] as written: `width` may be left out, and its default depends on the
/// architecture (128 for ConvNets, 64 for ResNets).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModelSpec {
    arch: Arch,
    #[serde(default)]
    width: Option<i64>,
    #[serde(default = "default_depth")]
    depth: i64,
}

impl From<RawModelSpec> for ModelSpec {
    fn from(r: RawModelSpec) -> Self {
        let width = r.width.unwrap_or(match r.arch {
            Arch::Resnet18 | Arch::Resnet18Imagenet => RESNET_BASE_WIDTH,
            Arch::Convnet | Arch::ConvnetBn => default_width(),
        });
        Self {
            arch: r.arch,
            width,
            depth: r.depth,
        }
    }
}

/// torchvision's ResNet base width (channels of the stem and the first stage).
pub const RESNET_BASE_WIDTH: i64 = 64;

fn default_width() -> i64 {
    128
}
fn default_depth() -> i64 {
    3
}

impl ModelSpec {
    /// ConvNet-3 of width 128 (instance norm): the DC/DM/MTT benchmarks' student.
    pub fn convnet() -> Self {
        Self {
            arch: Arch::Convnet,
            width: 128,
            depth: 3,
        }
    }
    /// A short human description, e.g. `ConvNet-3 (width 128, instance norm)`.
    pub fn describe(&self) -> String {
        match self.arch {
            Arch::Convnet => format!(
                "ConvNet-{} (width {}, instance norm)",
                self.depth, self.width
            ),
            Arch::ConvnetBn => format!("ConvNet-{} (width {}, batch norm)", self.depth, self.width),
            Arch::Resnet18 | Arch::Resnet18Imagenet => {
                let stem = if self.arch == Arch::Resnet18 {
                    "CIFAR stem"
                } else {
                    "ImageNet stem"
                };
                if self.width == RESNET_BASE_WIDTH {
                    format!("ResNet-18 ({stem})")
                } else {
                    format!("ResNet-18 ({stem}, width {})", self.width)
                }
            }
        }
    }
}

/// The optimiser of a training recipe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Optimizer {
    /// SGD with `momentum`, `weight_decay` (L2, coupled) and optional Nesterov momentum.
    Sgd,
    /// AdamW (Loshchilov & Hutter, ICLR 2019; betas 0.9/0.999, eps 1e-8) with decoupled
    /// `weight_decay` on the parameters named `weight` with more than one dimension (conv and
    /// linear weights) only: biases and norm parameters are not decayed, as the large-scale
    /// benchmark's code groups them (rethinkdc `train_KD.py`, SRe2L `validate`: "only params
    /// named weight with ndim > 1 get decay").
    Adamw,
}

/// The learning-rate schedule of a training recipe (see [`TrainSpec::lr_at`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Schedule {
    /// lr for the 0-based epochs `0..=epochs/2`, lr x 0.1 from epoch `epochs/2 + 1` on: the DC
    /// evaluation code's single step at `epochs/2 + 1`. (That code also runs `epochs + 1`
    /// epochs and resets momentum at the step; Distillery runs exactly `epochs` and keeps it.)
    Step,
    /// Cosine annealing from lr to 0 over the epochs (per epoch).
    Cosine,
    /// `lr` for every epoch.
    Constant,
}

/// The augmentation applied to every training batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Augment {
    /// No augmentation.
    None,
    /// Differentiable siamese augmentation (Zhao & Bilen 2021), one op group drawn per batch.
    Dsa,
    /// RandomResizedCrop to the input resolution (scale `rrc_scale`, ratio 3/4–4/3) and
    /// horizontal flip, per image (the large-scale "Rethinking dataset compression" recipe).
    #[serde(rename = "rrc-flip")]
    RrcFlip,
}

/// A training recipe: `[train]` and `[teacher.train]` in a protocol, or a method's own.
/// Unknown keys are rejected; [`TrainSpec::validate`] checks the numbers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainSpec {
    /// Passes over the training set (>= 1).
    pub epochs: usize,
    /// Images per optimisation step (>= 1); the last batch of an epoch may be smaller.
    pub batch_size: usize,
    /// The optimiser.
    pub optimizer: Optimizer,
    /// Initial learning rate (> 0).
    pub lr: f64,
    /// SGD momentum in [0, 1) (default 0; ignored by AdamW).
    #[serde(default)]
    pub momentum: f64,
    /// Weight decay (>= 0, default 0): L2 for SGD, decoupled for AdamW.
    #[serde(default)]
    pub weight_decay: f64,
    /// Nesterov momentum for SGD (default false).
    #[serde(default)]
    pub nesterov: bool,
    /// The learning-rate schedule.
    pub schedule: Schedule,
    /// The per-batch augmentation.
    pub augment: Augment,
    /// DSA operation groups separated by `_`, e.g. `color_crop_cutout_flip_scale_rotate`.
    /// `flip` is dropped automatically on datasets that are not mirror invariant (digits).
    #[serde(default = "default_dsa_strategy")]
    pub dsa_strategy: String,
    /// Scale range of RandomResizedCrop (`augment = "rrc-flip"`).
    #[serde(default = "default_rrc_scale")]
    pub rrc_scale: [f64; 2],
    /// Batch mixing: "none" (default), "cutmix" or "mixup"; targets are mixed accordingly.
    #[serde(default = "default_mix")]
    pub mix: crate::nn::mix::Mix,
    /// Beta(alpha, alpha) of CutMix / Mixup.
    #[serde(default = "default_mix_alpha")]
    pub mix_alpha: f64,
}

/// `[0.08, 1.0]`: torchvision's RandomResizedCrop default scale range.
pub fn default_rrc_scale() -> [f64; 2] {
    [0.08, 1.0]
}
fn default_mix() -> crate::nn::mix::Mix {
    crate::nn::mix::Mix::None
}
fn default_mix_alpha() -> f64 {
    1.0
}

/// `color_crop_cutout_flip_scale_rotate`: the DSA paper's full strategy (Zhao & Bilen, ICML
/// 2021).
pub fn default_dsa_strategy() -> String {
    "color_crop_cutout_flip_scale_rotate".into()
}

impl TrainSpec {
    /// The stand-in recipe of a teacher without one (a pretrained teacher): 0 epochs, which
    /// no real recipe has ([`TrainSpec::validate`] refuses it).
    pub fn absent() -> Self {
        Self {
            epochs: 0,
            batch_size: 0,
            optimizer: Optimizer::Sgd,
            lr: 0.0,
            momentum: 0.0,
            weight_decay: 0.0,
            nesterov: false,
            schedule: Schedule::Constant,
            augment: Augment::None,
            dsa_strategy: String::new(),
            rrc_scale: default_rrc_scale(),
            mix: default_mix(),
            mix_alpha: default_mix_alpha(),
        }
    }

    /// Whether this is [`TrainSpec::absent`].
    pub fn is_absent(&self) -> bool {
        *self == Self::absent()
    }

    /// Learning rate for a 0-based epoch.
    pub fn lr_at(&self, epoch: usize) -> f64 {
        match self.schedule {
            Schedule::Constant => self.lr,
            Schedule::Step => {
                if epoch <= self.epochs / 2 {
                    self.lr
                } else {
                    self.lr * 0.1
                }
            }
            Schedule::Cosine => {
                let t = epoch as f64 / self.epochs.max(1) as f64;
                0.5 * self.lr * (1.0 + (std::f64::consts::PI * t).cos())
            }
        }
    }

    /// Checks values a TOML/JSON type check cannot; returns the offending key and why.
    ///
    /// # Errors
    /// `(key, why)` for the first invalid key.
    pub fn validate(&self) -> Result<(), (String, String)> {
        let bad = |k: &str, why: String| Err((k.to_string(), why));
        if self.epochs == 0 {
            return bad("epochs", "must be at least 1".into());
        }
        if self.batch_size == 0 {
            return bad("batch_size", "must be at least 1".into());
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return bad(
                "lr",
                format!("must be a positive number, found {}", self.lr),
            );
        }
        if !(0.0..1.0).contains(&self.momentum) {
            return bad(
                "momentum",
                format!("must be in [0, 1), found {}", self.momentum),
            );
        }
        if !(self.weight_decay >= 0.0 && self.weight_decay.is_finite()) {
            return bad(
                "weight_decay",
                format!("must be >= 0, found {}", self.weight_decay),
            );
        }
        if self.nesterov && (self.optimizer != Optimizer::Sgd || self.momentum == 0.0) {
            return bad(
                "nesterov",
                "needs optimizer = \"sgd\" and momentum > 0".into(),
            );
        }
        if !(0.0 < self.rrc_scale[0]
            && self.rrc_scale[0] <= self.rrc_scale[1]
            && self.rrc_scale[1] <= 1.0)
        {
            return bad(
                "rrc_scale",
                format!(
                    "must be [lo, hi] with 0 < lo <= hi <= 1, found {:?}",
                    self.rrc_scale
                ),
            );
        }
        if !(self.mix_alpha > 0.0 && self.mix_alpha.is_finite()) {
            return bad(
                "mix_alpha",
                format!("must be positive, found {}", self.mix_alpha),
            );
        }
        if self.augment == Augment::Dsa {
            for op in self.dsa_strategy.split('_') {
                if !crate::nn::augment::DSA_GROUPS.contains(&op) {
                    return bad(
                        "dsa_strategy",
                        format!(
                            "unknown DSA operation group '{op}' (known: {})",
                            crate::nn::augment::DSA_GROUPS.join(", ")
                        ),
                    );
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(schedule: Schedule) -> TrainSpec {
        TrainSpec {
            epochs: 300,
            batch_size: 256,
            optimizer: Optimizer::Sgd,
            lr: 0.01,
            momentum: 0.9,
            weight_decay: 5e-4,
            nesterov: false,
            schedule,
            augment: Augment::None,
            dsa_strategy: default_dsa_strategy(),
            rrc_scale: default_rrc_scale(),
            mix: default_mix(),
            mix_alpha: 1.0,
        }
    }

    #[test]
    fn step_schedule_decays_once_at_half_plus_one() {
        let s = spec(Schedule::Step);
        // First decayed (0-based) epoch: epochs/2 + 1 = 151.
        assert_eq!(s.lr_at(0), 0.01);
        assert_eq!(s.lr_at(150), 0.01);
        assert!((s.lr_at(151) - 0.001).abs() < 1e-15);
        assert!((s.lr_at(299) - 0.001).abs() < 1e-15);
    }

    #[test]
    fn cosine_schedule_endpoints() {
        let s = spec(Schedule::Cosine);
        assert_eq!(s.lr_at(0), 0.01);
        assert!((s.lr_at(150) - 0.005).abs() < 1e-12);
    }

    #[test]
    fn validation_names_the_key() {
        let mut s = spec(Schedule::Step);
        s.lr = -1.0;
        assert_eq!(s.validate().unwrap_err().0, "lr");
        let mut s = spec(Schedule::Step);
        s.augment = Augment::Dsa;
        s.dsa_strategy = "color_warp".into();
        let (k, why) = s.validate().unwrap_err();
        assert_eq!(k, "dsa_strategy");
        assert!(why.contains("'warp'"), "{why}");
    }
}

/// The protocol's teacher: trained by the harness on the train split, the epoch with the best
/// validation accuracy kept (never the test split), cached under a content hash; or, with
/// `[teacher.pretrained]`, a pretrained network whose weights the user gives (a
/// torchvision-layout state dict in safetensors, `bench --teacher FILE`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeacherSpec {
    /// The teacher's network.
    pub model: ModelSpec,
    /// The teacher's training recipe (a harness-trained teacher). Absent from the file for a
    /// pretrained one: then [`TrainSpec::absent`] (0 epochs, never used, not serialised).
    #[serde(
        default = "TrainSpec::absent",
        skip_serializing_if = "TrainSpec::is_absent"
    )]
    pub train: TrainSpec,
    /// Seed of the teacher's init, batch order and augmentation (derived by label).
    #[serde(default)]
    pub seed: u64,
    /// Stop after this many epochs without a better validation accuracy (0: train all epochs).
    #[serde(default)]
    pub patience: usize,
    /// Pretrained weights given by the user instead of a training recipe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pretrained: Option<PretrainedTeacher>,
}

/// The weight layout a pretrained teacher's file is read in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WeightLayout {
    /// A torchvision `state_dict()` saved as safetensors (`conv1.weight`, `bn1.running_mean`,
    /// `layer1.0.conv1.weight`, …, `fc.weight`; `num_batches_tracked` ignored), read by
    /// [`crate::nn::torchvision::load_state_dict`].
    Torchvision,
}

/// `[teacher.pretrained]`: a teacher whose weights come from a file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PretrainedTeacher {
    /// How the file's tensors are named.
    pub layout: WeightLayout,
    /// The weights (`.safetensors`); `bench --teacher FILE` sets or replaces it. Not part of
    /// the protocol's hash: the file's SHA-256 is (see the harness's protocol module).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<std::path::PathBuf>,
    /// The teacher's class order: a text file with one class name per line, in output order
    /// (`--teacher-classes FILE`; default: `<file stem>.classes.txt` next to the weights).
    /// Checked against the dataset's class order before anything runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classes: Option<std::path::PathBuf>,
}

impl TeacherSpec {
    /// `Err((key, why))` naming the offending key under `[teacher]`.
    ///
    /// # Errors
    /// `(key, why)` for the first invalid key: a `train` recipe that does not validate, both
    /// or neither of `train` and `pretrained`.
    pub fn validate(&self) -> Result<(), (String, String)> {
        let train = (!self.train.is_absent()).then_some(&self.train);
        match (train, &self.pretrained) {
            (Some(t), None) => t.validate().map_err(|(k, why)| (format!("train.{k}"), why)),
            (None, Some(_)) => Ok(()),
            (Some(_), Some(_)) => Err((
                "pretrained".into(),
                "a teacher is either trained ([teacher.train]) or pretrained ([teacher.pretrained]), not both".into(),
            )),
            (None, None) => Err((
                "train".into(),
                "missing: give a training recipe [teacher.train], or [teacher.pretrained] for weights from a file".into(),
            )),
        }
    }
}

/// How a KD-style method wants its images labelled when the protocol uses the method's own
/// labels (`labels = "native"`). Crosses the ABI as JSON; the harness evaluates it, so a
/// label function is a declaration, not code. Ignored under the hard- and soft-label
/// protocols, where only the images compete.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum LabelSpec {
    /// Hinton et al.: `alpha * CE(y) + (1 - alpha) * T^2 * KL(teacher_T || student_T)` with the
    /// protocol's teacher relabelling every augmented batch.
    Kd {
        /// Softmax temperature `T` (> 0).
        temperature: f64,
        /// Weight of the hard-label cross-entropy, in [0, 1].
        alpha: f64,
    },
    /// Zhao et al., Decoupled KD: `CE(y) + w(epoch) * (alpha * TCKD + beta * NCKD)` at
    /// temperature T, w ramping linearly to 1 over `warmup_epochs`.
    Dkd {
        /// Weight of the target-class term TCKD (>= 0).
        alpha: f64,
        /// Weight of the non-target-class term NCKD (>= 0).
        beta: f64,
        /// Softmax temperature `T` (> 0).
        temperature: f64,
        /// Epochs over which `w` ramps linearly to 1 (default 0: no ramp).
        #[serde(default)]
        warmup_epochs: usize,
    },
    /// Label smoothing: CE against `(1 - epsilon) * onehot + epsilon / K`; no teacher
    /// (Szegedy et al., Rethinking the Inception Architecture, CVPR 2016).
    Smoothing {
        /// Smoothing mass in [0, 1).
        epsilon: f64,
    },
    /// FKD-style stored labels: per epoch, per sample, teacher logits (fp16) with the crop /
    /// flip / mix parameters they were computed under, replayed by the harness. `file` is a
    /// label store written by the method (see `crate::label_store`).
    Stored {
        /// The label store (in the method's scratch folder; the harness keeps a copy).
        file: std::path::PathBuf,
        /// Hex SHA-256 of the file as written.
        sha256: String,
    },
}

impl LabelSpec {
    /// Checks the numbers; `Err(why)`.
    ///
    /// # Errors
    /// A message naming the label function and the offending number.
    pub fn validate(&self) -> Result<(), String> {
        let t_ok = |t: f64| t > 0.0 && t.is_finite();
        match self {
            LabelSpec::Kd { temperature, alpha } => {
                if !t_ok(*temperature) {
                    return Err(format!("kd: temperature must be > 0, found {temperature}"));
                }
                if !(0.0..=1.0).contains(alpha) {
                    return Err(format!("kd: alpha must be in [0, 1], found {alpha}"));
                }
            }
            LabelSpec::Dkd {
                alpha,
                beta,
                temperature,
                ..
            } => {
                if !t_ok(*temperature) {
                    return Err(format!("dkd: temperature must be > 0, found {temperature}"));
                }
                if !(*alpha >= 0.0 && *beta >= 0.0 && alpha.is_finite() && beta.is_finite()) {
                    return Err(format!(
                        "dkd: alpha and beta must be >= 0, found {alpha} and {beta}"
                    ));
                }
            }
            LabelSpec::Smoothing { epsilon } => {
                if !(0.0..1.0).contains(epsilon) {
                    return Err(format!(
                        "smoothing: epsilon must be in [0, 1), found {epsilon}"
                    ));
                }
            }
            LabelSpec::Stored { sha256, .. } => {
                if sha256.len() != 64 {
                    return Err("stored: sha256 must be 64 hex digits".into());
                }
            }
        }
        Ok(())
    }

    /// Whether evaluating it needs the protocol's teacher.
    pub fn needs_teacher(&self) -> bool {
        matches!(self, LabelSpec::Kd { .. } | LabelSpec::Dkd { .. })
    }

    /// Short text for records and tables, e.g. `kd (T 4, alpha 0.5)`.
    pub fn describe(&self) -> String {
        match self {
            LabelSpec::Kd { temperature, alpha } => format!("kd (T {temperature}, alpha {alpha})"),
            LabelSpec::Dkd {
                alpha,
                beta,
                temperature,
                warmup_epochs,
            } => format!(
                "dkd (alpha {alpha}, beta {beta}, T {temperature}, warm-up {warmup_epochs} epochs)"
            ),
            LabelSpec::Smoothing { epsilon } => format!("label smoothing (epsilon {epsilon})"),
            LabelSpec::Stored { file, .. } => format!("stored labels ({})", file.display()),
        }
    }
}
