//! # distillery-label-kit
//!
//! The kit of the label-method plugins (`kd`, `dkd`, `label-smoothing`, `fkd`, `lpld`; family
//! `kd`): a plugin is its configuration, its metadata and its label function (a
//! [`LabelMethod`]), exported as `export_plugin!(Labelled<ItsMethod>)`; the kit owns the rest.
//!
//! Every label method trains the student on the same images as the `random` baseline — the
//! class-balanced random subset of the budget drawn from the cell's selection seed
//! ([`distillery_api::select::random_subset`]; IPC, fraction and byte budgets) — so only the
//! labelling differs from the baseline. What [`Labelled::compress`](Method::compress) does, in
//! this order (so the first problem found is the one reported):
//!
//! 1. parses `[methods.<name>]` into [`LabelMethod::Config`] (`Context::config`: a misspelt
//!    key is reported by name; the struct carries `#[serde(deny_unknown_fields, default)]`);
//! 2. runs [`LabelMethod::check`] (value checks serde cannot express);
//! 3. draws the random subset;
//! 4. calls [`LabelMethod::labels`] with a [`Job`], which builds the [`Labels`]: a label
//!    function the harness evaluates ([`Job::label_function`], checked with
//!    [`LabelSpec::validate`]) or teacher logits stored FKD-style ([`Job::store_teacher_labels`]);
//! 5. returns the subset's indices with the label spec and the cell metadata: `"selection"`,
//!    the configuration as parsed (defaults filled in) and the keys the method added to its
//!    [`Labels`] (a later key replaces an earlier one).
//!
//! Under the hard- and soft-label protocols the harness ignores the label spec: a label method
//! is then the random baseline, bit for bit.
//!
//! Version policy: a plugin's version is the `version` of its own Cargo.toml (the method's
//! version, bumped when its output for the same input and seed changes), read with
//! `env!("CARGO_PKG_VERSION")` in its [`LabelMethod::VERSION`]. The kit's version is not a
//! method version.
//!
//! A plugin's `lib.rs` then reads:
//!
//! ```no_run
//! use distillery_api::prelude::*;
//! use distillery_api::spec::LabelSpec;
//! use distillery_label_kit::{Job, LabelMethod, Labelled, Labels};
//! use serde::{Deserialize, Serialize};
//!
//! pub struct Soft;
//!
//! #[derive(Deserialize, Serialize)]
//! #[serde(deny_unknown_fields, default)]
//! pub struct Config {
//!     epsilon: f64,
//! }
//!
//! impl Default for Config {
//!     fn default() -> Self {
//!         Self { epsilon: 0.2 }
//!     }
//! }
//!
//! impl LabelMethod for Soft {
//!     const NAME: &'static str = "soft";
//!     const VERSION: &'static str = env!("CARGO_PKG_VERSION");
//!     const PAPER: &'static str = "Author et al., Venue 2024";
//!     const DESCRIPTION: &'static str = "random subset with smoothed labels";
//!     type Config = Config;
//!     fn labels(cfg: &Config, job: &Job) -> Result<Labels, MethodError> {
//!         job.label_function(LabelSpec::Smoothing { epsilon: cfg.epsilon })
//!     }
//! }
//!
//! export_plugin!(Labelled<Soft>);
//! ```

use distillery_api::rng::derive_seed;
use distillery_api::spec::LabelSpec;
use distillery_api::{Compressed, Context, Family, Input, Method, MethodError};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};
use std::marker::PhantomData;

/// What every label method records as `"selection"` in its cell metadata.
pub const SELECTION: &str = "random subset of the budget (as the random baseline)";

/// The seed label of stored teacher labels: `derive_seed(selection seed, "fkd/labels")` for
/// every method that stores them (`fkd`, and `lpld`, whose kept epochs thus carry the batch
/// orders and augmentations `fkd` draws for the same epochs).
pub const STORED_LABELS_SEED: &str = "fkd/labels";

