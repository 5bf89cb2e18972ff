//! The Distillery cell record: one JSON file per finished (method, budget, seed) cell.
//!
//! A run directory (`bench --out DIR`) holds `DIR/cells/<cell_id>.json`, one [`Record`] per
//! cell, written by the cell's own process when it finishes (ok or failed) or by the executor
//! when the cell's process crashed before writing one. Every table, CSV, figure and comparison
//! is computed from these files alone, so a record carries everything needed to interpret and
//! reproduce its number: the seeds, the protocol and dataset hashes, the plugin, the versions,
//! the device, what the compressed set cost to store, and the timings.
//!
//! This crate is the schema and its file I/O, nothing else: the harness builds records (its
//! `provenance` module fills in the plan, protocol and plugin parts), and the report layer reads
//! them.
//!
//! # Conventions
//!
//! - **Accuracies are fractions in [0, 1]**, never percentages (tables show percentages).
//! - **Durations are seconds** (`f64`, wall clock); **sizes are bytes**; timestamps are
//!   seconds since the Unix epoch (UTC).
//! - Field names and representation are the on-disk format: renaming a field, changing an
//!   enum's spelling or making an optional field required breaks every record already written.
//!   A field added later is `#[serde(default)]` (and says so) so that older records still
//!   parse; [`SCHEMA`] changes only for a change older readers cannot follow.
//!
//! | Item | What |
//! |---|---|
//! | [`Record`] | one cell: identity, provenance, result, cost |
//! | [`Status`], [`ProtocolRef`], [`DatasetRef`] ([`DatasetSource`], [`SplitFiles`]), [`Versions`], [`Machine`], [`Timings`] | its parts |
//! | [`Evaluation`] | the student's test accuracy and training summary |
//! | [`Storage`] | what the compressed set costs to store |
//! | [`TeacherRecord`] | the teacher the labels came from (soft / native labels) |
//! | [`path_for`], [`read`], [`read_all`], [`write_atomic`], [`RecordError`] | files |
//! | [`now`], [`peak_rss_bytes`] | the measurements behind `finished_at` and the RSS fields |
//!
//! ```no_run
//! use std::path::Path;
//!
//! let (records, unreadable) = distillery_record::read_all(Path::new("runs/hard-label"))?;
//! for r in &records {
//!     println!("{} {:?} {:?}", r.cell_id, r.status, r.accuracy());
//! }
//! for e in unreadable {
//!     eprintln!("warning: {e}");
//! }
//! # Ok::<(), distillery_record::RecordError>(())
//! ```

#![warn(missing_docs)]

mod file;
pub mod float;
mod measure;

pub use distillery_api::{Budget, Seeds};
pub use file::{path_for, read, read_all, write_atomic, RecordError};
pub use measure::{now, peak_rss_bytes};

use serde::{Deserialize, Serialize};

/// Version of the record format, written into [`Record::schema`]. It stays 1 while changes
/// are additive (new fields with a default).
pub const SCHEMA: u32 = 1;

/// Whether the cell produced an accuracy. Serialised lowercase: `"ok"`, `"failed"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The method returned a set that passed every check and the student was evaluated:
    /// [`Record::evaluation`] is present.
    Ok,
    /// Something failed (plugin error or panic, invalid set, training error, a crashed or
    /// killed cell process): [`Record::error`] says what.
    Failed,
}

/// The protocol a cell ran under.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ProtocolRef {
    /// The protocol's `name` (e.g. `hard-label`); empty if the plan's protocol text could not
    /// be parsed when the record was made.
    pub name: String,
    /// The protocol's own `version` string (e.g. `1.0`); empty as for `name`.
    pub version: String,
    /// SHA-256 (hex) of the protocol text: what decides whether two records are comparable.
    pub hash: String,
    /// Where the protocol was read from: a file path, or `<embedded>/protocols/<name>.toml`
    /// for the protocols built into `bench`.
    pub origin: String,
}

