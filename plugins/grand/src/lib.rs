//! `grand`: gradient normed score (Paul et al., NeurIPS 2021). `models` independently
//! initialised scoring ConvNets are trained briefly (or not at all: `scoring.epochs = 0` is the
//! paper's GraNd at initialisation); each example's score is the L2 norm of the gradient of its
//! cross-entropy loss w.r.t. the parameters (eval mode, no augmentation), averaged over the
//! models. The highest-scoring examples are kept. `gradient = "full"` (default) computes the
//! exact norm over all parameters with one backward pass per example; `gradient = "last-layer"`
//! uses the closed form over the final linear layer (DeepCore's approximation). See README.md.

use distillery_api::prelude::*;
use distillery_pruning_kit::scores as sc_;
use distillery_pruning_kit::scoring::{self, ScoringDefaults, ScoringOverrides};
use distillery_pruning_kit::{select, Order, Plan, TieBreak};
use serde::Deserialize;

#[derive(Default)]
pub struct Grand;

#[derive(Deserialize, Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
enum Gradient {
    /// Exact per-example gradient norm over all trainable parameters.
    Full,
    /// `||p - y|| * sqrt(||h||^2 + 1)`: exact for the final layer's weight and bias only.
    LastLayer,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Config {
    /// Independently initialised scoring models the score is averaged over (paper: 10).
    models: usize,
    gradient: Gradient,
    scoring: ScoringOverrides,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            models: 3,
            gradient: Gradient::Full,
            scoring: ScoringOverrides::default(),
        }
    }
}

/// ConvNet-3 width 32, 2 epochs, batch 64, lr 0.01 constant, no augmentation.
fn defaults() -> ScoringDefaults {
    ScoringDefaults::convnet(32, 2)
}

impl Method for Grand {
    const NAME: &'static str = "grand";
    const FAMILY: Family = Family::Pruning;
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const PAPER: &'static str =
        "Paul, Ganguli & Dziugaite, Deep Learning on a Data Diet: Finding Important Examples Early in Training, NeurIPS 2021";
    const DESCRIPTION: &'static str =
        "keeps the highest GraNd scores (per-example loss-gradient norm, early in training, averaged over models)";

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
            0.6,
            |vs, net, span, what| match cfg.gradient {
                Gradient::Full => Ok(scoring::per_example_grad_norms(
                    ctx,
                    vs,
                    net,
                    &input.train.images,
                    &input.train.labels,
                    span,
                    what,
                )),
                Gradient::LastLayer => {
                    let h = scoring::embed(ctx, net, &input.train.images);
                    let h_sq: Vec<f64> =
                        Vec::<f64>::try_from(h.square().sum_dim_intlist(1, false, Kind::Double))
                            .map_err(MethodError::Torch)?;
                    let z = sc_::rows(&net.classify(&h.to_device(ctx.device())).detach());
                    Ok(z.iter()
                        .zip(&labels)
                        .zip(&h_sq)
                        .map(|((r, &y), &hs)| sc_::grand_last_layer(r, y as usize, hs))
                        .collect())
                }
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
                "gradient": cfg.gradient,
                "scoring": sc,
                "scoring_val_accuracy": val_acc,
                "selected_scores": chosen.iter().map(|&i| scores[i]).collect::<Vec<_>>(),
            })),
        )
    }
}

export_plugin!(Grand);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_defaults_and_unknown_keys() {
        let c: Config = serde_json::from_value(serde_json::json!({})).unwrap();
        assert_eq!((c.models, c.gradient), (3, Gradient::Full));
        let s = c
            .scoring
            .resolve(&defaults(), &scoring::hard_label_recipe(), true)
            .unwrap();
        assert_eq!((s.model.width, s.recipe.epochs), (32, 2));
        let c: Config =
            serde_json::from_value(serde_json::json!({"gradient": "last-layer"})).unwrap();
        assert_eq!(c.gradient, Gradient::LastLayer);
        assert!(serde_json::from_value::<Config>(serde_json::json!({"grad": "full"})).is_err());
    }
}
