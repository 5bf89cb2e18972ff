//! The error of the importer: the file (or folder) and what is wrong with it.
//!
//! [`ImportError`]'s `Display` is the whole message the user reads, path first
//! (`/d/set.safetensors: tensor `labels`: label 7 (image 3) is out of range: …`); tests and
//! users rely on these texts. Causes whose text is already in the message (an I/O error, a
//! dataset reader's error) are kept as values but not returned again by `source()`, so that
//! printing the error with its chain (`{:#}`) does not repeat them.

use super::layout::{self as tensors, DType};
use crate::data::DataError;
use distillery_api::Budget;
use std::fmt;
use std::path::{Path, PathBuf};

/// Why a compressed set cannot be imported. `path` is the file, the ImageFolder root, or the
/// file or folder inside it that is wrong (a `metadata.json`, a class folder).
#[derive(Debug)]
pub struct ImportError {
    /// The file or folder the message is about (absolute when it came through `open`).
    pub path: PathBuf,
    /// What is wrong with it.
    pub kind: ImportErrorKind,
}

/// What is wrong with an imported file. Each variant's text follows the path and `": "` in
/// the message, except where the variant says otherwise.
#[derive(Debug, thiserror::Error)]
pub enum ImportErrorKind {
    /// The path does not exist.
    #[error("no such file or directory")]
    NotFound,
    /// The file exists but could not be read.
    #[error("cannot read: {0}")]
    Unreadable(std::io::Error),
    /// A file inside an ImageFolder tree (its `metadata.json`, an image) could not be read.
    #[error("{0}")]
    Io(std::io::Error),
    /// The dataset readers' error while decoding an ImageFolder tree; its text names its own
    /// path, so the message is this text alone (no path prefix).
    #[error("{0}")]
    Data(DataError),
    /// The bytes are not a well-formed container (safetensors header, `.npz` zip, ImageFolder
    /// tree, `metadata.json`): the text says what was expected and found.
    #[error("{0}")]
    Container(String),
    /// A file recognised from its bytes as a container `--from` does not read (a PyTorch
    /// `.pt`, a pickle, HDF5, Parquet, …): what it is, the formats read, how to convert it.
    #[error("is {}, which is not supported: {}. To evaluate it, {}", .0.what(), super::sniff::SUPPORTED, .0.advice())]
    Unsupported(super::sniff::Foreign),
    /// An `.npz` entry that is not an array this harness reads.
    #[error("tensor `{tensor}` ({entry}): {error}")]
    Npy {
        /// The tensor's name (the entry without `.npy`).
        tensor: String,
        /// The zip entry's name.
        entry: String,
        /// What is wrong with its `.npy` payload.
        error: NpyError,
    },
    /// A folder of an ImageFolder set that is not one of the dataset's classes (the path is
    /// the folder).
    #[error("folder `{folder}` is not a class of the dataset (classes: {classes})")]
    NotAClass {
        /// The folder's name.
        folder: String,
        /// The dataset's class names (the first ten and the count when there are many).
        classes: String,
    },
    /// A metadata key whose value this harness refuses.
    #[error("metadata `{key}`: {problem}")]
    Metadata {
        /// The key, e.g. `budget`.
        key: String,
        /// What is wrong and how to fix it.
        problem: String,
    },
    /// A required tensor is absent.
    #[error("no tensor `{name}` ({expected}): a compressed set holds `images` [N, C, H, W] and `labels` [N]")]
    MissingTensor {
        /// `images` or `labels`.
        name: &'static str,
        /// Its element type and shape, in words.
        expected: &'static str,
    },
    /// A tensor whose name is not one of the layout ([`ROLES`](super::tensors::ROLES)).
    #[error("unknown tensor `{name}`: a compressed set holds {} (see CONTRIBUTING.md, \"Evaluating a set made elsewhere\")", tensors::role_names())]
    UnknownTensor {
        /// The name found in the file.
        name: String,
    },
    /// A tensor whose element type the reader does not know at all.
    #[error("{}", unknown_dtype_text(.tensor, .found))]
    UnknownDType {
        /// The tensor's name.
        tensor: String,
        /// The element type as the file names it.
        found: String,
    },
    /// A known element type that the tensor's role does not accept.
    #[error("tensor `{tensor}` has dtype {} ({}): `{tensor}` must be {}", .dtype.safetensors_name(), .dtype.torch_name(), tensors::role_rule(.tensor).unwrap_or("?"))]
    WrongDType {
        /// The tensor's name (one of [`ROLES`](super::tensors::ROLES)).
        tensor: String,
        /// Its element type.
        dtype: DType,
    },
    /// A tensor of the wrong shape.
    #[error("tensor `{name}` has shape {found:?}: {expected}")]
    Shape {
        /// The tensor's name.
        name: String,
        /// Its shape as stored.
        found: Vec<i64>,
        /// What was expected, and a hint when the shape looks like a known mistake.
        expected: String,
    },
    /// A problem with one tensor, worded `tensor `name`: problem`.
    #[error("tensor `{name}`: {problem}")]
    Tensor {
        /// The tensor's name.
        name: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A problem with one tensor, worded `tensor `name` problem` (e.g. `is truncated: …`,
    /// `contains 3 NaN or infinite values`).
    #[error("tensor `{name}` {problem}")]
    BadTensor {
        /// The tensor's name.
        name: String,
        /// What is wrong with it, continuing the sentence.
        problem: String,
    },
    /// An image of the set is a verbatim copy of a test image that is not in the train split.
    #[error("tensor `images`: image {image} (label {label}) is identical to test image {test_image} of `{dataset}`, which is not in the train split: a compressed set must be made from the train split only")]
    TestImage {
        /// Its index in the set.
        image: usize,
        /// Its label in the set (-1 when there is none).
        label: i64,
        /// The index of the test image it copies.
        test_image: usize,
        /// The dataset's name.
        dataset: String,
    },
    /// The file declares a budget the run does not evaluate.
    #[error("metadata `budget` declares {}, but this run's budgets are {}: add that budget (e.g. --ipc/--fraction/--bytes) to evaluate it; a set is evaluated only at the budget it was made for", .declared.header(), headers(.run))]
    BudgetNotInRun {
        /// The declared budget.
        declared: Budget,
        /// The run's budgets.
        run: Vec<Budget>,
    },
    /// The file declares a run seed the run does not have.
    #[error("metadata `seed` = {seed} (the run seed the set was made for), but this run has seeds 0..{}: use --seeds {} or more, or drop the `seed` key to evaluate the set under every seed", .seeds.saturating_sub(1), .seed + 1)]
    SeedNotInRun {
        /// The declared seed.
        seed: u64,
        /// The run's number of seeds.
        seeds: usize,
    },
    /// Two files give the same row a set for the same budget and seed. The message names
    /// `other` first: `<other> and <path> both give row …` (no `path: ` prefix).
    #[error("both give row `{row}` a set at {} for seed {seed}: give one of them another `method` in its metadata (or another file name), or declare the `budget`/`seed` each was made for", .budget.header())]
    RowTaken {
        /// The file that took the cell first.
        other: PathBuf,
        /// The row, `file:<name>`.
        row: String,
        /// The cell's budget.
        budget: Budget,
        /// The cell's run seed.
        seed: u64,
    },
    /// The file changed between planning and the cell (message: `<path> changed since …`).
    #[error("changed since the run was planned (sha256 {planned} then, {now} now); run the command again to plan it afresh")]
    Changed {
        /// SHA-256 when the run was planned.
        planned: String,
        /// SHA-256 now.
        now: String,
    },
    /// The file declares another budget than the cell's.
    #[error("metadata `budget` declares {}, but this cell's budget is {}: a set is evaluated only at the budget it was made for", .declared.header(), .cell.header())]
    BudgetNotCell {
        /// The declared budget.
        declared: Budget,
        /// The cell's budget.
        cell: Budget,
    },
}

/// Why an `.npz` entry's `.npy` payload is not an array this harness reads.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum NpyError {
    /// Not an `.npy` payload.
    #[error("not an .npy array (bad magic)")]
    BadMagic,
    /// A format version other than 1, 2 or 3.
    #[error("unsupported .npy format version {0}")]
    Version(u8),
    /// Shorter than its header says.
    #[error("truncated .npy header")]
    TruncatedHeader,
    /// The header is not UTF-8.
    #[error("the .npy header is not text")]
    HeaderNotText,
    /// A required header key (`descr`, `shape`) is absent.
    #[error("the .npy header has no '{0}'")]
    MissingKey(&'static str),
    /// A multi-byte big-endian element type.
    #[error("dtype {0:?} is big-endian; save little-endian arrays (`a.astype(a.dtype.newbyteorder('<'))`)")]
    BigEndian(String),
    /// A pickled object array (never loaded).
    #[error("dtype {0:?} is a pickled object array, which is never loaded; save numeric arrays")]
    Pickled(String),
    /// An element type this reader does not know (complex, structured, …).
    #[error("unknown dtype {0:?}")]
    UnknownDType(String),
    /// Fortran (column-major) order.
    #[error("saved in Fortran order; save a C-ordered array (`np.ascontiguousarray(a)`)")]
    FortranOrder,
    /// The `shape` value is not a tuple of integers.
    #[error("bad shape {0} in the .npy header")]
    BadShape(String),
}

/// Why a set cannot be written (`bench export`, tests): never about a user's file, so no path.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// A libtorch element type the layout cannot store (complex, …).
    #[error("cannot store a tensor of kind {0:?}")]
    Kind(tch::Kind),
    /// Copying a tensor's bytes failed.
    #[error("{0}")]
    Tch(tch::TchError),
    /// NumPy has no bfloat16 (`.npz` only).
    #[error("tensor `{0}`: NumPy has no bfloat16")]
    NoBf16(String),
    /// Writing the zip archive failed.
    #[error("{0}")]
    Zip(String),
    /// The safetensors crate refused the tensors.
    #[error("safetensors: {0}")]
    Safetensors(String),
}

impl ImportError {
    /// An error about `path`.
    pub fn new(path: impl Into<PathBuf>, kind: ImportErrorKind) -> Self {
        ImportError {
            path: path.into(),
            kind,
        }
    }

