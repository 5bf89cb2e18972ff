//! The training loop every student goes through, and evaluation.

use super::augment::Dsa;
use super::models::Network;
use crate::rng::SplitMix64;
use crate::spec::{Augment, Optimizer, TrainSpec};
use tch::nn::{OptimizerConfig, VarStore};
use tch::{Kind, Tensor};

/// Training targets for the fit loop.
pub enum Targets<'a> {
    /// Class indices `[N]` (int64): cross-entropy.
    Hard(&'a Tensor),
    /// Probabilities `[N, K]`: soft cross-entropy `-sum p log softmax(z)`.
    Soft(&'a Tensor),
    /// Class indices `[N]` with label smoothing epsilon.
    Smoothed(&'a Tensor, f64),
    /// Online relabelling: `teacher` (eval mode, no gradient) labels every augmented and mixed
    /// batch, and `loss` says how its logits are used. `labels` are the hard labels the KD and
    /// DKD losses also need (mixed like any hard label under CutMix/Mixup).
    Teacher {
        /// The labelling network (eval mode, no gradient).
        teacher: &'a dyn Network,
        /// How its logits become the loss.
        loss: TeacherLoss,
        /// int64 `[N]` hard labels (required by KD and DKD).
        labels: Option<&'a Tensor>,
    },
    /// FKD-style stored labels: the store dictates each epoch's batches and their DSA draws,
    /// and the loss is the KL against its logits at its temperature (no CutMix/Mixup, no RRC).
    Stored(&'a crate::label_file::LabelStore),
}

/// How a teacher's logits become a loss (see [`super::losses`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum TeacherLoss {
    /// `KL(teacher_T || student_T)`, times `T^2` when `t_squared`: the soft-label protocols
    /// (the small-image one scales by `T^2`; the large-image benchmark's code does not).
    Kl {
        /// Softmax temperature `T` (> 0).
        temperature: f64,
        /// Multiply by `T^2` (Hinton et al.'s gradient-scale correction).
        t_squared: bool,
    },
    /// `alpha * CE + (1 - alpha) * T^2 * KL` (Hinton, Vinyals & Dean, Distilling the Knowledge
    /// in a Neural Network, 2015).
    Kd {
        /// Softmax temperature `T` (> 0).
        temperature: f64,
        /// Weight of the hard-label cross-entropy, in [0, 1].
        alpha: f64,
    },
    /// `CE + min(1, (epoch + 1) / warmup) * (alpha * TCKD + beta * NCKD)` (Zhao et al.,
    /// Decoupled Knowledge Distillation, CVPR 2022).
    Dkd {
        /// Weight of the target-class KD term.
        alpha: f64,
        /// Weight of the non-target-class KD term.
        beta: f64,
        /// Softmax temperature `T` (> 0).
        temperature: f64,
        /// Epochs over which the KD weight ramps linearly to 1 (0: no ramp).
        warmup_epochs: usize,
    },
}

/// Per-epoch callback: (epoch, mean train loss, the network) -> keep going?
pub type EpochCallback<'a> = &'a mut dyn FnMut(usize, f64, &dyn Network) -> bool;
/// Per-step callback: (epoch, batch indices into `x`, detached logits).
pub type BatchCallback<'a> = &'a mut dyn FnMut(usize, &[i64], &Tensor);

/// Knobs of one fit that are not part of the recipe.
#[derive(Default)]
pub struct FitOptions<'a> {
    /// Seed of the batch order (SplitMix64 permutation per epoch).
    pub order_seed: u64,
    /// Seed of libtorch's generator for augmentation draws; `None` leaves it as it is.
    pub augment_seed: Option<u64>,
    /// Per-channel `(mean, std)` in [0, 1] pixel scale: `x` holds raw images (uint8 in
    /// 0..=255, or float in [0, 1]) and each batch is normalised after it is gathered, so the
    /// whole set never exists as float32 (4x the bytes of uint8: what large-image sets at 224
    /// px need). `None`: `x` is already normalised float.
    pub normalize: Option<(Vec<f64>, Vec<f64>)>,
    /// The DSA augmenter (needed when the recipe says `augment = "dsa"`).
    pub dsa: Option<Dsa>,
    /// Per-sample loss weights `[N]` (e.g. from a weighted coreset).
    pub weights: Option<&'a Tensor>,
    /// Called after every epoch with (epoch, mean train loss, the network); return false to
    /// stop early (decide on the validation split, never on test data).
    pub on_epoch: Option<EpochCallback<'a>>,
    /// Called after every optimisation step with (epoch, the batch's indices into `x`, the
    /// batch's logits, detached): what forgetting, AUM and similar scores are computed from.
    pub on_batch: Option<BatchCallback<'a>>,
}

/// What a [`fit`] did.
#[derive(Clone, Debug, serde::Serialize)]
pub struct FitReport {
    /// Epochs actually run (fewer than the recipe's when `on_epoch` stopped early).
    pub epochs_run: usize,
    /// Optimisation steps taken.
    pub steps: usize,
    /// Mean training loss of the last epoch (NaN if no step ran).
    pub final_loss: f64,
    /// The 0-based epoch whose mean training loss was not finite (NaN or infinite): training
    /// diverged and stopped after that epoch (`epochs_run` is then `diverged_at + 1`, and
    /// `final_loss` is that non-finite mean). `None` when every epoch's loss was finite.
    pub diverged_at: Option<usize>,
}

/// Trains `net` (its variables in `vs`) on normalised images `x` `[N,C,H,W]` (float, already
/// on the training device) with the recipe `spec`. Deterministic on CPU for fixed seeds.
///
/// Device-resident: the batch indices of an epoch go to the device in one copy, the epoch's
/// loss sum is accumulated on the device (float64, in the same order as a host sum, so CPU
/// results are bit-identical to a host accumulation) and read once per epoch; no step waits
/// for the device unless an `on_batch` callback or stored labels need host data, or batch
/// mixing draws its parameters (CutMix/Mixup draw on the host, see [`super::mix`]).
/// A non-finite epoch loss stops training after that epoch ([`FitReport::diverged_at`]).
///
/// # Errors
/// [`tch::TchError`] from libtorch, or a stored-label batch that cannot be replayed.
pub fn fit(
    net: &dyn Network,
    vs: &VarStore,
    x: &Tensor,
    targets: Targets,
    spec: &TrainSpec,
    opts: FitOptions,
) -> Result<FitReport, tch::TchError> {
    let n = x.size()[0] as usize;
    assert!(n > 0, "fit on an empty set");
    let device = x.device();
    let mut opt = StudentOptimizer::new(vs, spec)?;
    if let Some(s) = opts.augment_seed {
        tch::manual_seed(s as i64);
    }
    let dsa = match spec.augment {
        Augment::Dsa => Some(
            opts.dsa
                .expect("recipe asks for DSA but no augmenter was given"),
        ),
        Augment::None | Augment::RrcFlip => None,
    };
    let img_h = x.size()[2];
    // Normalisation statistics on the device once (a per-batch copy would wait for it).
    let stats = opts
        .normalize
        .as_ref()
        .map(|(mean, std)| super::channel_stats(mean, std, device));
    // One-hot width for mixing hard labels: the network's output size.
    let classes = if spec.mix != super::mix::Mix::None {
        let _guard = tch::no_grad_guard();
        let first = x.narrow(0, 0, 1);
        let first = match &opts.normalize {
            Some((mean, std)) => super::normalize(&first, mean, std, device),
            None => first,
        };
        net.forward_t(&first, false).size()[1]
    } else {
        0
    };
    if let Targets::Teacher {
        loss: TeacherLoss::Kd { .. } | TeacherLoss::Dkd { .. },
        labels: None,
        ..
    } = &targets
    {
        panic!(
            "the KD and DKD losses need the hard labels (Targets::Teacher {{ labels: Some(..) }})"
        );
    }
    if let Targets::Stored(store) = &targets {
        assert!(
            spec.mix == super::mix::Mix::None && spec.augment != Augment::RrcFlip,
            "stored labels are replayed without CutMix/Mixup or RandomResizedCrop"
        );
        assert_eq!(store.set_size, n, "a label store made for another set");
        assert!(
            opts.normalize.is_none(),
            "stored labels replay normalised images"
        );
    }
    let mut rng = SplitMix64::new(opts.order_seed);
    let mut on_epoch = opts.on_epoch;
    let mut on_batch = opts.on_batch;
    let (mut steps, mut last_loss) = (0usize, f64::NAN);
    let mut epochs_run = 0;
    let mut diverged_at = None;
    for epoch in 0..spec.epochs {
        let lr = spec.lr_at(epoch);
        opt.set_lr(lr);
        let perm: Vec<i64> = rng.permutation(n).into_iter().map(|i| i as i64).collect();
        // Stored labels dictate the batches and their augmentation; otherwise a fresh order.
        let batches: Vec<(Vec<i64>, Option<&crate::label_file::StoredBatch>)> = match &targets {
            Targets::Stored(store) => store
                .epoch(epoch)
                .iter()
                .map(|b| (b.indices.iter().map(|&i| i as i64).collect(), Some(b)))
                .collect(),
            _ => perm
                .chunks(spec.batch_size)
                .map(|c| (c.to_vec(), None))
                .collect(),
        };
        // The epoch's batch indices, concatenated, in one host-to-device copy.
        let flat: Vec<i64> = batches
            .iter()
            .flat_map(|(c, _)| c.iter().copied())
            .collect();
        let flat = Tensor::from_slice(&flat).to_device(device);
        let mut sum = Tensor::zeros([], (Kind::Double, device));
        let (mut count, mut start) = (0usize, 0i64);
        for (chunk, stored) in &batches {
            let chunk = chunk.as_slice();
            let idx = flat.narrow(0, start, chunk.len() as i64);
            start += chunk.len() as i64;
            let mut xb = x.index_select(0, &idx);
            if let Some((mean, std)) = &stats {
                xb = super::normalize_with(&xb, mean, std);
            }
            let mut stored_logits = None;
            if let (Some(b), Targets::Stored(store)) = (stored, &targets) {
                let (_, xa, t) = b
                    .replay(x, store.classes)
                    .map_err(tch::TchError::FileFormat)?;
                xb = xa;
                stored_logits = Some((t, store.temperature));
            } else if let Some(d) = &dsa {
                xb = d.augment(&xb);
            }
            if spec.augment == Augment::RrcFlip {
                xb = super::mix::random_resized_crop_flip(
                    &xb,
                    img_h,
                    (spec.rrc_scale[0], spec.rrc_scale[1]),
                );
            }
            // Batch mixing turns the batch's targets into distributions.
            let hard = match &targets {
                Targets::Hard(y) | Targets::Smoothed(y, _) => Some(*y),
                Targets::Teacher { labels, .. } => *labels,
                Targets::Soft(_) | Targets::Stored(_) => None,
            };
            let mut soft_b = match (&targets, hard) {
                (Targets::Soft(p), _) => Some(p.index_select(0, &idx)),
                (_, Some(y)) if spec.mix != super::mix::Mix::None => Some(
                    y.index_select(0, &idx)
                        .one_hot(classes)
                        .to_kind(Kind::Float),
                ),
                _ => None,
            };
            if spec.mix != super::mix::Mix::None {
                if let Some(p) = soft_b.take() {
                    let (xm, pm) = super::mix::mix(spec.mix, spec.mix_alpha, &xb, &p);
                    xb = xm;
                    soft_b = Some(pm);
                } else if let Targets::Teacher { .. } = &targets {
                    // Labels come from the teacher on the mixed images: only the images mix
                    // (the same draws as with targets; the stand-in targets are dropped).
                    let none = Tensor::zeros([xb.size()[0], 1], (Kind::Float, device));
                    xb = super::mix::mix(spec.mix, spec.mix_alpha, &xb, &none).0;
                }
            }
            let logits = net.forward_t(&xb, true);
            // The batch's hard labels as a distribution (mixed when the batch is).
            let hard_dist = || match (&soft_b, hard) {
                (Some(p), _) => p.shallow_clone(),
                (None, Some(y)) => y
                    .index_select(0, &idx)
                    .one_hot(logits.size()[1])
                    .to_kind(Kind::Float),
                (None, None) => unreachable!("checked above: KD and DKD have hard labels"),
            };
            let per_sample = match (&targets, &soft_b) {
                (Targets::Stored(_), _) => {
                    let (t, temperature) = stored_logits.as_ref().expect("replayed above");
                    super::losses::kl_t(&logits, t, *temperature)
                }
                (Targets::Teacher { teacher, loss, .. }, _) => {
                    let t_logits = {
                        let _g = tch::no_grad_guard();
                        teacher.forward_t(&xb, false)
                    };
                    match *loss {
                        TeacherLoss::Kl {
                            temperature,
                            t_squared: true,
                        } => super::losses::kl_t(&logits, &t_logits, temperature),
                        TeacherLoss::Kl {
                            temperature,
                            t_squared: false,
                        } => super::losses::kl(&logits, &t_logits, temperature),
                        TeacherLoss::Kd { temperature, alpha } => {
                            super::losses::kd(&logits, &t_logits, &hard_dist(), temperature, alpha)
                        }
                        TeacherLoss::Dkd {
                            alpha,
                            beta,
                            temperature,
                            warmup_epochs,
                        } => {
                            let target = hard_dist();
                            let gt = target.argmax(1, false);
                            let w = ((epoch + 1) as f64 / warmup_epochs.max(1) as f64).min(1.0);
                            super::losses::soft_ce(&logits, &target)
                                + super::losses::dkd(
                                    &logits,
                                    &t_logits,
                                    &gt,
                                    alpha,
                                    beta,
                                    temperature,
                                ) * w
                        }
                    }
                }
                (Targets::Smoothed(_, eps), Some(p)) => {
                    let k = logits.size()[1] as f64;
                    super::losses::soft_ce(&logits, &(p * (1.0 - eps) + eps / k))
                }
                (Targets::Smoothed(y, eps), None) => {
                    super::losses::smoothed_ce(&logits, &y.index_select(0, &idx), *eps)
                }
                (_, Some(p)) => super::losses::soft_ce(&logits, p),
                (Targets::Hard(y), None) => logits.cross_entropy_loss::<Tensor>(
                    &y.index_select(0, &idx),
                    None,
                    tch::Reduction::None,
                    -100,
                    0.0,
                ),
                (Targets::Soft(_), None) => {
                    unreachable!("soft targets always give a batch distribution")
                }
            };
            let loss = match opts.weights {
                Some(w) => {
                    let wb = w.index_select(0, &idx);
                    (&per_sample * &wb).sum(Kind::Float) / wb.sum(Kind::Float)
                }
                None => per_sample.mean(Kind::Float),
            };
            opt.backward_step(&loss);
            if let Some(cb) = on_batch.as_mut() {
                cb(epoch, chunk, &logits.detach());
            }
            // On the device: f32 -> f64 is exact, and `* len` then `+=` in float64 round
            // exactly as the host's `sum += loss as f64 * len` did.
            sum += loss.detach().to_kind(Kind::Double) * chunk.len() as f64;
            count += chunk.len();
            steps += 1;
        }
        last_loss = sum.double_value(&[]) / count as f64;
        epochs_run = epoch + 1;
        if count > 0 && !last_loss.is_finite() {
            // Diverged: further steps cannot recover from non-finite weights.
            diverged_at = Some(epoch);
            break;
        }
        if let Some(cb) = on_epoch.as_mut() {
            if !cb(epoch, last_loss, net) {
                break;
            }
        }
    }
    Ok(FitReport {
        epochs_run,
        steps,
        final_loss: last_loss,
        diverged_at,
    })
}

/// The parameters AdamW decays: trainable variables named `weight` (last path component)
/// with more than one dimension, i.e. conv and linear weights, never biases or norm
/// parameters (the large-scale benchmark's parameter groups). Sorted by name.
pub fn adamw_decayed(vs: &VarStore) -> Vec<Tensor> {
    let mut v: Vec<(String, Tensor)> = vs
        .variables()
        .into_iter()
        .filter(|(name, t)| {
            t.requires_grad() && t.dim() > 1 && name.rsplit('.').next() == Some("weight")
        })
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v.into_iter().map(|(_, t)| t).collect()
}

/// The recipe's optimiser over every trainable variable of `vs`, as [`fit`] and
/// [`super::grouped::fit_grouped`] both step it: SGD (momentum, coupled weight decay, libtorch's
/// `torch::optim::SGD`), or AdamW with PyTorch's decoupled decay applied only to
/// [`adamw_decayed`] parameters (weights with more than one dimension; a variable named
/// `weight` in a grouped model is decayed exactly when its members' are).
pub(crate) struct StudentOptimizer {
    opt: tch::nn::Optimizer,
    decayed: Vec<Tensor>,
    weight_decay: f64,
    lr: f64,
}

impl StudentOptimizer {
    pub(crate) fn new(vs: &VarStore, spec: &TrainSpec) -> Result<Self, tch::TchError> {
        let opt = match spec.optimizer {
            Optimizer::Sgd => tch::nn::Sgd {
                momentum: spec.momentum,
                dampening: 0.0,
                wd: spec.weight_decay,
                nesterov: spec.nesterov,
            }
            .build(vs, spec.lr)?,
            // Decoupled decay is applied in `backward_step`, to the decayed parameters only.
            Optimizer::Adamw => tch::nn::AdamW {
                wd: 0.0,
                ..Default::default()
            }
            .build(vs, spec.lr)?,
        };
        let decayed = match spec.optimizer {
            Optimizer::Adamw if spec.weight_decay > 0.0 => adamw_decayed(vs),
            _ => Vec::new(),
        };
        Ok(Self {
            opt,
            decayed,
            weight_decay: spec.weight_decay,
            lr: spec.lr,
        })
    }

    pub(crate) fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
        self.opt.set_lr(lr);
    }

    /// Backward pass of `loss` and one update.
    pub(crate) fn backward_step(&mut self, loss: &Tensor) {
        if self.decayed.is_empty() {
            self.opt.backward_step(loss);
            return;
        }
        // PyTorch's AdamW: param *= 1 - lr * wd, then the Adam update (which does not depend
        // on the parameter's value), so decaying before `step` is the same.
        self.opt.zero_grad();
        loss.backward();
        let _g = tch::no_grad_guard();
        for p in &self.decayed {
            let _ = p
                .shallow_clone()
                .g_mul_scalar_(1.0 - self.lr * self.weight_decay);
        }
        self.opt.step();
    }
}

