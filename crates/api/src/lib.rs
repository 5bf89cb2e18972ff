//! # distillery-api — the contract between the Distillery harness and a method plugin
//!
//! A method (dataset distillation, coreset selection / pruning, or knowledge distillation) is
//! a Rust type implementing [`Method`], compiled as a `cdylib` and exported with
//! [`export_plugin!`]. The harness loads the library, checks its C-stable [`abi::PluginHeader`]
//! (magic, ABI version, header size, then rustc / API / tch / libtorch versions), calls
//! [`Method::compress`] in a child process with the train and validation splits (never the test
//! split), and checks everything the method returns before it trains the protocol's student.
//!
//! ```no_run
//! use distillery_api::prelude::*;
//!
//! #[derive(Default)]
//! pub struct MyMethod;
//!
//! impl Method for MyMethod {
//!     const NAME: &'static str = "my-method";
//!     const FAMILY: Family = Family::Pruning;
//!     const VERSION: &'static str = env!("CARGO_PKG_VERSION");
//!     const PAPER: &'static str = "Author et al., Venue 2024";
//!     const DESCRIPTION: &'static str = "one line shown by `bench list`";
//!
//!     fn compress(&mut self, input: &Input, ctx: &Context) -> Result<Compressed, MethodError> {
//!         let per_class = input.budget.images_per_class()?;
//!         ctx.progress(0.0, "choosing");
//!         // ... choose indices into input.train; here: the first `per_class` of each class ...
//!         let indices: Vec<i64> = input
//!             .train
//!             .indices_by_class(input.num_classes())
//!             .iter()
//!             .flat_map(|members| members.iter().take(per_class).map(|&i| i as i64))
//!             .collect();
//!         Ok(Compressed::indices(indices))
//!     }
//! }
//!
//! export_plugin!(MyMethod);
//! ```
//!
//! The training toolkit in [`nn`] (students, DSA augmentation, optimisers, the fit loop) is the
//! same code the harness evaluates with, so a plugin that trains a scoring model through
//! [`Context::train_model`] uses exactly the protocol's recipe.
//!
//! # Layout
//!
//! The modules form layers; each imports only from layers below it (no import circles):
//!
//! | layer | modules | what |
//! |---|---|---|
//! | 0 (leaves) | [`error`], [`split`], [`device`], [`fsio`], [`rng`], [`version`], [`abi`], `nn::{mix, augment, losses}` | shared types and helpers |
//! | 1 | [`budget`], [`spec`], [`label_file`] | budgets, declarative specs, the stored-label file format |
//! | 2 | `nn::{models, fit}`, [`nn`] | students, the fit loop |
//! | 3 | [`teacher`] | the cached teacher |
//! | 4 | [`method`] | the [`Method`] trait, [`Input`], [`Compressed`], [`Context`] |
//! | 5 | [`label_store`], [`select`], [`export`], [`host`] | stored-label recording, the random subset, both sides of the ABI |
//!
//! The crate root only declares modules and re-exports.

#![warn(missing_docs)]

pub mod abi;
pub mod budget;
pub mod device;
pub mod error;
pub mod export;
pub mod fsio;
pub mod host;
pub mod label_file;
pub mod label_store;
pub mod method;
pub mod nn;
pub mod rng;
pub mod select;
pub mod spec;
pub mod split;
pub mod teacher;
pub mod version;

pub use budget::{Budget, BudgetError};
pub use device::DeviceError;
pub use error::MethodError;
pub use method::{Compressed, Context, Family, Input, Method, Output, Seeds};
pub use split::Split;
pub use tch;
pub use version::{API_VERSION, LIBTORCH_LIB, LIBTORCH_VERSION, RUSTC_VERSION, TCH_VERSION};

/// Everything a plugin author usually needs.
pub mod prelude {
    pub use crate::export_plugin;
    pub use crate::method::{
        Budget, Compressed, Context, Family, Input, Method, MethodError, Output, Seeds, Split,
    };
    pub use crate::nn::{self, FitOptions, Network};
    pub use crate::rng::SplitMix64;
    pub use crate::spec::{Arch, ModelSpec, TrainSpec};
    pub use tch::{self, Device, Kind, Tensor};
}
