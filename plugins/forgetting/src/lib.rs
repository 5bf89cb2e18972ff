//! `forgetting`: example forgetting (Toneva et al., ICLR 2019). A scoring ConvNet is trained on
//! the train split; every time an example appears in a minibatch its correctness (argmax of the
//! step's logits == label) is recorded, and a forgetting event is a correct -> incorrect
//! transition between consecutive presentations. Examples never classified correctly count as
//! forgotten infinitely often. The most forgotten examples are kept; unforgettable ones come
//! last. See README.md for defaults and choices.

use distillery_api::prelude::*;
use distillery_api::rng::derive_seed;
use distillery_pruning_kit::scoring::{self, ScoringDefaults, ScoringOverrides};
use distillery_pruning_kit::{select, Order, Plan, TieBreak};
use serde::Deserialize;

#[derive(Default)]
pub struct Forgetting;

#[derive(Deserialize, Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
enum Ties {
    /// Equal counts in a random order drawn from the selection seed.
    Seeded,
    /// Equal counts by ascending index.
    Index,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Config {
    ties: Ties,
    scoring: ScoringOverrides,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            ties: Ties::Seeded,
            scoring: ScoringOverrides::default(),
        }
    }
}

/// ConvNet-3 width 32, 6 epochs (6 presentations per example), batch 64, lr 0.01 constant,
/// no augmentation.
fn defaults() -> ScoringDefaults {
    ScoringDefaults::convnet(32, 6)
}

impl Method for Forgetting {
    const NAME: &'static str = "forgetting";
    const FAMILY: Family = Family::Pruning;
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const PAPER: &'static str = "Toneva et al., An Empirical Study of Example Forgetting during Deep Neural Network Learning, ICLR 2019";
    const DESCRIPTION: &'static str =
        "keeps the most forgotten examples (never-learned first) of a scoring ConvNet's training run";

    fn compress(&mut self, input: &Input, ctx: &Context) -> Result<Compressed, MethodError> {
        let cfg: Config = ctx.config()?;
        let ctx: &Context = ctx;
        let plan = Plan::from_budget(&input.budget, input.train.len(), Self::NAME)?;
        let sc = cfg
            .scoring
            .resolve(&defaults(), &ctx.protocol().train, false)?;
        let sel = ctx.seeds().selection;
        let seed = derive_seed(sel, "forgetting/scoring");
        let dyn_ = scoring::train_with_dynamics(
            ctx,
            input.train,
            input.val,
            &sc,
            seed,
            (0.0, 0.98),
            "scoring net",
        )?;
        let scores = dyn_.forgetting.scores();
        let tie = match cfg.ties {
            Ties::Seeded => TieBreak::Seeded(derive_seed(sel, "forgetting/ties")),
            Ties::Index => TieBreak::Index,
        };
        let labels = input.train.labels_vec();
        let chosen = select::select_top(
            &scores,
            &labels,
            input.num_classes(),
            plan,
            Order::HighestFirst,
            &tie,
        );
        let never = scores.iter().filter(|s| s.is_infinite()).count();
        let unforgettable = scores.iter().filter(|&&s| s == 0.0).count();
        let max_finite = scores
            .iter()
            .cloned()
            .filter(|s| s.is_finite())
            .fold(0.0, f64::max);
        Ok(Compressed::indices(select::to_i64(&chosen)).with_metadata(serde_json::json!({
            "plan": plan.describe(),
            "ties": cfg.ties,
            "scoring": sc,
            "scoring_seed": seed,
            "scoring_val_accuracy": dyn_.val_accuracy,
            "never_learned": never,
            "unforgettable": unforgettable,
            "max_forgetting_events": max_finite,
            "selected_scores": chosen.iter().map(|&i| if scores[i].is_finite() { scores[i] } else { -1.0 }).collect::<Vec<_>>(),
        })))
    }
}

export_plugin!(Forgetting);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_defaults_and_unknown_keys() {
        let c: Config = serde_json::from_value(serde_json::json!({})).unwrap();
        assert_eq!(c.ties, Ties::Seeded);
        let s = c
            .scoring
            .resolve(&defaults(), &scoring::hard_label_recipe(), false)
            .unwrap();
        assert_eq!((s.model.width, s.recipe.epochs), (32, 6));
        assert!(serde_json::from_value::<Config>(serde_json::json!({"tie": "index"})).is_err());
    }
}
