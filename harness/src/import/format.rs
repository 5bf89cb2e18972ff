//! The layout's identity and the container it comes in.
//!
//! A set is one file or folder holding the tensors `images` (uint8 or float `[N, C, H, W]`),
//! `labels` (int64 `[N]`) and optionally `soft_labels` (`[N, K]`), `weights` (`[N]`) and
//! `indices` (int64 `[N]`), plus string metadata (`format`, `format_version`, `method`,
//! `family`, `budget`, `seed`, `dataset_checksum`, …). The full layout — names, shapes, dtypes,
//! metadata keys — is documented in CONTRIBUTING.md ("Evaluating a set made elsewhere"); the
//! tensors' roles and element types are in [`super::tensors::ROLES`].
//!
//! The container is detected from the content: a directory of `.parquet` shards (directly or
//! in `data/`) is a Parquet set ([`super::parquet`]), any other directory an ImageFolder tree
//! ([`super::folder`]); a Parquet file (`PAR1` at both ends) is read by [`super::parquet`]; a
//! file that [`super::sniff`] recognises as a format `--from` does not read (a PyTorch `.pt`,
//! a pickle, HDF5, …) is refused with how to convert it; a zip
//! (or a `.npz` name) is NumPy's `.npz` ([`super::npz`]); anything else is read as safetensors
//! ([`super::safetensors`]).

use super::error::{ImportError, ImportErrorKind};
use super::tensors::RawTensor;
use super::{folder, npz, parquet, safetensors, sniff};
use crate::plan::imported::Format;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;

/// `format` metadata value of the layout.
pub const FORMAT: &str = "distillery-set";
/// The layout's version: a file declaring a newer `format_version` is refused.
pub const FORMAT_VERSION: u32 = 1;

/// A container as read, before any check of the layout.
pub(crate) struct Container {
    /// Tensors in file order.
    pub tensors: Vec<(String, RawTensor)>,
    /// The metadata, values as strings.
    pub metadata: BTreeMap<String, String>,
    pub format: Format,
    /// SHA-256 of the file (of the files read, for an ImageFolder tree), lowercase hex.
    pub sha256: String,
    /// Images resized to the dataset's resolution (ImageFolder and Parquet only).
    pub resized: usize,
    /// What the reader wants recorded (the Parquet shards read).
    pub notes: Vec<String>,
}

/// Reads `path` in whichever container it is; an ImageFolder tree or a Parquet set is decoded
/// at `shape` (`[C, H, W]`), the tree's folders matched to `class_names`, the Parquet set read
/// from `columns`.
///
/// # Errors
/// [`ImportErrorKind::NotFound`], [`ImportErrorKind::Unreadable`],
/// [`ImportErrorKind::Unsupported`] (a container recognised as one that is not read), or the
/// reader's error.
pub(crate) fn read(
    path: &Path,
    shape: [i64; 3],
    class_names: &[String],
    columns: &parquet::Columns,
) -> Result<Container, ImportError> {
    let from_parquet = |p: parquet::Parquet| Container {
        tensors: p.tensors,
        metadata: p.metadata,
        format: Format::Parquet,
        sha256: p.sha256,
        resized: p.resized,
        notes: p.notes,
    };
    if path.is_dir() && parquet::is_shard_folder(path) {
        return Ok(from_parquet(parquet::read(path, shape, columns)?));
    }
    if path.is_dir() {
        let f = folder::read(path, shape, class_names)?;
        return Ok(Container {
            tensors: f.tensors,
            metadata: f.metadata,
            format: Format::ImageFolder,
            sha256: f.sha256,
            resized: f.resized,
            notes: Vec::new(),
        });
    }
    let bytes = std::fs::read(path).map_err(|e| {
        let kind = if e.kind() == std::io::ErrorKind::NotFound {
            ImportErrorKind::NotFound
        } else {
            ImportErrorKind::Unreadable(e)
        };
        ImportError::new(path, kind)
    })?;
    if sniff::sniff(&bytes) == Some(sniff::Foreign::Parquet) {
        drop(bytes);
        return Ok(from_parquet(parquet::read(path, shape, columns)?));
    }
    if let Some(found) = sniff::sniff(&bytes) {
        return Err(ImportError::new(path, ImportErrorKind::Unsupported(found)));
    }
    let sha256 = hex::encode(Sha256::digest(&bytes));
    let is_npz = bytes.starts_with(b"PK")
        || path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("npz"));
    let ((tensors, metadata), format) = if is_npz {
        (npz::read(path, &bytes)?, Format::Npz)
    } else {
        (safetensors::read(path, &bytes)?, Format::Safetensors)
    };
    Ok(Container {
        tensors,
        metadata,
        format,
        sha256,
        resized: 0,
        notes: Vec::new(),
    })
}
