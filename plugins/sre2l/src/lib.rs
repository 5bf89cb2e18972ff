//! `sre2l`: Squeeze, Recover and Relabel (Yin, Xing & Shen, NeurIPS 2023), following the
//! reference code's small-dataset recovery (VILA-Lab/SRe2L, `*small_dataset/recover_cifar.py`).
//!
//! - **Squeeze**: a BatchNorm model trained on the train split — the protocol's `[teacher]`
//!   when it has BatchNorm, otherwise the method's own (default: the protocol's student as
//!   `convnet-bn`, a short recipe), trained and cached by the harness's teacher service.
//! - **Recover**: `IPC` images per class (real images of the class by default, seeded; Gaussian
//!   noise as in the paper with `init = "noise"`), optimised in batches of one image per class
//!   with Adam (betas 0.5/0.9, cosine learning rate) on `CE(f(x̃), y) + r_bn · Σ_l m_l
//!   (‖μ_l(x̃) − μ_l^run‖₂ + ‖σ²_l(x̃) − σ²_l^run‖₂)` with the squeeze model in eval mode, a random
//!   roll jitter (and a random flip on mirror-invariant data) per iteration, pixels clipped to
//!   the valid range after every step.
//! - **Relabel**: the squeeze model's soft predictions. Under the native-label protocol the
//!   method stores them FKD-style (per training epoch and batch, on the augmented images the
//!   student will see) and declares them with `LabelSpec::Stored`; the returned hard labels
//!   are the classes the images were recovered for. README.md has the details and defaults.

use distillery_api::nn::BnInput;
use distillery_api::prelude::*;
use distillery_api::rng::derive_seed;
use distillery_api::spec::TeacherSpec;
use distillery_api::teacher::Teacher;
use distillery_distill_kit::settings::{self, LossTrace, OwnModel, OwnModelDefaults, Preset};
use distillery_distill_kit::{ipc_budget, pixel_scale, Init, RealPool, SynSet};
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

#[cfg(test)]
mod tests;

#[derive(Default)]
pub struct Sre2l;

/// `[methods.sre2l]`. Every key left out takes the preset's value (README.md lists both).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `default` (CPU-runnable) or `paper`.
    pub preset: Preset,
    /// Adam iterations per batch of images (reference code: 1,000 for CIFAR).
    pub iterations: Option<usize>,
    /// Peak learning rate of Adam on the images, cosine-annealed to 0 (CIFAR / ImageNet: 0.25).
    pub lr: Option<f64>,
    /// Weight of the BN-statistics term (CIFAR / ImageNet: 0.01).
    pub r_bn: Option<f64>,
    /// Extra weight of the first BN layer's term (reference code: 10).
    pub first_bn_multiplier: Option<f64>,
    /// Images optimised together (default: the number of classes, one image per class).
    pub batch: Option<usize>,
    /// `real` (default here) or `noise` (the paper's).
    pub init: Option<Init>,
    /// Maximum random roll in pixels per iteration, both axes (reference code: 4).
    pub jitter: Option<i64>,
    /// Random horizontal flip per iteration; only on mirror-invariant datasets.
    pub flip: Option<bool>,
    /// Use the protocol's `[teacher]` as the squeeze model when it has BatchNorm.
    pub use_protocol_teacher: Option<bool>,
    /// The method's own squeeze model (when the protocol's teacher is not used).
    pub squeeze: OwnModel,
    /// Temperature of the relabelling KL under the native-label protocol (ImageNet: 20).
    pub temperature: Option<f64>,
}

/// The `default` preset's squeeze recipe: short enough for a CPU (the model is cached and
/// shared by every cell of the dataset).
pub const DEFAULT_SQUEEZE_EPOCHS: usize = 3;
pub const PAPER_SQUEEZE_EPOCHS: usize = 20;
pub const DEFAULT_ITERATIONS: usize = 500;

