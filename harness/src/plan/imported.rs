//! What the plan records about a compressed set imported from a file (`--from PATH`,
//! `--methods file:PATH`): the checked file's identity, row and declarations. A leaf: it
//! depends on the API crate only, so that [`crate::plan::CellSpec`] can hold it while
//! `crate::import` (which reads and checks the files) depends on the plan and not back.
//! `crate::import` re-exports both types as `import::Source` and `import::Format`.

use distillery_api::{Budget, Family};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The container a set was read from (detected from the content, see `crate::import`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// A safetensors file.
    Safetensors,
    /// A NumPy `.npz` archive.
    Npz,
    /// An ImageFolder tree (`root/<class name>/*.png`).
    ImageFolder,
    /// A Parquet file or a folder of shards (one row per encoded image).
    Parquet,
}

impl Format {
    /// The name recorded in a cell's metadata: `safetensors`, `npz`, `image-folder` or
    /// `parquet`.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Safetensors => "safetensors",
            Format::Npz => "npz",
            Format::ImageFolder => "image-folder",
            Format::Parquet => "parquet",
        }
    }
}

/// The columns a Parquet set is read from (`--from-image-column`, `--from-label-column`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Columns {
    /// Encoded PNG/JPEG bytes: binary, or a struct `{bytes, path}` (Hugging Face `Image`).
    pub image: String,
    /// Integer class indices.
    pub label: String,
}

impl Default for Columns {
    /// `image` and `class_id`, the names of the benchmark's published sets.
    fn default() -> Self {
        Columns {
            image: "image".into(),
            label: "class_id".into(),
        }
    }
}

/// What the plan records about one imported file (and what the cell's importer receives).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Source {
    /// Absolute path of the file or ImageFolder root.
    pub path: PathBuf,
    /// The container it was read from.
    pub format: Format,
    /// SHA-256 of the file (of the files read, for an ImageFolder tree), lowercase hex.
    pub sha256: String,
    /// The table row: `file:<name>`.
    pub row: String,
    /// Declared in the metadata (`family`), default `external`.
    pub family: Family,
    /// Declared method name (`method` metadata), verbatim.
    pub method: Option<String>,
    /// Declared method version (`version` metadata).
    pub version: Option<String>,
    /// Declared paper (`paper` metadata).
    pub paper: Option<String>,
    /// Declared budget (`budget` metadata), if any.
    pub budget: Option<Budget>,
    /// Declared run seed (`seed` metadata), if any.
    pub seed: Option<u64>,
    /// The file's metadata, verbatim.
    pub metadata: BTreeMap<String, String>,
    /// The dataset it was checked against when the run was planned (for messages).
    pub dataset: String,
    /// Found when the run was planned (e.g. no dataset checksum to verify).
    pub warnings: Vec<String>,
    /// The columns read (Parquet sets only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub columns: Option<Columns>,
}

impl Source {
    /// The version recorded as the cell's `plugin_version`: declared version and file hash, so
    /// a finished cell is reused only for a byte-identical file.
    pub fn version_tag(&self) -> String {
        format!(
            "{}+sha256.{}",
            self.version.as_deref().unwrap_or("unversioned"),
            &self.sha256[..16]
        )
    }
}
