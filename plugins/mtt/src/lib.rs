//! `mtt`: Dataset Distillation by Matching Training Trajectories (Cazenavette, Wang, Torralba,
//! Efros & Zhu, CVPR 2022).
//!
//! 1. **Experts** ([`experts`]): `num_experts` ConvNets (the protocol's student) trained on the
//!    train split with the harness's fit loop (SGD lr 0.01, no momentum, no weight decay,
//!    batch 256, DSA: the reference `buffer.py`), flat parameters saved at initialisation and
//!    after every epoch, cached under a SHA-256 key of everything that determines them.
//! 2. **Distillation** ([`distill`]): synthetic images initialised from real train images of
//!    each class, a learnable step size α (init `lr_teacher`), trajectory matching through a
//!    functional ConvNet ([`functional`]).
//!
//! See README.md for the configuration, the paper's values and where the defaults differ.

pub mod distill;
pub mod experts;
pub mod functional;

use distillery_api::prelude::*;
use distillery_api::rng::derive_seed;
use distillery_api::spec::{Augment, Optimizer, Schedule};
use serde::{Deserialize, Serialize};

#[derive(Default)]
pub struct Mtt;

/// Which set of defaults the unset keys take.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// Runnable on mnist-5k on a CPU in minutes per cell (see README.md).
    #[default]
    Cpu,
    /// The MTT paper's setting (its CIFAR-10 rows; MNIST is not in the paper).
    Paper,
}

/// The `[methods.mtt]` table. Every key is optional; unset keys take the preset's value.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub preset: Preset,
    /// Expert trajectories (paper: 100).
    pub num_experts: Option<usize>,
    /// Epochs per expert trajectory (paper: 50).
    pub train_epochs: Option<usize>,
    /// Seed the experts derive from (expert i: derive_seed(expert_seed, "mtt/expert<i>")).
    pub expert_seed: Option<u64>,
    /// Experts' batch size (buffer.py --batch_train: 256).
    pub expert_batch: Option<usize>,
    /// Experts' SGD learning rate (buffer.py --lr_teacher: 0.01).
    pub expert_lr: Option<f64>,
    /// Experts' SGD momentum (buffer.py --mom: 0).
    pub expert_momentum: Option<f64>,
    /// Experts' weight decay (buffer.py --l2: 0).
    pub expert_weight_decay: Option<f64>,
    /// DSA while training experts (buffer.py: yes).
    pub expert_dsa: Option<bool>,
    /// Distillation iterations (paper: 5000).
    pub iterations: Option<usize>,
    /// Student steps on synthetic data per iteration, N.
    pub syn_steps: Option<usize>,
    /// Expert epochs the student must match, M.
    pub expert_epochs: Option<usize>,
    /// Start epochs are drawn from 0..max_start_epoch, T+.
    pub max_start_epoch: Option<usize>,
    /// Synthetic images per student step (0 = all).
    pub batch_syn: Option<usize>,
    /// Learning rate of the synthetic pixels.
    pub lr_img: Option<f64>,
    /// Learning rate of the learnable step size α.
    pub lr_lr: Option<f64>,
    /// Initial α (distill.py --lr_teacher: 0.01).
    pub lr_teacher: Option<f64>,
    /// DSA on the synthetic batches during distillation (paper: yes).
    pub dsa: Option<bool>,
    /// After distilling, train the protocol's student on the set and record its accuracy on
    /// the validation split (a diagnostic for tuning on validation data; costs one student
    /// training). Default false.
    pub val_check: Option<bool>,
}

/// The settings one cell runs with (recorded in its metadata).
#[derive(Clone, Debug, Serialize)]
pub struct Resolved {
    pub preset: Preset,
    pub num_experts: usize,
    pub train_epochs: usize,
    pub expert_seed: u64,
    pub expert_batch: usize,
    pub expert_lr: f64,
    pub expert_momentum: f64,
    pub expert_weight_decay: f64,
    pub expert_dsa: bool,
    pub val_check: bool,
    pub matching: distill::MatchSettings,
}

