//! `kd`: vanilla knowledge distillation (Hinton, Vinyals & Dean, 2015) as a label function.
//!
//! The images are the random subset of the budget (the same images the `random` baseline
//! returns for the cell's seed), so only the labelling differs from the baseline. Under the
//! native-label protocol the harness trains the student with
//! `alpha * CE(y) + (1 - alpha) * T^2 * KL(teacher_T || student_T)`, the protocol's teacher
//! relabelling every augmented batch. Under hard- and soft-label protocols the label function
//! is ignored (it is then the random baseline, by construction).

use distillery_api::prelude::*;
use distillery_api::spec::LabelSpec;
use serde::Deserialize;

#[derive(Default)]
pub struct Kd;

/// `[methods.kd]`. Defaults: mdistiller's CIFAR KD setting (T 4, CE weight 0.1, KL 0.9).
#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Config {
    temperature: f64,
    /// Weight of the cross-entropy term; the KL term gets `1 - alpha`.
    alpha: f64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            temperature: 4.0,
            alpha: 0.1,
        }
    }
}

impl Method for Kd {
    const NAME: &'static str = "kd";
    const FAMILY: Family = Family::Kd;
    const VERSION: &'static str = "1.0.0";
    const PAPER: &'static str =
        "Hinton, Vinyals & Dean, Distilling the Knowledge in a Neural Network, NeurIPS-W 2015";
    const DESCRIPTION: &'static str =
        "random subset labelled by the protocol's teacher: alpha*CE + (1-alpha)*T^2*KL";

    fn compress(&mut self, input: &Input, ctx: &Context) -> Result<Compressed, MethodError> {
        let c: Config = ctx.config()?;
        let spec = LabelSpec::Kd {
            temperature: c.temperature,
            alpha: c.alpha,
        };
        spec.validate()
            .map_err(|e| MethodError::Config(format!("[methods.kd]: {e}")))?;
        let indices = distillery_api::select::random_subset(input, ctx.seeds().selection);
        Ok(Compressed::indices(indices)
            .with_metadata(serde_json::json!({
                "selection": "random subset of the budget (as the random baseline)",
                "temperature": c.temperature,
                "alpha": c.alpha,
            }))
            .with_label_spec(spec))
    }
}

export_plugin!(Kd);
