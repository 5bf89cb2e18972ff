//! The Distillery harness: everything that must be identical across methods.
//!
//! The data flow, one module per box:
//!
//! ```text
//! protocol (protocol.rs) ──► plan (plan.rs: dataset × budget × method × seed cells)
//!     ──► executor (executor.rs: one child process per cell)
//!           │ one cell (cell.rs)
//!           ▼
//! dataset (data/, dataset.rs) ──► train/val split ──► plugin (plugin.rs; never sees test)
//!     ──► compressed set, checked by validate.rs (budget, shapes, values)
//!     ──► protocol trainer (train.rs: student, DSA, SGD, hard labels) ──► test accuracy
//!     ──► cell record (record.rs: JSON, written atomically) ──► report.rs (tables)
//! ```

pub mod cell;
pub mod cli;
pub mod conformance;
pub mod data;
pub mod dataset;
pub mod env;
pub mod error;
pub mod executor;
pub mod export;
pub mod import;
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
