//! The decoded-image cache of ImageFolder datasets: decoding tens of thousands of JPEGs takes
//! minutes, every cell process loads the dataset, and the decoded pixels depend only on the
//! files' bytes and the preprocessing. So the decoded splits are stored once per user in
//! `$XDG_CACHE_HOME/distillery/datasets/<key>.bin` (default `~/.cache/distillery/datasets/`)
//! and read back by every later load; delete the folder to clear it.
//!
//! **Key** ([`Key`]): SHA-256 over a tag with this cache's format and the decoder
//! ([`DECODER`]), the channel count, the class names (exact bytes), and per split its
//! preprocessing and, per file in order, its path relative to the dataset root, its label
//! and the SHA-256 of its bytes. So a file edited in place, renamed, added or removed, another
//! preprocessing or another class order is another key; a copy of the dataset elsewhere
//! (same relative paths and bytes) is the same key. Computing it reads every file once (in
//! parallel), which is what a cached load costs besides reading the entry.
//!
//! **Entry**: `distillery-decoded-v1\n`, a little-endian `u64` header length, a JSON header
//! (`key`, the dataset's content `checksum`, per split `n`, `c`, `side`), then per split its
//! pixels (`n * c * side * side` bytes, NCHW) and its images' sizes before preprocessing
//! (`n` pairs of little-endian `u32` width, height). Written atomically
//! (`distillery_api::fsio::write_atomic_with`), so a reader never sees half an entry. The
//! loader recomputes the content checksum of what it read (as it does for every dataset) and
//! compares it with the header's: an entry that does not match is reported, deleted and
//! decoded again, never used.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use super::decode::{progress, Preprocess};
use super::{read_file, Result};

/// The decoder whose output is cached: a change of crate, filter or conversion must change
/// this string (and so every key).
pub const DECODER: &str = "image-0.25 zune-jpeg, imageops::resize Triangle, to_rgb8/to_luma8";

const MAGIC: &[u8] = b"distillery-decoded-v1\n";

/// The per-user cache folder: `$XDG_CACHE_HOME/distillery/datasets`, else
/// `$HOME/.cache/distillery/datasets` (the root the teacher and reference caches use,
/// `crate::executor::cache_root`, computed here because `data` is a leaf module); `None`
/// without either variable.
pub fn default_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("distillery").join("datasets"))
}

/// The files of one split as the key sees them.
pub struct SplitFiles<'a> {
    /// The split's preprocessing.
    pub preprocess: Preprocess,
    /// Image files and their labels, in load order.
    pub files: &'a [(PathBuf, i64)],
}

/// A cache key: 64 lowercase hex digits (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key(pub String);

/// Computes the key of a dataset under `root` (see the module docs); reads every file.
///
/// # Errors
/// A file that cannot be read ([`super::DataError::Io`] naming it).
pub fn key<'a>(
    root: &Path,
    channels: usize,
    class_names: impl Iterator<Item = &'a [u8]>,
    splits: &[SplitFiles],
) -> Result<Key> {
    let mut h = Sha256::new();
    h.update(MAGIC);
    h.update(DECODER.as_bytes());
    h.update((channels as u64).to_le_bytes());
    for name in class_names {
        h.update((name.len() as u64).to_le_bytes());
        h.update(name);
    }
    let total: usize = splits.iter().map(|s| s.files.len()).sum();
    let pb = progress(total, "hashing image files");
    for split in splits {
        h.update(serde_json::to_vec(&split.preprocess).expect("serialisable"));
        h.update((split.files.len() as u64).to_le_bytes());
        let digests: Vec<Result<[u8; 32]>> = split
            .files
            .par_iter()
            .map(|(p, _)| {
                let d = Sha256::digest(read_file(p, "an image file")?).into();
                pb.inc(1);
                Ok(d)
            })
            .collect();
        for ((path, label), d) in split.files.iter().zip(digests) {
            let rel = path.strip_prefix(root).unwrap_or(path);
            let rel = rel.as_os_str().as_encoded_bytes();
            h.update((rel.len() as u64).to_le_bytes());
            h.update(rel);
            h.update(label.to_le_bytes());
            h.update(d?);
        }
    }
    pb.finish_and_clear();
    Ok(Key(hex::encode(h.finalize())))
}

