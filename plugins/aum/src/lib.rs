//! `aum`: area under the margin (Pleiss et al., NeurIPS 2020) as a pruning score. A scoring
//! ConvNet is trained on the train split; at every step each example in the batch gets the
//! margin `logit[assigned] - max other logit`, and its AUM is the mean over its presentations.
//! Low AUM = hard or likely mislabeled. By default the LOWEST-AUM (hardest) examples are kept,
//! as in the AUM baseline of the CCS paper's code (`--data-score-descending 0`); `keep = "easy"`
//! keeps the highest. See README.md for defaults and choices.

use distillery_api::prelude::*;
use distillery_pruning_kit::scoring::{ScoringDefaults, ScoringOverrides};
use distillery_pruning_kit::{Job, Order, Pruning, PruningMethod, Selection, TieBreak};
use serde::{Deserialize, Serialize};

/// The method (exported as `Pruning<Aum>`).
pub struct Aum;

#[derive(Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum Keep {
    /// Lowest AUM first (hardest / most ambiguous).
    #[default]
    Hard,
    /// Highest AUM first (easiest / most prototypical).
    Easy,
}

/// `[methods.aum]`.
#[derive(Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    keep: Keep,
    scoring: ScoringOverrides,
}

impl PruningMethod for Aum {
    const NAME: &'static str = "aum";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const PAPER: &'static str = "Pleiss et al., Identifying Mislabeled Data using the Area Under the Margin Ranking, NeurIPS 2020";
    const DESCRIPTION: &'static str =
        "keeps the lowest area-under-the-margin examples of a scoring ConvNet's training run (keep = \"easy\" for the highest)";
    const ALLOW_ZERO_EPOCHS: bool = false;
    type Config = Config;

    /// ConvNet-3 width 32, 6 epochs, batch 64, lr 0.01 constant, no augmentation.
    const SCORING: ScoringDefaults = ScoringDefaults::convnet(32, 6);

    fn scoring(cfg: &Config) -> &ScoringOverrides {
        &cfg.scoring
    }

    fn select(cfg: &Config, job: &Job) -> Result<Selection, MethodError> {
        let scores = job.dynamics()?.aum.scores();
        let order = match cfg.keep {
            Keep::Hard => Order::LowestFirst,
            Keep::Easy => Order::HighestFirst,
        };
        let chosen = job.top(&scores, order, &TieBreak::Index);
        let negative = scores.iter().filter(|&&s| s < 0.0).count();
        Ok(Selection::new(chosen)
            .with("negative_aum", negative)
            .with_selected_scores(&scores))
    }
}

export_plugin!(Pruning<Aum>);

#[cfg(test)]
mod tests {
    use super::*;
    use distillery_pruning_kit::scoring;

    #[test]
    fn config_defaults_and_unknown_keys() {
        let c: Config = serde_json::from_value(serde_json::json!({})).unwrap();
        assert_eq!(c.keep, Keep::Hard);
        let s = c
            .scoring
            .resolve(&Aum::SCORING, &scoring::hard_label_recipe(), false)
            .unwrap();
        assert_eq!((s.model.width, s.recipe.epochs), (32, 6));
        assert!(serde_json::from_value::<Config>(serde_json::json!({"keep": "low"})).is_err());
    }
}
