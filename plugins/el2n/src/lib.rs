//! `el2n`: error L2-norm (Paul et al., NeurIPS 2021). `models` independently initialised
//! scoring ConvNets are trained briefly on the train split ("early in training"); each
//! example's score is `|| softmax(f(x)) - onehot(y) ||_2` (eval mode, no augmentation),
//! averaged over the models. The highest-scoring examples are kept. See README.md.

use distillery_api::prelude::*;
use distillery_pruning_kit::scores as sc_;
use distillery_pruning_kit::scoring::{self, ScoringDefaults, ScoringOverrides};
use distillery_pruning_kit::{select, Order, Plan, TieBreak};
use serde::Deserialize;

#[derive(Default)]
pub struct El2n;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Config {
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

/// ConvNet-3 width 32, 2 epochs, batch 64, lr 0.01 constant, no augmentation.
fn defaults() -> ScoringDefaults {
    ScoringDefaults::convnet(32, 2)
}

impl Method for El2n {
    const NAME: &'static str = "el2n";
    const FAMILY: Family = Family::Pruning;
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const PAPER: &'static str =
        "Paul, Ganguli & Dziugaite, Deep Learning on a Data Diet: Finding Important Examples Early in Training, NeurIPS 2021";
    const DESCRIPTION: &'static str =
        "keeps the highest EL2N scores (||softmax - onehot||, early in training, averaged over models)";

    fn compress(&mut self, input: &Input, ctx: &Context) -> Result<Compressed, MethodError> {
        let cfg: Config = ctx.config()?;
        if cfg.models == 0 {
            return Err(MethodError::Config("models must be at least 1".into()));
        }
        let ctx: &Context = ctx;
        let plan = Plan::from_budget(&input.budget, input.train.len(), Self::NAME)?;
        let sc = cfg
            .scoring
            .resolve(&defaults(), &ctx.protocol().train, true)?;
        let labels = input.train.labels_vec();
        let (scores, val_acc) = scoring::averaged_over_models(
            ctx,
            input.train,
            input.val,
            &sc,
            Self::NAME,
            cfg.models,
            0.95,
            |_vs, net, _span, _what| {
                let z = sc_::rows(&scoring::logits(ctx, net, &input.train.images));
                Ok(z.iter()
                    .zip(&labels)
                    .map(|(r, &y)| sc_::el2n(r, y as usize))
                    .collect())
            },
        )?;
        let chosen = select::select_top(
            &scores,
            &labels,
            input.num_classes(),
            plan,
            Order::HighestFirst,
            &TieBreak::Index,
        );
        Ok(
            Compressed::indices(select::to_i64(&chosen)).with_metadata(serde_json::json!({
                "plan": plan.describe(),
                "models": cfg.models,
                "scoring": sc,
                "scoring_val_accuracy": val_acc,
                "selected_scores": chosen.iter().map(|&i| scores[i]).collect::<Vec<_>>(),
            })),
        )
    }
}

export_plugin!(El2n);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_defaults_and_unknown_keys() {
        let c: Config = serde_json::from_value(serde_json::json!({})).unwrap();
        assert_eq!(c.models, 3);
        let s = c
            .scoring
            .resolve(&defaults(), &scoring::hard_label_recipe(), true)
            .unwrap();
        assert_eq!((s.model.width, s.recipe.epochs), (32, 2));
        assert!(serde_json::from_value::<Config>(serde_json::json!({"model": 3})).is_err());
    }
}