/// Top-1 and top-5 accuracy (fractions) of `net` in eval mode on normalised `x` with labels `y`
/// (int64 `[N]`, any device), `batch` images per forward pass. The labels go to `x`'s device
/// once and the hit counts stay there until the end: one host synchronisation per call.
pub fn evaluate(net: &dyn Network, x: &Tensor, y: &Tensor, batch: i64) -> (f64, f64) {
    let _guard = tch::no_grad_guard();
    let n = x.size()[0];
    let y = y.to_device(x.device());
    let mut hits = Tensor::zeros([2], (Kind::Int64, x.device()));
    let mut start = 0;
    while start < n {
        let len = batch.min(n - start);
        let xb = x.narrow(0, start, len);
        let yb = y.narrow(0, start, len);
        let logits = net.forward_t(&xb, false);
        let k = logits.size()[1].min(5);
        let (_, top) = logits.topk(k, 1, true, true);
        let hit = top.eq_tensor(&yb.unsqueeze(1));
        hits += Tensor::stack(
            &[hit.narrow(1, 0, 1).sum(Kind::Int64), hit.sum(Kind::Int64)],
            0,
        );
        start += len;
    }
    let hits = Vec::<i64>::try_from(&hits).expect("two int64 counts");
    (hits[0] as f64 / n as f64, hits[1] as f64 / n as f64)
}

