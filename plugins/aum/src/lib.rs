//! `aum`: area under the margin (Pleiss et al., NeurIPS 2020) as a pruning score. A scoring
//! ConvNet is trained on the train split; at every step each example in the batch gets the
//! margin `logit[assigned] - max other logit`, and its AUM is the mean over its presentations.
//! Low AUM = hard or likely mislabeled. By default the LOWEST-AUM (hardest) examples are kept,
//! as in the AUM baseline of the CCS paper's code (`--data-score-descending 0`); `keep = "easy"`
//! keeps the highest. See README.md for defaults and choices.

use distillery_api::prelude::*;
use distillery_api::rng::derive_seed;
use distillery_pruning_kit::scoring::{self, ScoringDefaults, ScoringOverrides};
use distillery_pruning_kit::{select, Order, Plan, TieBreak};
use serde::Deserialize;

#[derive(Default)]
pub struct Aum;

#[derive(Deserialize, Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
enum Keep {
    /// Lowest AUM first (hardest / most ambiguous).
    Hard,
    /// Highest AUM first (easiest / most prototypical).
    Easy,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Config {
    keep: Keep,
    scoring: ScoringOverrides,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            keep: Keep::Hard,
            scoring: ScoringOverrides::default(),
        }
    }
}

/// ConvNet-3 width 32, 6 epochs, batch 64, lr 0.01 constant, no augmentation.
fn defaults() -> ScoringDefaults {
    ScoringDefaults::convnet(32, 6)
}

impl Method for Aum {
    const NAME: &'static str = "aum";
    const FAMILY: Family = Family::Pruning;
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const PAPER: &'static str = "Pleiss et al., Identifying Mislabeled Data using the Area Under the Margin Ranking, NeurIPS 2020";
    const DESCRIPTION: &'static str =
        "keeps the lowest area-under-the-margin examples of a scoring ConvNet's training run (keep = \"easy\" for the highest)";

    fn compress(&mut self, input: &Input, ctx: &Context) -> Result<Compressed, MethodError> {
        let cfg: Config = ctx.config()?;
        let ctx: &Context = ctx;
        let plan = Plan::from_budget(&input.budget, input.train.len(), Self::NAME)?;
        let sc = cfg
            .scoring
            .resolve(&defaults(), &ctx.protocol().train, false)?;
        let seed = derive_seed(ctx.seeds().selection, "aum/scoring");
        let dyn_ = scoring::train_with_dynamics(
            ctx,
            input.train,
            input.val,
            &sc,
            seed,
            (0.0, 0.98),
            "scoring net",
        )?;
        let scores = dyn_.aum.scores();
        let order = match cfg.keep {
            Keep::Hard => Order::LowestFirst,
            Keep::Easy => Order::HighestFirst,
        };
        let labels = input.train.labels_vec();
        let chosen = select::select_top(
            &scores,
            &labels,
            input.num_classes(),
            plan,
            order,
            &TieBreak::Index,
        );
        let negative = scores.iter().filter(|&&s| s < 0.0).count();
        Ok(
            Compressed::indices(select::to_i64(&chosen)).with_metadata(serde_json::json!({
                "plan": plan.describe(),
                "keep": cfg.keep,
                "scoring": sc,
                "scoring_seed": seed,
                "scoring_val_accuracy": dyn_.val_accuracy,
                "negative_aum": negative,
                "selected_scores": chosen.iter().map(|&i| scores[i]).collect::<Vec<_>>(),
            })),
        )
    }
}

export_plugin!(Aum);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_defaults_and_unknown_keys() {
        let c: Config = serde_json::from_value(serde_json::json!({})).unwrap();
        assert_eq!(c.keep, Keep::Hard);
        let s = c
            .scoring
            .resolve(&defaults(), &scoring::hard_label_recipe(), false)
            .unwrap();
        assert_eq!((s.model.width, s.recipe.epochs), (32, 6));
        assert!(serde_json::from_value::<Config>(serde_json::json!({"keep": "low"})).is_err());
    }
}
