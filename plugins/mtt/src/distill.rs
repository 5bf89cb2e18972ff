//! The trajectory-matching loop (MTT, Cazenavette et al. 2022, Algorithm 1).
//!
//! Per iteration: pick an expert and a start epoch `t < max_start_epoch`; start a student at
//! the expert's parameters `θ*_t`; take `syn_steps` SGD steps on mini-batches of the synthetic
//! images (DSA applied) with the learnable step size `α`, keeping the graph; the loss is
//! `||θ̂_N − θ*_{t+M}||² / ||θ*_t − θ*_{t+M}||²` (M = `expert_epochs`); backpropagate through
//! the unrolled steps into the images and `α`, and step both with SGD (momentum 0.5).

use crate::functional::ParamLayout;
use distillery_api::nn::augment::Dsa;
use distillery_api::rng::SplitMix64;
use distillery_api::MethodError;
use tch::{Kind, Tensor};

/// A source of flat parameter snapshots (an expert trajectory).
pub trait Snapshots {
    /// Number of snapshots (epochs + 1).
    fn snapshots(&self) -> usize;
    fn snapshot(&self, t: usize) -> Result<Tensor, MethodError>;
}

impl Snapshots for crate::experts::Trajectory {
    fn snapshots(&self) -> usize {
        self.snapshots
    }
    fn snapshot(&self, t: usize) -> Result<Tensor, MethodError> {
        crate::experts::Trajectory::snapshot(self, t)
    }
}

impl Snapshots for Vec<Tensor> {
    fn snapshots(&self) -> usize {
        self.len()
    }
    fn snapshot(&self, t: usize) -> Result<Tensor, MethodError> {
        self.get(t)
            .map(|s| s.shallow_clone())
            .ok_or_else(|| MethodError::Failed(format!("no snapshot {t}")))
    }
}

/// Settings of the matching loop (resolved from the method's configuration).
#[derive(Clone, Debug, serde::Serialize)]
pub struct MatchSettings {
    pub iterations: usize,
    pub syn_steps: usize,
    pub expert_epochs: usize,
    pub max_start_epoch: usize,
    /// Synthetic images per student step (all of them when >= their number).
    pub batch_syn: usize,
    pub lr_img: f64,
    pub lr_lr: f64,
    /// Initial synthetic step size α.
    pub lr_teacher: f64,
    /// Momentum of the image and step-size optimisers (the reference code: 0.5).
    pub momentum: f64,
    pub dsa: bool,
}

/// The distilled set in normalised space and the loop's history.
pub struct Distilled {
    pub images: Tensor,
    pub syn_lr: f64,
    /// Matching loss of every iteration (before that iteration's update).
    pub losses: Vec<f64>,
    pub starts: Vec<(usize, usize)>,
}

/// SGD with momentum as torch.optim.SGD (dampening 0): `b ← m·b + g; p ← p − lr·b`, with
/// `b = g` on the first step.
struct Momentum {
    lr: f64,
    m: f64,
    buf: Option<Tensor>,
}

impl Momentum {
    fn step(&mut self, p: &mut Tensor, g: &Tensor) {
        tch::no_grad(|| {
            let b = match self.buf.take() {
                Some(b) => b * self.m + g,
                None => g.copy(),
            };
            let _ = p.f_sub_(&(&b * self.lr)).expect("in-place update");
            self.buf = Some(b);
        });
    }
}

/// `||θ̂ − θ*_end||² / ||θ_start − θ*_end||²` after `steps` unrolled SGD steps with step size
/// `lr` from `start` on the images `x` (all of them per step, no augmentation): the matching
/// loss as a deterministic function, for tests and diagnostics.
pub fn matching_loss(
    layout: &ParamLayout,
    x: &Tensor,
    y: &Tensor,
    start: &Tensor,
    target: &Tensor,
    lr: f64,
    steps: usize,
) -> f64 {
    let mut theta = start.detach().set_requires_grad(true);
    for _ in 0..steps {
        let ce = layout.forward(&theta, x).cross_entropy_for_logits(y);
        let g = Tensor::run_backward(&[&ce], &[&theta], false, false)
            .pop()
            .expect("one gradient");
        theta = (theta.detach() - g * lr).set_requires_grad(true);
    }
    let num = (theta.detach() - target).square().sum(Kind::Double);
    let den = (start - target).square().sum(Kind::Double);
    (num / den).double_value(&[])
}

