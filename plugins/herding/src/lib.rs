//! `herding`: greedy herding in the embedding space of a scoring ConvNet trained on the train
//! split (Welling 2009; the coreset baseline of the DC / DSA / DM papers and DeepCore).
//!
//! Per group (one group per class under an IPC budget, the whole split under a fraction
//! budget), repeatedly adds the image whose embedding brings the mean of the selected
//! embeddings closest to the group's mean embedding. See README.md for defaults and choices.

use distillery_api::prelude::*;
use distillery_pruning_kit::scoring::{ScoringDefaults, ScoringOverrides};
use distillery_pruning_kit::{geometry, Job, Pruning, PruningMethod, Selection};
use serde::{Deserialize, Serialize};

/// The method (exported as `Pruning<Herding>`).
pub struct Herding;

/// `[methods.herding]`.
#[derive(Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Overrides of the embedding network's recipe (defaults: `Herding::SCORING`).
    scoring: ScoringOverrides,
}

impl PruningMethod for Herding {
    const NAME: &'static str = "herding";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const PAPER: &'static str =
        "Welling, Herding Dynamical Weights to Learn, ICML 2009 (coreset baseline of DC, Zhao et al. ICLR 2021)";
    const DESCRIPTION: &'static str =
        "greedy herding of trained-ConvNet embeddings towards the class mean (per class for IPC, global for fractions)";
    const ALLOW_ZERO_EPOCHS: bool = true;
    type Config = Config;

    /// ConvNet-3 width 64, 4 epochs, batch 64, SGD lr 0.01 (momentum / weight decay from the
    /// protocol), constant lr, no augmentation.
    const SCORING: ScoringDefaults = ScoringDefaults::convnet(64, 4);

    fn scoring(cfg: &Config) -> &ScoringOverrides {
        &cfg.scoring
    }

    fn select(_cfg: &Config, job: &Job) -> Result<Selection, MethodError> {
        let emb = job.embeddings()?;
        job.ctx.progress(0.95, "herding");
        let mut chosen = Vec::new();
        for (members, take) in job.groups() {
            let pts: Vec<Vec<f32>> = members.iter().map(|&i| emb[i].clone()).collect();
            chosen.extend(
                geometry::herding(&pts, take)
                    .into_iter()
                    .map(|j| members[j]),
            );
        }
        Ok(Selection::new(chosen).with("embedding_dim", emb.first().map_or(0, Vec::len)))
    }
}

export_plugin!(Pruning<Herding>);

#[cfg(test)]
mod tests {
    use super::*;
    use distillery_pruning_kit::scoring;

    #[test]
    fn config_defaults_and_unknown_keys() {
        let c: Config = serde_json::from_value(serde_json::json!({})).unwrap();
        let s = c
            .scoring
            .resolve(&Herding::SCORING, &scoring::hard_label_recipe(), true)
            .unwrap();
        assert_eq!((s.model.width, s.recipe.epochs), (64, 4));
        assert!(serde_json::from_value::<Config>(serde_json::json!({"scorng": {}})).is_err());
    }
}
