//! Several ConvNet students trained as one grouped model: what makes many tiny cells (IPC 1,
//! IPC 10) fill a GPU. Member `g` of a group of `G` has its own parameters (its slice of every
//! grouped tensor), its own initialisation (copied from the network its separate cell would
//! build), its own data order (its own SplitMix64 seed) and its own DSA draws (drawn from its
//! own augmentation seed in exactly the sequence its separate fit would draw them), so each
//! member computes what its separate [`super::fit`] computes, up to floating-point rounding
//! (grouped convolutions and batched matrix products sum in another order).
//!
//! How: the members' batches are stacked along the channel axis (`[B, G*C, H, W]`) and every
//! convolution runs with `groups = G`, so member `g`'s output channels see only its own input
//! channels; GroupNorm with one group per channel (the ConvNet's instance norm), ReLU and
//! average pooling act per channel; the final linear layer is a batched matrix product
//! `[G, B, F] x [G, F, K]`. The loss is the sum of the members' mean losses, so the gradient
//! of member `g`'s parameters is the gradient of its own loss; SGD and AdamW update every
//! element independently, so one optimiser over the grouped tensors (the same
//! `StudentOptimizer` as [`super::fit`], AdamW decaying the same parameters) is `G` optimisers.
//!
//! Scope: ConvNet-D with instance norm (`arch = "convnet"`), hard labels (cross-entropy),
//! augmentation `none` or `dsa`, no batch mixing, no per-sample weights: the hard-label grid
//! that dominates a leaderboard. Everything else trains separately (see
//! [`GroupedFit::eligible`]).

use super::augment::{apply, Dsa, DsaDraw};
use super::fit::{Evaluated, FitReport};
use crate::rng::SplitMix64;
use crate::spec::{Arch, Augment, ModelSpec, TrainSpec};
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

/// One member of a group: its training set and seeds, as its separate cell would have them.
pub struct Member<'a> {
    /// Normalised images `[N, C, H, W]` (float32, on the group's device; the same `N`, `C`,
    /// `H`, `W` for every member).
    pub x: &'a Tensor,
    /// Class indices `[N]` (int64, on the group's device).
    pub y: &'a Tensor,
    /// The member's own network, freshly initialised exactly as its separate cell initialises
    /// it (`tch::manual_seed(init seed)` then [`super::build`]): its parameters are copied.
    pub init: &'a VarStore,
    /// Seed of the batch order (the separate fit's `order_seed`).
    pub order_seed: u64,
    /// Seed of the augmentation draws (the separate fit's `augment_seed`).
    pub augment_seed: u64,
}

/// Why a set of cells cannot be trained as one group.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotGroupable {
    /// Grouping is implemented for ConvNet-D with instance norm only.
    #[error("grouped training supports the convnet student only, not {0:?}")]
    Arch(Arch),
    /// Batch mixing (CutMix/Mixup) or RandomResizedCrop draws are not replayed per member.
    #[error("grouped training supports augment = none or dsa without batch mixing")]
    Augment,
    /// Members differ in training-set size or image shape.
    #[error("grouped members must have the same training-set size and image shape")]
    Shapes,
    /// Fewer than two members.
    #[error("a group needs at least two members")]
    TooSmall,
}

