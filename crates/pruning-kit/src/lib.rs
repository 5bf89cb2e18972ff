//! # distillery-pruning-kit
//!
//! The kit of the coreset-selection plugins (`herding`, `kcenter`, `forgetting`, `el2n`,
//! `grand`, `aum`, `ccs`): a plugin is its configuration, its metadata and its selection idea
//! (a [`PruningMethod`]), exported as `export_plugin!(Pruning<ItsMethod>)`; the kit owns the rest.
//!
//! - [`method`]: the skeleton: [`PruningMethod`], the [`Pruning`] adapter to
//!   [`distillery_api::Method`] (config parsing, value checks, budget plan, scoring recipe,
//!   metadata), the [`Job`] a method selects with and the [`Selection`] it returns;
//! - [`select`]: turning a [`Budget`](distillery_api::Budget) into a selection plan and
//!   class-balanced / global top-k selection by score with documented tie-breaking;
//! - [`geometry`]: greedy herding and greedy k-center as pure functions on `&[Vec<f32>]`;
//! - [`scores`]: per-example scores (forgetting events, EL2N, AUM margins, GraNd) and the
//!   trackers that accumulate them from the fit loop's per-step logits;
//! - [`ccs`]: coverage-centric stratified sampling (Zheng et al. 2023);
//! - [`scoring`]: training scoring models through `Context::train_model`, embeddings and
//!   logits of the whole train split (eval mode, no_grad, batched).
//!
//! Everything except [`scoring`] and [`method`] is pure Rust and testable without training a
//! network.
//!
//! Version policy: a plugin's version is the `version` of its own Cargo.toml (the method's
//! version, bumped when its output for the same input and seed changes), read with
//! `env!("CARGO_PKG_VERSION")` in its [`PruningMethod::VERSION`]. The kit's version is not a
//! method version.

pub mod ccs;
pub mod geometry;
pub mod method;
pub mod scores;
pub mod scoring;
pub mod select;

pub use method::{Job, Pruning, PruningMethod, Selection};
pub use select::{Order, Plan, TieBreak};
