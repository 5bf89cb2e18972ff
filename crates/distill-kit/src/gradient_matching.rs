//! Dataset condensation by gradient matching: DC (Zhao, Mopuri & Bilen, ICLR 2021) and, with
//! differentiable siamese augmentation in the matching step, DSA (Zhao & Bilen, ICML 2021).
//!
//! As in the reference code (`main.py` of VICO-UoE/DatasetCondensation), per iteration:
//!
//! 1. a freshly initialised matching network (ConvNet-3 by default);
//! 2. `outer_loop` times:
//!    - for every class `c`: a real batch of `batch_real` images of `c` and the class's
//!      synthetic images (DSA: both transformed by one shared draw); the cross-entropy
//!      gradients of the network's weights on each; their layer-wise distance
//!      ([`crate::matching::gradient_distance`]); the distances of all classes are summed and
//!      the images take one SGD step (`lr_img`, momentum `momentum_img`);
//!    - unless it was the last outer loop: `inner_loop` epochs of training the network on the
//!      (detached) synthetic set — batches of `batch_train`, SGD `lr_net` without momentum,
//!      DSA with per-image draws for DSA, no augmentation for DC.
//!
//! Networks with BatchNorm first run a real batch of 16 images per class through the network
//! in training mode and then match in evaluation mode (the reference code's "freeze the running
//! mu and sigma").

use crate::matching::{gradient_distance, is_matched};
use crate::real::RealPool;
use crate::settings::{self, LossTrace, Preset};
use crate::synset::{ImageSgd, Init, SynSet};
use distillery_api::nn::augment::{apply, Dsa};
use distillery_api::nn::{self, FitOptions, Network, Targets};
use distillery_api::rng::{derive_seed, SplitMix64};
use distillery_api::spec::{Augment, ModelSpec, Optimizer, Schedule, TrainSpec};
use distillery_api::MethodError;
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

/// Real images per class used to set BatchNorm statistics before matching (`BNSizePC`).
pub const BN_IMAGES_PER_CLASS: usize = 16;

/// `get_loops(ipc)` of the reference code: (outer_loop, inner_loop) for the IPCs it defines
/// (1, 10, 20, 30, 40, 50). Other IPCs (the reference code exits on them) get
/// `outer_loop = min(ipc, 50)` — the pattern of the table, one image update per synthetic
/// image of a class — and the inner loop of the nearest defined IPC (the smaller on a tie).
pub fn paper_loops(ipc: usize) -> (usize, usize) {
    const TABLE: [(usize, usize, usize); 6] = [
        (1, 1, 1),
        (10, 10, 50),
        (20, 20, 25),
        (30, 30, 20),
        (40, 40, 15),
        (50, 50, 10),
    ];
    if let Some(&(_, o, i)) = TABLE.iter().find(|r| r.0 == ipc) {
        return (o, i);
    }
    let nearest = TABLE
        .iter()
        .min_by_key(|r| (r.0.abs_diff(ipc), r.0))
        .expect("non-empty table");
    (ipc.clamp(1, 50), nearest.2)
}

/// The `[methods.dc]` / `[methods.dsa]` table. Every key left out takes the preset's value.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GmConfig {
    pub preset: Preset,
    /// Outer iterations, each with a fresh network (paper 1000).
    pub iterations: Option<usize>,
    /// Image updates per iteration (paper: `get_loops(ipc)`).
    pub outer_loop: Option<usize>,
    /// Epochs of training the network on the synthetic set between image updates.
    pub inner_loop: Option<usize>,
    /// Learning rate of the synthetic images (paper 0.1).
    pub lr_img: Option<f64>,
    /// Momentum of the images' SGD (paper 0.5).
    pub momentum_img: Option<f64>,
    /// Learning rate of the network in the inner loop (paper 0.01, no momentum).
    pub lr_net: Option<f64>,
    /// Real images per class per matching step (paper 256).
    pub batch_real: Option<usize>,
    /// Batch size of the inner-loop training on the synthetic set (paper 256).
    pub batch_train: Option<usize>,
    /// The matching network (default: the protocol's student).
    pub model: Option<ModelSpec>,
    /// `real` (default) or `noise`.
    pub init: Option<Init>,
    /// DSA operation groups (DSA only; default: the protocol's strategy).
    pub dsa_strategy: Option<String>,
}

