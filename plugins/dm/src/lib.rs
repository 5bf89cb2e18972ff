//! `dm`: Dataset Condensation with Distribution Matching (Zhao & Bilen, WACV 2023), as in
//! `main_DM.py` of the reference code (VICO-UoE/DatasetCondensation).
//!
//! Synthetic images start as real images of their class (seeded) and learn to match, class by
//! class, the mean embedding of real images under randomly initialised networks. Per
//! iteration: a freshly initialised matching network (the protocol's student, ConvNet-3 width
//! 128 with instance norm under `hard-label`; weights frozen); for every class a real batch of
//! `batch_real` images and the class's synthetic images, both transformed by the same DSA draw
//! (one transformation for every image of both batches: siamese); embeddings = the features
//! before the classifier; loss = Σ_classes ‖mean φ(real) − mean φ(syn)‖²; one SGD step on the
//! images (lr 1.0, momentum 0.5). Networks with BatchNorm embed all classes in one batch, as the
//! reference code's ConvNetBN branch does. See README.md for defaults and choices.

use distillery_api::nn::augment::{apply, Dsa};
use distillery_api::nn::{self, Network};
use distillery_api::prelude::*;
use distillery_api::rng::derive_seed;
use distillery_distill_kit::matching::mean_embedding_distance;
use distillery_distill_kit::settings::{self, LossTrace, Preset};
use distillery_distill_kit::{ipc_budget, ImageSgd, Init, RealPool, SynSet};
use serde::{Deserialize, Serialize};

#[derive(Default)]
pub struct Dm;

/// `[methods.dm]`. Every key left out takes the preset's value (README.md lists both).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `default` (CPU-runnable) or `paper`.
    pub preset: Preset,
    /// Iterations, each with a fresh matching network (paper 20,000).
    pub iterations: Option<usize>,
    /// Learning rate of the synthetic images (paper 1.0).
    pub lr_img: Option<f64>,
    /// Momentum of the images' SGD (paper 0.5).
    pub momentum_img: Option<f64>,
    /// Real images per class per iteration (paper 256).
    pub batch_real: Option<usize>,
    /// The matching network (default: the protocol's student).
    pub model: Option<ModelSpec>,
    /// `real` (paper) or `noise`.
    pub init: Option<Init>,
    /// Siamese DSA on real and synthetic batches (paper: on).
    pub dsa: Option<bool>,
    /// DSA operation groups (default: the protocol's strategy; flip dropped on digits).
    pub dsa_strategy: Option<String>,
}

/// The `default` preset's values that differ from the paper's.
pub const DEFAULT_ITERATIONS: usize = 100;
pub const DEFAULT_BATCH_REAL: usize = 64;
pub const DEFAULT_WIDTH: Option<i64> = None;

/// Resolved settings, recorded with the cell.
#[derive(Clone, Debug, Serialize)]
pub struct Settings {
    pub preset: Preset,
    pub iterations: usize,
    pub lr_img: f64,
    pub momentum_img: f64,
    pub batch_real: usize,
    pub model: ModelSpec,
    pub init: Init,
    /// The DSA groups in use; empty when DSA is off.
    pub dsa_strategy: String,
}

impl Config {
    pub fn resolve(
        &self,
        student: &ModelSpec,
        protocol_dsa: &str,
        mirror_invariant: bool,
    ) -> Result<Settings, MethodError> {
        let paper = self.preset == Preset::Paper;
        let dsa_on = self.dsa.unwrap_or(true);
        if !dsa_on && self.dsa_strategy.is_some() {
            return Err(MethodError::Config(
                "dsa_strategy is set but dsa = false".into(),
            ));
        }
        let dsa_strategy = if dsa_on {
            let s = self.dsa_strategy.as_deref().unwrap_or(protocol_dsa);
            let d = settings::dsa_from(s, mirror_invariant)?.strategy();
            if d.is_empty() {
                return Err(MethodError::Config(
                    "dsa_strategy: no DSA operation group is left (flip alone is dropped on \
                     datasets that are not mirror invariant); set dsa = false for none"
                        .into(),
                ));
            }
            d
        } else {
            String::new()
        };
        Ok(Settings {
            preset: self.preset,
            iterations: settings::at_least_one(
                "iterations",
                self.iterations
                    .unwrap_or(if paper { 20_000 } else { DEFAULT_ITERATIONS }),
            )?,
            lr_img: settings::positive("lr_img", self.lr_img.unwrap_or(1.0))?,
            momentum_img: settings::momentum("momentum_img", self.momentum_img.unwrap_or(0.5))?,
            batch_real: settings::at_least_one(
                "batch_real",
                self.batch_real
                    .unwrap_or(if paper { 256 } else { DEFAULT_BATCH_REAL }),
            )?,
            model: settings::matching_model(
                self.model.as_ref(),
                student,
                if paper { None } else { DEFAULT_WIDTH },
            )?,
            init: self.init.unwrap_or_default(),
            dsa_strategy,
        })
    }
}

