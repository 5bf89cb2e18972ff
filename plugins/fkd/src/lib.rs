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
use distillery_label_kit::{Job, LabelMethod, Labelled, Labels};
use serde::{Deserialize, Serialize};

/// The method (exported as `Labelled<Fkd>`).
pub struct Fkd;

/// `[methods.fkd]`.
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Temperature of the KL against the stored logits (the soft-label protocol's 4).
    temperature: f64,
}

impl Default for Config {
    fn default() -> Self {
        Self { temperature: 4.0 }
    }
}

impl LabelMethod for Fkd {
    const NAME: &'static str = "fkd";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const PAPER: &'static str =
        "Shen & Xing, A Fast Knowledge Distillation Framework for Visual Recognition, ECCV 2022";
    const DESCRIPTION: &'static str =
        "random subset with stored per-epoch, per-batch teacher logits (fp16) and DSA parameters";
    type Config = Config;

    fn labels(c: &Config, job: &Job) -> Result<Labels, MethodError> {
        let epochs: Vec<usize> = (0..job.protocol_epochs()).collect();
        Ok(job
            .store_teacher_labels(&epochs, c.temperature)?
            .with("stored_epochs", epochs.len()))
    }
}

export_plugin!(Labelled<Fkd>);
