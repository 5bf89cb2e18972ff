//! `forgetting`: example forgetting (Toneva et al., ICLR 2019). A scoring ConvNet is trained on
//! the train split; every time an example appears in a minibatch its correctness (argmax of the
//! step's logits == label) is recorded, and a forgetting event is a correct -> incorrect
//! transition between consecutive presentations. Examples never classified correctly count as
//! forgotten infinitely often. The most forgotten examples are kept; unforgettable ones come
//! last. See README.md for defaults and choices.

use distillery_api::prelude::*;
use distillery_pruning_kit::scoring::{ScoringDefaults, ScoringOverrides};
use distillery_pruning_kit::{Job, Order, Pruning, PruningMethod, Selection, TieBreak};
use serde::{Deserialize, Serialize};

/// The method (exported as `Pruning<Forgetting>`).
pub struct Forgetting;

#[derive(Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum Ties {
    /// Equal counts in a random order drawn from the selection seed.
    #[default]
    Seeded,
    /// Equal counts by ascending index.
    Index,
}

/// `[methods.forgetting]`.
#[derive(Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    ties: Ties,
    scoring: ScoringOverrides,
}

impl PruningMethod for Forgetting {
    const NAME: &'static str = "forgetting";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const PAPER: &'static str = "Toneva et al., An Empirical Study of Example Forgetting during Deep Neural Network Learning, ICLR 2019";
    const DESCRIPTION: &'static str =
        "keeps the most forgotten examples (never-learned first) of a scoring ConvNet's training run";
    const ALLOW_ZERO_EPOCHS: bool = false;
    type Config = Config;

    /// ConvNet-3 width 32, 6 epochs (6 presentations per example), batch 64, lr 0.01 constant,
    /// no augmentation.
    const SCORING: ScoringDefaults = ScoringDefaults::convnet(32, 6);

    fn scoring(cfg: &Config) -> &ScoringOverrides {
        &cfg.scoring
    }

    fn select(cfg: &Config, job: &Job) -> Result<Selection, MethodError> {
        let scores = job.dynamics()?.forgetting.scores();
        let tie = match cfg.ties {
            Ties::Seeded => TieBreak::Seeded(job.seed("ties")),
            Ties::Index => TieBreak::Index,
        };
        let chosen = job.top(&scores, Order::HighestFirst, &tie);
        let never = scores.iter().filter(|s| s.is_infinite()).count();
        let unforgettable = scores.iter().filter(|&&s| s == 0.0).count();
        let max_finite = scores
            .iter()
            .cloned()
            .filter(|s| s.is_finite())
            .fold(0.0, f64::max);
        // Never-learned examples (+inf) are recorded as -1.
        let selected: Vec<f64> = chosen
            .iter()
            .map(|&i| {
                if scores[i].is_finite() {
                    scores[i]
                } else {
                    -1.0
                }
            })
            .collect();
        Ok(Selection::new(chosen)
            .with("never_learned", never)
            .with("unforgettable", unforgettable)
            .with("max_forgetting_events", max_finite)
            .with("selected_scores", selected))
    }
}

export_plugin!(Pruning<Forgetting>);

#[cfg(test)]
mod tests {
    use super::*;
    use distillery_pruning_kit::scoring;

    #[test]
    fn config_defaults_and_unknown_keys() {
        let c: Config = serde_json::from_value(serde_json::json!({})).unwrap();
        assert_eq!(c.ties, Ties::Seeded);
        let s = c
            .scoring
            .resolve(&Forgetting::SCORING, &scoring::hard_label_recipe(), false)
            .unwrap();
        assert_eq!((s.model.width, s.recipe.epochs), (32, 6));
        assert!(serde_json::from_value::<Config>(serde_json::json!({"tie": "index"})).is_err());
    }
}
