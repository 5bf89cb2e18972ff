//! Dataset readers and the embedded default dataset `mnist-5k`.
//!
//! Everything here produces plain Rust buffers ([`RawSplit`], [`RawDataset`]); converting them
//! to tensors happens elsewhere. No file is read lazily: a reader either returns the whole
//! dataset in memory or a [`DataError`] whose message names the offending file, what was
//! expected and what was found.
//!
//! Supported sources (see [`resolve_dataset`]):
//! * `mnist-5k` — embedded in the binary ([`mnist_5k`]), 4,000 train / 1,000 test MNIST digits;
//! * a directory of MNIST / Fashion-MNIST idx files, raw or gzipped ([`load_idx_dir`]); which
//!   of the two it is comes from the content (a published release) or is given
//!   ([`IdxFlavor`]), never from the path;
//! * a CIFAR-10 or CIFAR-100 binary-version directory ([`load_cifar10_dir`],
//!   [`load_cifar100_dir`]);
//! * an ImageFolder tree `root/{train,test|val}/<class>/**/*.{png,jpg,bmp,webp,...}`
//!   ([`load_image_folder`], [`IMAGE_EXTENSIONS`]).
//!
//! Every dataset carries [`RawDataset::source`]: how it was read (format, what decided its
//! kind, resize policy, files used and left out, warnings), recorded in every cell.

pub mod cache;
mod cifar;
pub mod decode;
mod error;
mod idx;
mod image_folder;
mod mnist5k;
mod raw;
mod split;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_inputs;
#[cfg(test)]
mod tests_loader;

pub use cifar::{load_cifar100_dir, load_cifar10_dir, parse_cifar_records};
pub use decode::Preprocess;
pub use error::{DataError, Result};
pub use idx::{
    encode_idx_images, encode_idx_labels, gzip_deterministic, load_idx_dir, maybe_gunzip,
    parse_idx_images, parse_idx_labels, IdxFlavor, IdxImages, IdxRelease, FASHION_MNIST_CLASSES,
    IDX_RELEASES,
};
/// Also used to import a compressed set saved as an ImageFolder tree (`crate::import`).
pub(crate) use image_folder::{class_dirs, decode as decode_image, image_files};
pub use image_folder::{
    load_image_folder, ImageFolderOptions, ASPECT_LIMIT, IMAGE_EXTENSIONS, UPSCALE_LIMIT,
};
pub use mnist5k::{hash_split, mnist_5k, MNIST_5K_CHECKSUM, MNIST_5K_CSV_SHA256, MNIST_5K_NAME};
pub use raw::{content_checksum, content_checksum_bytes, RawDataset, RawSplit};
pub use split::{normalization_stats, split_validation, SplitMix64};

use std::path::Path;

/// Options for [`resolve_dataset_with`]. Only the parts relevant to the detected format are used.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ResolveOptions {
    /// Used when the path is an ImageFolder root (default: 32x32, 3 channels).
    pub image_folder: ImageFolderOptions,
    /// Used when the path is an idx directory (default: [`IdxFlavor::Auto`]).
    pub idx_flavor: IdxFlavor,
}

/// Which on-disk format a directory holds, as detected by [`detect_format`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DetectedFormat {
    /// `train-images-idx3-ubyte[.gz]` and friends.
    Idx,
    /// `data_batch_1.bin` / `test_batch.bin`.
    Cifar10,
    /// `train.bin` / `test.bin`.
    Cifar100,
    /// `train/<class>/...` subdirectories.
    ImageFolder,
}

impl DetectedFormat {
    /// The name in records ([`distillery_record::DatasetSource::format`]).
    pub fn record_name(self) -> &'static str {
        match self {
            DetectedFormat::Idx => "idx",
            DetectedFormat::Cifar10 => "cifar10",
            DetectedFormat::Cifar100 => "cifar100",
            DetectedFormat::ImageFolder => "image-folder",
        }
    }

    /// A short description for messages.
    pub fn describe(self) -> &'static str {
        match self {
            DetectedFormat::Idx => "a directory of idx files",
            DetectedFormat::Cifar10 => "CIFAR-10 binary batches",
            DetectedFormat::Cifar100 => "CIFAR-100 binary files",
            DetectedFormat::ImageFolder => "an ImageFolder tree",
        }
    }
}