/// Resolved settings, recorded with the cell.
#[derive(Clone, Debug, Serialize)]
pub struct Settings {
    pub preset: Preset,
    pub iterations: usize,
    pub lr: f64,
    pub r_bn: f64,
    pub first_bn_multiplier: f64,
    /// 0: one image per class.
    pub batch: usize,
    pub init: Init,
    pub jitter: i64,
    /// Whether flips are applied (false on datasets that are not mirror invariant).
    pub flip: bool,
    pub use_protocol_teacher: bool,
    /// The own squeeze model's spec (used unless the protocol's BN teacher is).
    pub squeeze: TeacherSpec,
    pub temperature: f64,
}

impl Config {
    pub fn resolve(
        &self,
        student: &ModelSpec,
        base: &TrainSpec,
        mirror_invariant: bool,
    ) -> Result<Settings, MethodError> {
        let paper = self.preset == Preset::Paper;
        let squeeze = self.squeeze.resolve(
            "squeeze",
            &OwnModelDefaults {
                model: settings::with_batch_norm(student),
                epochs: if paper {
                    PAPER_SQUEEZE_EPOCHS
                } else {
                    DEFAULT_SQUEEZE_EPOCHS
                },
                batch_size: 64,
                patience: if paper { 5 } else { 0 },
            },
            base,
        )?;
        if squeeze.model.arch != Arch::ConvnetBn {
            return Err(MethodError::Config(format!(
                "squeeze.model: SRe2L matches BatchNorm statistics and needs a \"convnet-bn\" \
                 model, got {}",
                squeeze.model.describe()
            )));
        }
        let jitter = self.jitter.unwrap_or(4);
        if jitter < 0 {
            return Err(MethodError::Config(format!(
                "jitter must be >= 0 pixels, got {jitter}"
            )));
        }
        let r_bn = self.r_bn.unwrap_or(0.01);
        let first = self.first_bn_multiplier.unwrap_or(10.0);
        for (k, v) in [("r_bn", r_bn), ("first_bn_multiplier", first)] {
            if !(v >= 0.0 && v.is_finite()) {
                return Err(MethodError::Config(format!("{k} must be >= 0, got {v}")));
            }
        }
        Ok(Settings {
            preset: self.preset,
            iterations: settings::at_least_one(
                "iterations",
                self.iterations
                    .unwrap_or(if paper { 1000 } else { DEFAULT_ITERATIONS }),
            )?,
            lr: settings::positive("lr", self.lr.unwrap_or(0.25))?,
            r_bn,
            first_bn_multiplier: first,
            batch: match self.batch {
                Some(b) => settings::at_least_one("batch", b)?,
                None => 0,
            },
            init: self
                .init
                .unwrap_or(if paper { Init::Noise } else { Init::Real }),
            jitter,
            flip: self.flip.unwrap_or(true) && mirror_invariant,
            use_protocol_teacher: self.use_protocol_teacher.unwrap_or(true),
            squeeze,
            temperature: settings::positive("temperature", self.temperature.unwrap_or(20.0))?,
        })
    }
}

/// SRe2L's BN-statistics term: `Σ_l m_l (‖σ²_l − σ²_l^run‖₂ + ‖μ_l − μ_l^run‖₂)`, with `μ_l`,
/// `σ²_l` the per-channel batch mean and biased variance of the input of BN layer `l`, and
/// `m_0 = first_multiplier`, `m_l = 1` after (the reference code's `BNFeatureHook`).
pub fn bn_loss(layers: &[BnInput], first_multiplier: f64) -> Tensor {
    let mut total: Option<Tensor> = None;
    for (l, b) in layers.iter().enumerate() {
        let mean = b
            .input
            .mean_dim([0i64, 2, 3].as_slice(), false, Kind::Float);
        let var = b
            .input
            .var_dim([0i64, 2, 3].as_slice(), false, false)
            .to_kind(Kind::Float);
        let r = (&var - &b.running_var).norm() + (&mean - &b.running_mean).norm();
        let r = if l == 0 { r * first_multiplier } else { r };
        total = Some(match total {
            None => r,
            Some(t) => t + r,
        });
    }
    total.unwrap_or_else(|| Tensor::zeros([], (Kind::Float, Device::Cpu)))
}