    /// [`ImportErrorKind::Container`] about `path`.
    pub(crate) fn container(path: &Path, text: impl Into<String>) -> Self {
        Self::new(path, ImportErrorKind::Container(text.into()))
    }

    /// [`ImportErrorKind::Metadata`] about `path`.
    pub(crate) fn metadata(path: &Path, key: &str, problem: impl Into<String>) -> Self {
        let (key, problem) = (key.to_string(), problem.into());
        Self::new(path, ImportErrorKind::Metadata { key, problem })
    }

    /// [`ImportErrorKind::Tensor`] about `path` (`tensor `name`: problem`).
    pub(crate) fn tensor(path: &Path, name: &str, problem: impl Into<String>) -> Self {
        let (name, problem) = (name.to_string(), problem.into());
        Self::new(path, ImportErrorKind::Tensor { name, problem })
    }

    /// [`ImportErrorKind::BadTensor`] about `path` (`tensor `name` problem`).
    pub(crate) fn bad_tensor(path: &Path, name: &str, problem: impl Into<String>) -> Self {
        let (name, problem) = (name.to_string(), problem.into());
        Self::new(path, ImportErrorKind::BadTensor { name, problem })
    }

    /// [`ImportErrorKind::Shape`] about `path`.
    pub(crate) fn shape(
        path: &Path,
        name: &str,
        found: &[usize],
        expected: impl Into<String>,
    ) -> Self {
        let found = found.iter().map(|&d| d as i64).collect();
        let (name, expected) = (name.to_string(), expected.into());
        Self::new(
            path,
            ImportErrorKind::Shape {
                name,
                found,
                expected,
            },
        )
    }
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path.display();
        match &self.kind {
            ImportErrorKind::Data(e) => write!(f, "{e}"),
            ImportErrorKind::RowTaken { other, .. } => {
                write!(f, "{} and {path} {}", other.display(), self.kind)
            }
            ImportErrorKind::Changed { .. } => write!(f, "{path} {}", self.kind),
            kind => write!(f, "{path}: {kind}"),
        }
    }
}