/// Runs the matching loop from `init` (normalised images `[M,C,H,W]`, labels `[M]`) against
/// `experts`. Randomness: expert / start-epoch choice and batch order from SplitMix64(`seed`);
/// DSA draws from libtorch's generator (the caller seeds it). `progress(iteration, loss, α)` is
/// called after every iteration.
#[allow(clippy::too_many_arguments)] // the loop's inputs; grouping them would only rename them
pub fn distill<S: Snapshots>(
    layout: &ParamLayout,
    experts: &[S],
    init: &Tensor,
    labels: &Tensor,
    s: &MatchSettings,
    dsa: Option<&Dsa>,
    seed: u64,
    progress: &mut dyn FnMut(usize, f64, f64),
) -> Result<Distilled, MethodError> {
    if experts.is_empty() {
        return Err(MethodError::Config("MTT needs at least one expert".into()));
    }
    let shortest = experts.iter().map(|e| e.snapshots()).min().unwrap_or(0);
    if s.max_start_epoch == 0 || s.max_start_epoch - 1 + s.expert_epochs >= shortest {
        return Err(MethodError::Config(format!(
            "max_start_epoch ({}) + expert_epochs ({}) must not exceed the experts' trajectory \
             length ({} epochs): start epochs are drawn from 0..max_start_epoch",
            s.max_start_epoch,
            s.expert_epochs,
            shortest.saturating_sub(1)
        )));
    }
    let device = init.device();
    let n = init.size()[0] as usize;
    let batch = s.batch_syn.clamp(1, n);
    let mut images = init.detach().copy().set_requires_grad(true);
    let mut syn_lr = Tensor::from(s.lr_teacher as f32)
        .to_device(device)
        .set_requires_grad(true);
    let mut opt_img = Momentum {
        lr: s.lr_img,
        m: s.momentum,
        buf: None,
    };
    let mut opt_lr = Momentum {
        lr: s.lr_lr,
        m: s.momentum,
        buf: None,
    };
    let mut rng = SplitMix64::new(seed);
    let (mut losses, mut starts) = (Vec::new(), Vec::new());
    for it in 0..s.iterations {
        let e = rng.below(experts.len() as u64) as usize;
        let t = rng.below(s.max_start_epoch as u64) as usize;
        starts.push((e, t));
        let start = experts[e].snapshot(t)?.to_device(device);
        let target = experts[e].snapshot(t + s.expert_epochs)?.to_device(device);
        let mut theta = start.detach().set_requires_grad(true);
        // Batches: a fresh shuffled pass over the synthetic set each iteration (as the
        // reference), refilled when used up.
        let mut chunks: Vec<Vec<i64>> = Vec::new();
        for _ in 0..s.syn_steps {
            if chunks.is_empty() {
                let perm: Vec<i64> = rng.permutation(n).into_iter().map(|i| i as i64).collect();
                chunks = perm.chunks(batch).rev().map(|c| c.to_vec()).collect();
            }
            let idx = Tensor::from_slice(&chunks.pop().expect("non-empty")).to_device(device);
            let mut xb = images.index_select(0, &idx);
            if let (true, Some(d)) = (s.dsa, dsa) {
                xb = d.augment(&xb);
            }
            let yb = labels.index_select(0, &idx);
            let ce = layout.forward(&theta, &xb).cross_entropy_for_logits(&yb);
            let g = Tensor::run_backward(&[&ce], &[&theta], true, true)
                .pop()
                .expect("one gradient");
            theta = &theta - &syn_lr * g;
        }
        let num = (&theta - &target).square().sum(Kind::Float);
        let den = (&start - &target).square().sum(Kind::Float);
        let loss = num / den;
        let lv = loss.double_value(&[]);
        if !lv.is_finite() {
            return Err(MethodError::Failed(format!(
                "MTT diverged at iteration {}: matching loss {lv} (synthetic step size {:.3e}); \
                 lower lr_img or lr_lr",
                it + 1,
                syn_lr.double_value(&[])
            )));
        }
        let grads = Tensor::run_backward(&[&loss], &[&images, &syn_lr], false, false);
        opt_img.step(&mut images, &grads[0]);
        opt_lr.step(&mut syn_lr, &grads[1]);
        losses.push(lv);
        progress(it + 1, lv, syn_lr.double_value(&[]));
    }
    Ok(Distilled {
        images: images.detach(),
        syn_lr: syn_lr.double_value(&[]),
        losses,
        starts,
    })
}