/// `torch.optim.Adam([x], lr, betas, eps)` on one image tensor, with the learning rate given
/// per step (the reference code's cosine policy sets it every iteration).
pub struct ImageAdam {
    beta1: f64,
    beta2: f64,
    eps: f64,
    m: Tensor,
    v: Tensor,
    t: i32,
}

impl ImageAdam {
    /// SRe2L's `Adam(betas = (0.5, 0.9), eps = 1e-8)` for a tensor shaped like `x`.
    pub fn new(x: &Tensor) -> Self {
        Self {
            beta1: 0.5,
            beta2: 0.9,
            eps: 1e-8,
            m: Tensor::zeros_like(x),
            v: Tensor::zeros_like(x),
            t: 0,
        }
    }

    /// One step on `x` (a leaf that requires grad) with gradient `g` at learning rate `lr`.
    pub fn step(&mut self, x: &mut Tensor, g: &Tensor, lr: f64) {
        let _guard = tch::no_grad_guard();
        self.t += 1;
        self.m = &self.m * self.beta1 + g * (1.0 - self.beta1);
        self.v = &self.v * self.beta2 + g * g * (1.0 - self.beta2);
        let bc1 = 1.0 - self.beta1.powi(self.t);
        let bc2 = 1.0 - self.beta2.powi(self.t);
        let denom = self.v.sqrt() / bc2.sqrt() + self.eps;
        let _ = x
            .f_sub_(&(&self.m / denom * (lr / bc1)))
            .expect("in-place update");
    }
}

/// The reference code's `lr_cosine_policy(lr, 0, iterations)` at 0-based iteration `it`.
pub fn cosine_lr(lr: f64, it: usize, iterations: usize) -> f64 {
    0.5 * (1.0 + (std::f64::consts::PI * it as f64 / iterations as f64).cos()) * lr
}

/// Per-channel bounds of the valid pixel range [0, 1] in normalised space, `[1, C, 1, 1]`.
pub fn pixel_bounds(mean: &[f64], std: &[f64], device: Device) -> (Tensor, Tensor) {
    let c = mean.len() as i64;
    let lo: Vec<f32> = mean.iter().zip(std).map(|(m, s)| (-m / s) as f32).collect();
    let hi: Vec<f32> = mean
        .iter()
        .zip(std)
        .map(|(m, s)| ((1.0 - m) / s) as f32)
        .collect();
    (
        Tensor::from_slice(&lo).view([1, c, 1, 1]).to_device(device),
        Tensor::from_slice(&hi).view([1, c, 1, 1]).to_device(device),
    )
}

/// Loss values of one iteration.
#[derive(Clone, Copy, Debug, Default)]
pub struct Step {
    pub total: f64,
    pub ce: f64,
    pub bn: f64,
}

/// Recovers one batch: `x0` (normalised, `[n, C, H, W]`) with target classes `y`, optimised
/// for `s.iterations` Adam steps against `net` (eval mode, frozen) as described in the crate
/// docs. Returns the final images and the loss of every iteration. Jitter and flips come from
/// `rng`; pixels are clipped to `[lo, hi]` after every step.
pub fn recover_batch(
    net: &dyn Network,
    x0: &Tensor,
    y: &Tensor,
    s: &Settings,
    bounds: &(Tensor, Tensor),
    rng: &mut SplitMix64,
    on_iteration: &mut dyn FnMut(usize, Step),
) -> Result<(Tensor, Vec<Step>), MethodError> {
    let mut x = x0.detach().copy().set_requires_grad(true);
    let mut adam = ImageAdam::new(&x);
    let mut trace = Vec::with_capacity(s.iterations);
    for it in 0..s.iterations {
        let (o1, o2) = (
            rng.below(s.jitter as u64 + 1) as i64,
            rng.below(s.jitter as u64 + 1) as i64,
        );
        let flip = s.flip && rng.next_f64() < 0.5;
        let mut xj = x.roll([o1, o2], [2, 3]);
        if flip {
            xj = xj.flip([3]);
        }
        let f = net.forward_with_bn_inputs(&xj, false).ok_or_else(|| {
            MethodError::Failed(
                "the squeeze model exposes no BatchNorm statistics (needs convnet-bn)".into(),
            )
        })?;
        let ce = f.logits.cross_entropy_for_logits(y);
        let bn = bn_loss(&f.layers, s.first_bn_multiplier).to_device(ce.device());
        let loss = &ce + &bn * s.r_bn;
        let step = Step {
            total: loss.double_value(&[]),
            ce: ce.double_value(&[]),
            bn: bn.double_value(&[]),
        };
        if !step.total.is_finite() {
            return Err(MethodError::Failed(format!(
                "recovery diverged at iteration {it} (loss {})",
                step.total
            )));
        }
        let g = Tensor::run_backward(&[&loss], &[&x], false, false)
            .pop()
            .expect("one gradient");
        adam.step(&mut x, &g, cosine_lr(s.lr, it, s.iterations));
        {
            let _g = tch::no_grad_guard();
            let clipped = x.max_other(&bounds.0).min_other(&bounds.1);
            x.copy_(&clipped);
        }
        trace.push(step);
        on_iteration(it, step);
    }
    Ok((x.detach(), trace))
}

