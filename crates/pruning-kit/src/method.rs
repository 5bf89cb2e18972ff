//! The skeleton every pruning plugin shares: a plugin is its configuration, its metadata and
//! its selection idea ([`PruningMethod`]); [`Pruning`] turns it into a
//! [`distillery_api::Method`] that owns everything else.
//!
//! What [`Pruning::compress`](distillery_api::Method::compress) does, in this order (so the
//! first problem found is the one reported):
//!
//! 1. parses `[methods.<name>]` into [`PruningMethod::Config`] (`Context::config`: a misspelt
//!    key is reported by name; the struct carries `#[serde(deny_unknown_fields, default)]`);
//! 2. runs [`PruningMethod::check`] (value checks serde cannot express);
//! 3. turns the budget into a [`Plan`] ([`Plan::from_budget`]: IPC → class-balanced, fraction →
//!    global, bytes → `MethodError::Unsupported`);
//! 4. resolves the `scoring` table against [`PruningMethod::SCORING`] and the
//!    protocol's `[train]` recipe ([`ScoringOverrides::resolve`]);
//! 5. calls [`PruningMethod::select`] with a [`Job`] (the plan, the resolved scoring recipe,
//!    the labels, seeds and the scoring-network helpers);
//! 6. returns the chosen indices with the cell metadata: the configuration as parsed (defaults
//!    filled in), `"plan"` ([`Plan::describe`]), `"scoring"` (the resolved recipe), what the
//!    job's scoring helpers trained (`"scoring_seed"`, `"scoring_val_accuracy"`) and the keys
//!    the method added to its [`Selection`] (a later key replaces an earlier one).
//!
//! The plugin's `lib.rs` then reads:
//!
//! ```no_run
//! use distillery_api::prelude::*;
//! use distillery_pruning_kit::scoring::{ScoringDefaults, ScoringOverrides};
//! use distillery_pruning_kit::{Job, Order, Pruning, PruningMethod, Selection, TieBreak};
//! use serde::{Deserialize, Serialize};
//!
//! pub struct Loss;
//!
//! #[derive(Deserialize, Serialize, Default)]
//! #[serde(deny_unknown_fields, default)]
//! pub struct Config {
//!     scoring: ScoringOverrides,
//! }
//!
//! impl PruningMethod for Loss {
//!     const NAME: &'static str = "loss";
//!     const VERSION: &'static str = env!("CARGO_PKG_VERSION");
//!     const PAPER: &'static str = "Author et al., Venue 2024";
//!     const DESCRIPTION: &'static str = "keeps the highest-loss examples";
//!     const ALLOW_ZERO_EPOCHS: bool = true;
//!     type Config = Config;
//!     const SCORING: ScoringDefaults = ScoringDefaults::convnet(32, 2);
//!     fn scoring(cfg: &Config) -> &ScoringOverrides {
//!         &cfg.scoring
//!     }
//!     fn select(_cfg: &Config, job: &Job) -> Result<Selection, MethodError> {
//!         let scores = vec![0.0; job.labels.len()]; // the method's idea goes here
//!         Ok(Selection::new(job.top(&scores, Order::HighestFirst, &TieBreak::Index)))
//!     }
//! }
//!
//! export_plugin!(Pruning<Loss>);
//! ```

use crate::scoring::{self, Dynamics, Scoring, ScoringDefaults, ScoringOverrides};
use crate::select::{self, Order, Plan, TieBreak};
use distillery_api::nn::Network;
use distillery_api::rng::derive_seed;
use distillery_api::{Compressed, Context, Family, Input, Method, MethodError};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};
use std::cell::RefCell;
use std::marker::PhantomData;