/// A label method: its configuration, its metadata and its label function.
///
/// Implemented by a unit struct in the plugin; the plugin exports `Labelled<ItsStruct>` with
/// `export_plugin!`. Its family is always [`Family::Kd`].
pub trait LabelMethod: 'static {
    /// Unique, lowercase, `[a-z0-9-]`: the plugin's name on the command line, in
    /// `[methods.<name>]`, in configuration errors and the prefix of its seed labels.
    const NAME: &'static str;
    /// The method's version: always `env!("CARGO_PKG_VERSION")`, i.e. the `version` of the
    /// plugin's own Cargo.toml, bumped when the method's output changes (see the README).
    const VERSION: &'static str;
    /// Paper reference.
    const PAPER: &'static str;
    /// One line for `bench list`.
    const DESCRIPTION: &'static str;

    /// The `[methods.<name>]` table: `#[serde(deny_unknown_fields, default)]`. It must
    /// serialise to a table: it is recorded as the cell's metadata.
    type Config: DeserializeOwned + Serialize;

    /// Value checks serde cannot express and the label spec does not make, run before the
    /// subset is drawn. Errors are `MethodError::Config` with the message the user sees.
    /// Default: none.
    fn check(_cfg: &Self::Config) -> Result<(), MethodError> {
        Ok(())
    }

    /// The method's idea: how the images `job.indices` are labelled.
    fn labels(cfg: &Self::Config, job: &Job) -> Result<Labels, MethodError>;
}

/// The [`Method`] of a [`LabelMethod`]: `export_plugin!(Labelled<MyMethod>)`.
pub struct Labelled<P>(PhantomData<P>);

impl<P> Default for Labelled<P> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

impl<P: LabelMethod> Method for Labelled<P> {
    const NAME: &'static str = P::NAME;
    const FAMILY: Family = Family::Kd;
    const VERSION: &'static str = P::VERSION;
    const PAPER: &'static str = P::PAPER;
    const DESCRIPTION: &'static str = P::DESCRIPTION;

    fn compress(&mut self, input: &Input, ctx: &Context) -> Result<Compressed, MethodError> {
        let cfg: P::Config = ctx.config()?;
        P::check(&cfg)?;
        let job = Job {
            input,
            ctx,
            indices: distillery_api::select::random_subset(input, ctx.seeds().selection),
            name: P::NAME,
        };
        let labels = P::labels(&cfg, &job)?;
        let mut metadata = config_table(P::NAME, &cfg)?;
        metadata.insert("selection".into(), Value::from(SELECTION));
        metadata.extend(labels.metadata);
        Ok(Compressed::indices(job.indices)
            .with_metadata(Value::Object(metadata))
            .with_label_spec(labels.spec))
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

/// What a method's [`LabelMethod::labels`] gets: the input, the context and the images drawn.
pub struct Job<'a> {
    /// The cell's input (train and validation splits, class names, budget).
    pub input: &'a Input<'a>,
    /// The harness services (device, seeds, protocol, teacher, progress).
    pub ctx: &'a Context,
    /// The images to label: indices into `input.train` of the random subset of the budget.
    pub indices: Vec<i64>,
    name: &'static str,
}

impl Job<'_> {
    /// The sub-seed `derive_seed(selection seed, "<name>/<label>")`, e.g. `job.seed("epochs")`
    /// is `derive_seed(sel, "lpld/epochs")` in `lpld`.
    pub fn seed(&self, label: &str) -> u64 {
        derive_seed(
            self.ctx.seeds().selection,
            &format!("{}/{label}", self.name),
        )
    }

    /// Training epochs of the protocol's `[train]` recipe (what the student trains for).
    pub fn protocol_epochs(&self) -> usize {
        self.ctx.protocol().train.epochs
    }

    /// A label function the harness evaluates under the native-label protocol (KD, DKD,
    /// smoothing). Errors: `MethodError::Config("[methods.<name>]: <why>")` when
    /// [`LabelSpec::validate`] rejects its numbers.
    pub fn label_function(&self, spec: LabelSpec) -> Result<Labels, MethodError> {
        spec.validate()
            .map_err(|e| MethodError::Config(format!("[methods.{}]: {e}", self.name)))?;
        Ok(Labels {
            spec,
            metadata: Map::new(),
        })
    }

    /// The protocol teacher's logits on the subset, stored FKD-style for the training epochs
    /// `epochs` (per epoch a fresh batch order and one DSA draw per batch; fp16 logits;
    /// [`distillery_api::label_store::record_teacher_labels`]) with seed
    /// `derive_seed(selection seed, STORED_LABELS_SEED)`. The store's size is what the labels
    /// cost; it is recorded as `"label_store_bytes"`. Errors: a non-positive `temperature`
    /// (`MethodError::Config`), the teacher's training or the store's writing failing.
    pub fn store_teacher_labels(
        &self,
        epochs: &[usize],
        temperature: f64,
    ) -> Result<Labels, MethodError> {
        let (spec, bytes) = distillery_api::label_store::record_teacher_labels(
            self.ctx,
            self.input,
            &self.indices,
            epochs,
            temperature,
            derive_seed(self.ctx.seeds().selection, STORED_LABELS_SEED),
        )?;
        Ok(Labels {
            spec,
            metadata: Map::new(),
        }
        .with("label_store_bytes", bytes))
    }
}