/// What [`evaluate_detailed`] measured.
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluated {
    /// Top-1 accuracy, a fraction in [0, 1] (the same number [`evaluate`] returns).
    pub top1: f64,
    /// Top-5 accuracy (top-k over all classes when there are fewer than 5), a fraction.
    pub top5: f64,
    /// Confusion matrix of counts, `[classes][classes]`: `confusion[t][p]` is the number of
    /// images of true class `t` whose top-1 prediction is `p` (rows = true class, columns =
    /// predicted class; each row sums to the class's image count).
    pub confusion: Vec<Vec<u64>>,
}

/// [`evaluate`] plus the confusion matrix of the top-1 predictions, in one pass: `net` in eval
/// mode on normalised `x` `[N,C,H,W]` with int64 labels `y` `[N]` in `0..classes`, `batch`
/// images at a time. The top-1 prediction is the same `topk` as [`evaluate`]'s, so
/// `top1 == trace(confusion) / N`.
///
/// # Panics
/// If a label is outside `0..classes` or the network has another number of outputs.
pub fn evaluate_detailed(
    net: &dyn Network,
    x: &Tensor,
    y: &Tensor,
    batch: i64,
    classes: usize,
) -> Evaluated {
    let _guard = tch::no_grad_guard();
    let n = x.size()[0];
    let device = x.device();
    let y = y.to_device(device).to_kind(Kind::Int64);
    let k2 = (classes * classes) as i64;
    // Hit counts and the flattened confusion matrix stay on the device: one read at the end.
    let mut hits = Tensor::zeros([2], (Kind::Int64, device));
    let mut cells = Tensor::zeros([k2], (Kind::Int64, device));
    let mut start = 0;
    while start < n {
        let len = batch.min(n - start);
        let xb = x.narrow(0, start, len);
        let yb = y.narrow(0, start, len);
        let logits = net.forward_t(&xb, false);
        assert_eq!(
            logits.size()[1],
            classes as i64,
            "network outputs vs classes"
        );
        let k = logits.size()[1].min(5);
        let (_, top) = logits.topk(k, 1, true, true);
        let hit = top.eq_tensor(&yb.unsqueeze(1));
        hits += Tensor::stack(
            &[hit.narrow(1, 0, 1).sum(Kind::Int64), hit.sum(Kind::Int64)],
            0,
        );
        let pred = top.narrow(1, 0, 1).reshape([-1]);
        let flat = &yb * classes as i64 + pred;
        let counts = flat.bincount::<Tensor>(None, k2);
        assert_eq!(counts.size()[0], k2, "a label outside 0..{classes}");
        cells += counts;
        start += len;
    }
    let hits = Vec::<i64>::try_from(&hits).expect("two int64 counts");
    let cells = Vec::<i64>::try_from(&cells.to_device(tch::Device::Cpu)).expect("int64 counts");
    let confusion = cells
        .chunks(classes.max(1))
        .map(|row| row.iter().map(|&c| c as u64).collect())
        .collect();
    Evaluated {
        top1: hits[0] as f64 / n as f64,
        top5: hits[1] as f64 / n as f64,
        confusion,
    }
}