/// One split's decoded images and their sizes before preprocessing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// `n * c * side * side` bytes, NCHW.
    pub images: Vec<u8>,
    /// `(width, height)` per image before preprocessing.
    pub sizes: Vec<(u32, u32)>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Header {
    key: String,
    checksum: String,
    splits: Vec<SplitHeader>,
}

#[derive(serde::Serialize, serde::Deserialize, PartialEq, Eq, Debug)]
struct SplitHeader {
    n: usize,
    c: usize,
    side: usize,
}

/// The entry's path for `key` in `dir`.
pub fn entry_path(dir: &Path, key: &Key) -> PathBuf {
    dir.join(format!("{}.bin", key.0))
}

/// Reads the entry of `key`, expecting splits of `(n, c, side)`; `None` when there is none or
/// it does not have that shape (then it is also deleted). Also returns the checksum it
/// recorded, which the caller must compare with the content's.
pub fn load(
    dir: &Path,
    key: &Key,
    shapes: &[(usize, usize, usize)],
) -> Option<(Vec<Decoded>, String)> {
    let path = entry_path(dir, key);
    let mut f = std::io::BufReader::new(std::fs::File::open(&path).ok()?);
    let read = || -> std::io::Result<Option<(Vec<Decoded>, String)>> {
        let mut magic = vec![0u8; MAGIC.len()];
        f.read_exact(&mut magic)?;
        let mut len = [0u8; 8];
        f.read_exact(&mut len)?;
        let len = u64::from_le_bytes(len) as usize;
        if magic != MAGIC || len > 1 << 24 {
            return Ok(None);
        }
        let mut header = vec![0u8; len];
        f.read_exact(&mut header)?;
        let Ok(h) = serde_json::from_slice::<Header>(&header) else {
            return Ok(None);
        };
        let want: Vec<SplitHeader> = shapes
            .iter()
            .map(|&(n, c, side)| SplitHeader { n, c, side })
            .collect();
        if h.key != key.0 || h.splits != want {
            return Ok(None);
        }
        let mut out = Vec::new();
        for s in &h.splits {
            let mut images = vec![0u8; s.n * s.c * s.side * s.side];
            f.read_exact(&mut images)?;
            let mut raw = vec![0u8; s.n * 8];
            f.read_exact(&mut raw)?;
            let sizes = raw
                .chunks_exact(8)
                .map(|b| {
                    (
                        u32::from_le_bytes(b[..4].try_into().expect("4 bytes")),
                        u32::from_le_bytes(b[4..].try_into().expect("4 bytes")),
                    )
                })
                .collect();
            out.push(Decoded { images, sizes });
        }
        if f.read(&mut [0u8; 1])? != 0 {
            return Ok(None);
        }
        Ok(Some((out, h.checksum)))
    }();
    match read {
        Ok(Some(v)) => Some(v),
        _ => {
            remove(dir, key);
            None
        }
    }
}

/// Deletes the entry of `key` (a bad one), ignoring errors.
pub fn remove(dir: &Path, key: &Key) {
    let _ = std::fs::remove_file(entry_path(dir, key));
}

/// One split to store: its pixels, its images' sizes before preprocessing, and its shape
/// `(n, c, side)`.
pub type Stored<'a> = (&'a [u8], &'a [(u32, u32)], (usize, usize, usize));

/// Writes the entry of `key` atomically. Returns its path.
///
/// # Errors
/// Any I/O error (the caller reports it and goes on: the cache is an optimisation).
pub fn store(dir: &Path, key: &Key, checksum: &str, splits: &[Stored]) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let header = Header {
        key: key.0.clone(),
        checksum: checksum.to_string(),
        splits: splits
            .iter()
            .map(|&(_, _, (n, c, side))| SplitHeader { n, c, side })
            .collect(),
    };
    let header = serde_json::to_vec(&header).expect("serialisable");
    let path = entry_path(dir, key);
    distillery_api::fsio::write_atomic_with(&path, |f| {
        let mut w = std::io::BufWriter::new(f);
        w.write_all(MAGIC)?;
        w.write_all(&(header.len() as u64).to_le_bytes())?;
        w.write_all(&header)?;
        for (images, sizes, _) in splits {
            w.write_all(images)?;
            let mut raw = Vec::with_capacity(sizes.len() * 8);
            for (wd, ht) in sizes.iter() {
                raw.extend_from_slice(&wd.to_le_bytes());
                raw.extend_from_slice(&ht.to_le_bytes());
            }
            w.write_all(&raw)?;
        }
        w.flush()
    })?;
    Ok(path)
}
