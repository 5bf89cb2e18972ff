//! The protocol trainer: trains a fresh student on a checked compressed set with the
//! protocol's recipe and measures it on the test split at the last epoch.

use crate::dataset::Prepared;
use crate::validate::TrainingSet;
use distillery_api::nn::{self, augment::Dsa, FitOptions, Targets, TeacherLoss};
use distillery_api::spec::LabelSpec;
use distillery_api::spec::{ModelSpec, TrainSpec};
use distillery_api::teacher::Teacher;
use distillery_api::Seeds;
use std::time::Instant;
use tch::{nn::VarStore, Device};

/// The student's result; its schema is part of the cell record.
pub use distillery_record::Evaluation;

/// How the student is labelled: the protocol's label mode with what it needs.
pub enum Labelling<'a> {
    /// The set's hard labels, cross-entropy (its soft labels and label function are ignored).
    Hard,
    /// The teacher relabels every augmented (and mixed) batch; KL at `temperature`, times
    /// `T^2` when `t_squared`.
    Soft {
        teacher: &'a Teacher,
        temperature: f64,
        t_squared: bool,
    },
    /// The method's own labels: its label function, else its soft labels, else hard labels.
    /// `teacher` is required by KD / DKD label functions.
    Native { teacher: Option<&'a Teacher> },
}

/// On a GPU the test split is evaluated at least this many images per forward pass (the
/// protocol's `eval.batch_size` on the CPU): a CIFAR-10 test split in 5 passes, not 20. The
/// batch size changes no prediction beyond floating-point rounding (the student has no
/// batch-dependent layer in eval mode).
pub const GPU_EVAL_BATCH: i64 = 2048;

/// Test images normalised at a time by [`evaluate_in_slabs`]: 4096 (or the evaluation batch
/// when larger). At 224 px that is 2.4 GB of float32 instead of 30 GB for ImageNet's 50,000
/// validation images.
pub const EVAL_SLAB: i64 = 4096;

/// [`nn::fit::evaluate_detailed`] on `data.test`, normalising [`EVAL_SLAB`] images at a time
/// (each slab evaluated `eval_batch` images per forward pass, as in one call) and adding up the
/// counts: the same numbers as one call on the whole normalised split.
pub fn evaluate_in_slabs(
    net: &dyn nn::Network,
    data: &Prepared,
    eval_batch: i64,
    device: Device,
) -> nn::fit::Evaluated {
    let k = data.num_classes();
    let n = data.test.images.size()[0];
    let slab = EVAL_SLAB.max(eval_batch);
    let (mut top1, mut top5) = (0u64, 0u64);
    let mut confusion = vec![vec![0u64; k]; k];
    let mut start = 0;
    while start < n {
        let len = slab.min(n - start);
        let x = nn::normalize(
            &data.test.images.narrow(0, start, len),
            &data.mean,
            &data.std,
            device,
        );
        let e = nn::fit::evaluate_detailed(
            net,
            &x,
            &data.test.labels.narrow(0, start, len),
            eval_batch,
            k,
        );
        top1 += (e.top1 * len as f64).round() as u64;
        top5 += (e.top5 * len as f64).round() as u64;
        for (row, add) in confusion.iter_mut().zip(&e.confusion) {
            for (c, a) in row.iter_mut().zip(add) {
                *c += a;
            }
        }
        start += len;
    }
    let n = n.max(1) as f64;
    nn::fit::Evaluated {
        top1: top1 as f64 / n,
        top5: top5 as f64 / n,
        confusion,
    }
}

