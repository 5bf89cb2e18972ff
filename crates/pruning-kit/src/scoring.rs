//! Scoring models: training them through [`Context::train_model`] and reading embeddings,
//! logits and per-example gradient norms of the whole train split from them.
//!
//! A method's scoring recipe is its `scoring` config table ([`ScoringOverrides`]); every field
//! left out takes the method's default ([`ScoringDefaults`]), and everything not listed there
//! (optimizer, momentum, weight decay, DSA strategy) comes from the protocol's `[train]` recipe.

use distillery_api::nn::Network;
use distillery_api::rng::derive_seed;
use distillery_api::spec::{Arch, Augment, ModelSpec, Schedule, TrainSpec};
use distillery_api::{Context, MethodError, Split};
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

/// The `[methods.<name>.scoring]` table: overrides of the method's scoring recipe.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScoringOverrides {
    /// Scoring network, e.g. `{ arch = "convnet", width = 128, depth = 3 }` (the student).
    pub model: Option<ModelSpec>,
    /// Training epochs over the train split (0 = score at initialisation, where allowed).
    pub epochs: Option<usize>,
    pub batch_size: Option<usize>,
    pub lr: Option<f64>,
    pub schedule: Option<Schedule>,
    /// `none` or `dsa` (the protocol's DSA strategy).
    pub augment: Option<Augment>,
}

/// A method's default scoring recipe.
#[derive(Clone, Debug)]
pub struct ScoringDefaults {
    pub model: ModelSpec,
    pub epochs: usize,
    pub batch_size: usize,
    pub lr: f64,
    pub schedule: Schedule,
    pub augment: Augment,
}

impl ScoringDefaults {
    /// ConvNet-3 of the given width, SGD at the protocol's momentum / weight decay, lr 0.01,
    /// batch 64, constant lr, no augmentation, `epochs` epochs.
    pub const fn convnet(width: i64, epochs: usize) -> Self {
        Self {
            model: ModelSpec {
                arch: Arch::Convnet,
                width,
                depth: 3,
            },
            epochs,
            batch_size: 64,
            lr: 0.01,
            schedule: Schedule::Constant,
            augment: Augment::None,
        }
    }
}

/// The resolved scoring network and recipe.
#[derive(Clone, Debug, Serialize)]
pub struct Scoring {
    pub model: ModelSpec,
    pub recipe: TrainSpec,
}

impl ScoringOverrides {
    /// Fills the overrides from `defaults` and the protocol recipe `base`. `allow_zero_epochs`
    /// lets a method score at initialisation.
    pub fn resolve(
        &self,
        defaults: &ScoringDefaults,
        base: &TrainSpec,
        allow_zero_epochs: bool,
    ) -> Result<Scoring, MethodError> {
        let mut recipe = base.clone();
        recipe.epochs = self.epochs.unwrap_or(defaults.epochs);
        recipe.batch_size = self.batch_size.unwrap_or(defaults.batch_size);
        recipe.lr = self.lr.unwrap_or(defaults.lr);
        recipe.schedule = self.schedule.unwrap_or(defaults.schedule);
        recipe.augment = self.augment.unwrap_or(defaults.augment);
        // Scores are read from each example's own logits: never mix images within a batch
        // (a soft-label protocol's CutMix / Mixup would make them meaningless).
        recipe.mix = distillery_api::nn::mix::Mix::None;
        let check = if recipe.epochs == 0 && allow_zero_epochs {
            let mut r = recipe.clone();
            r.epochs = 1;
            r.validate()
        } else {
            recipe.validate()
        };
        check.map_err(|(k, why)| MethodError::Config(format!("scoring.{k}: {why}")))?;
        let model = self.model.clone().unwrap_or_else(|| defaults.model.clone());
        if model.width < 1 || model.depth < 1 {
            return Err(MethodError::Config(
                "scoring.model: width and depth must be >= 1".into(),
            ));
        }
        Ok(Scoring { model, recipe })
    }
}

/// Embeddings of the train split under a freshly trained embedding net (herding, k-center):
/// trains on `train` with `sc` and `seed` (progress 0–0.9), measures the net on `val`, and
/// returns the penultimate features of every train image (eval mode) with that accuracy.
pub fn train_split_embeddings(
    ctx: &Context,
    train: &Split,
    val: &Split,
    sc: &Scoring,
    seed: u64,
) -> Result<(Vec<Vec<f32>>, Option<f64>), MethodError> {
    let (_vs, net) = self::train(ctx, train, sc, seed, None, (0.0, 0.9), "embedding net")?;
    let val_acc = val_accuracy(ctx, net.as_ref(), val);
    ctx.progress(0.9, "embedding the train split");
    Ok((to_rows(&embed(ctx, net.as_ref(), &train.images)), val_acc))
}