/// The paper's per-IPC row (MTT Table of hyper-parameters, CIFAR-10):
/// (syn_steps N, expert_epochs M, max_start_epoch T+, lr_img, lr_lr).
fn paper_row(ipc: usize) -> (usize, usize, usize, f64, f64) {
    match ipc {
        0 | 1 => (50, 2, 2, 1000.0, 1e-7),
        2..=10 => (30, 2, 20, 1000.0, 1e-5),
        _ => (30, 2, 40, 1000.0, 1e-5),
    }
}

impl Config {
    pub fn resolve(&self, ipc: usize) -> Result<Resolved, MethodError> {
        let (n, m, t, lr_img, lr_lr) = paper_row(ipc);
        // (experts, train_epochs, iterations, syn_steps, expert_epochs, max_start, batch_syn, lr_img)
        let d = match self.preset {
            Preset::Paper => (100, 50, 5000, n, m, t, 0, lr_img),
            Preset::Cpu => (3, 3, 50, 10, 2, 2, 20, 1000.0),
        };
        let r = Resolved {
            preset: self.preset,
            num_experts: self.num_experts.unwrap_or(d.0),
            train_epochs: self.train_epochs.unwrap_or(d.1),
            expert_seed: self.expert_seed.unwrap_or(0),
            expert_batch: self.expert_batch.unwrap_or(256),
            expert_lr: self.expert_lr.unwrap_or(0.01),
            expert_momentum: self.expert_momentum.unwrap_or(0.0),
            expert_weight_decay: self.expert_weight_decay.unwrap_or(0.0),
            expert_dsa: self.expert_dsa.unwrap_or(true),
            val_check: self.val_check.unwrap_or(false),
            matching: distill::MatchSettings {
                iterations: self.iterations.unwrap_or(d.2),
                syn_steps: self.syn_steps.unwrap_or(d.3),
                expert_epochs: self.expert_epochs.unwrap_or(d.4),
                max_start_epoch: self.max_start_epoch.unwrap_or(d.5),
                batch_syn: match self.batch_syn.unwrap_or(d.6) {
                    0 => usize::MAX,
                    b => b,
                },
                lr_img: self.lr_img.unwrap_or(d.7),
                lr_lr: self.lr_lr.unwrap_or(lr_lr),
                lr_teacher: self.lr_teacher.unwrap_or(0.01),
                momentum: 0.5,
                dsa: self.dsa.unwrap_or(true),
            },
        };
        r.validate()?;
        Ok(r)
    }
}

impl Resolved {
    fn validate(&self) -> Result<(), MethodError> {
        let bad =
            |k: &str, why: String| Err(MethodError::Config(format!("[methods.mtt] {k}: {why}")));
        let m = &self.matching;
        for (k, v) in [
            ("num_experts", self.num_experts),
            ("train_epochs", self.train_epochs),
            ("expert_batch", self.expert_batch),
            ("iterations", m.iterations),
            ("syn_steps", m.syn_steps),
            ("expert_epochs", m.expert_epochs),
            ("max_start_epoch", m.max_start_epoch),
        ] {
            if v == 0 {
                return bad(k, "must be at least 1".into());
            }
        }
        if m.max_start_epoch - 1 + m.expert_epochs > self.train_epochs {
            return bad(
                "max_start_epoch",
                format!(
                    "start epochs 0..{} plus expert_epochs {} reach past the experts' {} epochs \
                     (train_epochs): need max_start_epoch - 1 + expert_epochs <= train_epochs",
                    m.max_start_epoch, m.expert_epochs, self.train_epochs
                ),
            );
        }
        for (k, v) in [
            ("lr_img", m.lr_img),
            ("lr_teacher", m.lr_teacher),
            ("expert_lr", self.expert_lr),
        ] {
            if !(v > 0.0 && v.is_finite()) {
                return bad(k, format!("must be a positive number, found {v}"));
            }
        }
        if !(m.lr_lr >= 0.0 && m.lr_lr.is_finite()) {
            return bad("lr_lr", format!("must be >= 0, found {}", m.lr_lr));
        }
        if !(0.0..1.0).contains(&self.expert_momentum) {
            return bad(
                "expert_momentum",
                format!("must be in [0, 1), found {}", self.expert_momentum),
            );
        }
        if !(self.expert_weight_decay >= 0.0 && self.expert_weight_decay.is_finite()) {
            return bad(
                "expert_weight_decay",
                format!("must be >= 0, found {}", self.expert_weight_decay),
            );
        }
        Ok(())
    }
}