/// The squeeze model in use and where it came from.
pub fn squeeze_model(
    ctx: &Context,
    input: &Input,
    s: &Settings,
) -> Result<(Teacher, &'static str), MethodError> {
    if s.use_protocol_teacher {
        if let Some(t) = &ctx.protocol().teacher {
            if t.model.arch == Arch::ConvnetBn {
                return Ok((ctx.teacher(input)?, "protocol teacher (BatchNorm)"));
            }
        }
    }
    Ok((
        ctx.teacher_for(&s.squeeze, input)?,
        "own BatchNorm model (squeeze)",
    ))
}

/// What a run did.
#[derive(Debug, Default)]
pub struct Report {
    /// Mean over batches of each iteration's total loss.
    pub trace: LossTrace,
    pub first: Step,
    pub last: Step,
    pub batches: usize,
}

/// Recovers the whole synthetic set: the images of `syn` (class-major, normalised) in batches
/// of `s.batch` images taken ipc-major (one image per class per batch by default). Returns
/// the recovered images in `syn`'s order.
pub fn recover_all(
    net: &dyn Network,
    syn: &SynSet,
    s: &Settings,
    bounds: &(Tensor, Tensor),
    seed: u64,
    progress: &mut dyn FnMut(f64, &str),
) -> Result<(Tensor, Report), MethodError> {
    let (k, ipc) = (syn.num_classes(), syn.ipc());
    let device = syn.images().device();
    let mut x_all = syn.images().detach().copy();
    // ipc-major slot order: (j, c) -> row c·ipc + j.
    let slots: Vec<i64> = (0..ipc)
        .flat_map(|j| (0..k).map(move |c| (c * ipc + j) as i64))
        .collect();
    let batch = if s.batch == 0 { k } else { s.batch };
    let chunks: Vec<&[i64]> = slots.chunks(batch).collect();
    let mut rng = SplitMix64::new(derive_seed(seed, "recover/jitter"));
    let mut sums = vec![0.0; s.iterations];
    let mut report = Report {
        batches: chunks.len(),
        ..Default::default()
    };
    let every = (s.iterations / 10).max(1);
    for (bi, rows) in chunks.iter().enumerate() {
        let idx = Tensor::from_slice(rows).to_device(device);
        let x0 = x_all.index_select(0, &idx);
        let y = syn.labels().index_select(0, &idx);
        let n_b = chunks.len();
        let (x, trace) = recover_batch(net, &x0, &y, s, bounds, &mut rng, &mut |it, st| {
            if (it + 1) % every == 0 {
                progress(
                    (bi as f64 + (it + 1) as f64 / s.iterations as f64) / n_b as f64,
                    &format!(
                        "batch {}/{n_b}, iteration {}/{}: loss {:.4} (ce {:.4}, bn {:.4})",
                        bi + 1,
                        it + 1,
                        s.iterations,
                        st.total,
                        st.ce,
                        st.bn
                    ),
                );
            }
        })?;
        let _ = x_all.index_copy_(0, &idx, &x);
        for (i, st) in trace.iter().enumerate() {
            sums[i] += st.total / n_b as f64;
        }
        if bi == 0 {
            report.first = trace[0];
        }
        report.last = *trace.last().expect("at least one iteration");
    }
    for v in sums {
        report.trace.push(v);
    }
    Ok((x_all, report))
}