/// Resolved settings of one run, recorded with the cell.
#[derive(Clone, Debug, Serialize)]
pub struct GmSettings {
    pub preset: Preset,
    pub iterations: usize,
    pub outer_loop: usize,
    pub inner_loop: usize,
    pub lr_img: f64,
    pub momentum_img: f64,
    pub lr_net: f64,
    pub batch_real: usize,
    pub batch_train: usize,
    pub model: ModelSpec,
    pub init: Init,
    /// Siamese DSA in the matching step and per-image DSA in the inner loop (the DSA method).
    pub siamese_dsa: bool,
    /// The DSA groups in use (flip dropped on digits); empty for DC.
    pub dsa_strategy: String,
}

/// The values of the `default` preset (see the plugins' READMEs for why they differ from the
/// paper's).
#[derive(Clone, Debug)]
pub struct GmDefaults {
    /// Iterations for an IPC.
    pub iterations: fn(usize) -> usize,
    pub batch_real: usize,
    /// Width of the matching ConvNet (the student's width when `None`).
    pub width: Option<i64>,
    /// (outer_loop, inner_loop) for an IPC.
    pub loops: fn(usize) -> (usize, usize),
}

/// The `default` preset of `dc` and `dsa`: the paper's learning rates, momentum, inner-loop
/// recipe and initialisation with fewer iterations, a smaller real batch and a narrower
/// matching ConvNet, so that a cell runs in minutes on one CPU core (the plugins' READMEs say
/// what was measured).
pub const DEFAULTS: GmDefaults = GmDefaults {
    iterations: default_iterations,
    batch_real: 64,
    width: Some(32),
    loops: default_loops,
};

/// Iterations of the `default` preset: 200 at IPC 1, 20 above (an iteration there does
/// `outer_loop` image updates and trains the network in between).
pub fn default_iterations(ipc: usize) -> usize {
    if ipc <= 1 {
        200
    } else {
        20
    }
}

/// (outer_loop, inner_loop) of the `default` preset: the paper's (1, 1) at IPC 1; above,
/// `min(ipc, 5)` image updates per network with 10 epochs on the synthetic set between them.
pub fn default_loops(ipc: usize) -> (usize, usize) {
    if ipc <= 1 {
        (1, 1)
    } else {
        (ipc.min(5), 10)
    }
}

impl GmConfig {
    /// Fills every key left out from the preset (`defaults` for `preset = "default"`, the
    /// paper otherwise) and checks the values. `siamese_dsa` is the method's (DC: false).
    pub fn resolve(
        &self,
        ipc: usize,
        student: &ModelSpec,
        protocol_dsa: &str,
        mirror_invariant: bool,
        siamese_dsa: bool,
        defaults: &GmDefaults,
    ) -> Result<GmSettings, MethodError> {
        let paper = self.preset == Preset::Paper;
        let (o, i) = if paper {
            paper_loops(ipc)
        } else {
            (defaults.loops)(ipc)
        };
        let pick = |v: Option<usize>, paper_v: usize, default_v: usize| {
            v.unwrap_or(if paper { paper_v } else { default_v })
        };
        if !siamese_dsa && self.dsa_strategy.is_some() {
            return Err(MethodError::Config(
                "dsa_strategy: DC matches gradients without augmentation; use the `dsa` \
                 plugin for differentiable siamese augmentation"
                    .into(),
            ));
        }
        let dsa_strategy = if siamese_dsa {
            let s = self.dsa_strategy.as_deref().unwrap_or(protocol_dsa);
            settings::dsa_from(s, mirror_invariant)?.strategy()
        } else {
            String::new()
        };
        if siamese_dsa && dsa_strategy.is_empty() {
            return Err(MethodError::Config(
                "dsa_strategy: no DSA operation group is left (flip alone is dropped on \
                 datasets that are not mirror invariant)"
                    .into(),
            ));
        }
        let s = GmSettings {
            preset: self.preset,
            iterations: settings::at_least_one(
                "iterations",
                pick(self.iterations, 1000, (defaults.iterations)(ipc)),
            )?,
            outer_loop: settings::at_least_one("outer_loop", self.outer_loop.unwrap_or(o))?,
            inner_loop: self.inner_loop.unwrap_or(i),
            lr_img: settings::positive("lr_img", self.lr_img.unwrap_or(0.1))?,
            momentum_img: settings::momentum("momentum_img", self.momentum_img.unwrap_or(0.5))?,
            lr_net: settings::positive("lr_net", self.lr_net.unwrap_or(0.01))?,
            batch_real: settings::at_least_one(
                "batch_real",
                pick(self.batch_real, 256, defaults.batch_real),
            )?,
            batch_train: settings::at_least_one("batch_train", self.batch_train.unwrap_or(256))?,
            model: settings::matching_model(
                self.model.as_ref(),
                student,
                if paper { None } else { defaults.width },
            )?,
            init: self.init.unwrap_or_default(),
            siamese_dsa,
            dsa_strategy,
        };
        Ok(s)
    }
}

