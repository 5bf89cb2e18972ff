//! `kcenter`: greedy k-center (Sener & Savarese, ICLR 2018) in the embedding space of a
//! scoring ConvNet trained on the train split: start from one point, then repeatedly add the
//! point farthest (Euclidean) from its nearest selected center. Per class for IPC budgets,
//! over the whole split for fraction budgets. See README.md for defaults and choices.

use distillery_api::prelude::*;
use distillery_pruning_kit::scoring::{ScoringDefaults, ScoringOverrides};
use distillery_pruning_kit::{geometry, Job, Pruning, PruningMethod, Selection};
use serde::{Deserialize, Serialize};

/// The method (exported as `Pruning<KCenter>`).
pub struct KCenter;

#[derive(Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum Start {
    /// The point nearest the group's mean embedding (deterministic).
    #[default]
    Mean,
    /// A point drawn uniformly from the group with the selection seed.
    Random,
}

/// `[methods.kcenter]`.
#[derive(Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// First center of each group.
    start: Start,
    scoring: ScoringOverrides,
}

impl PruningMethod for KCenter {
    const NAME: &'static str = "kcenter";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const PAPER: &'static str =
        "Sener & Savarese, Active Learning for Convolutional Neural Networks: A Core-Set Approach, ICLR 2018";
    const DESCRIPTION: &'static str =
        "greedy k-center of trained-ConvNet embeddings (per class for IPC, global for fractions)";
    const ALLOW_ZERO_EPOCHS: bool = true;
    type Config = Config;

    /// Same embedding network as `herding`: ConvNet-3 width 64, 4 epochs, batch 64, lr 0.01.
    const SCORING: ScoringDefaults = ScoringDefaults::convnet(64, 4);

    fn scoring(cfg: &Config) -> &ScoringOverrides {
        &cfg.scoring
    }

    fn select(cfg: &Config, job: &Job) -> Result<Selection, MethodError> {
        let emb = job.embeddings()?;
        job.ctx.progress(0.95, "k-center");
        let mut chosen = Vec::new();
        let mut starts = Vec::new();
        for (g, (members, take)) in job.groups().into_iter().enumerate() {
            if take == 0 {
                continue;
            }
            let pts: Vec<Vec<f32>> = members.iter().map(|&i| emb[i].clone()).collect();
            let first = match cfg.start {
                Start::Mean => geometry::nearest_to_mean(&pts),
                Start::Random => SplitMix64::new(job.seed(&format!("start/{g}")))
                    .below(pts.len() as u64) as usize,
            };
            starts.push(members[first]);
            chosen.extend(
                geometry::kcenter_greedy(&pts, take, first)
                    .into_iter()
                    .map(|j| members[j]),
            );
        }
        Ok(Selection::new(chosen).with("start_indices", starts))
    }
}

export_plugin!(Pruning<KCenter>);

#[cfg(test)]
mod tests {
    use super::*;
    use distillery_pruning_kit::scoring;

    #[test]
    fn config_defaults_and_unknown_keys() {
        let c: Config = serde_json::from_value(serde_json::json!({})).unwrap();
        assert_eq!(c.start, Start::Mean);
        let s = c
            .scoring
            .resolve(&KCenter::SCORING, &scoring::hard_label_recipe(), true)
            .unwrap();
        assert_eq!((s.model.width, s.recipe.epochs), (64, 4));
        let c: Config = serde_json::from_value(serde_json::json!({"start": "random"})).unwrap();
        assert_eq!(c.start, Start::Random);
        assert!(serde_json::from_value::<Config>(serde_json::json!({"start": "far"})).is_err());
        assert!(serde_json::from_value::<Config>(serde_json::json!({"init": "mean"})).is_err());
    }
}