/// Per-example scores averaged over independently initialised scoring nets (EL2N, GraNd).
///
/// Trains `models` nets on `train` with `sc`, net `m` seeded by
/// `derive_seed(ctx.seeds().selection, "<name>/model<m>")`; each net gets an equal share of the
/// progress bar, `train_share` of it for training. `score` then maps (variables, net, the rest
/// of its progress span, a label) to one score per train example. Returns the element-wise mean
/// over nets and each net's validation accuracy.
#[allow(clippy::too_many_arguments)]
pub fn averaged_over_models(
    ctx: &Context,
    train: &Split,
    val: &Split,
    sc: &Scoring,
    name: &str,
    models: usize,
    train_share: f64,
    mut score: impl FnMut(
        &tch::nn::VarStore,
        &dyn Network,
        (f64, f64),
        &str,
    ) -> Result<Vec<f64>, MethodError>,
) -> Result<(Vec<f64>, Vec<Option<f64>>), MethodError> {
    let sel = ctx.seeds().selection;
    let (mut runs, mut val_acc) = (Vec::new(), Vec::new());
    for m in 0..models {
        let span = 1.0 / models as f64;
        let lo = m as f64 * span;
        let seed = derive_seed(sel, &format!("{name}/model{m}"));
        let what = format!("scoring net {}/{}", m + 1, models);
        let (vs, net) = self::train(
            ctx,
            train,
            sc,
            seed,
            None,
            (lo, lo + train_share * span),
            &what,
        )?;
        val_acc.push(val_accuracy(ctx, net.as_ref(), val));
        runs.push(score(
            &vs,
            net.as_ref(),
            (lo + train_share * span, lo + span),
            &what,
        )?);
    }
    Ok((crate::scores::mean_scores(&runs), val_acc))
}

/// Per-step callback of the fit loop: (epoch, batch indices into the split, batch logits).
pub type OnBatch<'a> = &'a mut dyn FnMut(usize, &[i64], &Tensor);

/// Trains one scoring model on `split` with seed `seed` (init, order and augmentation seeds are
/// derived from it by `Context::train_model`), reporting progress between `lo` and `hi`.
/// With `epochs = 0` the freshly initialised network is returned (same init seed derivation).
pub fn train(
    ctx: &Context,
    split: &Split,
    scoring: &Scoring,
    seed: u64,
    on_batch: Option<OnBatch<'_>>,
    (lo, hi): (f64, f64),
    what: &str,
) -> Result<(tch::nn::VarStore, Box<dyn Network>), MethodError> {
    let epochs = scoring.recipe.epochs;
    if epochs == 0 {
        let s = split.images.size();
        tch::manual_seed(derive_seed(seed, "train_model/init") as i64);
        let vs = tch::nn::VarStore::new(ctx.device());
        let net = ctx.build_model(&vs.root(), &scoring.model, [s[1], s[2], s[3]]);
        return Ok((vs, net));
    }
    let mut on_epoch = |e: usize, loss: f64, _net: &dyn Network| {
        let f = lo + (hi - lo) * (e + 1) as f64 / epochs as f64;
        ctx.progress(
            f,
            &format!("{what}: epoch {}/{epochs}, loss {loss:.3}", e + 1),
        );
        true
    };
    ctx.progress(lo, &format!("{what}: training"));
    ctx.train_model(
        &split.images,
        &split.labels,
        Some(&scoring.model),
        Some(&scoring.recipe),
        seed,
        distillery_api::nn::FitOptions {
            on_epoch: Some(&mut on_epoch),
            on_batch: match on_batch {
                // Reborrow with a shorter trait-object lifetime (FitOptions ties both
                // callbacks to one lifetime, and `on_epoch` is local).
                Some(f) => Some(&mut *f as &mut dyn FnMut(usize, &[i64], &Tensor)),
                None => None,
            },
            ..Default::default()
        },
    )
}

/// Applies `f` to normalised batches of `images` (uint8 `[N,C,H,W]`) in eval mode under
/// no_grad and concatenates the results on the CPU.
fn batched(ctx: &Context, images: &Tensor, batch: i64, f: impl Fn(&Tensor) -> Tensor) -> Tensor {
    let _guard = tch::no_grad_guard();
    let n = images.size()[0];
    let mut parts = Vec::new();
    let mut start = 0;
    while start < n {
        let len = batch.min(n - start);
        let x = ctx.normalize(&images.narrow(0, start, len));
        parts.push(f(&x).to_device(Device::Cpu).to_kind(Kind::Float));
        start += len;
    }
    Tensor::cat(&parts, 0)
}

/// Penultimate features `[N, D]` (CPU, float) of `images` in eval mode.
pub fn embed(ctx: &Context, net: &dyn Network, images: &Tensor) -> Tensor {
    batched(ctx, images, 500, |x| net.features_t(x, false))
}