/// The DC matching loss of one class: the layer-wise distance between the gradients of the
/// cross-entropy on `real` and on `syn` (all labelled `class`) with respect to `params` (the
/// network's weights of rank ≥ 2). Differentiable in `syn`; the real gradients are constants.
pub fn class_loss(
    net: &dyn Network,
    params: &[Tensor],
    real: &Tensor,
    syn: &Tensor,
    class: i64,
    train: bool,
) -> Tensor {
    let labels = |n: i64| Tensor::full([n], class, (Kind::Int64, real.device()));
    let loss_real = net
        .forward_t(real, train)
        .cross_entropy_for_logits(&labels(real.size()[0]));
    let g_real: Vec<Tensor> = Tensor::run_backward(&[loss_real], params, false, false)
        .into_iter()
        .map(|g| g.detach())
        .collect();
    let loss_syn = net
        .forward_t(syn, train)
        .cross_entropy_for_logits(&labels(syn.size()[0]));
    let g_syn = Tensor::run_backward(&[loss_syn], params, true, true);
    gradient_distance(&g_real, &g_syn)
}

/// What a run did, recorded with the cell.
#[derive(Debug)]
pub struct GmReport {
    pub trace: LossTrace,
    pub image_updates: usize,
    pub network_steps: usize,
    pub seconds: f64,
}

