//! The built-in importer: evaluate a compressed set made anywhere (a Python codebase, another
//! harness, `bench export`) under exactly the protocol, checks and tables of the shipped plugins.
//!
//! ```text
//! bench --protocol hard-label --from set.safetensors[,other.npz,folder/]
//! bench --protocol hard-label --methods herding,file:set.safetensors
//! ```
//!
//! * **Formats** (detected from the content, [`format`]): safetensors ([`safetensors`]), NumPy
//!   `.npz` ([`npz`]), ImageFolder trees ([`folder`]) and Parquet files or folders of shards
//!   with encoded images, as the field publishes its sets ([`parquet`]). Files in a format
//!   that is not read (PyTorch `.pt`/`.pth`, pickles, HDF5, a lone `.npy`, …) are recognised by their
//!   bytes ([`sniff`]) and refused with a conversion recipe. The layout — tensor names, shapes,
//!   dtypes, metadata keys — is documented in CONTRIBUTING.md ("Evaluating a set made
//!   elsewhere"); the tensors' roles in [`tensors`], the metadata keys in [`metadata`].
//! * **Checks.** [`open()`] reads the file and checks everything that does not depend on the
//!   budget, each failure naming the file and the tensor or metadata key: known tensor names,
//!   element types, shapes against the dataset's resolution, label range, NaN/infinity, the
//!   [0, 1] pixel scale of float images, class count and names, the source dataset's checksum
//!   (an error when it differs, a warning when absent), a declared budget or seed against the
//!   run, and that no image is a verbatim copy of a test image that is not also in the train
//!   split ([`test_overlap`]). Every failure is an [`ImportError`] (path and kind). The
//!   budget and everything else a plugin's output must satisfy is then checked by the same
//!   [`crate::validate::check_output`] as for a plugin, in the cell.
//! * **How a file becomes cells.** Each file becomes a *row* `file:<name>`, `<name>` being the
//!   metadata's `method` (else the file stem), lowercased and reduced to `[a-z0-9._-]`; its
//!   cells are `file.<name>__<budget>__s<seed>` (filesystem-safe; plugin names cannot contain
//!   `.` or `:`, so rows never collide with plugins). A file that declares a `budget` is
//!   evaluated only at that budget (which the run must include); one that declares a `seed`
//!   only in that seed's cell (a set made for run seed `s`); otherwise in every budget and
//!   seed of the run. Several files may fill one row (one per budget and/or seed) ([`cells`]).
//! * **Seeds.** A cell's seeds derive from the run seed alone (never from the method name),
//!   so an imported set trains with the same student initialisation, batch order and
//!   augmentation as every plugin at that seed: the comparison is paired, and a set exported
//!   by `bench export --seed s` and imported at seed `s` reproduces the plugin's cell bit for
//!   bit on CPU. A file without a `seed` is one fixed set: across seeds only the student's
//!   training varies, not the set (the spread of its row understates the method's own).
//! * **Execution.** An imported cell runs like any other: `crate::cell::run` calls the built-in
//!   importer ([`importer`]; its C entry points in `shims`) through the same plugin
//!   boundary, with the train and validation splits only (the test-image check above runs
//!   once, when the run is planned, in the harness). The
//!   record's `plugin_version` is the declared version plus the file's SHA-256, so a re-run
//!   reuses a finished cell only when the file is byte-identical; a changed file is evaluated
//!   again and its old record is moved aside. The cell refuses a file that changed after the
//!   plan was made.
//!
//! **Layering.** `import` depends on `crate::plan` (cell types, ids, seeds; the record of an
//! imported file, [`Source`], lives in the leaf `crate::plan::imported`), `crate::dataset`,
//! `crate::validate` (probability rows) and `crate::plugin`; none of them depends on `import`.
//! Inside: `layout` (element types, tensor roles), `view` and `shims` are leaves, `error`
//! uses `layout`, `tensors` uses both; the readers (`safetensors`, `npz`, `folder`) feed
//! `format`; `open` runs the checks (`metadata`, `test_overlap`); `cells` and `importer` use
//! `open`. Children use each other, never this file.

pub mod cells;
pub mod error;
pub mod folder;
pub mod format;
pub mod importer;
pub mod layout;
pub mod metadata;
pub mod npz;
pub mod open;
pub mod parquet;
pub mod safetensors;
mod shims;
pub mod sniff;
pub mod tensors;
pub mod test_overlap;
pub mod view;

pub use crate::plan::imported::{Format, Source};
pub use cells::{plan, split_methods, Planned};
pub use error::{ImportError, ImportErrorKind, NpyError, WriteError};
pub use format::{FORMAT, FORMAT_VERSION};
pub use importer::{importer_plugin, list_row, loaded_plugin_for, plugin_for, request_for};
pub use metadata::{parse_budget, row_name, PREFIX};
pub use open::{open, open_with, Set};
pub use parquet::Columns;
pub use view::DatasetView;
