//! Record files: where they live, writing one atomically, reading one or a whole run.

use crate::Record;
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Why a record file or a run directory could not be read.
///
/// Each message names the path and includes the underlying error's text (which is therefore not
/// also chained as [`std::error::Error::source`], so that `{:#}` prints it once). The texts are
/// what `bench report` and `bench compare` show users.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The file could not be read.
    #[error("{}: cannot read: {error}", path.display())]
    Read {
        /// The record file.
        path: PathBuf,
        /// What the file system said.
        error: std::io::Error,
    },
    /// The file is not a JSON cell record this version can read.
    #[error("{}: not a Distillery cell record: {error}", path.display())]
    Parse {
        /// The record file.
        path: PathBuf,
        /// What the JSON parser said (with line and column).
        error: serde_json::Error,
    },
    /// The `cells` folder of a run directory could not be listed.
    #[error("{}: no cell records here ({error}); is this a `bench --out` directory?", cells.display())]
    NoCells {
        /// The `DIR/cells` folder.
        cells: PathBuf,
        /// What the file system said.
        error: std::io::Error,
    },
}

/// The record file of cell `id` in the run directory `out`: `<out>/cells/<id>.json`.
pub fn path_for(out: &Path, id: &str) -> PathBuf {
    out.join("cells").join(format!("{id}.json"))
}

/// Writes `value` as pretty JSON (plus a final newline) to `path` atomically and durably with
/// [`distillery_api::fsio::write_atomic_with`] (hidden temporary file next to it, fsync,
/// rename, fsync the folder). A killed process leaves either the old file or the new one,
/// never half a record. Creates the parent folder if needed.
///
/// # Errors
/// Any I/O error creating, writing, syncing or renaming; a value serde cannot serialise is
/// reported as [`std::io::ErrorKind::Other`].
pub fn write_atomic<T: Serialize>(path: &Path, value: &T) -> std::io::Result<()> {
    let json = serde_json::to_string_pretty(value).map_err(std::io::Error::other)?;
    std::fs::create_dir_all(path.parent().unwrap_or(Path::new(".")))?;
    distillery_api::fsio::write_atomic_with(path, |f| {
        f.write_all(json.as_bytes())?;
        f.write_all(b"\n")
    })
}

/// Reads and parses one record file.
///
/// # Errors
/// [`RecordError::Read`] if the file cannot be read, [`RecordError::Parse`] if it is not a
/// record.
pub fn read(path: &Path) -> Result<Record, RecordError> {
    let text = std::fs::read_to_string(path).map_err(|error| RecordError::Read {
        path: path.to_path_buf(),
        error,
    })?;
    serde_json::from_str(&text).map_err(|error| RecordError::Parse {
        path: path.to_path_buf(),
        error,
    })
}

/// Every record under `<dir>/cells` (`*.json`, hidden files such as in-flight temporary files
/// skipped; sub-folders such as `cells/stale` not entered), sorted by file name, i.e. by cell
/// id. Files that do not read or parse are returned as messages (the [`RecordError`] texts) in
/// the second vector, not skipped silently.
///
/// # Errors
/// [`RecordError::NoCells`] if `<dir>/cells` cannot be listed.
pub fn read_all(dir: &Path) -> Result<(Vec<Record>, Vec<String>), RecordError> {
    let cells = dir.join("cells");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&cells)
        .map_err(|error| RecordError::NoCells {
            cells: cells.clone(),
            error,
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().is_some_and(|x| x == "json")
                && !p.file_name().unwrap().to_string_lossy().starts_with('.')
        })
        .collect();
    paths.sort();
    let (mut ok, mut bad) = (Vec::new(), Vec::new());
    for p in paths {
        match read(&p) {
            Ok(r) => ok.push(r),
            Err(e) => bad.push(e.to_string()),
        }
    }
    Ok((ok, bad))
}