/// Resolves a dataset spec with default options: `mnist-5k` (embedded; takes precedence over a
/// path of the same name) or a path to a directory in one of the supported formats.
pub fn resolve_dataset(spec: &str) -> Result<RawDataset> {
    resolve_dataset_with(spec, &ResolveOptions::default())
}

/// Like [`resolve_dataset`], with explicit options.
///
/// A directory is tried as-is, then through the subdirectories the official archives and
/// torchvision create (`raw/`, `cifar-10-batches-bin/`, `cifar-100-binary/`); the first one
/// whose file names match a format (see [`detect_format`]) is loaded.
pub fn resolve_dataset_with(spec: &str, opts: &ResolveOptions) -> Result<RawDataset> {
    if spec == MNIST_5K_NAME {
        if opts.idx_flavor != IdxFlavor::Auto {
            return Err(DataError::NotApplicable {
                path: spec.to_string(),
                option: "--dataset-kind",
                applies_to: "directories of idx files",
                found: "the embedded MNIST digits".into(),
            });
        }
        return mnist_5k();
    }
    let root = Path::new(spec);
    if !root.exists() {
        return Err(DataError::UnknownDataset {
            spec: spec.to_string(),
            detail: format!(
                "expected `{MNIST_5K_NAME}` or an existing directory, found no such path"
            ),
        });
    }
    if !root.is_dir() {
        return Err(DataError::UnknownDataset {
            spec: spec.to_string(),
            detail: "expected a directory, found a file".to_string(),
        });
    }
    let candidates = [
        root.to_path_buf(),
        root.join("raw"),
        root.join("cifar-10-batches-bin"),
        root.join("cifar-100-binary"),
    ];
    for dir in candidates.iter().filter(|d| d.is_dir()) {
        if let Some(fmt) = detect_format(dir) {
            if fmt != DetectedFormat::Idx && opts.idx_flavor != IdxFlavor::Auto {
                return Err(DataError::NotApplicable {
                    path: disp(dir),
                    option: "--dataset-kind",
                    applies_to: "directories of idx files",
                    found: fmt.describe().into(),
                });
            }
            let mut ds = match fmt {
                DetectedFormat::Idx => load_idx_dir(dir, opts.idx_flavor)?,
                DetectedFormat::Cifar10 => load_cifar10_dir(dir)?,
                DetectedFormat::Cifar100 => load_cifar100_dir(dir)?,
                DetectedFormat::ImageFolder => load_image_folder(dir, &opts.image_folder)?,
            };
            if ds.source.format.is_empty() {
                ds.source.format = fmt.record_name().into();
            }
            return Ok(ds);
        }
    }
    Err(DataError::UnknownDataset {
        spec: spec.to_string(),
        detail: "expected idx files (train-images-idx3-ubyte[.gz]), CIFAR-10 batches \
                 (data_batch_1.bin), CIFAR-100 files (train.bin) or an ImageFolder tree \
                 (train/<class>/), found none of them"
            .to_string(),
    })
}

/// Detects the format of `dir` by file names only (nothing is parsed).
pub fn detect_format(dir: &Path) -> Option<DetectedFormat> {
    let has = |name: &str| dir.join(name).is_file();
    if has("train-images-idx3-ubyte") || has("train-images-idx3-ubyte.gz") {
        Some(DetectedFormat::Idx)
    } else if has("data_batch_1.bin") || has("test_batch.bin") {
        Some(DetectedFormat::Cifar10)
    } else if has("train.bin") && has("test.bin") {
        Some(DetectedFormat::Cifar100)
    } else if dir.join("train").is_dir() {
        Some(DetectedFormat::ImageFolder)
    } else {
        None
    }
}

/// Display form of a path used in error messages.
pub(crate) fn disp(path: &Path) -> String {
    path.display().to_string()
}

/// Reads a whole file, mapping the error to [`DataError::Io`] (or [`DataError::MissingFile`]).
pub(crate) fn read_file(path: &Path, what: &str) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            DataError::MissingFile {
                path: disp(path),
                expected: what.to_string(),
            }
        } else {
            DataError::Io {
                path: disp(path),
                source: e,
            }
        }
    })
}
