//! `herding`: greedy herding in the embedding space of a scoring ConvNet trained on the train
//! split (Welling 2009; the coreset baseline of the DC / DSA / DM papers and DeepCore).
//!
//! Per group (one group per class under an IPC budget, the whole split under a fraction
//! budget), repeatedly adds the image whose embedding brings the mean of the selected
//! embeddings closest to the group's mean embedding. See README.md for defaults and choices.

use distillery_api::prelude::*;
use distillery_api::rng::derive_seed;
use distillery_pruning_kit::scoring::{self, ScoringDefaults, ScoringOverrides};
use distillery_pruning_kit::{geometry, select, Plan};
use serde::Deserialize;

#[derive(Default)]
pub struct Herding;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct Config {
    /// Overrides of the embedding network's recipe (defaults: [`defaults`]).
    scoring: ScoringOverrides,
}

/// ConvNet-3 width 64, 4 epochs, batch 64, SGD lr 0.01 (momentum / weight decay from the
/// protocol), constant lr, no augmentation.
fn defaults() -> ScoringDefaults {
    ScoringDefaults::convnet(64, 4)
}

impl Method for Herding {
    const NAME: &'static str = "herding";
    const FAMILY: Family = Family::Pruning;
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const PAPER: &'static str =
        "Welling, Herding Dynamical Weights to Learn, ICML 2009 (coreset baseline of DC, Zhao et al. ICLR 2021)";
    const DESCRIPTION: &'static str =
        "greedy herding of trained-ConvNet embeddings towards the class mean (per class for IPC, global for fractions)";

    fn compress(&mut self, input: &Input, ctx: &Context) -> Result<Compressed, MethodError> {
        let cfg: Config = ctx.config()?;
        let ctx: &Context = ctx;
        let plan = Plan::from_budget(&input.budget, input.train.len(), Self::NAME)?;
        let sc = cfg
            .scoring
            .resolve(&defaults(), &ctx.protocol().train, true)?;
        let seed = derive_seed(ctx.seeds().selection, "herding/scoring");
        let (emb, val_acc) =
            scoring::train_split_embeddings(ctx, input.train, input.val, &sc, seed)?;
        ctx.progress(0.95, "herding");
        let labels = input.train.labels_vec();
        let mut chosen = Vec::new();
        for (members, take) in select::groups(plan, &labels, input.num_classes()) {
            let pts: Vec<Vec<f32>> = members.iter().map(|&i| emb[i].clone()).collect();
            chosen.extend(
                geometry::herding(&pts, take)
                    .into_iter()
                    .map(|j| members[j]),
            );
        }
        Ok(
            Compressed::indices(select::to_i64(&chosen)).with_metadata(serde_json::json!({
                "plan": plan.describe(),
                "scoring": sc,
                "scoring_seed": seed,
                "scoring_val_accuracy": val_acc,
                "embedding_dim": emb.first().map_or(0, Vec::len),
            })),
        )
    }
}

export_plugin!(Herding);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_defaults_and_unknown_keys() {
        let c: Config = serde_json::from_value(serde_json::json!({})).unwrap();
        let s = c
            .scoring
            .resolve(&defaults(), &scoring::hard_label_recipe(), true)
            .unwrap();
        assert_eq!((s.model.width, s.recipe.epochs), (64, 4));
        assert!(serde_json::from_value::<Config>(serde_json::json!({"scorng": {}})).is_err());
    }
}