/// Float images in [0,1] pixel scale from normalised ones: `x·std + mean` per channel.
fn denormalize(x: &Tensor, mean: &[f64], std: &[f64]) -> Tensor {
    let c = x.size()[1];
    let m =
        Tensor::from_slice(&mean.iter().map(|&v| v as f32).collect::<Vec<_>>()).view([1, c, 1, 1]);
    let s =
        Tensor::from_slice(&std.iter().map(|&v| v as f32).collect::<Vec<_>>()).view([1, c, 1, 1]);
    x.to_device(Device::Cpu) * s + m
}

/// Window means of a loss curve, at most `points` of them.
fn curve(losses: &[f64], points: usize) -> Vec<f64> {
    let w = losses.len().div_ceil(points.max(1)).max(1);
    losses
        .chunks(w)
        .map(|c| c.iter().sum::<f64>() / c.len() as f64)
        .collect()
}

impl Method for Mtt {
    const NAME: &'static str = "mtt";
    const FAMILY: Family = Family::Distillation;
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const PAPER: &'static str = "Cazenavette, Wang, Torralba, Efros & Zhu, Dataset Distillation by Matching Training Trajectories, CVPR 2022";
    const DESCRIPTION: &'static str =
        "synthetic images whose student training trajectory matches cached expert trajectories (trajectory matching)";

