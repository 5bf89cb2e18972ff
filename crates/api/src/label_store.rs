//! Recording FKD-style stored labels with a teacher (or any labelling network) for the
//! native-label protocol. The file format itself ([`LabelStore`], [`StoredBatch`]) lives in
//! [`crate::label_file`] and is re-exported here, so `distillery_api::label_store::LabelStore`
//! keeps working.

use crate::label_file::f16_bits;
pub use crate::label_file::{LabelStore, StoredBatch};
use crate::method::{Context, Input, MethodError};
use crate::nn::augment::apply;
use crate::rng::{derive_seed, SplitMix64};
use crate::spec::{Augment, LabelSpec};
use tch::Tensor;

/// Records the protocol teacher's labels for the compressed set `train[indices]`, FKD-style:
/// for each kept epoch, a fresh batch order and one DSA draw per batch (the protocol's batch
/// size and augmentation), and the teacher's logits on each augmented batch. `keep` lists the
/// training epochs to store (all of them for FKD; a random fraction for LPLD). Writes the
/// store to the method's scratch folder and returns the label spec that points at it, with its
/// size in bytes. A non-positive `temperature` is a configuration error naming the method.
///
/// # Errors
/// [`MethodError::Config`] for a bad temperature, [`MethodError::Unsupported`] when the
/// protocol uses RandomResizedCrop or CutMix/Mixup, the errors of [`Context::teacher`], and
/// [`MethodError::Failed`] when the store cannot be written.
pub fn record_teacher_labels(
    ctx: &Context,
    input: &Input,
    indices: &[i64],
    keep: &[usize],
    temperature: f64,
    seed: u64,
) -> Result<(LabelSpec, u64), MethodError> {
    check_recipe(ctx, temperature)?;
    let teacher = ctx.teacher(input)?;
    let idx = Tensor::from_slice(indices);
    let x = ctx.normalize(&input.train.images.index_select(0, &idx));
    record_labels(
        ctx,
        &x,
        teacher.net.as_ref(),
        input.num_classes(),
        keep,
        temperature,
        seed,
    )
}

fn check_recipe(ctx: &Context, temperature: f64) -> Result<(), MethodError> {
    if !(temperature > 0.0 && temperature.is_finite()) {
        return Err(MethodError::Config(format!(
            "[methods.{}] temperature: must be > 0, found {temperature}",
            ctx.meta().method
        )));
    }
    let recipe = &ctx.protocol().train;
    if recipe.mix != crate::nn::mix::Mix::None || recipe.augment == Augment::RrcFlip {
        return Err(MethodError::Unsupported(
            "stored labels replay DSA (or no) augmentation without CutMix/Mixup; this protocol uses RandomResizedCrop or batch mixing".into(),
        ));
    }
    Ok(())
}

/// [`record_teacher_labels`] for any compressed set and any labelling network: `x` is the set
/// as the student sees it (normalised, `[M, C, H, W]`, e.g. synthetic images), `net` the model
/// whose logits become the labels (evaluated in eval mode without gradients, e.g. SRe2L's
/// squeeze model or RDED's observer). Same batches, draws, file and spec as for the teacher.
///
/// # Errors
/// As [`record_teacher_labels`], without the teacher's.
pub fn record_labels(
    ctx: &Context,
    x: &Tensor,
    net: &dyn crate::nn::Network,
    classes: usize,
    keep: &[usize],
    temperature: f64,
    seed: u64,
) -> Result<(LabelSpec, u64), MethodError> {
    check_recipe(ctx, temperature)?;
    let recipe = &ctx.protocol().train;
    let device = ctx.device();
    let x = x.to_device(device);
    let s = x.size();
    let m = s[0] as usize;
    let dsa = (recipe.augment == Augment::Dsa).then(|| ctx.dsa());
    let mut epochs = Vec::new();
    for (k, &e) in keep.iter().enumerate() {
        ctx.progress(
            k as f64 / keep.len() as f64,
            &format!("teacher labels for epoch {e}"),
        );
        tch::manual_seed(derive_seed(seed, &format!("labels/augment/{e}")) as i64);
        let mut rng = SplitMix64::new(derive_seed(seed, &format!("labels/order/{e}")));
        let perm = rng.permutation(m);
        let mut batches = Vec::new();
        for chunk in perm.chunks(recipe.batch_size) {
            let b: Vec<i64> = chunk.iter().map(|&i| i as i64).collect();
            let mut xb = x.index_select(0, &Tensor::from_slice(&b).to_device(device));
            let draw = dsa
                .as_ref()
                .and_then(|d| d.draw(b.len() as i64, s[2], s[3], device));
            if let Some(d) = &draw {
                xb = apply(&xb, d);
            }
            let logits = crate::teacher::batched_logits(net, &xb, 256);
            batches.push(StoredBatch {
                indices: chunk.iter().map(|&i| i as u32).collect(),
                draw: draw.map(|d| d.to_record()),
                logits: f16_bits(&logits),
            });
        }
        epochs.push(batches);
    }
    let store = LabelStore {
        classes,
        temperature,
        set_size: m,
        epochs_total: recipe.epochs,
        epochs,
    };
    let file = ctx.scratch_dir().join("labels.dstl");
    let sha256 = store
        .write(&file)
        .map_err(|e| MethodError::Failed(format!("cannot write {}: {e}", file.display())))?;
    let bytes = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    Ok((LabelSpec::Stored { file, sha256 }, bytes))
}
