//! `fkd`: stored soft labels in the style of FKD (Shen & Xing, "A Fast Knowledge Distillation
//! Framework for Visual Recognition", ECCV 2022), as used by SRe2L/RDED-style relabelling.
//!
//! The images are the random subset of the budget (the `random` baseline's images for the
//! cell's seed). For every training epoch of the protocol, the method draws the batch order and
//! one DSA draw per batch, runs the protocol's teacher on the augmented batch and stores its
//! logits in fp16 together with the indices and augmentation parameters
//! (`distillery_api::label_store`). Under the native-label protocol the harness replays the
//! store: the student sees exactly the augmented images the teacher labelled, trained with the
//! KL at `temperature`. The store is what the labels cost: `storage.label_bytes`.

use distillery_api::prelude::*;
use serde::Deserialize;

#[derive(Default)]
pub struct Fkd;

/// `[methods.fkd]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Config {
    /// Temperature of the KL against the stored logits (the soft-label protocol's 4).
    temperature: f64,
}

impl Default for Config {
    fn default() -> Self {
        Self { temperature: 4.0 }
    }
}

impl Method for Fkd {
    const NAME: &'static str = "fkd";
    const FAMILY: Family = Family::Kd;
    const VERSION: &'static str = "1.0.0";
    const PAPER: &'static str =
        "Shen & Xing, A Fast Knowledge Distillation Framework for Visual Recognition, ECCV 2022";
    const DESCRIPTION: &'static str =
        "random subset with stored per-epoch, per-batch teacher logits (fp16) and DSA parameters";

    fn compress(&mut self, input: &Input, ctx: &Context) -> Result<Compressed, MethodError> {
        let c: Config = ctx.config()?;
        let seed = ctx.seeds().selection;
        let indices = distillery_api::select::random_subset(input, seed);
        let epochs: Vec<usize> = (0..ctx.protocol().train.epochs).collect();
        let (spec, bytes) = distillery_api::label_store::record_teacher_labels(
            ctx,
            input,
            &indices,
            &epochs,
            c.temperature,
            distillery_api::rng::derive_seed(seed, "fkd/labels"),
        )?;
        Ok(Compressed::indices(indices)
            .with_metadata(serde_json::json!({
                "selection": "random subset of the budget (as the random baseline)",
                "temperature": c.temperature,
                "stored_epochs": epochs.len(),
                "label_store_bytes": bytes,
            }))
            .with_label_spec(spec))
    }
}

export_plugin!(Fkd);