/// Logits `[N, K]` (CPU, float) of `images` in eval mode.
pub fn logits(ctx: &Context, net: &dyn Network, images: &Tensor) -> Tensor {
    batched(ctx, images, 500, |x| net.forward_t(x, false))
}

/// Exact per-example norms of the gradient of the cross-entropy loss w.r.t. all trainable
/// parameters, one backward pass per example (eval mode, so batch norm uses running stats;
/// ConvNet's instance norm is per-example anyway).
pub fn per_example_grad_norms(
    ctx: &Context,
    vs: &tch::nn::VarStore,
    net: &dyn Network,
    images: &Tensor,
    labels: &Tensor,
    (lo, hi): (f64, f64),
    what: &str,
) -> Vec<f64> {
    let params = vs.trainable_variables();
    let n = images.size()[0];
    let y_all = labels.to_device(ctx.device());
    let mut out = Vec::with_capacity(n as usize);
    for i in 0..n {
        let x = ctx.normalize(&images.narrow(0, i, 1));
        let y = y_all.narrow(0, i, 1);
        let loss = net.forward_t(&x, false).cross_entropy_for_logits(&y);
        let grads = Tensor::run_backward(&[loss], &params, false, false);
        let sq: f64 = grads
            .iter()
            .map(|g| g.square().sum(Kind::Double).double_value(&[]))
            .sum();
        out.push(sq.sqrt());
        if i % 256 == 0 {
            let f = lo + (hi - lo) * i as f64 / n as f64;
            ctx.progress(f, &format!("{what}: per-example gradients {i}/{n}"));
        }
    }
    out
}

/// Rows of a `[N, D]` float tensor as vectors (for the pure geometry functions).
pub fn to_rows(t: &Tensor) -> Vec<Vec<f32>> {
    crate::scores::rows(t)
}

/// Top-1 accuracy of a scoring model on the validation split (for the cell's metadata).
pub fn val_accuracy(ctx: &Context, net: &dyn Network, val: &Split) -> Option<f64> {
    if val.is_empty() {
        return None;
    }
    let x = ctx.normalize(&val.images);
    Some(distillery_api::nn::evaluate(net, &x, &val.labels, 500).0)
}

/// Training dynamics of one scoring run: forgetting events and AUM margins recorded from the
/// fit loop's per-step logits (train mode, on the possibly augmented batch, after the step's
/// forward pass — what the papers record), plus the model's validation accuracy.
pub struct Dynamics {
    pub forgetting: crate::scores::ForgettingTracker,
    pub aum: crate::scores::AumTracker,
    pub val_accuracy: Option<f64>,
}

/// Trains one scoring model on `split` while recording [`Dynamics`].
pub fn train_with_dynamics(
    ctx: &Context,
    split: &Split,
    val: &Split,
    scoring: &Scoring,
    seed: u64,
    range: (f64, f64),
    what: &str,
) -> Result<Dynamics, MethodError> {
    let labels = split.labels_vec();
    let n = labels.len();
    let mut forgetting = crate::scores::ForgettingTracker::new(n);
    let mut aum = crate::scores::AumTracker::new(n);
    let mut cb = |_epoch: usize, idx: &[i64], logits: &Tensor| {
        let r = crate::scores::rows(logits);
        forgetting.record_batch(idx, &r, &labels);
        aum.record_batch(idx, &r, &labels);
    };
    let (_vs, net) = train(ctx, split, scoring, seed, Some(&mut cb), range, what)?;
    let val_accuracy = val_accuracy(ctx, net.as_ref(), val);
    Ok(Dynamics {
        forgetting,
        aum,
        val_accuracy,
    })
}

