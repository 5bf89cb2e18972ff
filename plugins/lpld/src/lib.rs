//! `lpld`: label pruning for stored soft labels, in the style of LPLD (Xiao & He, "Are Large-
//! scale Soft Labels Necessary for Large-scale Dataset Distillation?", NeurIPS 2024).
//!
//! As `fkd` (the random subset of the budget, the protocol's teacher's fp16 logits stored per
//! epoch and batch with their DSA parameters), but only a random fraction `keep` of the
//! training epochs' labels is stored (at least one epoch), chosen from the selection seed; the
//! harness's replay cycles through the kept epochs (training epoch e uses kept epoch e mod k),
//! so the student still trains for every protocol epoch on a smaller label pool. The paper
//! prunes ImageNet labels up to 40x; the default keeps 1/40 of the epochs.

use distillery_api::prelude::*;
use distillery_label_kit::{Job, LabelMethod, Labelled, Labels};
use serde::{Deserialize, Serialize};

/// The method (exported as `Labelled<Lpld>`).
pub struct Lpld;

/// `[methods.lpld]`.
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Fraction of the epochs whose labels are kept, in (0, 1].
    keep: f64,
    temperature: f64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            keep: 1.0 / 40.0,
            temperature: 4.0,
        }
    }
}

impl LabelMethod for Lpld {
    const NAME: &'static str = "lpld";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const PAPER: &'static str = "Xiao & He, Are Large-scale Soft Labels Necessary for Large-scale Dataset Distillation?, NeurIPS 2024";
    const DESCRIPTION: &'static str =
        "fkd's stored teacher labels for a random fraction of the epochs only (label pruning)";
    type Config = Config;

    fn check(c: &Config) -> Result<(), MethodError> {
        if !(c.keep > 0.0 && c.keep <= 1.0) {
            return Err(MethodError::Config(format!(
                "[methods.lpld] keep: must be in (0, 1], found {}",
                c.keep
            )));
        }
        Ok(())
    }

    fn labels(c: &Config, job: &Job) -> Result<Labels, MethodError> {
        let total = job.protocol_epochs();
        let k = ((c.keep * total as f64).round() as usize).clamp(1, total);
        let mut rng = SplitMix64::new(job.seed("epochs"));
        let mut kept = rng.sample(total, k);
        kept.sort_unstable();
        Ok(job
            .store_teacher_labels(&kept, c.temperature)?
            .with("kept_epochs", kept))
    }
}

export_plugin!(Labelled<Lpld>);
