//! # distillery-pruning-kit
//!
//! Shared, unit-tested pieces of the coreset-selection plugins (`herding`, `kcenter`,
//! `forgetting`, `el2n`, `grand`, `aum`, `ccs`):
//!
//! - [`select`]: turning a [`Budget`](distillery_api::Budget) into a selection plan and
//!   class-balanced / global top-k selection by score with documented tie-breaking;
//! - [`geometry`]: greedy herding and greedy k-center as pure functions on `&[Vec<f32>]`;
//! - [`scores`]: per-example scores (forgetting events, EL2N, AUM margins, GraNd) and the
//!   trackers that accumulate them from the fit loop's per-step logits;
//! - [`ccs`]: coverage-centric stratified sampling (Zheng et al. 2023);
//! - [`scoring`]: training scoring models through `Context::train_model`, embeddings and
//!   logits of the whole train split (eval mode, no_grad, batched).
//!
//! Everything except [`scoring`] is pure Rust and testable without training a network.

pub mod ccs;
pub mod geometry;
pub mod scores;
pub mod scoring;
pub mod select;

pub use select::{Order, Plan, TieBreak};