/// The `hard-label` protocol's `[train]` recipe (SGD 0.01 / 0.9 / 5e-4, batch 256, 300 epochs,
/// step, DSA): a stand-in protocol recipe for unit tests of config resolution.
pub fn hard_label_recipe() -> TrainSpec {
    serde_json::from_value(serde_json::json!({
        "epochs": 300, "batch_size": 256, "optimizer": "sgd", "lr": 0.01, "momentum": 0.9,
        "weight_decay": 0.0005, "nesterov": false, "schedule": "step", "augment": "dsa",
    }))
    .expect("a valid TrainSpec")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_fill_from_method_defaults_then_protocol() {
        let d = ScoringDefaults::convnet(32, 6);
        let base = hard_label_recipe();
        let none: ScoringOverrides = serde_json::from_value(serde_json::json!({})).unwrap();
        let s = none.resolve(&d, &base, false).unwrap();
        assert_eq!((s.model.width, s.model.depth), (32, 3));
        assert_eq!((s.recipe.epochs, s.recipe.batch_size), (6, 64));
        assert_eq!(s.recipe.schedule, Schedule::Constant);
        assert_eq!(s.recipe.augment, Augment::None);
        assert_eq!((s.recipe.momentum, s.recipe.weight_decay), (0.9, 5e-4));
        let mut mixing = base.clone();
        mixing.mix = distillery_api::nn::mix::Mix::Cutmix;
        assert_eq!(
            none.resolve(&d, &mixing, false).unwrap().recipe.mix,
            distillery_api::nn::mix::Mix::None
        );
        let o: ScoringOverrides = serde_json::from_value(serde_json::json!({
            "epochs": 3, "augment": "dsa", "model": {"arch": "convnet", "width": 128}
        }))
        .unwrap();
        let s = o.resolve(&d, &base, false).unwrap();
        assert_eq!(
            (s.recipe.epochs, s.model.width, s.recipe.augment),
            (3, 128, Augment::Dsa)
        );
        assert_eq!(
            s.recipe.batch_size, 64,
            "unset keys keep the method default"
        );
        assert!(
            serde_json::from_value::<ScoringOverrides>(serde_json::json!({"epoch": 3})).is_err()
        );
        let zero: ScoringOverrides =
            serde_json::from_value(serde_json::json!({"epochs": 0})).unwrap();
        assert!(zero.resolve(&d, &base, false).is_err());
        assert_eq!(zero.resolve(&d, &base, true).unwrap().recipe.epochs, 0);
    }

    fn tiny_ctx() -> Context {
        let meta: distillery_api::method::RequestMeta = serde_json::from_value(serde_json::json!({
            "method": "test", "budget": {"kind": "ipc", "value": 1},
            "class_names": ["a", "b", "c"],
            "seeds": {"run": 0, "selection": 1, "init": 2, "order": 3, "augment": 4},
            "device": "cpu", "scratch_dir": "/tmp", "config": {},
            "protocol": {
                "name": "t", "hash": "0", "student": {"arch": "convnet", "width": 8, "depth": 2},
                "train": serde_json::to_value(hard_label_recipe()).unwrap(),
                "mean": [0.5], "std": [0.25], "mirror_invariant": false
            }
        }))
        .unwrap();
        Context::new(meta)
    }

    /// The exact all-parameter gradient norm and the closed-form last-layer norm, checked
    /// against autograd on the final layer's parameters alone.
    #[test]
    fn per_example_gradients_match_autograd_and_closed_form() {
        let ctx = tiny_ctx();
        tch::manual_seed(11);
        let images =
            Tensor::randint(256, [6, 1, 16, 16], (Kind::Int64, Device::Cpu)).to_kind(Kind::Uint8);
        let labels = Tensor::from_slice(&[0i64, 1, 2, 0, 1, 2]);
        let vs = tch::nn::VarStore::new(Device::Cpu);
        let spec = ModelSpec {
            arch: Arch::Convnet,
            width: 8,
            depth: 2,
        };
        let net = ctx.build_model(&vs.root(), &spec, [1, 16, 16]);
        let full =
            per_example_grad_norms(&ctx, &vs, net.as_ref(), &images, &labels, (0.0, 1.0), "t");
        let h = embed(&ctx, net.as_ref(), &images);
        let z = crate::scores::rows(&logits(&ctx, net.as_ref(), &images));
        let vars = vs.variables();
        let fc: Vec<Tensor> = ["fc.weight", "fc.bias"]
            .iter()
            .map(|k| vars[*k].shallow_clone())
            .collect();
        for i in 0..6 {
            let hi = h.get(i);
            let hsq = hi.square().sum(Kind::Double).double_value(&[]);
            let closed = crate::scores::grand_last_layer(
                &z[i as usize],
                [0, 1, 2, 0, 1, 2][i as usize],
                hsq,
            );
            let x = ctx.normalize(&images.narrow(0, i, 1));
            let loss = net
                .forward_t(&x, false)
                .cross_entropy_for_logits(&labels.narrow(0, i, 1));
            let g = Tensor::run_backward(&[loss], &fc, false, false);
            let auto: f64 = g
                .iter()
                .map(|t| t.square().sum(Kind::Double).double_value(&[]))
                .sum::<f64>()
                .sqrt();
            assert!(
                (closed - auto).abs() < 1e-4 * auto.max(1.0),
                "example {i}: closed {closed} vs autograd {auto}"
            );
            assert!(
                full[i as usize] > auto,
                "all parameters include the last layer: {} vs {auto}",
                full[i as usize]
            );
        }
        // Embeddings in one batch equal per-example features.
        let one = net.features_t(&ctx.normalize(&images.narrow(0, 3, 1)), false);
        assert!(f64::try_from((one.get(0) - h.get(3)).abs().max()).unwrap() < 1e-5);
    }
}
