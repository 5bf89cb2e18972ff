//! `label-smoothing`: the no-teacher control of the KD family (Szegedy et al., CVPR 2016).
//!
//! The images are the random subset of the budget (the `random` baseline's images for the
//! cell's seed). Under the native-label protocol the student trains with cross-entropy against
//! `(1 - epsilon) * onehot(y) + epsilon / K`: a soft target that needs no teacher, so the gap
//! between it and `kd` is what the teacher's knowledge adds beyond softening.

use distillery_api::prelude::*;
use distillery_api::spec::LabelSpec;
use distillery_label_kit::{Job, LabelMethod, Labelled, Labels};
use serde::{Deserialize, Serialize};

/// The method (exported as `Labelled<LabelSmoothing>`).
pub struct LabelSmoothing;

/// `[methods.label-smoothing]`. Default epsilon 0.1 (the paper's ImageNet value).
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    epsilon: f64,
}

impl Default for Config {
    fn default() -> Self {
        Self { epsilon: 0.1 }
    }
}

impl LabelMethod for LabelSmoothing {
    const NAME: &'static str = "label-smoothing";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const PAPER: &'static str =
        "Szegedy et al., Rethinking the Inception Architecture for Computer Vision, CVPR 2016";
    const DESCRIPTION: &'static str =
        "random subset with label-smoothed targets (no teacher): the KD family's control";
    type Config = Config;

    fn labels(c: &Config, job: &Job) -> Result<Labels, MethodError> {
        job.label_function(LabelSpec::Smoothing { epsilon: c.epsilon })
    }
}

export_plugin!(Labelled<LabelSmoothing>);