/// A coreset-selection method: its configuration, its metadata and its selection idea.
///
/// Implemented by a unit struct in the plugin; the plugin exports `Pruning<ItsStruct>` with
/// `export_plugin!`. Its family is always [`Family::Pruning`].
pub trait PruningMethod: 'static {
    /// Unique, lowercase, `[a-z0-9-]`: the plugin's name on the command line, in
    /// `[methods.<name>]` and the prefix of every seed label ([`Job::seed`]).
    const NAME: &'static str;
    /// The method's version: always `env!("CARGO_PKG_VERSION")`, i.e. the `version` of the
    /// plugin's own Cargo.toml, bumped when the method's output changes (see the README).
    const VERSION: &'static str;
    /// Paper reference.
    const PAPER: &'static str;
    /// One line for `bench list`.
    const DESCRIPTION: &'static str;
    /// Whether `scoring.epochs = 0` (scoring at initialisation) is allowed.
    const ALLOW_ZERO_EPOCHS: bool;

    /// The `[methods.<name>]` table: `#[serde(deny_unknown_fields, default)]`, with a
    /// `scoring: ScoringOverrides` field. It must serialise to a table: it is recorded as the
    /// cell's metadata (its `scoring` entry replaced by the resolved recipe).
    type Config: DeserializeOwned + Serialize;

    /// The method's default scoring network and recipe, e.g. `ScoringDefaults::convnet(64, 4)`.
    const SCORING: ScoringDefaults;

    /// The config's `scoring` table.
    fn scoring(cfg: &Self::Config) -> &ScoringOverrides;

    /// Value checks serde cannot express, run before the budget is looked at. Errors are
    /// `MethodError::Config` with the message the user sees. Default: none.
    fn check(_cfg: &Self::Config) -> Result<(), MethodError> {
        Ok(())
    }

    /// The method's idea: which train indices to keep under `job.plan`, with the method's own
    /// metadata.
    fn select(cfg: &Self::Config, job: &Job) -> Result<Selection, MethodError>;
}

/// The [`Method`] of a [`PruningMethod`]: `export_plugin!(Pruning<MyMethod>)`.
pub struct Pruning<P>(PhantomData<P>);

impl<P> Default for Pruning<P> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

impl<P: PruningMethod> Method for Pruning<P> {
    const NAME: &'static str = P::NAME;
    const FAMILY: Family = Family::Pruning;
    const VERSION: &'static str = P::VERSION;
    const PAPER: &'static str = P::PAPER;
    const DESCRIPTION: &'static str = P::DESCRIPTION;

    fn compress(&mut self, input: &Input, ctx: &Context) -> Result<Compressed, MethodError> {
        let cfg: P::Config = ctx.config()?;
        P::check(&cfg)?;
        let plan = Plan::from_budget(&input.budget, input.train.len(), P::NAME)?;
        let scoring =
            P::scoring(&cfg).resolve(&P::SCORING, &ctx.protocol().train, P::ALLOW_ZERO_EPOCHS)?;
        let job = Job {
            input,
            ctx,
            plan,
            scoring,
            labels: input.train.labels_vec(),
            name: P::NAME,
            trained: RefCell::default(),
        };
        let selection = P::select(&cfg, &job)?;
        let mut metadata = config_table(P::NAME, &cfg)?;
        metadata.insert("plan".into(), Value::from(plan.describe()));
        metadata.insert("scoring".into(), to_json(&job.scoring));
        metadata.extend(job.trained.into_inner());
        metadata.extend(selection.metadata);
        Ok(Compressed::indices(select::to_i64(&selection.chosen))
            .with_metadata(Value::Object(metadata)))
    }
}

/// The parsed configuration as a JSON table (for the cell metadata).
fn config_table<C: Serialize>(name: &str, cfg: &C) -> Result<Map<String, Value>, MethodError> {
    match serde_json::to_value(cfg) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(other) => Err(MethodError::Failed(format!(
            "{name}: the configuration must serialise to a table, got {other}"
        ))),
        Err(e) => Err(MethodError::Failed(format!(
            "{name}: cannot record the configuration: {e}"
        ))),
    }
}

/// `serde_json::to_value` for values that always serialise (numbers, strings, derived
/// structs without maps keyed by non-strings), as `serde_json::json!` does.
fn to_json<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).expect("a JSON-serialisable value")
}

/// What a method's [`PruningMethod::select`] gets: the input, the context, the plan and the
/// resolved scoring recipe, with helpers that train scoring networks the family's way.
pub struct Job<'a> {
    /// The cell's input (train and validation splits, class names, budget).
    pub input: &'a Input<'a>,
    /// The harness services (device, seeds, progress, training).
    pub ctx: &'a Context,
    /// How many to keep, per class or in total.
    pub plan: Plan,
    /// The resolved scoring network and recipe (recorded as `"scoring"`).
    pub scoring: Scoring,
    /// The train split's labels (`input.train.labels_vec()`), one per example.
    pub labels: Vec<i64>,
    name: &'static str,
    /// Metadata of the scoring networks the helpers trained.
    trained: RefCell<Map<String, Value>>,
}

