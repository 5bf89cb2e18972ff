//! `ccs`: coverage-centric coreset selection (Zheng et al., ICLR 2023). A difficulty score (AUM
//! by default, as the paper's CIFAR runs; or forgetting) comes from one scoring ConvNet's
//! training run; the hardest `beta` fraction is pruned, the remaining score range is split into
//! `strata` equal-width strata, and the budget is spread over the strata from the smallest one
//! up, drawing uniformly within each (seeded). Per class for IPC budgets, over the whole split
//! for fraction budgets. See README.md for defaults and choices.

use distillery_api::prelude::*;
use distillery_api::rng::derive_seed;
use distillery_pruning_kit::scoring::{self, ScoringDefaults, ScoringOverrides};
use distillery_pruning_kit::{ccs, select, Plan};
use serde::Deserialize;

#[derive(Default)]
pub struct Ccs;

#[derive(Deserialize, Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
enum Score {
    /// Area under the margin; difficulty = -AUM.
    Aum,
    /// Forgetting events; never-learned examples are the hardest.
    Forgetting,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Config {
    score: Score,
    /// Fraction of each group pruned as too hard before stratified sampling.
    beta: f64,
    /// Number of equal-width strata.
    strata: usize,
    scoring: ScoringOverrides,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            score: Score::Aum,
            beta: 0.3,
            strata: 50,
            scoring: ScoringOverrides::default(),
        }
    }
}

/// Same scoring run as `aum` / `forgetting`: ConvNet-3 width 32, 6 epochs, batch 64, lr 0.01.
fn defaults() -> ScoringDefaults {
    ScoringDefaults::convnet(32, 6)
}

impl Method for Ccs {
    const NAME: &'static str = "ccs";
    const FAMILY: Family = Family::Pruning;
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const PAPER: &'static str =
        "Zheng et al., Coverage-centric Coreset Selection for High Pruning Rates, ICLR 2023";
    const DESCRIPTION: &'static str =
        "prunes the hardest beta, then samples evenly over equal-width difficulty strata (AUM by default)";

    fn compress(&mut self, input: &Input, ctx: &Context) -> Result<Compressed, MethodError> {
        let cfg: Config = ctx.config()?;
        if !(0.0..1.0).contains(&cfg.beta) {
            return Err(MethodError::Config(format!(
                "beta must be in [0, 1), got {}",
                cfg.beta
            )));
        }
        if cfg.strata == 0 {
            return Err(MethodError::Config("strata must be at least 1".into()));
        }
        let ctx: &Context = ctx;
        let plan = Plan::from_budget(&input.budget, input.train.len(), Self::NAME)?;
        let sc = cfg
            .scoring
            .resolve(&defaults(), &ctx.protocol().train, false)?;
        let sel = ctx.seeds().selection;
        let seed = derive_seed(sel, "ccs/scoring");
        let dyn_ = scoring::train_with_dynamics(
            ctx,
            input.train,
            input.val,
            &sc,
            seed,
            (0.0, 0.98),
            "scoring net",
        )?;
        let difficulty: Vec<f64> = match cfg.score {
            Score::Aum => dyn_.aum.scores().into_iter().map(|a| -a).collect(),
            Score::Forgetting => dyn_.forgetting.scores(),
        };
        let labels = input.train.labels_vec();
        let mut chosen = Vec::new();
        let mut reports = Vec::new();
        for (g, (members, take)) in select::groups(plan, &labels, input.num_classes())
            .into_iter()
            .enumerate()
        {
            let (s, rep) = ccs::select(
                &difficulty,
                &members,
                take,
                cfg.beta,
                cfg.strata,
                derive_seed(sel, &format!("ccs/sample/{g}")),
            );
            chosen.extend(s);
            reports.push(rep);
        }
        Ok(
            Compressed::indices(select::to_i64(&chosen)).with_metadata(serde_json::json!({
                "plan": plan.describe(),
                "score": cfg.score,
                "beta": cfg.beta,
                "strata": cfg.strata,
                "scoring": sc,
                "scoring_seed": seed,
                "scoring_val_accuracy": dyn_.val_accuracy,
                "groups": reports,
            })),
        )
    }
}

export_plugin!(Ccs);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_defaults_and_unknown_keys() {
        let c: Config = serde_json::from_value(serde_json::json!({})).unwrap();
        assert_eq!((c.score, c.beta, c.strata), (Score::Aum, 0.3, 50));
        let s = c
            .scoring
            .resolve(&defaults(), &scoring::hard_label_recipe(), false)
            .unwrap();
        assert_eq!((s.model.width, s.recipe.epochs), (32, 6));
        assert!(serde_json::from_value::<Config>(serde_json::json!({"mis_ratio": 0.3})).is_err());
    }
}