#[cfg(test)]
mod tests {
    use super::TeacherLoss;
    use super::*;
    use crate::nn::mix::Mix;
    use crate::nn::models::build;
    use crate::spec::{ModelSpec, Schedule};
    use tch::Device;

    fn spec(augment: Augment, mix: Mix) -> TrainSpec {
        TrainSpec {
            epochs: 15,
            batch_size: 20,
            optimizer: Optimizer::Sgd,
            lr: 0.05,
            momentum: 0.9,
            weight_decay: 0.0,
            nesterov: false,
            schedule: Schedule::Constant,
            augment,
            dsa_strategy: crate::spec::default_dsa_strategy(),
            rrc_scale: [0.5, 1.0],
            mix,
            mix_alpha: 1.0,
        }
    }

    /// Two separable classes (bright left half vs bright right half): every augmentation path
    /// of the fit loop must still learn them, and the loss must fall.
    #[test]
    fn every_augmentation_path_learns_a_separable_problem() {
        let _rng = crate::rng::test_lock();
        let n = 40;
        let left = Tensor::zeros([n / 2, 1, 16, 16], (Kind::Float, Device::Cpu));
        let _ = left.narrow(3, 0, 8).fill_(1.0);
        let right = left.flip([3]);
        let x = Tensor::cat(&[left, right], 0);
        let y = Tensor::cat(
            &[
                Tensor::zeros([n / 2], (Kind::Int64, Device::Cpu)),
                Tensor::ones([n / 2], (Kind::Int64, Device::Cpu)),
            ],
            0,
        );
        for (aug, mix) in [
            (Augment::None, Mix::None),
            (Augment::RrcFlip, Mix::None),
            (Augment::None, Mix::Cutmix),
            (Augment::None, Mix::Mixup),
        ] {
            tch::manual_seed(0);
            let vs = VarStore::new(Device::Cpu);
            let net = build(
                &vs.root(),
                &ModelSpec {
                    arch: crate::spec::Arch::Convnet,
                    width: 8,
                    depth: 2,
                },
                [1, 16, 16],
                2,
            );
            let mut losses = Vec::new();
            let mut cb = |_e: usize, l: f64, _n: &dyn Network| {
                losses.push(l);
                true
            };
            // RRC + flip would mirror the classes into each other: it only runs with the flip-free
            // mix paths here, and its own test checks flips; accuracy is asserted without it.
            let r = fit(
                net.as_ref(),
                &vs,
                &x,
                Targets::Hard(&y),
                &spec(aug, mix),
                FitOptions {
                    on_epoch: Some(&mut cb),
                    ..Default::default()
                },
            )
            .unwrap();
            assert_eq!(r.epochs_run, 15);
            assert_eq!(r.steps, 15 * 2);
            if aug == Augment::None {
                let (acc, _) = evaluate(net.as_ref(), &x, &y, 64);
                assert!(acc >= 0.95, "{aug:?}/{mix:?}: accuracy {acc}");
                assert!(
                    losses.last().unwrap() < &losses[0],
                    "{aug:?}/{mix:?}: loss did not fall: {losses:?}"
                );
            }
        }
    }