/// Runs gradient matching from `pool` (the train split) for `ipc` images per class with the
/// cell's selection `seed`; `progress(fraction, message)` is called after every image update.
pub fn run(
    pool: &RealPool,
    ipc: usize,
    s: &GmSettings,
    seed: u64,
    progress: &mut dyn FnMut(f64, &str),
) -> Result<(SynSet, GmReport), MethodError> {
    let started = std::time::Instant::now();
    let device = pool.device();
    let [_, h, w] = pool.shape();
    let k = pool.num_classes();
    let mut syn = SynSet::init(pool, ipc, s.init, derive_seed(seed, "init"))?;
    let mut opt = ImageSgd::new(s.lr_img, s.momentum_img);
    let dsa: Option<Dsa> = if s.siamese_dsa {
        Some(settings::dsa_from(&s.dsa_strategy, true)?)
    } else {
        None
    };
    let inner = TrainSpec {
        epochs: s.inner_loop.max(1),
        batch_size: s.batch_train,
        optimizer: Optimizer::Sgd,
        lr: s.lr_net,
        momentum: 0.0,
        weight_decay: 0.0,
        nesterov: false,
        schedule: Schedule::Constant,
        augment: if s.siamese_dsa {
            Augment::Dsa
        } else {
            Augment::None
        },
        dsa_strategy: s.dsa_strategy.clone(),
        rrc_scale: distillery_api::spec::default_rrc_scale(),
        mix: distillery_api::nn::mix::Mix::None,
        mix_alpha: 1.0,
    };
    let bn = settings::has_batch_norm(&s.model);
    let mut rng = SplitMix64::new(derive_seed(seed, "real-batches"));
    let mut trace = LossTrace::default();
    let (mut updates, mut steps) = (0usize, 0usize);
    let total = s.iterations * s.outer_loop;
    for it in 0..s.iterations {
        // Network initialisation and every DSA draw of this iteration come from this seed.
        tch::manual_seed(derive_seed(seed, &format!("iteration/{it}")) as i64);
        let vs = tch::nn::VarStore::new(device);
        let net = nn::build(&vs.root(), &s.model, pool.shape(), k as i64);
        let params: Vec<Tensor> = vs
            .trainable_variables()
            .into_iter()
            .filter(|p| is_matched(&p.size()))
            .collect();
        let mut loss_sum = 0.0;
        for ol in 0..s.outer_loop {
            let train_mode = if bn {
                let _g = tch::no_grad_guard();
                let idx: Vec<i64> = (0..k)
                    .flat_map(|c| pool.sample_indices(c, BN_IMAGES_PER_CLASS, &mut rng))
                    .collect();
                let _ = net.forward_t(&pool.images_at(&idx), true);
                false
            } else {
                true
            };
            let mut grad = Tensor::zeros_like(syn.images());
            let mut update_loss = 0.0;
            for c in 0..k {
                let real = pool.sample(c, s.batch_real, &mut rng);
                let syn_c = syn.class_images(c);
                let (real, syn_c) = match &dsa {
                    Some(d) => {
                        let n = real.size()[0].max(ipc as i64);
                        match d.draw_shared(n, h, w, device) {
                            Some(draw) => (apply(&real, &draw), apply(&syn_c, &draw)),
                            None => (real, syn_c),
                        }
                    }
                    None => (real, syn_c),
                };
                let loss = class_loss(net.as_ref(), &params, &real, &syn_c, c as i64, train_mode);
                update_loss += loss.double_value(&[]);
                grad += syn.grad_of(&loss);
            }
            opt.step(&mut syn, &grad);
            loss_sum += update_loss;
            updates += 1;
            progress(
                updates as f64 / total as f64,
                &format!(
                    "iteration {}/{}, image update {}/{}, loss {:.4}",
                    it + 1,
                    s.iterations,
                    ol + 1,
                    s.outer_loop,
                    update_loss / k as f64
                ),
            );
            if ol + 1 == s.outer_loop || s.inner_loop == 0 {
                continue;
            }
            let x = syn.images().detach().copy();
            let r = nn::fit(
                net.as_ref(),
                &vs,
                &x,
                Targets::Hard(syn.labels()),
                &inner,
                FitOptions {
                    order_seed: derive_seed(seed, &format!("inner/{it}/{ol}")),
                    augment_seed: None,
                    dsa: dsa.clone(),
                    ..Default::default()
                },
            )?;
            steps += r.steps;
        }
        // The reference code's loss_avg: mean over classes and outer loops.
        trace.push(loss_sum / (k * s.outer_loop) as f64);
    }
    let report = GmReport {
        trace,
        image_updates: updates,
        network_steps: steps,
        seconds: started.elapsed().as_secs_f64(),
    };
    Ok((syn, report))
}

