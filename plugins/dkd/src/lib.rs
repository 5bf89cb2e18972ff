//! `dkd`: Decoupled Knowledge Distillation (Zhao, Cui, Song, Qiu & Liang, CVPR 2022) as a
//! label function.
//!
//! The images are the random subset of the budget (the `random` baseline's images for the
//! cell's seed). Under the native-label protocol the harness trains the student with
//! `CE(y) + min(1, epoch / warmup) * (alpha * TCKD + beta * NCKD)`: TCKD is the KL between the
//! teacher's and student's binary (target vs rest) probabilities, NCKD the KL between their
//! distributions over the non-target classes, both at temperature T with the T^2 factor; the
//! protocol's teacher relabels every augmented batch.

use distillery_api::prelude::*;
use distillery_api::spec::LabelSpec;
use serde::Deserialize;

#[derive(Default)]
pub struct Dkd;

/// `[methods.dkd]`. Defaults: the paper's CIFAR-100 setting (alpha 1, beta 8, T 4, 20 warm-up
/// epochs of the 240).
#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Config {
    alpha: f64,
    beta: f64,
    temperature: f64,
    warmup_epochs: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            alpha: 1.0,
            beta: 8.0,
            temperature: 4.0,
            warmup_epochs: 20,
        }
    }
}

impl Method for Dkd {
    const NAME: &'static str = "dkd";
    const FAMILY: Family = Family::Kd;
    const VERSION: &'static str = "1.0.0";
    const PAPER: &'static str =
        "Zhao, Cui, Song, Qiu & Liang, Decoupled Knowledge Distillation, CVPR 2022";
    const DESCRIPTION: &'static str =
        "random subset labelled by the protocol's teacher: CE + alpha*TCKD + beta*NCKD";

    fn compress(&mut self, input: &Input, ctx: &Context) -> Result<Compressed, MethodError> {
        let c: Config = ctx.config()?;
        let spec = LabelSpec::Dkd {
            alpha: c.alpha,
            beta: c.beta,
            temperature: c.temperature,
            warmup_epochs: c.warmup_epochs,
        };
        spec.validate()
            .map_err(|e| MethodError::Config(format!("[methods.dkd]: {e}")))?;
        let indices = distillery_api::select::random_subset(input, ctx.seeds().selection);
        Ok(Compressed::indices(indices)
            .with_metadata(serde_json::json!({
                "selection": "random subset of the budget (as the random baseline)",
                "alpha": c.alpha,
                "beta": c.beta,
                "temperature": c.temperature,
                "warmup_epochs": c.warmup_epochs,
            }))
            .with_label_spec(spec))
    }
}

export_plugin!(Dkd);
