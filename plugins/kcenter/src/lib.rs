//! `kcenter`: greedy k-center (Sener & Savarese, ICLR 2018) in the embedding space of a
//! scoring ConvNet trained on the train split: start from one point, then repeatedly add the
//! point farthest (Euclidean) from its nearest selected center. Per class for IPC budgets,
//! over the whole split for fraction budgets. See README.md for defaults and choices.

use distillery_api::prelude::*;
use distillery_api::rng::derive_seed;
use distillery_pruning_kit::scoring::{self, ScoringDefaults, ScoringOverrides};
use distillery_pruning_kit::{geometry, select, Plan};
use serde::Deserialize;

#[derive(Default)]
pub struct KCenter;

#[derive(Deserialize, Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
enum Start {
    /// The point nearest the group's mean embedding (deterministic).
    Mean,
    /// A point drawn uniformly from the group with the selection seed.
    Random,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Config {
    /// First center of each group.
    start: Start,
    scoring: ScoringOverrides,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            start: Start::Mean,
            scoring: ScoringOverrides::default(),
        }
    }
}

/// Same embedding network as `herding`: ConvNet-3 width 64, 4 epochs, batch 64, lr 0.01.
fn defaults() -> ScoringDefaults {
    ScoringDefaults::convnet(64, 4)
}

impl Method for KCenter {
    const NAME: &'static str = "kcenter";
    const FAMILY: Family = Family::Pruning;
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const PAPER: &'static str =
        "Sener & Savarese, Active Learning for Convolutional Neural Networks: A Core-Set Approach, ICLR 2018";
    const DESCRIPTION: &'static str =
        "greedy k-center of trained-ConvNet embeddings (per class for IPC, global for fractions)";

    fn compress(&mut self, input: &Input, ctx: &Context) -> Result<Compressed, MethodError> {
        let cfg: Config = ctx.config()?;
        let ctx: &Context = ctx;
        let plan = Plan::from_budget(&input.budget, input.train.len(), Self::NAME)?;
        let sc = cfg
            .scoring
            .resolve(&defaults(), &ctx.protocol().train, true)?;
        let sel = ctx.seeds().selection;
        let seed = derive_seed(sel, "kcenter/scoring");
        let (emb, val_acc) =
            scoring::train_split_embeddings(ctx, input.train, input.val, &sc, seed)?;
        ctx.progress(0.95, "k-center");
        let labels = input.train.labels_vec();
        let mut chosen = Vec::new();
        let mut starts = Vec::new();
        for (g, (members, take)) in select::groups(plan, &labels, input.num_classes())
            .into_iter()
            .enumerate()
        {
            if take == 0 {
                continue;
            }
            let pts: Vec<Vec<f32>> = members.iter().map(|&i| emb[i].clone()).collect();
            let first = match cfg.start {
                Start::Mean => geometry::nearest_to_mean(&pts),
                Start::Random => SplitMix64::new(derive_seed(sel, &format!("kcenter/start/{g}")))
                    .below(pts.len() as u64) as usize,
            };
            starts.push(members[first]);
            chosen.extend(
                geometry::kcenter_greedy(&pts, take, first)
                    .into_iter()
                    .map(|j| members[j]),
            );
        }
        Ok(
            Compressed::indices(select::to_i64(&chosen)).with_metadata(serde_json::json!({
                "plan": plan.describe(),
                "start": cfg.start,
                "start_indices": starts,
                "scoring": sc,
                "scoring_seed": seed,
                "scoring_val_accuracy": val_acc,
            })),
        )
    }
}

export_plugin!(KCenter);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_defaults_and_unknown_keys() {
        let c: Config = serde_json::from_value(serde_json::json!({})).unwrap();
        assert_eq!(c.start, Start::Mean);
        let s = c
            .scoring
            .resolve(&defaults(), &scoring::hard_label_recipe(), true)
            .unwrap();
        assert_eq!((s.model.width, s.recipe.epochs), (64, 4));
        let c: Config = serde_json::from_value(serde_json::json!({"start": "random"})).unwrap();
        assert_eq!(c.start, Start::Random);
        assert!(serde_json::from_value::<Config>(serde_json::json!({"start": "far"})).is_err());
        assert!(serde_json::from_value::<Config>(serde_json::json!({"init": "mean"})).is_err());
    }
}