/// Trains `student` on `set` with `recipe` and `labelling`, and evaluates on `data.test`.
#[allow(clippy::too_many_arguments)]
pub fn train_and_evaluate(
    data: &Prepared,
    set: &TrainingSet,
    student: &ModelSpec,
    recipe: &TrainSpec,
    labelling: &Labelling,
    eval_batch: i64,
    seeds: &Seeds,
    device: Device,
) -> anyhow::Result<Evaluation> {
    let t0 = Instant::now();
    tch::manual_seed(seeds.init as i64);
    let vs = VarStore::new(device);
    let net = nn::build(&vs.root(), student, data.shape, data.num_classes() as i64);
    // Raw images on the device, normalised one batch at a time inside `fit` (the same numbers
    // as normalising the whole set first: an elementwise map), so a large-image set never
    // exists as float32.
    let x = set.images.to_device(device);
    let y = set.labels.to_device(device);
    let weights = set.weights.as_ref().map(|w| w.to_device(device));
    let dsa = Dsa::new(&recipe.dsa_strategy, data.mirror_invariant);
    let soft = set.soft_labels.as_ref().map(|p| p.to_device(device));
    let mut store: Option<distillery_api::label_store::LabelStore> = None;
    let (targets, labels) = match labelling {
        Labelling::Hard => (Targets::Hard(&y), "hard (cross-entropy)".to_string()),
        Labelling::Soft {
            teacher,
            temperature,
            t_squared,
        } => (
            Targets::Teacher {
                teacher: teacher.net.as_ref(),
                loss: TeacherLoss::Kl {
                    temperature: *temperature,
                    t_squared: *t_squared,
                },
                labels: None,
            },
            format!(
                "soft: online teacher {} (KL, T {temperature}{})",
                &teacher.info.key[..12],
                if *t_squared { "" } else { ", no T^2" }
            ),
        ),
        Labelling::Native { teacher } => {
            let need = |what: &str| -> anyhow::Result<&Teacher> {
                teacher.ok_or_else(|| {
                    anyhow::anyhow!(
                        "the method's label function '{what}' needs the protocol's teacher, and this protocol has no [teacher] table"
                    )
                })
            };
            match &set.label_spec {
                Some(LabelSpec::Kd { temperature, alpha }) => {
                    let t = need("kd")?;
                    (
                        Targets::Teacher {
                            teacher: t.net.as_ref(),
                            loss: TeacherLoss::Kd {
                                temperature: *temperature,
                                alpha: *alpha,
                            },
                            labels: Some(&y),
                        },
                        format!(
                            "native: {} vs teacher {}",
                            set.label_spec.as_ref().unwrap().describe(),
                            &t.info.key[..12]
                        ),
                    )
                }
                Some(LabelSpec::Dkd {
                    alpha,
                    beta,
                    temperature,
                    warmup_epochs,
                }) => {
                    let t = need("dkd")?;
                    (
                        Targets::Teacher {
                            teacher: t.net.as_ref(),
                            loss: TeacherLoss::Dkd {
                                alpha: *alpha,
                                beta: *beta,
                                temperature: *temperature,
                                warmup_epochs: *warmup_epochs,
                            },
                            labels: Some(&y),
                        },
                        format!(
                            "native: {} vs teacher {}",
                            set.label_spec.as_ref().unwrap().describe(),
                            &t.info.key[..12]
                        ),
                    )
                }
                Some(LabelSpec::Smoothing { epsilon }) => (
                    Targets::Smoothed(&y, *epsilon),
                    format!("native: {}", set.label_spec.as_ref().unwrap().describe()),
                ),
                Some(LabelSpec::Stored { file, sha256 }) => {
                    if recipe.mix != distillery_api::nn::mix::Mix::None
                        || recipe.augment == distillery_api::spec::Augment::RrcFlip
                    {
                        anyhow::bail!(
                            "stored labels ({}) are replayed with DSA or no augmentation, without CutMix/Mixup; this protocol's recipe uses RandomResizedCrop or batch mixing",
                            file.display()
                        );
                    }
                    let s = distillery_api::label_store::LabelStore::read(file, Some(sha256))
                        .map_err(|e| anyhow::anyhow!(e))?;
                    if s.set_size != set.labels.size()[0] as usize
                        || s.classes != data.num_classes()
                    {
                        anyhow::bail!(
                            "label store {} was made for {} images of {} classes, the set has {} of {}",
                            file.display(),
                            s.set_size,
                            s.classes,
                            set.labels.size()[0],
                            data.num_classes()
                        );
                    }
                    store = Some(s);
                    (
                        Targets::Hard(&y), // replaced below: the store outlives this match
                        format!("native: {}", set.label_spec.as_ref().unwrap().describe()),
                    )
                }
                None => match &soft {
                    Some(p) => (
                        Targets::Soft(p),
                        "native: the method's static soft labels (soft cross-entropy)".into(),
                    ),
                    None => (
                        Targets::Hard(&y),
                        "native: hard labels (cross-entropy)".into(),
                    ),
                },
            }
        }
    };
    let targets = match &store {
        Some(s) => Targets::Stored(s),
        None => targets,
    };
    // Stored labels replay normalised images; everything else normalises per batch.
    let (x, normalize) = match &store {
        Some(_) => (nn::normalize(&x, &data.mean, &data.std, device), None),
        None => (x, Some((data.mean.clone(), data.std.clone()))),
    };
    let report = nn::fit(
        net.as_ref(),
        &vs,
        &x,
        targets,
        recipe,
        FitOptions {
            order_seed: seeds.order,
            augment_seed: Some(seeds.augment),
            normalize,
            dsa: Some(dsa.clone()),
            weights: weights.as_ref(),
            on_epoch: None,
            on_batch: None,
        },
    )?;
    let train_seconds = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let eval_batch = eval_batch_for(eval_batch, device);
    // Top-1/top-5 and the confusion matrix in one pass (a diverged network is measured too:
    // its accuracy is the result, marked as diverged).
    let measured = evaluate_in_slabs(net.as_ref(), data, eval_batch, device);
    let augment = describe_augment(recipe, &dsa);
    let per_class_top1 = Evaluation::per_class_from_confusion(&measured.confusion);
    Ok(Evaluation {
        top1: measured.top1,
        top5: measured.top5,
        final_train_loss: report.final_loss,
        epochs: report.epochs_run,
        steps: report.steps,
        train_seconds,
        eval_seconds: t1.elapsed().as_secs_f64(),
        augment,
        labels,
        diverged_at_epoch: report.diverged_at.map(|e| e + 1),
        per_class_top1: Some(per_class_top1),
        confusion: Some(measured.confusion),
    })
}