impl Job<'_> {
    /// Number of classes.
    pub fn num_classes(&self) -> usize {
        self.input.num_classes()
    }

    /// The sub-seed `derive_seed(selection seed, "<name>/<label>")`, e.g. `job.seed("ties")`
    /// is `derive_seed(sel, "forgetting/ties")` in `forgetting`.
    pub fn seed(&self, label: &str) -> u64 {
        derive_seed(
            self.ctx.seeds().selection,
            &format!("{}/{label}", self.name),
        )
    }

    /// The groups the plan selects from, each with how many to take ([`select::groups`]).
    pub fn groups(&self) -> Vec<(Vec<usize>, usize)> {
        select::groups(self.plan, &self.labels, self.num_classes())
    }

    /// Top-k by `scores` (one per train example) under the plan ([`select::select_top`]).
    pub fn top(&self, scores: &[f64], order: Order, tie: &TieBreak) -> Vec<usize> {
        select::select_top(
            scores,
            &self.labels,
            self.num_classes(),
            self.plan,
            order,
            tie,
        )
    }

    fn record(&self, key: &str, value: Value) {
        self.trained.borrow_mut().insert(key.into(), value);
    }

    /// Penultimate-layer embeddings `[N][D]` of every train image under one scoring network
    /// trained on the train split with seed `job.seed("scoring")`
    /// ([`scoring::train_split_embeddings`]: progress 0–0.9). Records `"scoring_seed"` and
    /// `"scoring_val_accuracy"` (top-1 on the validation split, `null` when it is empty).
    pub fn embeddings(&self) -> Result<Vec<Vec<f32>>, MethodError> {
        let seed = self.seed("scoring");
        let (emb, val_acc) = scoring::train_split_embeddings(
            self.ctx,
            self.input.train,
            self.input.val,
            &self.scoring,
            seed,
        )?;
        self.record("scoring_seed", to_json(&seed));
        self.record("scoring_val_accuracy", to_json(&val_acc));
        Ok(emb)
    }

    /// Forgetting events and AUM margins of one scoring network's training run on the train
    /// split, seed `job.seed("scoring")` ([`scoring::train_with_dynamics`]: progress 0–0.98,
    /// labelled "scoring net"). Records `"scoring_seed"` and `"scoring_val_accuracy"`.
    pub fn dynamics(&self) -> Result<Dynamics, MethodError> {
        let seed = self.seed("scoring");
        let d = scoring::train_with_dynamics(
            self.ctx,
            self.input.train,
            self.input.val,
            &self.scoring,
            seed,
            (0.0, 0.98),
            "scoring net",
        )?;
        self.record("scoring_seed", to_json(&seed));
        self.record("scoring_val_accuracy", to_json(&d.val_accuracy));
        Ok(d)
    }

    /// Per-example scores averaged over `models` independently initialised scoring networks
    /// (net `m` seeded by `job.seed("model<m>")`; see [`scoring::averaged_over_models`] for
    /// `train_share` and the arguments of `score`). Records `"scoring_val_accuracy"`, one
    /// entry per network.
    pub fn averaged_over_models(
        &self,
        models: usize,
        train_share: f64,
        score: impl FnMut(
            &tch::nn::VarStore,
            &dyn Network,
            (f64, f64),
            &str,
        ) -> Result<Vec<f64>, MethodError>,
    ) -> Result<Vec<f64>, MethodError> {
        let (scores, val_acc) = scoring::averaged_over_models(
            self.ctx,
            self.input.train,
            self.input.val,
            &self.scoring,
            self.name,
            models,
            train_share,
            score,
        )?;
        self.record("scoring_val_accuracy", to_json(&val_acc));
        Ok(scores)
    }
}

/// A method's answer: indices into the train split, in the order the method kept them, and the
/// method's own metadata keys.
pub struct Selection {
    /// Indices into `input.train`.
    pub chosen: Vec<usize>,
    /// Extra keys of the cell metadata.
    pub metadata: Map<String, Value>,
}

impl Selection {
    /// The chosen indices, no extra metadata yet.
    pub fn new(chosen: Vec<usize>) -> Self {
        Self {
            chosen,
            metadata: Map::new(),
        }
    }

    /// Adds a metadata key (as `serde_json::json!` would serialise `value`).
    pub fn with(mut self, key: &str, value: impl Serialize) -> Self {
        self.metadata.insert(key.into(), to_json(&value));
        self
    }