impl Method for Sre2l {
    const NAME: &'static str = "sre2l";
    const FAMILY: Family = Family::Distillation;
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const PAPER: &'static str = "Yin, Xing & Shen, Squeeze, Recover and Relabel: Dataset Condensation at ImageNet Scale From A New Perspective, NeurIPS 2023";
    const DESCRIPTION: &'static str =
        "squeeze a BN model, recover images by CE + BN-statistics matching (Adam, jitter), relabel with its soft predictions";

    fn compress(&mut self, input: &Input, ctx: &Context) -> Result<Compressed, MethodError> {
        let started = std::time::Instant::now();
        let ipc = ipc_budget(Self::NAME, &input.budget)?;
        let cfg: Config = ctx.config()?;
        let p = ctx.protocol().clone();
        let s = cfg.resolve(&p.student, &p.train, p.mirror_invariant)?;
        let seed = ctx.seeds().selection;
        let (squeeze, source) = squeeze_model(ctx, input, &s)?;
        let squeeze_seconds = started.elapsed().as_secs_f64();
        let pool = RealPool::from_input(ctx, input)?;
        let syn = SynSet::init(&pool, ipc, s.init, derive_seed(seed, "init"))?;
        let bounds = pixel_bounds(pool.mean(), pool.std(), pool.device());
        let (x, report) = recover_all(
            squeeze.net.as_ref(),
            &syn,
            &s,
            &bounds,
            seed,
            &mut |f, m| ctx.progress(f, m),
        )?;
        let labels = syn.labels().to_device(Device::Cpu);
        // The squeeze model's own view of the recovered images.
        let probs = squeeze.logits(&x, 256).softmax(-1, Kind::Float);
        let acc = probs
            .argmax(-1, false)
            .to_device(Device::Cpu)
            .eq_tensor(&labels)
            .to_kind(Kind::Float)
            .mean(Kind::Float)
            .double_value(&[]);
        let mut meta = serde_json::json!({
            "settings": s,
            "seed": seed,
            "squeeze_model": {
                "source": source,
                "key": squeeze.info.key,
                "spec": squeeze.info.spec,
                "val_acc": squeeze.info.val_acc,
                "best_epoch": squeeze.info.best_epoch,
                "from_cache": squeeze.from_cache,
                "train_seconds": squeeze.info.train_seconds,
            },
            "init_indices": syn.init_indices(),
            "loss": report.trace.summary(),
            "first": {"ce": report.first.ce, "bn": report.first.bn},
            "last": {"ce": report.last.ce, "bn": report.last.bn},
            "batches": report.batches,
            "squeeze_accuracy_on_set": acc,
            "squeeze_seconds": squeeze_seconds,
        });
        // Relabel: the squeeze model's soft predictions on every augmented batch the student
        // will see, stored FKD-style (native-label protocol only).
        let relabel = distillery_distill_kit::relabel_native(
            ctx,
            &x,
            squeeze.net.as_ref(),
            input.num_classes(),
            s.temperature,
            seed,
            "squeeze model's logits",
        )?;
        meta["seconds"] = serde_json::json!(started.elapsed().as_secs_f64());
        // Clipped to the valid range after every step; clamp again against rounding.
        let images = pixel_scale(&x, pool.mean(), pool.std()).clamp(0.0, 1.0);
        let out = Compressed::images(images.contiguous(), labels);
        Ok(match relabel {
            Some((spec, m)) => {
                meta["relabel"] = m;
                out.with_metadata(meta).with_label_spec(spec)
            }
            None => out.with_metadata(meta),
        })
    }
}

export_plugin!(Sre2l);