    /// A non-finite epoch loss stops training after that epoch and says which; a finite run
    /// reports none. (NaN images give a NaN loss at the first step.)
    #[test]
    fn a_non_finite_loss_stops_training_and_is_reported() {
        let _rng = crate::rng::test_lock();
        let x = Tensor::zeros([40, 1, 16, 16], (Kind::Float, Device::Cpu));
        let y = Tensor::arange(40, (Kind::Int64, Device::Cpu)).remainder(2);
        let small = ModelSpec {
            arch: crate::spec::Arch::Convnet,
            width: 8,
            depth: 2,
        };
        for (fill, want) in [(0.5, None), (f64::NAN, Some(0))] {
            let _ = x.shallow_clone().fill_(fill);
            tch::manual_seed(0);
            let vs = VarStore::new(Device::Cpu);
            let net = build(&vs.root(), &small, [1, 16, 16], 2);
            let r = fit(
                net.as_ref(),
                &vs,
                &x,
                Targets::Hard(&y),
                &spec(Augment::None, Mix::None),
                FitOptions::default(),
            )
            .unwrap();
            assert_eq!(r.diverged_at, want, "fill {fill}");
            match want {
                None => {
                    assert_eq!((r.epochs_run, r.steps), (15, 30));
                    assert!(r.final_loss.is_finite());
                }
                Some(_) => {
                    assert_eq!((r.epochs_run, r.steps), (1, 2));
                    assert!(r.final_loss.is_nan());
                }
            }
        }
    }