/// The dataset a cell ran on, with the sizes of its splits.
///
/// In the record the executor writes for a crashed cell (the cell process never loaded the
/// data), `classes`, `shape` and the split sizes are 0.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct DatasetRef {
    /// Dataset name (e.g. `mnist-5k`).
    pub name: String,
    /// Checksum (hex SHA-256) of the dataset's tensors, as the harness computes it on load.
    pub checksum: String,
    /// Number of classes.
    pub classes: usize,
    /// Image shape `[C, H, W]` at the dataset resolution.
    pub shape: [i64; 3],
    /// Images in the train split the method saw (validation hold-out removed).
    pub train: usize,
    /// Images in the validation hold-out (given to the method, never trained on by the student).
    pub val: usize,
    /// Images in the test split (never given to the method; the accuracy is measured on it).
    pub test: usize,
    /// How the dataset was read: format, what decided its kind, resize policy, files used and
    /// skipped. Added later (`#[serde(default)]`): absent in older records and in the record
    /// the executor writes for a crashed cell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<DatasetSource>,
}

/// How a dataset was read ([`DatasetRef::source`]): what a reader of the record needs to know
/// about decisions the loader made, so that none of them is silent.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct DatasetSource {
    /// `embedded`, `idx`, `cifar10`, `cifar100` or `image-folder`.
    pub format: String,
    /// What the classes are, where the format does not say it (idx files: `mnist` or
    /// `fashion-mnist`, which decide class names and mirror invariance); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// What decided `kind`: the file content (a published release recognised by the SHA-256
    /// of its files), the option `--dataset-kind`, or the embedded dataset itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind_from: Option<String>,
    /// ImageFolder trees: how every image was brought to the dataset's `[C, H, W]`
    /// (`--image-size`, `--channels`, resampling filter, no crop).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resize: Option<String>,
    /// ImageFolder trees: the class directories' names in label order, sorted by their bytes
    /// (the order of torchvision's `ImageFolder`, which pretrained teachers use), shown with
    /// U+FFFD where a name is not UTF-8. Added later (`#[serde(default)]`): absent in older
    /// records and for the other formats, whose class order is fixed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub class_names: Vec<String>,
    /// ImageFolder trees: per split directory, the files used and those left out (and why).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub splits: Vec<SplitFiles>,
    /// Warnings the loader printed about the data (e.g. images stretched far from their
    /// aspect ratio), in the words it printed them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// The files of one split directory of an ImageFolder tree ([`DatasetSource::splits`]).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct SplitFiles {
    /// The split directory's name (`train`, `test` or `val`).
    pub split: String,
    /// Image files decoded into the split.
    pub used: usize,
    /// Files left out, counted by reason (e.g. `hidden` → 1). Empty when none was.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub skipped: std::collections::BTreeMap<String, usize>,
    /// Used images whose longer side is more than twice their shorter side: stretched to a
    /// square, their content is distorted by more than 2x.
    #[serde(default)]
    pub aspect_beyond_2: usize,
    /// Used images upscaled by more than 2x along a side (a side shorter than half the target).
    #[serde(default)]
    pub upscaled_beyond_2: usize,
}

/// Versions of the software that produced a record.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Versions {
    /// The harness (`bench`) version.
    pub distillery: String,
    /// The plugin API version (`distillery_api::API_VERSION`).
    pub api: String,
    /// The `rustc --version` line the harness was built with.
    pub rustc: String,
    /// The `tch` crate version.
    pub tch: String,
    /// The libtorch version the harness is linked against.
    pub libtorch: String,
}