impl std::error::Error for ImportError {}

fn headers(budgets: &[Budget]) -> String {
    let run: Vec<String> = budgets.iter().map(|b| b.header()).collect();
    run.join(", ")
}

fn unknown_dtype_text(tensor: &str, found: &str) -> String {
    match tensors::role_rule(tensor) {
        Some(rule) => {
            format!("tensor `{tensor}` has unknown dtype {found:?}: `{tensor}` must be {rule}")
        }
        None => format!(
            "tensor `{tensor}` has unknown dtype {found:?} (and `{tensor}` is not a tensor of the layout: {})",
            tensors::role_names()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_put_the_path_first_except_where_the_kind_names_it() {
        let p = Path::new("/d/b.npz");
        let e = ImportError::new(p, ImportErrorKind::NotFound);
        assert_eq!(e.to_string(), "/d/b.npz: no such file or directory");
        let e = ImportError::new(
            p,
            ImportErrorKind::RowTaken {
                other: PathBuf::from("/d/a.npz"),
                row: "file:x".into(),
                budget: Budget::Ipc(1),
                seed: 0,
            },
        );
        assert!(
            e.to_string().starts_with(
                "/d/a.npz and /d/b.npz both give row `file:x` a set at IPC 1 for seed 0: "
            ),
            "{e}"
        );
        let e = ImportError::new(
            p,
            ImportErrorKind::Changed {
                planned: "a".into(),
                now: "b".into(),
            },
        );
        assert!(
            e.to_string()
                .starts_with("/d/b.npz changed since the run was planned (sha256 a then, b now)"),
            "{e}"
        );
    }
}