/// The evaluation batch on `device`: the protocol's on the CPU, at least [`GPU_EVAL_BATCH`]
/// on a GPU.
fn eval_batch_for(protocol_batch: i64, device: Device) -> i64 {
    if device.is_cuda() {
        protocol_batch.max(GPU_EVAL_BATCH)
    } else {
        protocol_batch
    }
}

/// The record's `augment` text for a recipe (e.g. `color_crop_cutout_scale_rotate`,
/// `rrc-flip (scale [0.08, 1.0]) + cutmix (alpha 1)`).
fn describe_augment(recipe: &TrainSpec, dsa: &Dsa) -> String {
    let augment = match recipe.augment {
        distillery_api::spec::Augment::Dsa => dsa.strategy(),
        distillery_api::spec::Augment::RrcFlip => {
            format!("rrc-flip (scale {:?})", recipe.rrc_scale)
        }
        distillery_api::spec::Augment::None => "none".into(),
    };
    match recipe.mix {
        distillery_api::nn::mix::Mix::None => augment,
        m => format!("{augment} + {m:?} (alpha {})", recipe.mix_alpha).to_lowercase(),
    }
}

/// [`train_and_evaluate`] with hard labels for several sets at once, trained as one grouped
/// model ([`nn::grouped`]): member `i` is `sets[i]` with `seeds[i]`, initialised, ordered and
/// augmented exactly as its separate run, so each returned [`Evaluation`] equals that run's up
/// to floating-point rounding. `train_seconds` and `eval_seconds` are the group's (shared).
///
/// # Errors
/// The sets cannot be grouped (another size, a student or recipe grouping does not support:
/// [`nn::grouped::NotGroupable`]), or libtorch fails.
pub fn train_and_evaluate_grouped(
    data: &Prepared,
    sets: &[&TrainingSet],
    student: &ModelSpec,
    recipe: &TrainSpec,
    eval_batch: i64,
    seeds: &[Seeds],
    device: Device,
) -> anyhow::Result<Vec<Evaluation>> {
    assert_eq!(sets.len(), seeds.len(), "one seed set per member");
    let t0 = Instant::now();
    let classes = data.num_classes() as i64;
    // Each member's initial network, built exactly as its separate run builds it.
    let inits: Vec<VarStore> = seeds
        .iter()
        .map(|s| {
            tch::manual_seed(s.init as i64);
            let vs = VarStore::new(device);
            let _ = nn::build(&vs.root(), student, data.shape, classes);
            vs
        })
        .collect();
    let xs: Vec<tch::Tensor> = sets
        .iter()
        .map(|s| nn::normalize(&s.images, &data.mean, &data.std, device))
        .collect();
    let ys: Vec<tch::Tensor> = sets.iter().map(|s| s.labels.to_device(device)).collect();
    let members: Vec<nn::grouped::Member> = (0..sets.len())
        .map(|i| nn::grouped::Member {
            x: &xs[i],
            y: &ys[i],
            init: &inits[i],
            order_seed: seeds[i].order,
            augment_seed: seeds[i].augment,
        })
        .collect();
    let dsa = Dsa::new(&recipe.dsa_strategy, data.mirror_invariant);
    let vs = VarStore::new(device);
    let (net, reports) = nn::grouped::fit_grouped(&vs, &members, student, recipe, Some(&dsa))?;
    let train_seconds = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let xt = nn::normalize(&data.test.images, &data.mean, &data.std, device);
    // Each pass runs every member on the batch: the batch divided by the members keeps one
    // pass's activations at one cell's (a group of 20 at 2048 images each needed ~27 GiB).
    let batch = (eval_batch_for(eval_batch, device) / sets.len() as i64).max(1);
    let measured =
        nn::grouped::evaluate_grouped(&net, &xt, &data.test.labels, batch, data.num_classes());
    let eval_seconds = t1.elapsed().as_secs_f64();
    let augment = describe_augment(recipe, &dsa);
    Ok(reports
        .into_iter()
        .zip(measured)
        .map(|(report, m)| Evaluation {
            top1: m.top1,
            top5: m.top5,
            final_train_loss: report.final_loss,
            epochs: report.epochs_run,
            steps: report.steps,
            train_seconds,
            eval_seconds,
            augment: augment.clone(),
            labels: "hard (cross-entropy)".to_string(),
            diverged_at_epoch: report.diverged_at.map(|e| e + 1),
            per_class_top1: Some(Evaluation::per_class_from_confusion(&m.confusion)),
            confusion: Some(m.confusion),
        })
        .collect())
}