    /// `scores[i]` of every chosen `i`, recorded as `"selected_scores"`.
    pub fn with_selected_scores(self, scores: &[f64]) -> Self {
        let s: Vec<f64> = self.chosen.iter().map(|&i| scores[i]).collect();
        self.with("selected_scores", s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use distillery_api::Budget;
    use distillery_distill_kit::testing;
    use serde::Deserialize;

    /// A method whose score is the index: without training anything, it keeps the highest
    /// indices (no scoring network is trained: `select` ignores the recipe).
    struct ByIndex;

    #[derive(Deserialize, Serialize, Default)]
    #[serde(deny_unknown_fields, default)]
    struct Config {
        lowest: bool,
        scoring: ScoringOverrides,
    }

    impl PruningMethod for ByIndex {
        const NAME: &'static str = "by-index";
        const VERSION: &'static str = "9.9.9";
        const PAPER: &'static str = "test";
        const DESCRIPTION: &'static str = "test";
        const ALLOW_ZERO_EPOCHS: bool = false;
        type Config = Config;
        const SCORING: ScoringDefaults = ScoringDefaults::convnet(8, 1);
        fn scoring(cfg: &Config) -> &ScoringOverrides {
            &cfg.scoring
        }
        fn check(cfg: &Config) -> Result<(), MethodError> {
            match cfg.scoring.lr {
                Some(lr) if lr > 1.0 => Err(MethodError::Config("lr too high".into())),
                _ => Ok(()),
            }
        }
        fn select(cfg: &Config, job: &Job) -> Result<Selection, MethodError> {
            let scores: Vec<f64> = (0..job.labels.len()).map(|i| i as f64).collect();
            let order = if cfg.lowest {
                Order::LowestFirst
            } else {
                Order::HighestFirst
            };
            let chosen = job.top(&scores, order, &TieBreak::Index);
            Ok(Selection::new(chosen)
                .with("tie_seed", job.seed("ties"))
                .with_selected_scores(&scores))
        }
    }

    fn run(cfg: Value, budget: Budget) -> Result<Compressed, MethodError> {
        testing::compress::<Pruning<ByIndex>>(cfg, budget, 4, 7)
    }

    fn indices(c: &Compressed) -> Vec<i64> {
        match &c.output {
            distillery_api::Output::Indices { indices, .. } => indices.clone(),
            other => panic!("expected indices, got {other:?}"),
        }
    }

    #[test]
    fn method_constants_come_from_the_pruning_method() {
        type M = Pruning<ByIndex>;
        assert_eq!(M::NAME, "by-index");
        assert_eq!(M::VERSION, "9.9.9");
        assert_eq!(M::FAMILY, Family::Pruning);
    }

    #[test]
    fn ipc_budget_keeps_the_best_of_every_class_and_records_config_plan_and_scoring() {
        // 3 classes x 4 images, class-major: class c holds indices 4c..4c+3.
        let out = run(serde_json::json!({}), Budget::Ipc(2)).unwrap();
        assert_eq!(indices(&out), vec![3, 2, 7, 6, 11, 10]);
        let m = &out.metadata;
        assert_eq!(m["plan"], "class-balanced, 2 per class");
        assert_eq!(m["lowest"], false);
        assert_eq!(m["scoring"]["model"]["width"], 8);
        assert_eq!(m["scoring"]["recipe"]["epochs"], 1);
        assert_eq!(m["tie_seed"], derive_seed(7, "by-index/ties"));
        assert_eq!(
            m["selected_scores"],
            serde_json::json!([3.0, 2.0, 7.0, 6.0, 11.0, 10.0])
        );
        // No scoring network was trained, so nothing about one is recorded.
        assert!(m.get("scoring_seed").is_none());
    }

    #[test]
    fn fraction_budget_selects_over_the_whole_split() {
        let out = run(serde_json::json!({"lowest": true}), Budget::Fraction(0.25)).unwrap();
        assert_eq!(indices(&out), vec![0, 1, 2]);
        assert_eq!(out.metadata["plan"], "global, 3 in total");
    }

    #[test]
    fn errors_come_in_order_config_then_check_then_budget_then_scoring() {
        let e = run(serde_json::json!({"lowst": true}), Budget::Bytes(10)).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("invalid configuration: [methods.by-index]: unknown field `lowst`"),
            "{e}"
        );
        let e = run(
            serde_json::json!({"scoring": {"lr": 2.0}}),
            Budget::Bytes(10),
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "invalid configuration: lr too high");
        let e = run(
            serde_json::json!({"scoring": {"epochs": 0}}),
            Budget::Bytes(10),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "unsupported: by-index selects whole images by count; a byte budget is not supported"
        );
        let e = run(
            serde_json::json!({"scoring": {"epochs": 0}}),
            Budget::Ipc(1),
        )
        .unwrap_err();
        assert!(e.to_string().contains("scoring.epochs"), "{e}");
    }
}
