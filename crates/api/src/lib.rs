//! # distillery-api — the contract between the Distillery harness and a method plugin
//!
//! A method (dataset distillation, coreset selection / pruning, or knowledge distillation) is
//! a Rust type implementing [`Method`], compiled as a `cdylib` and exported with
//! [`export_plugin!`]. The harness loads the library, checks its C-stable [`abi::PluginHeader`]
//! (magic, ABI version, header size, then rustc / API / tch / libtorch versions), calls
//! [`Method::compress`] in a child process with the train and validation splits (never the test
//! split), and checks everything the method returns before it trains the protocol's student.
//!
//! ```ignore
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
//!     fn compress(&mut self, input: &Input, ctx: &mut Context) -> Result<Compressed, MethodError> {
//!         let per_class = input.budget.images_per_class()?;
//!         // ... choose indices into input.train ...
//!         # let indices = vec![];
//!         Ok(Compressed::indices(indices))
//!     }
//! }
//!
//! export_plugin!(MyMethod);
//! ```
//!
//! The training toolkit in [`nn`] (students, DSA augmentation, optimisers, the fit loop) is the
//! same code the harness evaluates with, so a plugin that trains a scoring model through
//! [`Context::fit`] uses exactly the protocol's recipe.

pub mod abi;
pub mod export;
pub mod host;
pub mod label_store;
pub mod method;
pub mod nn;
pub mod rng;
pub mod select;
pub mod spec;
pub mod teacher;

pub use method::{
    Budget, Compressed, Context, Family, Input, Method, MethodError, Output, Seeds, Split,
};
pub use tch;

/// Tests that seed libtorch's global generator hold this lock: the test harness runs tests on
/// parallel threads, and one generator shared between them would make streams interleave.
/// (A real cell runs in its own process, single-threaded on the Rust side.)
#[cfg(test)]
pub(crate) fn rng_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Version of this crate; a plugin built against another version is rejected.
pub const API_VERSION: &str = env!("CARGO_PKG_VERSION");
/// The tch version this crate is pinned to (`tch = "=0.24.0"` in the workspace manifest).
pub const TCH_VERSION: &str = "0.24.0";
/// `rustc --version` of the compiler that built this crate (and therefore the plugin or host).
pub const RUSTC_VERSION: &str = env!("DISTILLERY_RUSTC_VERSION");
/// The libtorch (PyTorch wheel) version this crate was compiled against, e.g. `2.11.0+cu130`.
pub const LIBTORCH_VERSION: &str = env!("DISTILLERY_LIBTORCH_VERSION");
/// The libtorch library folder this crate was compiled against.
pub const LIBTORCH_LIB: &str = env!("DISTILLERY_LIBTORCH_LIB");

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