/// The machine a record was made on, as far as it decides CPU results
/// ([`Record::machine`]). Every field is empty when unknown (and in older records).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Machine {
    /// The CPU's model name (Linux: the first `model name` of `/proc/cpuinfo`, e.g.
    /// `AMD EPYC 7763 64-Core Processor`).
    #[serde(default)]
    pub cpu_model: String,
    /// libtorch's CPU capability: the instruction set its CPU kernels are dispatched to,
    /// `DEFAULT`, `AVX2` or `AVX512` on x86 (what PyTorch's
    /// `torch.backends.cpu.get_cpu_capability()` returns; `ATEN_CPU_CAPABILITY` lowers it).
    #[serde(default)]
    pub cpu_capability: String,
    /// How `cpu_capability` was obtained: `libtorch` (asked from the linked libtorch,
    /// `at::get_cpu_capability()`), or `cpu flags` (inferred from the CPU's features the way
    /// ATen chooses, when libtorch cannot be asked).
    #[serde(default)]
    pub cpu_capability_source: String,
}

impl Machine {
    /// Nothing is known (the default: older records).
    pub fn is_unknown(&self) -> bool {
        *self == Machine::default()
    }
}

/// Where a cell's wall-clock time went, in seconds. A phase that did not run is 0.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Timings {
    /// Loading the dataset and the plugin, from the cell process's start.
    #[serde(with = "float")]
    pub load_seconds: f64,
    /// The method's `compress` call (including the harness's private copy of the splits).
    #[serde(with = "float")]
    pub compress_seconds: f64,
    /// Training the student (same as [`Evaluation::train_seconds`]).
    #[serde(with = "float")]
    pub train_seconds: f64,
    /// Evaluating the student on the test split (same as [`Evaluation::eval_seconds`]).
    #[serde(with = "float")]
    pub eval_seconds: f64,
    /// The whole cell, from the process's start to the record (for a crashed cell: until the
    /// executor saw it exit).
    #[serde(with = "float")]
    pub total_seconds: f64,
}

/// The student's result: trained with the protocol's recipe on the checked compressed set,
/// measured on the test split after the last epoch (no checkpoint selection).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Evaluation {
    /// Top-1 accuracy on the test split, a fraction in [0, 1].
    #[serde(with = "float")]
    pub top1: f64,
    /// Top-5 accuracy on the test split, a fraction in [0, 1] (top-k over all classes when
    /// there are fewer than 5). Always measured; tables show it when the dataset has more than
    /// 10 classes.
    #[serde(with = "float")]
    pub top5: f64,
    /// Mean training loss over the last epoch's batches.
    #[serde(with = "float")]
    pub final_train_loss: f64,
    /// Epochs the student was trained.
    pub epochs: usize,
    /// Optimiser steps taken.
    pub steps: usize,
    /// Seconds spent training the student.
    #[serde(with = "float")]
    pub train_seconds: f64,
    /// Seconds spent evaluating it on the test split.
    #[serde(with = "float")]
    pub eval_seconds: f64,
    /// Augmentation actually applied: the DSA groups joined by `_` (flip dropped on digits,
    /// e.g. `color_crop_cutout_scale_rotate`), `rrc-flip (scale …)`, with a mix suffix such as
    /// ` + cutmix (alpha 1)`, or `none`.
    pub augment: String,
    /// What the student was trained against: `hard (cross-entropy)`, `soft: online teacher
    /// <key12> (KL, T 4)`, or `native: <the method's label function or stored labels>`
    /// (e.g. `native: kd (T 4, alpha 0.1) vs teacher <key12>`), `<key12>` being the first 12
    /// hex digits of the teacher's key. Empty in records written before this field existed
    /// (`#[serde(default)]`).
    #[serde(default)]
    pub labels: String,
    /// Set when training **diverged**: the 1-based epoch whose mean training loss was not
    /// finite (NaN or infinite), after which training stopped (`epochs` is then this epoch and
    /// `final_train_loss` the non-finite mean). The accuracies are those of the diverged
    /// network, measured as usual; reports mark the cell ("training diverged at epoch E").
    /// Absent (not written) when training did not diverge, and in older records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diverged_at_epoch: Option<usize>,
    /// Top-1 accuracy on the test split per true class (index = class), fractions; NaN for a
    /// class without test images. Absent in records written before it existed.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "float::opt_vec"
    )]
    pub per_class_top1: Option<Vec<f64>>,
    /// Confusion matrix of the test split, `[classes][classes]` image counts: `confusion[t][p]`
    /// images of true class `t` were predicted (top-1) as class `p` (rows = true class,
    /// columns = predicted class). Its trace over the test size is `top1`. Absent in records
    /// written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confusion: Option<Vec<Vec<u64>>>,
}

