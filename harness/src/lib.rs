//! The Distillery harness: everything that must be identical across methods.
//!
//! The data flow, one module (or crate) per box:
//!
//! ```text
//! protocol (protocol.rs) ──► plan (plan/: dataset × budget × method × seed cells; imported sets
//!     │                            in plan/imported.rs, read and checked by import/)
//!     ▼
//! executor (executor.rs: one child process per cell, resume, reference cache)
//!     │ one cell (cell.rs, entered through `bench __cell`, cli/cell.rs)
//!     ▼
//! dataset (data/ readers, dataset.rs) ──► train/val split ──► method plugin (plugin.rs loads it;
//!     crates/api is the contract; never sees test) ──► compressed set, checked by validate.rs
//!     (budget, shapes, values) ──► protocol trainer (train.rs: student, DSA, SGD, hard / soft /
//!     native labels) ──► test accuracy
//!     ▼
//! cell record (crates/record, built by provenance.rs, written atomically)
//!     ──► stats (crates/stats) ──► report/ (aggregate, compare, render/ one module per format,
//!         publish to results/)
//! ```
//!
//! The command layer is `cli/` (one module per subcommand, shared argument groups in
//! `cli/args.rs`, the pure run resolution in `cli/resolve.rs`, exit codes in `error.rs`); it is
//! the only layer that prints. Below it the modules form a DAG: `protocol`, `data`,
//! `method_config`, `validate`, `plugin`, `env`, `gpu` and `scaffold` import nothing from this crate;
//! `dataset` → `protocol`, `data`; `plan` → `dataset`, `protocol`, `method_config`; `import` →
//! `plan`, `dataset`, `validate`, `plugin`; `executor` → `plan`, `import`, `plugin`,
//! `provenance`; `cell` → `executor`, `import`, `train`, `validate`, …; `report` → `protocol`,
//! `record` only. The test in `layering.rs` reads these sources and fails on any import circle.

pub mod cell;
pub mod classes;
pub mod cli;
pub mod conformance;
pub mod data;
pub mod dataset;
pub mod env;
pub mod error;
pub mod executor;
pub mod export;
pub mod gpu;
pub mod import;
pub mod layering;
pub mod method_config;
pub mod plan;
pub mod plugin;
pub mod protocol;
pub mod provenance;
pub mod report;
pub mod scaffold;
pub mod train;
pub mod validate;

pub use distillery_api as api;
/// The cell record's schema and files (the `distillery-record` crate), at its old path.
pub use distillery_record as record;

/// Version of the harness (recorded with every result).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