    fn compress(&mut self, input: &Input, ctx: &Context) -> Result<Compressed, MethodError> {
        let ipc = distillery_distill_kit::ipc_budget("mtt", &input.budget)?;
        let cfg: Config = ctx.config()?;
        let r = cfg.resolve(ipc)?;
        let classes = input.num_classes() as i64;
        let s = input.train.images.size();
        let in_shape = [s[1], s[2], s[3]];
        let proto = ctx.protocol();
        let layout = functional::ParamLayout::convnet(&proto.student, in_shape, classes)?;

        // 1. Expert trajectories (cache or train).
        let recipe = TrainSpec {
            epochs: r.train_epochs,
            batch_size: r.expert_batch,
            optimizer: Optimizer::Sgd,
            lr: r.expert_lr,
            momentum: r.expert_momentum,
            weight_decay: r.expert_weight_decay,
            nesterov: false,
            schedule: Schedule::Constant,
            augment: if r.expert_dsa {
                Augment::Dsa
            } else {
                Augment::None
            },
            dsa_strategy: proto.train.dsa_strategy.clone(),
            rrc_scale: distillery_api::spec::default_rrc_scale(),
            mix: distillery_api::nn::mix::Mix::None,
            mix_alpha: 1.0,
        };
        let plan = experts::ExpertPlan {
            model: proto.student.clone(),
            in_shape,
            classes,
            recipe,
            mirror_invariant: proto.mirror_invariant,
            mean: proto.mean.clone(),
            std: proto.std.clone(),
            dataset: experts::dataset_checksum(input.train),
            num_experts: r.num_experts,
            seed: r.expert_seed,
            device: ctx.device(),
        };
        let dir = ctx.cache_dir()?.join("experts");
        let (trajectories, report) =
            experts::obtain(ctx, &plan, &dir, input.train, input.val, (0.0, 0.5))?;
        let from_cache = report
            .origins
            .iter()
            .filter(|o| matches!(o, experts::Origin::Cache | experts::Origin::Waited))
            .count();

        // 2. Synthetic images initialised from real images of each class.
        let sel = ctx.seeds().selection;
        let mut rng = SplitMix64::new(derive_seed(sel, "mtt/init"));
        let mut idx = Vec::new();
        for (c, members) in input
            .train
            .indices_by_class(input.num_classes())
            .iter()
            .enumerate()
        {
            if members.is_empty() {
                return Err(MethodError::Failed(format!(
                    "class {c} ({}) has no train image to initialise from",
                    input.class_names[c]
                )));
            }
            let take = ipc.min(members.len());
            let pick = rng.sample(members.len(), take);
            // With fewer real images than IPC, real images are reused (then diverge by training).
            idx.extend((0..ipc).map(|j| members[pick[j % take]] as i64));
        }
        let idx_t = Tensor::from_slice(&idx);
        let init = ctx.normalize(&input.train.images.index_select(0, &idx_t));
        let labels = input
            .train
            .labels
            .index_select(0, &idx_t)
            .to_device(ctx.device());

        // 3. Trajectory matching.
        let p0 = if report.train_seconds + report.wait_seconds > 0.0 {
            0.5
        } else {
            0.02
        };
        let iters = r.matching.iterations;
        let every = (iters / 100).max(1);
        let mut progress = |it: usize, loss: f64, lr: f64| {
            if it.is_multiple_of(every) || it == iters {
                ctx.progress(
                    p0 + (1.0 - p0) * it as f64 / iters as f64,
                    &format!("iteration {it}/{iters}, matching loss {loss:.4}, step size {lr:.4e}"),
                );
            }
        };
        ctx.progress(p0, &format!("distilling: {iters} iterations"));
        tch::manual_seed(derive_seed(sel, "mtt/augment") as i64);
        let t0 = std::time::Instant::now();
        let dsa = ctx.dsa();
        let out = distill::distill(
            &layout,
            &trajectories,
            &init,
            &labels,
            &r.matching,
            Some(&dsa),
            derive_seed(sel, "mtt/schedule"),
            &mut progress,
        )?;
        let distill_seconds = t0.elapsed().as_secs_f64();
        let images = denormalize(&out.images, &proto.mean, &proto.std);
        let labels = labels.to_device(Device::Cpu);
        let student_val_accuracy = if r.val_check && !input.val.is_empty() {
            ctx.progress(
                0.99,
                "val_check: training the protocol's student on the distilled set",
            );
            let (_vs, net) = ctx.train_model(
                &images,
                &labels,
                None,
                None,
                derive_seed(sel, "mtt/val_check"),
                FitOptions::default(),
            )?;
            let xv = ctx.normalize(&input.val.images);
            Some(nn::evaluate(net.as_ref(), &xv, &input.val.labels, 500).0)
        } else {
            None
        };
        let head =
            |n: usize| out.losses.iter().take(n).sum::<f64>() / n.min(out.losses.len()) as f64;
        let tail = |n: usize| {
            out.losses.iter().rev().take(n).sum::<f64>() / n.min(out.losses.len()) as f64
        };
        Ok(
            Compressed::images(images, labels).with_metadata(serde_json::json!({
                "student_val_accuracy": student_val_accuracy,
                "config": r,
                "student_params": layout.num_params,
                "experts": {
                    "count": r.num_experts,
                    "epochs": r.train_epochs,
                    "recipe": plan.recipe,
                    "dataset_sha256": plan.dataset,
                    "origins": report.origins,
                    "from_cache": from_cache,
                    "val_accuracy": report.val_accuracy,
                    "cache_dir": report.dir,
                },
                "cost": {
                    "experts_from_cache": from_cache == r.num_experts,
                    "expert_train_seconds": report.train_seconds,
                    "expert_wait_seconds": report.wait_seconds,
                    "expert_load_seconds": report.load_seconds,
                    "distill_seconds": distill_seconds,
                    "seconds_per_iteration": distill_seconds / iters as f64,
                },
                "init_indices": idx,
                "matching_loss": {
                    "first10_mean": head(10),
                    "last10_mean": tail(10),
                    "curve": curve(&out.losses, 50),
                },
                "learned_step_size": out.syn_lr,
                "learned_step_size_note": "MTT evaluates with the learned step size; Distillery's protocol trains every student with its own recipe, so it is recorded, not used",
            })),
        )
    }
}

export_plugin!(Mtt);

/// Tests that seed libtorch's global generator hold this lock (tests run on parallel threads).
/// It also pins libtorch to one intra-op thread, as a harness cell on CPU runs: on a loaded
/// 2-core machine, multi-threaded kernels of tiny networks spend most of their time waiting.
#[cfg(test)]
pub(crate) fn test_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    tch::set_num_threads(1);
    guard
}

#[cfg(test)]
mod tests;