impl Evaluation {
    /// "training diverged at epoch E" when [`Evaluation::diverged_at_epoch`] is set.
    pub fn divergence_note(&self) -> Option<String> {
        self.diverged_at_epoch
            .map(|e| format!("training diverged at epoch {e} (non-finite training loss)"))
    }

    /// Per-class top-1 from a confusion matrix (rows = true class): the diagonal over each
    /// row's sum, NaN for an empty row.
    pub fn per_class_from_confusion(confusion: &[Vec<u64>]) -> Vec<f64> {
        confusion
            .iter()
            .enumerate()
            .map(|(t, row)| {
                let n: u64 = row.iter().sum();
                if n == 0 {
                    f64::NAN
                } else {
                    row.get(t).copied().unwrap_or(0) as f64 / n as f64
                }
            })
            .collect()
    }
}

/// What the compressed set costs to store, in bytes at the precision it is stored in.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Storage {
    /// Number of images in the set.
    pub images: usize,
    /// Bytes of the images: uint8 images at the dataset resolution count 1 byte per value;
    /// float images 4.
    pub image_bytes: u64,
    /// Bytes of the labels: hard labels at the smallest integer width that holds the class
    /// count (1 byte up to 256 classes); soft labels at their stored precision; a stored label
    /// file at its size. 0 under a soft-label protocol, whose labels come from the teacher.
    pub label_bytes: u64,
    /// `image_bytes + label_bytes`: the number budgets in bytes and the Pareto frontier use.
    pub total_bytes: u64,
    /// Parameter bytes (float32) of the online teacher the labels come from, when they do:
    /// what shipping the "labels" costs instead, not counted in `total_bytes`. Absent (not
    /// written) when no teacher was involved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teacher_parameter_bytes: Option<u64>,
}