/// The DM loss of one class under a fixed network: `‖mean φ(real) − mean φ(syn)‖²`, with the
/// real embeddings computed without a graph. Differentiable in `syn`.
pub fn class_loss(net: &dyn Network, real: &Tensor, syn: &Tensor, train: bool) -> Tensor {
    let e_real = {
        let _g = tch::no_grad_guard();
        net.features_t(real, train)
    };
    mean_embedding_distance(&e_real, &net.features_t(syn, train))
}

/// What a run did.
#[derive(Debug)]
pub struct Report {
    pub trace: LossTrace,
    pub seconds: f64,
}

/// Runs distribution matching from `pool` for `ipc` images per class with the selection
/// `seed`; `progress(fraction, message)` after every iteration.
pub fn run(
    pool: &RealPool,
    ipc: usize,
    s: &Settings,
    seed: u64,
    progress: &mut dyn FnMut(f64, &str),
) -> Result<(SynSet, Report), MethodError> {
    let started = std::time::Instant::now();
    let device = pool.device();
    let [_, h, w] = pool.shape();
    let k = pool.num_classes();
    let mut syn = SynSet::init(pool, ipc, s.init, derive_seed(seed, "init"))?;
    let mut opt = ImageSgd::new(s.lr_img, s.momentum_img);
    let dsa: Option<Dsa> = if s.dsa_strategy.is_empty() {
        None
    } else {
        Some(settings::dsa_from(&s.dsa_strategy, true)?)
    };
    let siamese = |real: Tensor, syn_c: Tensor| -> (Tensor, Tensor) {
        match dsa
            .as_ref()
            .and_then(|d| d.draw_shared(real.size()[0].max(ipc as i64), h, w, device))
        {
            Some(draw) => (apply(&real, &draw), apply(&syn_c, &draw)),
            None => (real, syn_c),
        }
    };
    let bn = settings::has_batch_norm(&s.model);
    let mut rng = SplitMix64::new(derive_seed(seed, "real-batches"));
    let mut trace = LossTrace::default();
    let every = (s.iterations / 100).max(1);
    for it in 0..s.iterations {
        // Network initialisation and this iteration's DSA draws come from this seed.
        tch::manual_seed(derive_seed(seed, &format!("iteration/{it}")) as i64);
        let mut vs = tch::nn::VarStore::new(device);
        let net = nn::build(&vs.root(), &s.model, pool.shape(), k as i64);
        vs.freeze();
        let (loss_value, grad) = if bn {
            // All classes in one batch, so BatchNorm sees every class (ConvNetBN branch).
            let (mut reals, mut syns, mut counts) = (Vec::new(), Vec::new(), Vec::new());
            for c in 0..k {
                let (r, sc) = siamese(pool.sample(c, s.batch_real, &mut rng), syn.class_images(c));
                counts.push(r.size()[0]);
                reals.push(r);
                syns.push(sc);
            }
            let e_real = {
                let _g = tch::no_grad_guard();
                net.features_t(&Tensor::cat(&reals, 0), true)
            };
            let e_syn = net.features_t(&Tensor::cat(&syns, 0), true);
            let er = e_real.split_with_sizes(&counts, 0);
            let es = e_syn.split(ipc as i64, 0);
            let loss = er
                .iter()
                .zip(&es)
                .map(|(r, sy)| mean_embedding_distance(r, sy))
                .fold(Tensor::zeros([], (Kind::Float, device)), |a, b| a + b);
            (loss.double_value(&[]), syn.grad_of(&loss))
        } else {
            let mut grad = Tensor::zeros_like(syn.images());
            let mut total = 0.0;
            for c in 0..k {
                let (r, sc) = siamese(pool.sample(c, s.batch_real, &mut rng), syn.class_images(c));
                let loss = class_loss(net.as_ref(), &r, &sc, true);
                total += loss.double_value(&[]);
                grad += syn.grad_of(&loss);
            }
            (total, grad)
        };
        opt.step(&mut syn, &grad);
        // The reference code's loss_avg: the summed loss over the classes, / classes.
        let avg = loss_value / k as f64;
        trace.push(avg);
        if (it + 1) % every == 0 || it + 1 == s.iterations {
            progress(
                (it + 1) as f64 / s.iterations as f64,
                &format!("iteration {}/{}, loss {avg:.4}", it + 1, s.iterations),
            );
        }
    }
    Ok((
        syn,
        Report {
            trace,
            seconds: started.elapsed().as_secs_f64(),
        },
    ))
}

