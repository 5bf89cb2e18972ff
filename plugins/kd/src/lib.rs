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
use distillery_label_kit::{Job, LabelMethod, Labelled, Labels};
use serde::{Deserialize, Serialize};

/// The method (exported as `Labelled<Kd>`).
pub struct Kd;

/// `[methods.kd]`. Defaults: mdistiller's CIFAR KD setting (T 4, CE weight 0.1, KL 0.9).
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
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

impl LabelMethod for Kd {
    const NAME: &'static str = "kd";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const PAPER: &'static str =
        "Hinton, Vinyals & Dean, Distilling the Knowledge in a Neural Network, NeurIPS-W 2015";
    const DESCRIPTION: &'static str =
        "random subset labelled by the protocol's teacher: alpha*CE + (1-alpha)*T^2*KL";
    type Config = Config;

    fn labels(c: &Config, job: &Job) -> Result<Labels, MethodError> {
        job.label_function(LabelSpec::Kd {
            temperature: c.temperature,
            alpha: c.alpha,
        })
    }
}

export_plugin!(Labelled<Kd>);
