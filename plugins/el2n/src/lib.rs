//! `el2n`: error L2-norm (Paul et al., NeurIPS 2021). `models` independently initialised
//! scoring ConvNets are trained briefly on the train split ("early in training"); each
//! example's score is `|| softmax(f(x)) - onehot(y) ||_2` (eval mode, no augmentation),
//! averaged over the models. The highest-scoring examples are kept. See README.md.

use distillery_api::prelude::*;
use distillery_pruning_kit::scores as sc_;
use distillery_pruning_kit::scoring::{self, ScoringDefaults, ScoringOverrides};
use distillery_pruning_kit::{Job, Order, Pruning, PruningMethod, Selection, TieBreak};
use serde::{Deserialize, Serialize};

/// The method (exported as `Pruning<El2n>`).
pub struct El2n;

/// `[methods.el2n]`.
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Independently initialised scoring models the score is averaged over (paper: 10).
    models: usize,
    scoring: ScoringOverrides,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            models: 3,
            scoring: ScoringOverrides::default(),
        }
    }
}

impl PruningMethod for El2n {
    const NAME: &'static str = "el2n";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const PAPER: &'static str =
        "Paul, Ganguli & Dziugaite, Deep Learning on a Data Diet: Finding Important Examples Early in Training, NeurIPS 2021";
    const DESCRIPTION: &'static str =
        "keeps the highest EL2N scores (||softmax - onehot||, early in training, averaged over models)";
    const ALLOW_ZERO_EPOCHS: bool = true;
    type Config = Config;

    /// ConvNet-3 width 32, 2 epochs, batch 64, lr 0.01 constant, no augmentation.
    const SCORING: ScoringDefaults = ScoringDefaults::convnet(32, 2);

    fn scoring(cfg: &Config) -> &ScoringOverrides {
        &cfg.scoring
    }

    fn check(cfg: &Config) -> Result<(), MethodError> {
        if cfg.models == 0 {
            return Err(MethodError::Config("models must be at least 1".into()));
        }
        Ok(())
    }

    fn select(cfg: &Config, job: &Job) -> Result<Selection, MethodError> {
        let scores = job.averaged_over_models(cfg.models, 0.95, |_vs, net, _span, _what| {
            let z = sc_::rows(&scoring::logits(job.ctx, net, &job.input.train.images));
            Ok(z.iter()
                .zip(&job.labels)
                .map(|(r, &y)| sc_::el2n(r, y as usize))
                .collect())
        })?;
        let chosen = job.top(&scores, Order::HighestFirst, &TieBreak::Index);
        Ok(Selection::new(chosen).with_selected_scores(&scores))
    }
}

export_plugin!(Pruning<El2n>);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_defaults_and_unknown_keys() {
        let c: Config = serde_json::from_value(serde_json::json!({})).unwrap();
        assert_eq!(c.models, 3);
        let s = c
            .scoring
            .resolve(&El2n::SCORING, &scoring::hard_label_recipe(), true)
            .unwrap();
        assert_eq!((s.model.width, s.recipe.epochs), (32, 2));
        assert!(serde_json::from_value::<Config>(serde_json::json!({"model": 3})).is_err());
    }
}