/// The whole method for a plugin (`dc`: `siamese_dsa = false`, `dsa`: true): reads the
/// `[methods.<name>]` table, runs [`run`] on the train split and returns the images in pixel
/// scale with their class labels and a record of what was done.
pub fn compress(
    method: &str,
    siamese_dsa: bool,
    defaults: &GmDefaults,
    input: &distillery_api::Input,
    ctx: &distillery_api::Context,
) -> Result<distillery_api::Compressed, MethodError> {
    let ipc = crate::ipc_budget(method, &input.budget)?;
    let cfg: GmConfig = ctx.config()?;
    let p = ctx.protocol();
    let s = cfg.resolve(
        ipc,
        &p.student,
        &p.train.dsa_strategy,
        p.mirror_invariant,
        siamese_dsa,
        defaults,
    )?;
    let pool = RealPool::from_input(ctx, input)?;
    let seed = ctx.seeds().selection;
    let (syn, report) = run(&pool, ipc, &s, seed, &mut |f, m| ctx.progress(f, m))?;
    let (images, labels) = syn.to_pixels(pool.mean(), pool.std());
    Ok(
        distillery_api::Compressed::images(images, labels).with_metadata(serde_json::json!({
            "settings": s,
            "seed": seed,
            "init_indices": syn.init_indices(),
            "loss": report.trace.summary(),
            "image_updates": report.image_updates,
            "network_steps": report.network_steps,
            "seconds": report.seconds,
            "seconds_per_iteration": report.seconds / s.iterations as f64,
        })),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;

    fn defaults() -> GmDefaults {
        GmDefaults {
            iterations: |ipc| if ipc == 1 { 7 } else { 3 },
            batch_real: 32,
            width: Some(64),
            loops: |ipc| if ipc == 1 { (1, 1) } else { (2, 3) },
        }
    }

    #[test]
    fn paper_loops_follow_the_reference_table_and_extend_it() {
        assert_eq!(paper_loops(1), (1, 1));
        assert_eq!(paper_loops(10), (10, 50));
        assert_eq!(paper_loops(50), (50, 10));
        assert_eq!(paper_loops(3), (3, 1)); // nearest defined: 1
        assert_eq!(paper_loops(6), (6, 50)); // nearest defined: 10
        assert_eq!(paper_loops(15), (15, 50)); // tie 10/20 -> 10
        assert_eq!(paper_loops(100), (50, 10));
    }

    #[test]
    fn presets_and_overrides_resolve() {
        let student = ModelSpec::convnet();
        let dsa = "color_crop_cutout_flip_scale_rotate";
        let c: GmConfig = serde_json::from_value(serde_json::json!({})).unwrap();
        let s = c
            .resolve(10, &student, dsa, false, false, &defaults())
            .unwrap();
        assert_eq!((s.iterations, s.batch_real, s.model.width), (3, 32, 64));
        assert_eq!((s.outer_loop, s.inner_loop), (2, 3));
        assert_eq!((s.lr_img, s.momentum_img, s.lr_net), (0.1, 0.5, 0.01));
        assert_eq!(s.dsa_strategy, "");
        let p: GmConfig = serde_json::from_value(serde_json::json!({"preset": "paper"})).unwrap();
        let s = p
            .resolve(10, &student, dsa, false, true, &defaults())
            .unwrap();
        assert_eq!(
            (s.iterations, s.batch_real, s.model.width),
            (1000, 256, 128)
        );
        assert_eq!((s.outer_loop, s.inner_loop, s.batch_train), (10, 50, 256));
        assert_eq!(s.dsa_strategy, "color_crop_cutout_scale_rotate");
        let o: GmConfig = serde_json::from_value(serde_json::json!({
            "preset": "paper", "iterations": 5, "lr_img": 0.2, "inner_loop": 0
        }))
        .unwrap();
        let s = o
            .resolve(1, &student, dsa, false, false, &defaults())
            .unwrap();
        assert_eq!((s.iterations, s.lr_img, s.inner_loop), (5, 0.2, 0));
        // Misspelt keys, bad values and DSA settings on DC are reported by name.
        assert!(serde_json::from_value::<GmConfig>(serde_json::json!({"iteration": 5})).is_err());
        let bad: GmConfig = serde_json::from_value(serde_json::json!({"lr_img": -1.0})).unwrap();
        let e = bad
            .resolve(1, &student, dsa, false, false, &defaults())
            .unwrap_err();
        assert!(e.to_string().contains("lr_img"), "{e}");
        let dc: GmConfig =
            serde_json::from_value(serde_json::json!({"dsa_strategy": "crop"})).unwrap();
        let e = dc
            .resolve(1, &student, dsa, false, false, &defaults())
            .unwrap_err();
        assert!(e.to_string().contains("dsa_strategy"), "{e}");
        let flip: GmConfig =
            serde_json::from_value(serde_json::json!({"dsa_strategy": "flip"})).unwrap();
        assert!(flip
            .resolve(1, &student, dsa, false, true, &defaults())
            .is_err());
    }

    /// Gradient matching on a fixed toy problem: 2 classes of real mnist digits, a fixed
    /// network; plain gradient descent on the synthetic images lowers the matching loss.
    #[test]
    fn class_loss_decreases_under_its_own_gradient() {
        let _rng = testing::rng_lock();
        let pool = testing::mnist_pool(&[0, 1], 20);
        tch::manual_seed(1);
        let vs = tch::nn::VarStore::new(tch::Device::Cpu);
        let spec = ModelSpec {
            width: 16,
            ..ModelSpec::convnet()
        };
        let net = nn::build(&vs.root(), &spec, pool.shape(), 2);
        let params: Vec<Tensor> = vs
            .trainable_variables()
            .into_iter()
            .filter(|p| is_matched(&p.size()))
            .collect();
        assert_eq!(params.len(), 4, "three conv weights and the classifier");
        let mut syn = SynSet::init(&pool, 2, Init::Real, 5).unwrap();
        let real: Vec<Tensor> = (0..2)
            .map(|c| pool.sample(c, 20, &mut SplitMix64::new(c as u64)))
            .collect();
        let loss = |syn: &SynSet| -> Tensor {
            (0..2)
                .map(|c| {
                    class_loss(
                        net.as_ref(),
                        &params,
                        &real[c],
                        &syn.class_images(c),
                        c as i64,
                        true,
                    )
                })
                .fold(
                    Tensor::zeros([], (Kind::Float, tch::Device::Cpu)),
                    |a, b| a + b,
                )
        };
        let first = loss(&syn).double_value(&[]);
        let mut opt = ImageSgd::new(1.0, 0.0);
        let mut last = first;
        for _ in 0..30 {
            let l = loss(&syn);
            last = l.double_value(&[]);
            let g = syn.grad_of(&l);
            opt.step(&mut syn, &g);
        }
        assert!(
            last < 0.5 * first,
            "matching loss did not fall: {first} -> {last}"
        );
        // The real side is a constant: the loss has no gradient path into the real images.
        assert!(!real[0].requires_grad());
    }

    /// A whole (tiny) DC and DSA run: budget honoured, labels per class, loss recorded,
    /// bit-identical for the same seed, different for another seed.
    #[test]
    fn run_honours_the_budget_and_is_deterministic() {
        let _rng = testing::rng_lock();
        let pool = testing::mnist_pool(&[0, 1, 2], 12);
        for siamese in [false, true] {
            let c: GmConfig = serde_json::from_value(serde_json::json!({
                "iterations": 2, "batch_real": 8, "outer_loop": 2, "inner_loop": 2,
                "model": {"arch": "convnet", "width": 8, "depth": 2}
            }))
            .unwrap();
            let s = c
                .resolve(
                    2,
                    &ModelSpec::convnet(),
                    "color_crop_cutout_flip_scale_rotate",
                    false,
                    siamese,
                    &defaults(),
                )
                .unwrap();
            let mut calls = 0;
            let (a, rep) = run(&pool, 2, &s, 11, &mut |_, _| calls += 1).unwrap();
            assert_eq!(calls, 4);
            assert_eq!((rep.image_updates, rep.trace.len()), (4, 2));
            assert_eq!(
                rep.network_steps,
                2 * 2,
                "one inner loop of 2 epochs per iteration"
            );
            assert_eq!(a.images().size(), vec![6, 1, 28, 28]);
            assert_eq!(
                Vec::<i64>::try_from(a.labels()).unwrap(),
                vec![0, 0, 1, 1, 2, 2]
            );
            let init = SynSet::init(&pool, 2, Init::Real, derive_seed(11, "init")).unwrap();
            assert!(!a.images().equal(init.images()), "the images moved");
            let (b, _) = run(&pool, 2, &s, 11, &mut |_, _| {}).unwrap();
            assert!(a.images().equal(b.images()), "same seed, same images");
            let (d, _) = run(&pool, 2, &s, 12, &mut |_, _| {}).unwrap();
            assert!(!a.images().equal(d.images()));
        }
    }
}