/// A method's answer: how the subset is labelled under the native-label protocol, with the
/// method's own metadata keys. Built by [`Job::label_function`] or
/// [`Job::store_teacher_labels`].
pub struct Labels {
    spec: LabelSpec,
    metadata: Map<String, Value>,
}

impl Labels {
    /// Adds a metadata key (as `serde_json::json!` would serialise `value`).
    ///
    /// # Panics
    /// When `value` does not serialise to JSON (a map with non-string keys).
    pub fn with(mut self, key: &str, value: impl Serialize) -> Self {
        let v = serde_json::to_value(value).expect("a JSON-serialisable value");
        self.metadata.insert(key.into(), v);
        self
    }

    /// The label spec.
    pub fn spec(&self) -> &LabelSpec {
        &self.spec
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use distillery_api::Budget;
    use distillery_distill_kit::testing;
    use serde::Deserialize;

    /// KD with a `check` that rejects huge temperatures before anything is drawn.
    struct Fake;

    #[derive(Deserialize, Serialize)]
    #[serde(deny_unknown_fields, default)]
    struct Config {
        temperature: f64,
        alpha: f64,
    }

    impl Default for Config {
        fn default() -> Self {
            Self {
                temperature: 4.0,
                alpha: 0.5,
            }
        }
    }

    impl LabelMethod for Fake {
        const NAME: &'static str = "fake";
        const VERSION: &'static str = "1.2.3";
        const PAPER: &'static str = "test";
        const DESCRIPTION: &'static str = "test";
        type Config = Config;
        fn check(cfg: &Config) -> Result<(), MethodError> {
            if cfg.temperature > 100.0 {
                return Err(MethodError::Config("too hot".into()));
            }
            Ok(())
        }
        fn labels(cfg: &Config, job: &Job) -> Result<Labels, MethodError> {
            Ok(job
                .label_function(LabelSpec::Kd {
                    temperature: cfg.temperature,
                    alpha: cfg.alpha,
                })?
                .with("extra_seed", job.seed("extra"))
                .with("epochs", job.protocol_epochs()))
        }
    }

    fn run(cfg: Value, budget: Budget, seed: u64) -> Result<Compressed, MethodError> {
        testing::compress::<Labelled<Fake>>(cfg, budget, 5, seed)
    }

    fn indices(c: &Compressed) -> Vec<i64> {
        match &c.output {
            distillery_api::Output::Indices { indices, .. } => indices.clone(),
            other => panic!("expected indices, got {other:?}"),
        }
    }

    #[test]
    fn method_constants_come_from_the_label_method() {
        type M = Labelled<Fake>;
        assert_eq!(M::NAME, "fake");
        assert_eq!(M::VERSION, "1.2.3");
        assert_eq!(M::FAMILY, Family::Kd);
    }

    #[test]
    fn images_are_the_random_baselines_and_labels_the_declared_function() {
        let out = run(serde_json::json!({"alpha": 0.25}), Budget::Ipc(2), 11).unwrap();
        // The random baseline's subset for the same split, budget and seed.
        let train = testing::mnist_split(&[0, 1, 2], 5);
        let val = testing::mnist_split(&[0, 1, 2], 2);
        let names = testing::class_names(3);
        let input = Input {
            train: &train,
            val: &val,
            class_names: &names,
            budget: Budget::Ipc(2),
        };
        assert_eq!(
            indices(&out),
            distillery_api::select::random_subset(&input, 11)
        );
        assert_eq!(indices(&out).len(), 6);
        assert_eq!(
            out.label_spec,
            Some(LabelSpec::Kd {
                temperature: 4.0,
                alpha: 0.25
            })
        );
        assert_eq!(
            out.metadata,
            serde_json::json!({
                "selection": SELECTION,
                "temperature": 4.0,
                "alpha": 0.25,
                "extra_seed": derive_seed(11, "fake/extra"),
                "epochs": 300,
            })
        );
    }

    #[test]
    fn errors_come_in_order_config_then_check_then_label_spec() {
        let e = run(serde_json::json!({"temp": 1.0}), Budget::Ipc(1), 0).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("invalid configuration: [methods.fake]: unknown field `temp`"),
            "{e}"
        );
        let e = run(
            serde_json::json!({"temperature": 1000.0, "alpha": 7.0}),
            Budget::Ipc(1),
            0,
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "invalid configuration: too hot");
        let e = run(serde_json::json!({"alpha": 7.0}), Budget::Ipc(1), 0).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid configuration: [methods.fake]: kd: alpha must be in [0, 1], found 7"
        );
    }
}
