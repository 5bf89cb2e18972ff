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
use distillery_label_kit::{Job, LabelMethod, Labelled, Labels};
use serde::{Deserialize, Serialize};

/// The method (exported as `Labelled<Dkd>`).
pub struct Dkd;

/// `[methods.dkd]`. Defaults: the paper's CIFAR-100 setting (alpha 1, beta 8, T 4, 20 warm-up
/// epochs of the 240).
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
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

impl LabelMethod for Dkd {
    const NAME: &'static str = "dkd";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const PAPER: &'static str =
        "Zhao, Cui, Song, Qiu & Liang, Decoupled Knowledge Distillation, CVPR 2022";
    const DESCRIPTION: &'static str =
        "random subset labelled by the protocol's teacher: CE + alpha*TCKD + beta*NCKD";
    type Config = Config;

    fn labels(c: &Config, job: &Job) -> Result<Labels, MethodError> {
        job.label_function(LabelSpec::Dkd {
            alpha: c.alpha,
            beta: c.beta,
            temperature: c.temperature,
            warmup_epochs: c.warmup_epochs,
        })
    }
}

export_plugin!(Labelled<Dkd>);