impl Method for Dm {
    const NAME: &'static str = "dm";
    const FAMILY: Family = Family::Distillation;
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const PAPER: &'static str =
        "Zhao & Bilen, Dataset Condensation with Distribution Matching, WACV 2023";
    const DESCRIPTION: &'static str =
        "distribution matching: per-class mean embeddings of real and synthetic images under random ConvNets, siamese DSA";

    fn compress(&mut self, input: &Input, ctx: &Context) -> Result<Compressed, MethodError> {
        let ipc = ipc_budget(Self::NAME, &input.budget)?;
        let cfg: Config = ctx.config()?;
        let p = ctx.protocol();
        let s = cfg.resolve(&p.student, &p.train.dsa_strategy, p.mirror_invariant)?;
        let pool = RealPool::from_input(ctx, input)?;
        let seed = ctx.seeds().selection;
        let (syn, report) = run(&pool, ipc, &s, seed, &mut |f, m| ctx.progress(f, m))?;
        let (images, labels) = syn.to_pixels(pool.mean(), pool.std());
        Ok(
            Compressed::images(images, labels).with_metadata(serde_json::json!({
                "settings": s,
                "seed": seed,
                "init_indices": syn.init_indices(),
                "loss": report.trace.summary(),
                "seconds": report.seconds,
                "seconds_per_iteration": report.seconds / s.iterations as f64,
            })),
        )
    }
}

export_plugin!(Dm);

#[cfg(test)]
mod tests {
    use super::*;
    use distillery_distill_kit::testing;

    fn student(width: i64) -> ModelSpec {
        ModelSpec {
            width,
            ..ModelSpec::convnet()
        }
    }

    const DSA: &str = "color_crop_cutout_flip_scale_rotate";

