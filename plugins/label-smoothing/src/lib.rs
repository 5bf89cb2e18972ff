//! `label-smoothing`: the no-teacher control of the KD family (Szegedy et al., CVPR 2016).
//!
//! The images are the random subset of the budget (the `random` baseline's images for the
//! cell's seed). Under the native-label protocol the student trains with cross-entropy against
//! `(1 - epsilon) * onehot(y) + epsilon / K`: a soft target that needs no teacher, so the gap
//! between it and `kd` is what the teacher's knowledge adds beyond softening.

use distillery_api::prelude::*;
use distillery_api::spec::LabelSpec;
use serde::Deserialize;

#[derive(Default)]
pub struct LabelSmoothing;

/// `[methods.label-smoothing]`. Default epsilon 0.1 (the paper's ImageNet value).
#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Config {
    epsilon: f64,
}

impl Default for Config {
    fn default() -> Self {
        Self { epsilon: 0.1 }
    }
}

impl Method for LabelSmoothing {
    const NAME: &'static str = "label-smoothing";
    const FAMILY: Family = Family::Kd;
    const VERSION: &'static str = "1.0.0";
    const PAPER: &'static str =
        "Szegedy et al., Rethinking the Inception Architecture for Computer Vision, CVPR 2016";
    const DESCRIPTION: &'static str =
        "random subset with label-smoothed targets (no teacher): the KD family's control";

    fn compress(&mut self, input: &Input, ctx: &Context) -> Result<Compressed, MethodError> {
        let c: Config = ctx.config()?;
        let spec = LabelSpec::Smoothing { epsilon: c.epsilon };
        spec.validate()
            .map_err(|e| MethodError::Config(format!("[methods.label-smoothing]: {e}")))?;
        let indices = distillery_api::select::random_subset(input, ctx.seeds().selection);
        Ok(Compressed::indices(indices)
            .with_metadata(serde_json::json!({
                "selection": "random subset of the budget (as the random baseline)",
                "epsilon": c.epsilon,
            }))
            .with_label_spec(spec))
    }
}

export_plugin!(LabelSmoothing);