/// One cell's record: `DIR/cells/<cell_id>.json`.
///
/// Optional fields are `None` (JSON `null`) when the cell failed before the step that fills
/// them; the fields marked "older records" were added after the first records were published
/// and default when absent.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Record {
    /// Record format version, [`SCHEMA`].
    pub schema: u32,
    /// Whether the cell produced an accuracy.
    pub status: Status,
    /// `<method>__<budget_label>__s<seed>`, also the file name (e.g. `random__ipc10__s0`).
    pub cell_id: String,
    /// The method (plugin) name, as the protocol or `--methods` names it.
    pub method: String,
    /// The plugin's family: `distillation`, `pruning`, `kd`, `reference` or `external`; empty
    /// when the plugin could not be loaded.
    pub family: String,
    /// The plugin's own version string (for a set imported from a file, it carries the file's
    /// hash); empty when the plugin could not be loaded.
    pub plugin_version: String,
    /// The shared library (or import source) the method was loaded from; empty when it could
    /// not be loaded.
    pub plugin_path: String,
    /// The budget the method had. `None` for reference cells (`full`), which have no budget.
    pub budget: Option<Budget>,
    /// [`Budget::label`] of `budget` (`ipc10`, `frac0.1`, `bytes4096`), or `full`.
    pub budget_label: String,
    /// The run seed: the index of this repeat.
    pub seed: u64,
    /// The seeds derived from `seed` (selection, init, order, augment).
    pub seeds: Seeds,
    /// The protocol the cell ran under.
    pub protocol: ProtocolRef,
    /// The dataset and its split sizes.
    pub dataset: DatasetRef,
    /// The device the cell ran on: `cpu`, `cuda:0`, …
    pub device: String,
    /// libtorch intra-op threads the cell ran with.
    pub threads: usize,
    /// True on CPU (bit-identical per seed on the same machine: same CPU model and libtorch
    /// CPU capability, see [`Record::machine`]) and on a GPU under `--deterministic`
    /// (libtorch's deterministic algorithms and cuDNN); false on a GPU otherwise
    /// (nondeterministic kernels).
    pub deterministic: bool,
    /// The CPU the cell ran on and the kernels libtorch chose for it: across CPUs libtorch
    /// dispatches to other vector kernels (AVX2, AVX-512), so CPU results are bit-identical
    /// per seed only on machines that agree here. Absent in older records (`#[serde(default)]`),
    /// and not written when unknown, so those records re-serialise unchanged.
    #[serde(default, skip_serializing_if = "Machine::is_unknown")]
    pub machine: Machine,
    /// Software versions of the harness that wrote the record.
    pub versions: Versions,
    /// The student's result; `None` unless `status` is `ok`.
    pub evaluation: Option<Evaluation>,
    /// What the set costs to store; `None` when the method's output never passed validation.
    pub storage: Option<Storage>,
    /// Images per class in the checked set (index = class); `None` when the method's output
    /// never passed validation.
    pub per_class: Option<Vec<usize>>,
    /// Where the cell's time went.
    pub timings: Timings,
    /// Peak resident memory of the cell's process (harness + plugin), bytes; 0 for a cell
    /// whose process crashed before writing its record.
    pub peak_rss_bytes: u64,
    /// Peak resident memory of the process when the method returned (data loading + the
    /// method's own work, before the student is trained), bytes. 0 when the method did not
    /// return, and in older records.
    #[serde(default)]
    pub compress_peak_rss_bytes: u64,
    /// Whatever JSON the method returned about its own run (scores, losses, choices); `null`
    /// when it did not return.
    pub method_metadata: serde_json::Value,
    /// The method's effective `[methods.<name>]` configuration (protocol table with any
    /// `--method-config` table merged over it). `null` in records written before it existed.
    #[serde(default)]
    pub method_config: serde_json::Value,
    /// The protocol's label mode (`hard`, `soft`, `native`); empty in older records (hard).
    #[serde(default)]
    pub labels: String,
    /// The teacher the student's labels came from, with its own accuracy. Absent (not written)
    /// when no teacher was needed: hard labels, or native labels without a KD-style label
    /// function.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teacher: Option<TeacherRecord>,
    /// Why the cell failed (may span several lines: the plugin's message, the crashed
    /// process's last log lines); `None` when `status` is `ok`.
    pub error: Option<String>,
    /// Set when this record was copied from the per-user reference cache: the cache file it
    /// came from. Reference cells (`full`) are expensive and identical across runs, so they are
    /// reused when protocol, dataset, plugin, seed, device and versions match.
    pub cached_from: Option<String>,
    /// When the record was written, seconds since the Unix epoch (see [`now`]).
    pub finished_at: u64,
    /// Where the cell ran when a Slurm job array task started it (`bench --executor slurm`):
    /// job and array ids, node, and the allocation's CPUs and GPUs. Absent (not written) for
    /// cells run by the local executor and in older records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slurm: Option<SlurmInfo>,
    /// Set when the student was trained as one member of a grouped model (`bench --group`):
    /// the cell's own set, initialisation, batch order and augmentation draws, trained in one
    /// model with other cells' students; its result equals its separate run up to
    /// floating-point rounding. Absent (not written) for a student trained alone and in older
    /// records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grouped: Option<GroupedInfo>,
}

/// How a cell's student was trained grouped ([`Record::grouped`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroupedInfo {
    /// Students in the grouped model (>= 2).
    pub size: usize,
    /// The cell ids of every member, this one included, in member order.
    pub members: Vec<String>,
    /// Wall seconds of the grouped training and evaluation, shared by all members: the
    /// record's `timings.train_seconds` and `eval_seconds` are this group's, not per member.
    #[serde(with = "float")]
    pub group_seconds: f64,
}