    #[test]
    fn presets_and_overrides_resolve() {
        let c: Config = serde_json::from_value(serde_json::json!({})).unwrap();
        let s = c.resolve(&student(128), DSA, false).unwrap();
        assert_eq!(
            (s.iterations, s.batch_real),
            (DEFAULT_ITERATIONS, DEFAULT_BATCH_REAL)
        );
        assert_eq!((s.lr_img, s.momentum_img), (1.0, 0.5));
        assert_eq!(s.dsa_strategy, "color_crop_cutout_scale_rotate");
        assert_eq!(s.init, Init::Real);
        let p: Config = serde_json::from_value(serde_json::json!({"preset": "paper"})).unwrap();
        let s = p.resolve(&student(128), DSA, false).unwrap();
        assert_eq!(
            (s.iterations, s.batch_real, s.model.width),
            (20_000, 256, 128)
        );
        let o: Config = serde_json::from_value(serde_json::json!({
            "preset": "paper", "iterations": 10, "dsa": false,
            "model": {"arch": "convnet-bn", "width": 32, "depth": 2}
        }))
        .unwrap();
        let s = o.resolve(&student(128), DSA, false).unwrap();
        assert_eq!(
            (s.iterations, s.model.width, s.dsa_strategy.as_str()),
            (10, 32, "")
        );
        let e = serde_json::from_value::<Config>(serde_json::json!({"lr": 1.0}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("lr"), "{e}");
        let bad: Config =
            serde_json::from_value(serde_json::json!({"dsa": false, "dsa_strategy": "crop"}))
                .unwrap();
        assert!(bad.resolve(&student(128), DSA, false).is_err());
        let bad: Config = serde_json::from_value(serde_json::json!({"batch_real": 0})).unwrap();
        let e = bad
            .resolve(&student(128), DSA, false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("batch_real"), "{e}");
    }

    /// DM's matching loss falls on a fixed toy problem: 2 classes of real mnist digits, one
    /// fixed random network, a few SGD steps on the synthetic images (initialised as other
    /// real digits of each class).
    #[test]
    fn matching_loss_decreases_on_a_fixed_network() {
        let _rng = testing::rng_lock();
        let pool = testing::mnist_pool(&[3, 7], 20);
        let mut syn = SynSet::init(&pool, 1, Init::Real, 2).unwrap();
        tch::manual_seed(0);
        let mut vs = tch::nn::VarStore::new(Device::Cpu);
        let net = nn::build(&vs.root(), &student(16), pool.shape(), 2);
        vs.freeze();
        let real: Vec<Tensor> = (0..2)
            .map(|c| pool.sample(c, 20, &mut SplitMix64::new(c as u64)))
            .collect();
        let loss = |syn: &SynSet| {
            (0..2)
                .map(|c| class_loss(net.as_ref(), &real[c], &syn.class_images(c), true))
                .fold(Tensor::zeros([], (Kind::Float, Device::Cpu)), |a, b| a + b)
        };
        let first = loss(&syn).double_value(&[]);
        let mut opt = ImageSgd::new(1.0, 0.5);
        for _ in 0..20 {
            let l = loss(&syn);
            let g = syn.grad_of(&l);
            opt.step(&mut syn, &g);
        }
        let last = loss(&syn).double_value(&[]);
        assert!(
            last < 0.5 * first,
            "DM loss did not fall: {first} -> {last}"
        );
    }

    /// The whole method through its public entry point: IPC honoured, labels per class,
    /// identical output for a seed, another set for another seed, and images that moved
    /// away from the real images they started from; non-IPC budgets are declined.
    #[test]
    fn compress_honours_the_budget_and_is_deterministic() {
        let _rng = testing::rng_lock();
        let split = testing::mnist_split(&[0, 1, 2], 15);
        let val = testing::mnist_split(&[0, 1, 2], 2);
        let names = testing::class_names(3);
        let cfg = serde_json::json!({"iterations": 3, "batch_real": 8});
        let call = |budget: Budget, seed: u64| {
            let ctx = testing::context("dm", 3, cfg.clone(), 8, seed);
            let input = Input {
                train: &split,
                val: &val,
                class_names: &names,
                budget,
            };
            Dm.compress(&input, &ctx)
        };
        let out = call(Budget::Ipc(2), 1).unwrap();
        let Output::Images {
            images,
            labels,
            soft_labels,
        } = &out.output
        else {
            panic!("dm returns images")
        };
        assert_eq!(images.size(), vec![6, 1, 28, 28]);
        assert_eq!(images.kind(), Kind::Float);
        assert_eq!(
            Vec::<i64>::try_from(labels).unwrap(),
            vec![0, 0, 1, 1, 2, 2]
        );
        assert!(soft_labels.is_none());
        assert_eq!(out.metadata["loss"]["iterations"], 3);
        // The images moved away from the real digits they were initialised from.
        let init: Vec<i64> = serde_json::from_value(out.metadata["init_indices"].clone()).unwrap();
        let start = split
            .images
            .index_select(0, &Tensor::from_slice(&init))
            .to_kind(Kind::Float)
            / 255.0;
        let moved = (images - &start).abs().max().double_value(&[]);
        assert!(moved > 1e-3, "images did not move ({moved})");
        let again = call(Budget::Ipc(2), 1).unwrap();
        let Output::Images { images: b, .. } = &again.output else {
            unreachable!()
        };
        assert!(images.equal(b), "same seed, same images");
        let other = call(Budget::Ipc(2), 2).unwrap();
        let Output::Images { images: c, .. } = &other.output else {
            unreachable!()
        };
        assert!(!images.equal(c));
        let e = call(Budget::Fraction(0.1), 1).unwrap_err();
        assert!(matches!(e, MethodError::Unsupported(_)), "{e}");
    }
}