    /// Every teacher loss and label smoothing learns the separable problem, with and without
    /// CutMix: the student follows a trained teacher (KL alone carries no hard label).
    #[test]
    fn teacher_losses_and_smoothing_learn_a_separable_problem() {
        let _rng = crate::rng::test_lock();
        let n = 40;
        let left = Tensor::zeros([n / 2, 1, 16, 16], (Kind::Float, Device::Cpu));
        let _ = left.narrow(3, 0, 8).fill_(1.0);
        let x = Tensor::cat(&[left.shallow_clone(), left.flip([3])], 0);
        let y = Tensor::cat(
            &[
                Tensor::zeros([n / 2], (Kind::Int64, Device::Cpu)),
                Tensor::ones([n / 2], (Kind::Int64, Device::Cpu)),
            ],
            0,
        );
        let small = ModelSpec {
            arch: crate::spec::Arch::Convnet,
            width: 8,
            depth: 2,
        };
        tch::manual_seed(1);
        let tvs = VarStore::new(Device::Cpu);
        let teacher = build(&tvs.root(), &small, [1, 16, 16], 2);
        let hard = spec(Augment::None, Mix::None);
        fit(
            teacher.as_ref(),
            &tvs,
            &x,
            Targets::Hard(&y),
            &hard,
            FitOptions::default(),
        )
        .unwrap();
        assert!(evaluate(teacher.as_ref(), &x, &y, 64).0 >= 0.95);
        let losses = [
            TeacherLoss::Kl {
                temperature: 4.0,
                t_squared: true,
            },
            TeacherLoss::Kl {
                temperature: 20.0,
                t_squared: false,
            },
            TeacherLoss::Kd {
                temperature: 4.0,
                alpha: 0.1,
            },
            TeacherLoss::Dkd {
                alpha: 1.0,
                beta: 8.0,
                temperature: 4.0,
                warmup_epochs: 5,
            },
        ];
        for mix in [Mix::None, Mix::Cutmix] {
            let mut cases: Vec<(String, Targets)> = losses
                .iter()
                .map(|&loss| {
                    (
                        format!("{loss:?}"),
                        Targets::Teacher {
                            teacher: teacher.as_ref(),
                            loss,
                            labels: Some(&y),
                        },
                    )
                })
                .collect();
            cases.push(("smoothing".into(), Targets::Smoothed(&y, 0.1)));
            for (name, targets) in cases {
                tch::manual_seed(0);
                let vs = VarStore::new(Device::Cpu);
                let net = build(&vs.root(), &small, [1, 16, 16], 2);
                fit(
                    net.as_ref(),
                    &vs,
                    &x,
                    targets,
                    &spec(Augment::None, mix),
                    FitOptions::default(),
                )
                .unwrap();
                let (acc, _) = evaluate(net.as_ref(), &x, &y, 64);
                assert!(acc >= 0.95, "{name} / {mix:?}: accuracy {acc}");
            }
        }
    }