/// The Slurm allocation a cell ran in, read from the task's environment (`SLURM_JOB_ID`,
/// `SLURM_ARRAY_JOB_ID`, `SLURM_ARRAY_TASK_ID`, `SLURMD_NODENAME`, `SLURM_CPUS_PER_TASK`,
/// `CUDA_VISIBLE_DEVICES`), or for a task that died without writing a record, from the
/// scheduler (`sacct` or `scontrol show job`), with the state it ended in.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct SlurmInfo {
    /// The task's own job id (`SLURM_JOB_ID`), e.g. `"57"`.
    #[serde(default)]
    pub job_id: String,
    /// The array's job id (`SLURM_ARRAY_JOB_ID`), e.g. `"54"`: `scancel 54` cancels the array.
    #[serde(default)]
    pub array_job_id: String,
    /// The array task index (`SLURM_ARRAY_TASK_ID`); `None` outside an array.
    #[serde(default)]
    pub array_task_id: Option<u32>,
    /// The node the task ran on (`SLURMD_NODENAME`).
    #[serde(default)]
    pub node: String,
    /// CPUs allocated to the task (`SLURM_CPUS_PER_TASK`); the cell's torch threads.
    #[serde(default)]
    pub cpus_per_task: Option<usize>,
    /// The GPUs Slurm gave the task (`CUDA_VISIBLE_DEVICES`), e.g. `"0"`; `None` without GPUs.
    #[serde(default)]
    pub cuda_visible_devices: Option<String>,
    /// For a record the submitting `bench` wrote because the task ended without one (or ended
    /// failed): the scheduler's state (`FAILED`, `CANCELLED`, `TIMEOUT`, `OUT_OF_MEMORY`,
    /// `NODE_FAIL`, …); `None` in records a task wrote itself and that finished normally.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// The scheduler's reason and exit code (`NonZeroExitCode, exit 1:0`) with `state`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Record {
    /// Top-1 test accuracy, a fraction in [0, 1]; `None` for a failed cell.
    pub fn accuracy(&self) -> Option<f64> {
        self.evaluation.as_ref().map(|e| e.top1)
    }
}

/// A teacher as recorded next to the cells that used it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TeacherRecord {
    /// Content key of its cache entry (`~/.cache/distillery/teachers/<key>`), hex SHA-256.
    pub key: String,
    /// Its architecture, described (e.g. `ConvNet-3 (width 128, instance norm)`).
    pub model: String,
    /// Validation accuracy of the kept epoch (what it was selected on), a fraction.
    #[serde(with = "float")]
    pub val_acc: f64,
    /// Its own top-1 on the test split, a fraction (measured by the harness, never used to
    /// choose anything).
    #[serde(with = "float")]
    pub test_acc: f64,
    /// The 1-based epoch whose weights were kept (best validation accuracy).
    pub best_epoch: usize,
    /// Epochs trained before early stopping.
    pub epochs_run: usize,
    /// Number of parameters.
    pub parameters: i64,
    /// Parameter bytes at float32 (`4 * parameters`): what an online teacher costs to ship.
    pub parameter_bytes: u64,
    /// True when the weights came from the per-user cache rather than being trained by this
    /// cell.
    pub from_cache: bool,
    /// Seconds it took to train (for a cached teacher: when it was trained; 0 for a
    /// pretrained one).
    #[serde(with = "float")]
    pub train_seconds: f64,
    /// Hex SHA-256 of the weights file of a pretrained teacher (`bench --teacher FILE`), which
    /// is also its `key`. Absent for a harness-trained teacher (its `key` names the cache
    /// entry, whose `teacher.json` holds the weights' SHA-256) and in older records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights_sha256: Option<String>,
    /// The weights file of a pretrained teacher, as given (`--teacher` or the protocol's
    /// `[teacher.pretrained] file`); absent for a harness-trained teacher. `best_epoch` and
    /// `epochs_run` are 0 for a pretrained teacher, and `val_acc` is measured on the
    /// validation split like `test_acc` on the test split.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}