/// Why [`fit_grouped`] failed.
#[derive(Debug, thiserror::Error)]
pub enum GroupedError {
    /// The members or recipe cannot be grouped.
    #[error(transparent)]
    NotGroupable(#[from] NotGroupable),
    /// The recipe asks for DSA but no augmenter was given.
    #[error("recipe asks for DSA but no augmenter was given")]
    NoDsa,
    /// libtorch failed.
    #[error(transparent)]
    Torch(#[from] tch::TchError),
}

/// The grouped fit; see the module docs.
pub struct GroupedFit;

impl GroupedFit {
    /// Whether a student and recipe can be trained grouped at all (before any member exists).
    ///
    /// # Errors
    /// [`NotGroupable::Arch`] or [`NotGroupable::Augment`].
    pub fn eligible(student: &ModelSpec, spec: &TrainSpec) -> Result<(), NotGroupable> {
        if student.arch != Arch::Convnet {
            return Err(NotGroupable::Arch(student.arch));
        }
        if spec.mix != super::mix::Mix::None || spec.augment == Augment::RrcFlip {
            return Err(NotGroupable::Augment);
        }
        Ok(())
    }
}

/// G ConvNet-D students as one model (see the module docs). Variables live in the grouped
/// [`VarStore`] given to [`GroupedConvNet::from_members`].
pub struct GroupedConvNet {
    g: i64,
    classes: i64,
    /// Per block: (weight `[G*width, cin, 3, 3]`, bias `[G*width]`, padding).
    convs: Vec<(Tensor, Tensor, i64)>,
    /// Per block: GroupNorm affine (weight `[G*width]`, bias `[G*width]`).
    norms: Vec<(Tensor, Tensor)>,
    /// Linear layer per member: weight `[G, F, K]` (transposed), bias `[G, 1, K]`.
    fc_w: Tensor,
    fc_b: Tensor,
}

impl GroupedConvNet {
    /// Stacks the members' ConvNets (each built by [`super::build`] from `spec`, its variables
    /// named `conv{d}.weight`, `norm{d}.weight`, `fc.weight`, …) into grouped variables under
    /// `vs`. `in_channels` is the images' channel count (padding 3 on the first conv for one
    /// channel, as [`super::models::ConvNet`]).
    ///
    /// # Panics
    /// When a member lacks a variable of the ConvNet layout or `spec` is not a ConvNet.
    pub fn from_members(
        vs: &VarStore,
        members: &[&VarStore],
        spec: &ModelSpec,
        in_channels: i64,
    ) -> Self {
        assert_eq!(spec.arch, Arch::Convnet, "GroupedConvNet needs a convnet");
        let g = members.len() as i64;
        let vars: Vec<_> = members.iter().map(|m| m.variables()).collect();
        let stack0 = |name: &str| -> Tensor {
            let parts: Vec<Tensor> = vars
                .iter()
                .map(|v| {
                    v.get(name)
                        .unwrap_or_else(|| panic!("member network has no variable {name}"))
                        .detach()
                })
                .collect();
            Tensor::cat(&parts, 0)
        };
        let root = vs.root();
        let _guard = tch::no_grad_guard();
        let (mut convs, mut norms) = (Vec::new(), Vec::new());
        for d in 0..spec.depth {
            let pad = if in_channels == 1 && d == 0 { 3 } else { 1 };
            let cp = &root / format!("conv{d}");
            let w = cp.var_copy("weight", &stack0(&format!("conv{d}.weight")));
            let b = cp.var_copy("bias", &stack0(&format!("conv{d}.bias")));
            convs.push((w, b, pad));
            let np = &root / format!("norm{d}");
            let nw = np.var_copy("weight", &stack0(&format!("norm{d}.weight")));
            let nb = np.var_copy("bias", &stack0(&format!("norm{d}.bias")));
            norms.push((nw, nb));
        }
        // fc.weight [K, F] per member -> [G, F, K]; fc.bias [K] -> [G, 1, K].
        let fw: Vec<Tensor> = vars.iter().map(|v| v["fc.weight"].detach().tr()).collect();
        let fb: Vec<Tensor> = vars
            .iter()
            .map(|v| v["fc.bias"].detach().unsqueeze(0))
            .collect();
        let classes = fb[0].size()[1];
        let fc_w = (&root / "fc").var_copy("weight", &Tensor::stack(&fw, 0));
        let fc_b = (&root / "fc").var_copy("bias", &Tensor::stack(&fb, 0));
        Self {
            g,
            classes,
            convs,
            norms,
            fc_w,
            fc_b,
        }
    }

    /// Number of members.
    pub fn members(&self) -> i64 {
        self.g
    }

    /// Logits `[G, B, K]` of member-stacked input `[B, G*C, H, W]` (member `g`'s images in
    /// channels `g*C..(g+1)*C`).
    pub fn forward(&self, xs: &Tensor) -> Tensor {
        let mut x = xs.shallow_clone();
        for ((w, b, pad), (nw, nb)) in self.convs.iter().zip(&self.norms) {
            let y = x.conv2d(w, Some(b), [1, 1], [*pad, *pad], [1, 1], self.g);
            let ch = y.size()[1];
            x = y
                .group_norm(ch, Some(nw), Some(nb), 1e-5, true)
                .relu_()
                .avg_pool2d([2, 2], [2, 2], [0, 0], false, true, None::<i64>);
        }
        let bsz = x.size()[0];
        // [B, G*width, h, w] -> [G, B, width*h*w]: member g's features, flattened as its own
        // ConvNet flattens them (channel, row, column).
        let f = x.view([bsz, self.g, -1]).transpose(0, 1);
        f.bmm(&self.fc_w) + &self.fc_b
    }

    /// Copies member `g`'s parameters back into a network of the ConvNet layout (`dst`, e.g.
    /// a freshly built [`super::build`] network's store), for checks and for saving.
    pub fn export_member(&self, g: i64, dst: &mut VarStore) {
        let _guard = tch::no_grad_guard();
        let vars = dst.variables();
        let slice0 = |t: &Tensor| {
            let n = t.size()[0] / self.g;
            t.narrow(0, g * n, n)
        };
        for (d, ((w, b, _), (nw, nb))) in self.convs.iter().zip(&self.norms).enumerate() {
            vars[&format!("conv{d}.weight")]
                .shallow_clone()
                .copy_(&slice0(w));
            vars[&format!("conv{d}.bias")]
                .shallow_clone()
                .copy_(&slice0(b));
            vars[&format!("norm{d}.weight")]
                .shallow_clone()
                .copy_(&slice0(nw));
            vars[&format!("norm{d}.bias")]
                .shallow_clone()
                .copy_(&slice0(nb));
        }
        vars["fc.weight"]
            .shallow_clone()
            .copy_(&self.fc_w.get(g).tr());
        vars["fc.bias"]
            .shallow_clone()
            .copy_(&self.fc_b.get(g).squeeze_dim(0));
    }
}

/// Trains the members as one [`GroupedConvNet`] with the recipe `spec` (hard labels,
/// cross-entropy). Returns the grouped network (under `vs`) and one [`FitReport`] per member,
/// each what the member's separate [`super::fit`] reports up to floating-point rounding: a
/// member whose epoch loss is not finite stops contributing to the loss after that epoch and
/// reports `diverged_at`, as a separate fit stops there.
///
/// `dsa` is required when `spec.augment` is DSA. All members' DSA draws are made before
/// training, member by member, each from `tch::manual_seed(augment_seed)` in the order its
/// separate fit draws them (one draw per batch), so the global generator ends in another state
/// than after a separate fit.
///
/// # Errors
/// [`GroupedError`]: a recipe or members that cannot be grouped, DSA without an augmenter,
/// libtorch errors.
pub fn fit_grouped(
    vs: &VarStore,
    members: &[Member],
    student: &ModelSpec,
    spec: &TrainSpec,
    dsa: Option<&Dsa>,
) -> Result<(GroupedConvNet, Vec<FitReport>), GroupedError> {
    GroupedFit::eligible(student, spec)?;
    if members.len() < 2 {
        return Err(NotGroupable::TooSmall.into());
    }
    let shape = members[0].x.size();
    if members
        .iter()
        .any(|m| m.x.size() != shape || m.y.size() != [shape[0]])
    {
        return Err(NotGroupable::Shapes.into());
    }
    let (n, c, h, w) = (shape[0] as usize, shape[1], shape[2], shape[3]);
    let device = members[0].x.device();
    let g = members.len();
    let inits: Vec<&VarStore> = members.iter().map(|m| m.init).collect();
    let net = GroupedConvNet::from_members(vs, &inits, student, c);
    let mut opt = super::fit::StudentOptimizer::new(vs, spec)?;
    // Every member's batch orders, exactly as its separate fit draws them.
    let orders: Vec<Vec<Vec<i64>>> = members
        .iter()
        .map(|m| {
            let mut rng = SplitMix64::new(m.order_seed);
            (0..spec.epochs)
                .map(|_| rng.permutation(n).into_iter().map(|i| i as i64).collect())
                .collect()
        })
        .collect();
    let batch_lens: Vec<i64> = (0..n)
        .step_by(spec.batch_size)
        .map(|s| (n - s).min(spec.batch_size) as i64)
        .collect();
    // Every member's DSA draws, one per batch, in its separate fit's order.
    let draws: Vec<Vec<Option<DsaDraw>>> = match (spec.augment, dsa) {
        (Augment::Dsa, Some(d)) => members
            .iter()
            .map(|m| {
                tch::manual_seed(m.augment_seed as i64);
                (0..spec.epochs)
                    .flat_map(|_| batch_lens.iter().map(|&len| d.draw(len, h, w, device)))
                    .collect()
            })
            .collect(),
        (Augment::Dsa, None) => return Err(GroupedError::NoDsa),
        _ => (0..g).map(|_| Vec::new()).collect(),
    };
    let mut active = vec![true; g];
    let mut reports: Vec<FitReport> = (0..g)
        .map(|_| FitReport {
            epochs_run: 0,
            steps: 0,
            final_loss: f64::NAN,
            diverged_at: None,
        })
        .collect();
    let mut frozen: Vec<Option<Vec<Tensor>>> = (0..g).map(|_| None).collect();
    let mut step = 0usize;
    for epoch in 0..spec.epochs {
        if !active.iter().any(|&a| a) {
            break;
        }
        opt.set_lr(spec.lr_at(epoch));
        // Each member's epoch order in one host-to-device copy, [G, N].
        let flat: Vec<i64> = orders
            .iter()
            .flat_map(|o| o[epoch].iter().copied())
            .collect();
        let idx_all = Tensor::from_slice(&flat)
            .to_device(device)
            .view([g as i64, n as i64]);
        let mask = Tensor::from_slice(
            &active
                .iter()
                .map(|&a| if a { 1f32 } else { 0f32 })
                .collect::<Vec<_>>(),
        )
        .to_device(device);
        let mut sums = Tensor::zeros([g as i64], (Kind::Double, device));
        let mut start = 0i64;
        for &len in &batch_lens {
            let mut xbs = Vec::with_capacity(g);
            let mut ybs = Vec::with_capacity(g);
            for (k, m) in members.iter().enumerate() {
                let idx = idx_all.get(k as i64).narrow(0, start, len);
                let mut xb = m.x.index_select(0, &idx);
                if let Some(Some(d)) = draws[k].get(step) {
                    xb = apply(&xb, d);
                }
                xbs.push(xb);
                ybs.push(m.y.index_select(0, &idx));
            }
            let logits = net.forward(&Tensor::cat(&xbs, 1)); // [G, B, K]
            let y = Tensor::stack(&ybs, 0); // [G, B]
            let per_sample = logits
                .reshape([-1, net.classes])
                .cross_entropy_loss::<Tensor>(
                    &y.reshape([-1]),
                    None,
                    tch::Reduction::None,
                    -100,
                    0.0,
                )
                .view([g as i64, len]);
            let losses = per_sample.mean_dim(1, false, Kind::Float); // [G]
                                                                     // Diverged members no longer contribute (their separate fit has stopped; their
                                                                     // parameters are restored from the snapshot below before returning).
            let total = (&losses * &mask).sum(Kind::Float);
            opt.backward_step(&total);
            sums += losses.detach().to_kind(Kind::Double) * len as f64;
            start += len;
            step += 1;
        }
        let sums = Vec::<f64>::try_from(&sums.to_device(Device::Cpu)).expect("[G] float64");
        for k in 0..g {
            if !active[k] {
                continue;
            }
            let r = &mut reports[k];
            r.final_loss = sums[k] / n as f64;
            r.epochs_run = epoch + 1;
            r.steps += batch_lens.len();
            if !r.final_loss.is_finite() {
                r.diverged_at = Some(epoch);
                active[k] = false;
                // Its separate fit stops here: keep these parameters as its result.
                let _guard = tch::no_grad_guard();
                frozen[k] = Some(
                    vs.trainable_variables()
                        .iter()
                        .map(|v| member_slice(v, k as i64, g as i64).copy())
                        .collect(),
                );
            }
        }
    }
    // The diverged members' parameters as they were when their separate fits stopped.
    let _guard = tch::no_grad_guard();
    for (k, snap) in frozen.iter().enumerate() {
        if let Some(snap) = snap {
            for (v, s) in vs.trainable_variables().iter().zip(snap) {
                member_slice(v, k as i64, g as i64).copy_(s);
            }
        }
    }
    Ok((net, reports))
}

/// Member `k`'s part of a grouped variable (every grouped variable stacks the members along
/// its first axis).
fn member_slice(v: &Tensor, k: i64, g: i64) -> Tensor {
    let per = v.size()[0] / g;
    v.narrow(0, k * per, per)
}

/// [`super::fit::evaluate_detailed`] for every member of a grouped network at once: the same
/// images `x` `[N, C, H, W]` go to every member; returns one [`Evaluated`] per member.
///
/// # Panics
/// If a label is outside `0..classes` or the network has another number of outputs.
pub fn evaluate_grouped(
    net: &GroupedConvNet,
    x: &Tensor,
    y: &Tensor,
    batch: i64,
    classes: usize,
) -> Vec<Evaluated> {
    let _guard = tch::no_grad_guard();
    let g = net.g;
    assert_eq!(net.classes, classes as i64, "network outputs vs classes");
    let n = x.size()[0];
    let device = x.device();
    let y = y.to_device(device).to_kind(Kind::Int64);
    let k2 = (classes * classes) as i64;
    let mut hits = Tensor::zeros([g, 2], (Kind::Int64, device));
    let mut cells = Tensor::zeros([g, k2], (Kind::Int64, device));
    let mut start = 0;
    while start < n {
        let len = batch.min(n - start);
        let xb = x.narrow(0, start, len).repeat([1, g, 1, 1]);
        let yb = y.narrow(0, start, len);
        let logits = net.forward(&xb); // [G, B, K]
        let k = (classes as i64).min(5);
        let (_, top) = logits.topk(k, 2, true, true); // [G, B, k]
        let hit = top.eq_tensor(&yb.view([1, len, 1]));
        hits += Tensor::stack(
            &[
                hit.narrow(2, 0, 1)
                    .sum_dim_intlist(&[1i64, 2][..], false, Kind::Int64),
                hit.sum_dim_intlist(&[1i64, 2][..], false, Kind::Int64),
            ],
            1,
        );
        let pred = top.narrow(2, 0, 1).squeeze_dim(2); // [G, B]
        let member = Tensor::arange(g, (Kind::Int64, device)).view([g, 1]);
        let flat = (member * k2 + yb.view([1, len]) * classes as i64 + pred).reshape([-1]);
        let counts = flat.bincount::<Tensor>(None, g * k2);
        assert_eq!(counts.size()[0], g * k2, "a label outside 0..{classes}");
        cells += counts.view([g, k2]);
        start += len;
    }
    let hits = Vec::<i64>::try_from(&hits.reshape([-1]).to_device(Device::Cpu)).expect("counts");
    let cells = Vec::<i64>::try_from(&cells.reshape([-1]).to_device(Device::Cpu)).expect("counts");
    (0..g as usize)
        .map(|m| Evaluated {
            top1: hits[2 * m] as f64 / n as f64,
            top5: hits[2 * m + 1] as f64 / n as f64,
            confusion: cells[m * k2 as usize..(m + 1) * k2 as usize]
                .chunks(classes.max(1))
                .map(|row| row.iter().map(|&c| c as u64).collect())
                .collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::fit::{evaluate_detailed, fit, FitOptions, Targets};
    use crate::nn::{build, mix::Mix};
    use crate::spec::{Optimizer, Schedule};

    fn recipe(augment: Augment, optimizer: Optimizer) -> TrainSpec {
        TrainSpec {
            epochs: 6,
            batch_size: 16,
            optimizer,
            lr: if optimizer == Optimizer::Sgd {
                0.05
            } else {
                0.003
            },
            momentum: 0.9,
            weight_decay: 5e-4,
            nesterov: false,
            schedule: Schedule::Cosine,
            augment,
            dsa_strategy: crate::spec::default_dsa_strategy(),
            rrc_scale: [0.5, 1.0],
            mix: Mix::None,
            mix_alpha: 1.0,
        }
    }

    const SPEC: ModelSpec = ModelSpec {
        arch: Arch::Convnet,
        width: 8,
        depth: 2,
    };

    /// Three classes of 3x16x16 images (a class-coloured square at a class position, plus
    /// noise): `n` training images per member (each member its own draw) and a shared test set.
    fn data(n: i64, seed: i64) -> (Tensor, Tensor) {
        tch::manual_seed(seed);
        let y = Tensor::arange(n, (Kind::Int64, Device::Cpu)).remainder(3);
        let x = Tensor::randn([n, 3, 16, 16], (Kind::Float, Device::Cpu)) * 0.5;
        for i in 0..n {
            let c = y.int64_value(&[i]);
            let _ = x
                .get(i)
                .narrow(0, c, 1)
                .narrow(1, 4 * c, 6)
                .narrow(2, 4 * c, 6)
                .g_add_scalar_(2.0);
        }
        (x, y)
    }

    fn member_seeds(k: u64) -> (u64, u64, u64) {
        (100 + k, 200 + k, 300 + k) // init, order, augment
    }

    /// Each member of a grouped fit of three ends where its separate fit ends: weights within
    /// 1e-4 (absolute, on weights of magnitude ~0.1-1; measured: at most 1.2e-7, float32
    /// rounding of grouped vs separate convolutions) after 6 epochs of 3 steps (AdamW: the
    /// conv biases before instance norm excepted, see below), the same
    /// final loss within 1e-4 relative, and the same top-1 and confusion on a test set; with
    /// DSA (each member's own draws) and without, under SGD and AdamW.
    #[test]
    fn a_grouped_fit_gives_each_member_its_separate_result() {
        let _rng = crate::rng::test_lock();
        let (xt, yt) = data(90, 7);
        for (augment, optimizer) in [
            (Augment::Dsa, Optimizer::Sgd),
            (Augment::None, Optimizer::Adamw),
        ] {
            let spec = recipe(augment, optimizer);
            let dsa = Dsa::new(&spec.dsa_strategy, true);
            let sets: Vec<(Tensor, Tensor)> = (0..3).map(|k| data(40, 10 + k)).collect();
            // Separate fits, as train_and_evaluate runs them.
            let mut separate = Vec::new();
            for (k, (x, y)) in sets.iter().enumerate() {
                let (init, order, aug) = member_seeds(k as u64);
                tch::manual_seed(init as i64);
                let vs = VarStore::new(Device::Cpu);
                let net = build(&vs.root(), &SPEC, [3, 16, 16], 3);
                let r = fit(
                    net.as_ref(),
                    &vs,
                    x,
                    Targets::Hard(y),
                    &spec,
                    FitOptions {
                        order_seed: order,
                        augment_seed: Some(aug),
                        dsa: Some(dsa.clone()),
                        ..Default::default()
                    },
                )
                .unwrap();
                let ev = evaluate_detailed(net.as_ref(), &xt, &yt, 32, 3);
                separate.push((vs, r, ev));
            }
            // The same members, grouped.
            let inits: Vec<VarStore> = (0..3)
                .map(|k| {
                    tch::manual_seed(member_seeds(k).0 as i64);
                    let vs = VarStore::new(Device::Cpu);
                    let _ = build(&vs.root(), &SPEC, [3, 16, 16], 3);
                    vs
                })
                .collect();
            let members: Vec<Member> = sets
                .iter()
                .zip(&inits)
                .enumerate()
                .map(|(k, ((x, y), init))| Member {
                    x,
                    y,
                    init,
                    order_seed: member_seeds(k as u64).1,
                    augment_seed: member_seeds(k as u64).2,
                })
                .collect();
            let gvs = VarStore::new(Device::Cpu);
            let (net, reports) = fit_grouped(&gvs, &members, &SPEC, &spec, Some(&dsa)).unwrap();
            let evs = evaluate_grouped(&net, &xt, &yt, 32, 3);
            for (k, (svs, sr, sev)) in separate.iter().enumerate() {
                let what = format!("{augment:?}/{optimizer:?} member {k}");
                assert_eq!(reports[k].steps, sr.steps, "{what}");
                assert_eq!(reports[k].epochs_run, sr.epochs_run, "{what}");
                assert!(
                    (reports[k].final_loss - sr.final_loss).abs() <= 1e-4 * sr.final_loss.abs(),
                    "{what}: loss {} vs {}",
                    reports[k].final_loss,
                    sr.final_loss
                );
                let mut back = VarStore::new(Device::Cpu);
                let _ = build(&back.root(), &SPEC, [3, 16, 16], 3);
                net.export_member(k as i64, &mut back);
                let bv = back.variables();
                for (name, t) in svs.variables() {
                    // A conv bias followed by instance norm has a gradient of exactly zero in
                    // exact arithmetic (the norm removes any per-channel constant); its
                    // rounding-noise gradient (~1e-9) differs between grouped and separate
                    // convolutions, and Adam scales any non-zero gradient to a step of ~lr. It
                    // changes no output (the evaluations below are equal), so under AdamW it is
                    // not compared.
                    if optimizer == Optimizer::Adamw
                        && name.starts_with("conv")
                        && name.ends_with(".bias")
                    {
                        continue;
                    }
                    let d = (&bv[&name] - &t).abs().max().double_value(&[]);
                    assert!(d < 1e-4, "{what}: {name} differs by {d}");
                }
                assert_eq!(evs[k], *sev, "{what}: evaluation");
                assert!(sev.top1 > 0.6, "{what}: the member learned ({})", sev.top1);
            }
            // Members trained on different data with different seeds really differ (a test
            // comparing one member with itself would prove nothing).
            let d01 = (&separate[0].0.variables()["fc.weight"]
                - &separate[1].0.variables()["fc.weight"])
                .abs()
                .max()
                .double_value(&[]);
            assert!(d01 > 1e-2, "members 0 and 1 are alike ({d01})");
        }
    }
}
