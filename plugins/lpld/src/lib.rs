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
use serde::Deserialize;

#[derive(Default)]
pub struct Lpld;

/// `[methods.lpld]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Config {
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

impl Method for Lpld {
    const NAME: &'static str = "lpld";
    const FAMILY: Family = Family::Kd;
    const VERSION: &'static str = "1.0.0";
    const PAPER: &'static str = "Xiao & He, Are Large-scale Soft Labels Necessary for Large-scale Dataset Distillation?, NeurIPS 2024";
    const DESCRIPTION: &'static str =
        "fkd's stored teacher labels for a random fraction of the epochs only (label pruning)";

    fn compress(&mut self, input: &Input, ctx: &Context) -> Result<Compressed, MethodError> {
        let c: Config = ctx.config()?;
        if !(c.keep > 0.0 && c.keep <= 1.0) {
            return Err(MethodError::Config(format!(
                "[methods.lpld] keep: must be in (0, 1], found {}",
                c.keep
            )));
        }
        let seed = ctx.seeds().selection;
        let indices = distillery_api::select::random_subset(input, seed);
        let total = ctx.protocol().train.epochs;
        let k = ((c.keep * total as f64).round() as usize).clamp(1, total);
        let mut rng = SplitMix64::new(distillery_api::rng::derive_seed(seed, "lpld/epochs"));
        let mut kept = rng.sample(total, k);
        kept.sort_unstable();
        let (spec, bytes) = distillery_api::label_store::record_teacher_labels(
            ctx,
            input,
            &indices,
            &kept,
            c.temperature,
            distillery_api::rng::derive_seed(seed, "fkd/labels"),
        )?;
        Ok(Compressed::indices(indices)
            .with_metadata(serde_json::json!({
                "selection": "random subset of the budget (as the random baseline)",
                "temperature": c.temperature,
                "keep": c.keep,
                "kept_epochs": kept,
                "label_store_bytes": bytes,
            }))
            .with_label_spec(spec))
    }
}

export_plugin!(Lpld);