    /// AdamW decays exactly the conv/linear weights, decoupled: after one step from the same
    /// start, `p(wd) - p(0) = -lr * wd * p0` for them (the Adam update does not depend on the
    /// parameter's value) and 0 for biases and BatchNorm parameters.
    #[test]
    fn adamw_decays_only_weights_with_more_than_one_dimension() {
        let _rng = crate::rng::test_lock();
        let x = Tensor::randn([8, 3, 8, 8], (Kind::Float, Device::Cpu));
        let y = Tensor::arange(8, (Kind::Int64, Device::Cpu)).remainder(2);
        let bn = ModelSpec {
            arch: crate::spec::Arch::ConvnetBn,
            width: 4,
            depth: 1,
        };
        let run = |wd: f64| {
            tch::manual_seed(0);
            let vs = VarStore::new(Device::Cpu);
            let net = build(&vs.root(), &bn, [3, 8, 8], 2);
            let p0: Vec<(String, Tensor)> = {
                let mut v: Vec<_> = vs
                    .variables()
                    .into_iter()
                    .map(|(k, t)| (k, t.copy()))
                    .collect();
                v.sort_by(|a, b| a.0.cmp(&b.0));
                v
            };
            let mut s = spec(Augment::None, Mix::None);
            (s.optimizer, s.lr, s.weight_decay, s.epochs, s.batch_size) =
                (Optimizer::Adamw, 0.1, wd, 1, 8);
            fit(
                net.as_ref(),
                &vs,
                &x,
                Targets::Hard(&y),
                &s,
                FitOptions::default(),
            )
            .unwrap();
            let mut v: Vec<_> = vs.variables().into_iter().collect();
            v.sort_by(|a, b| a.0.cmp(&b.0));
            (p0, v)
        };
        let (p0, plain) = run(0.0);
        let (_, decayed) = run(0.5);
        let names: Vec<&str> = decayed.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "conv0.bias",
                "conv0.weight",
                "fc.bias",
                "fc.weight",
                "norm0.bias",
                "norm0.running_mean",
                "norm0.running_var",
                "norm0.weight"
            ]
        );
        for (((k, a), (_, b)), (_, start)) in plain.iter().zip(&decayed).zip(&p0) {
            let diff = b - a;
            let expect = if k == "conv0.weight" || k == "fc.weight" {
                start * (-0.1 * 0.5)
            } else {
                start.zeros_like()
            };
            assert!(
                diff.allclose(&expect, 1e-5, 1e-6, false),
                "{k}: decay {diff:?} vs {expect:?}"
            );
        }
    }

    /// The large-image recipe (RandomResizedCrop + flip, CutMix, online teacher, AdamW, raw
    /// images normalised per batch) is a function of the seeds: the same seeds give
    /// bit-identical weights on the CPU; another augmentation seed (the cell's generator for
    /// crops, flips and CutMix) gives other weights; and CutMix really mixes the teacher's
    /// batches (no hard labels needed).
    #[test]
    fn large_image_recipe_is_reproducible_and_its_draws_follow_the_augment_seed() {
        let _rng = crate::rng::test_lock();
        tch::manual_seed(11);
        let raw = (Tensor::rand([24, 3, 16, 16], (Kind::Float, Device::Cpu)) * 255.0)
            .to_kind(Kind::Uint8);
        let small = ModelSpec {
            arch: crate::spec::Arch::Resnet18,
            width: 4,
            depth: 0,
        };
        let tvs = VarStore::new(Device::Cpu);
        let teacher = build(&tvs.root(), &small, [3, 16, 16], 3);
        let norm = (vec![0.485, 0.456, 0.406], vec![0.229, 0.224, 0.225]);
        let run = |augment_seed: u64, mix: Mix| {
            tch::manual_seed(0);
            let vs = VarStore::new(Device::Cpu);
            let net = build(&vs.root(), &small, [3, 16, 16], 3);
            let mut s = spec(Augment::RrcFlip, mix);
            (s.optimizer, s.lr, s.weight_decay, s.epochs, s.batch_size) =
                (Optimizer::Adamw, 1e-3, 0.01, 2, 8);
            s.rrc_scale = [0.08, 1.0];
            let r = fit(
                net.as_ref(),
                &vs,
                &raw,
                Targets::Teacher {
                    teacher: teacher.as_ref(),
                    loss: TeacherLoss::Kl {
                        temperature: 20.0,
                        t_squared: false,
                    },
                    labels: None,
                },
                &s,
                FitOptions {
                    order_seed: 5,
                    augment_seed: Some(augment_seed),
                    normalize: Some(norm.clone()),
                    ..Default::default()
                },
            )
            .unwrap();
            assert_eq!(r.steps, 6);
            let mut v: Vec<_> = vs.trainable_variables();
            v.sort_by_key(|t| t.numel());
            Tensor::cat(&v.iter().map(|t| t.flatten(0, -1)).collect::<Vec<_>>(), 0)
        };
        let a = run(1, Mix::Cutmix);
        assert!(a.equal(&run(1, Mix::Cutmix)), "same seeds, same weights");
        assert!(
            !a.equal(&run(2, Mix::Cutmix)),
            "the augment seed drives the draws"
        );
        assert!(
            !a.equal(&run(1, Mix::None)),
            "CutMix mixes the teacher's batches"
        );
    }
}
