//! The protocol trainer: trains a fresh student on a checked compressed set with the
//! protocol's recipe and measures it on the test split at the last epoch.

use crate::dataset::Prepared;
use crate::validate::TrainingSet;
use distillery_api::nn::{self, augment::Dsa, FitOptions, Targets};
use distillery_api::spec::{ModelSpec, TrainSpec};
use distillery_api::Seeds;
use serde::Serialize;
use std::time::Instant;
use tch::{nn::VarStore, Device};

#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct Evaluation {
    /// Top-1 accuracy on the test split, a fraction in [0, 1].
    pub top1: f64,
    /// Top-5 accuracy (reported when the dataset has more than 10 classes).
    pub top5: f64,
    pub final_train_loss: f64,
    pub epochs: usize,
    pub steps: usize,
    pub train_seconds: f64,
    pub eval_seconds: f64,
    /// DSA groups actually applied (flip dropped on digits), or "none".
    pub augment: String,
}

/// Trains `student` on `set` with `recipe` and evaluates on `data.test`.
pub fn train_and_evaluate(
    data: &Prepared,
    set: &TrainingSet,
    student: &ModelSpec,
    recipe: &TrainSpec,
    eval_batch: i64,
    seeds: &Seeds,
    device: Device,
) -> anyhow::Result<Evaluation> {
    let t0 = Instant::now();
    tch::manual_seed(seeds.init as i64);
    let vs = VarStore::new(device);
    let net = nn::build(&vs.root(), student, data.shape, data.num_classes() as i64);
    let x = nn::normalize(&set.images, &data.mean, &data.std, device);
    let y = set.labels.to_device(device);
    let weights = set.weights.as_ref().map(|w| w.to_device(device));
    let dsa = Dsa::new(&recipe.dsa_strategy, data.mirror_invariant);
    // Hard-label protocol: the method's own soft labels (if any) are ignored.
    let targets = Targets::Hard(&y);
    let report = nn::fit(
        net.as_ref(),
        &vs,
        &x,
        targets,
        recipe,
        FitOptions {
            order_seed: seeds.order,
            augment_seed: Some(seeds.augment),
            dsa: Some(dsa.clone()),
            weights: weights.as_ref(),
            on_epoch: None,
            on_batch: None,
        },
    )?;
    let train_seconds = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let xt = nn::normalize(&data.test.images, &data.mean, &data.std, device);
    let (top1, top5) = nn::evaluate(net.as_ref(), &xt, &data.test.labels, eval_batch);
    let augment = match recipe.augment {
        distillery_api::spec::Augment::Dsa => dsa.strategy(),
        distillery_api::spec::Augment::RrcFlip => {
            format!("rrc-flip (scale {:?})", recipe.rrc_scale)
        }
        distillery_api::spec::Augment::None => "none".into(),
    };
    let augment = match recipe.mix {
        distillery_api::nn::mix::Mix::None => augment,
        m => format!("{augment} + {m:?} (alpha {})", recipe.mix_alpha).to_lowercase(),
    };
    Ok(Evaluation {
        top1,
        top5,
        final_train_loss: report.final_loss,
        epochs: report.epochs_run,
        steps: report.steps,
        train_seconds,
        eval_seconds: t1.elapsed().as_secs_f64(),
        augment,
    })
}
