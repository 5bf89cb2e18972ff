//! ImageFolder trees: `root/train/<class>/*.{png,jpg,jpeg}` and `root/test/<class>/...`
//! (`root/val/` when there is no `test/`).
//!
//! * Classes are the subdirectories of `train/`, sorted by name (byte order); label = index.
//!   Hidden entries (names starting with `.`) are ignored, so are files with other extensions.
//! * Every train class must have a non-empty directory in the test split and vice versa.
//! * Images are decoded with the `image` crate (format detected from content), converted to
//!   RGB (`channels == 3`) or luma (`channels == 1`), then resized — stretched, no crop — to
//!   `resolution x resolution` with `image::imageops::resize` and the `Triangle` (bilinear)
//!   filter; images already at that size are not resampled. Output is CHW uint8.
//! * Within a class, files are taken in file-name order; the split is ordered by class.

use std::path::{Path, PathBuf};

use image::imageops::FilterType;

use super::{disp, read_file, DataError, RawDataset, RawSplit, Result};

/// Options of [`load_image_folder`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageFolderOptions {
    /// Output images are `resolution x resolution` (default 32).
    pub resolution: u32,
    /// 3 = RGB, 1 = grayscale (default 3). Other values are rejected.
    pub channels: usize,
    /// Whether horizontal mirroring preserves the class (default true).
    pub mirror_invariant: bool,
}

impl Default for ImageFolderOptions {
    fn default() -> Self {
        ImageFolderOptions {
            resolution: 32,
            channels: 3,
            mirror_invariant: true,
        }
    }
}

const EXTENSIONS: [&str; 3] = ["png", "jpg", "jpeg"];

fn is_hidden(p: &Path) -> bool {
    p.file_name()
        .map(|n| n.to_string_lossy().starts_with('.'))
        .unwrap_or(false)
}

fn list_dir(dir: &Path) -> Result<Vec<PathBuf>> {
    let rd = std::fs::read_dir(dir).map_err(|e| DataError::Io {
        path: disp(dir),
        source: e,
    })?;
    let mut out = Vec::new();
    for entry in rd {
        let entry = entry.map_err(|e| DataError::Io {
            path: disp(dir),
            source: e,
        })?;
        let p = entry.path();
        if !is_hidden(&p) {
            out.push(p);
        }
    }
    out.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    Ok(out)
}

pub(crate) fn class_dirs(split_dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    Ok(list_dir(split_dir)?
        .into_iter()
        .filter(|p| p.is_dir())
        .map(|p| {
            (
                p.file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned(),
                p,
            )
        })
        .collect())
}

pub(crate) fn image_files(class_dir: &Path) -> Result<Vec<PathBuf>> {
    Ok(list_dir(class_dir)?
        .into_iter()
        .filter(|p| {
            p.is_file()
                && p.extension()
                    .map(|e| {
                        EXTENSIONS.contains(&e.to_string_lossy().to_ascii_lowercase().as_str())
                    })
                    .unwrap_or(false)
        })
        .collect())
}

pub(crate) fn decode(path: &Path, opts: &ImageFolderOptions) -> Result<Vec<u8>> {
    let bytes = read_file(path, "an image file")?;
    let img = image::load_from_memory(&bytes).map_err(|e| DataError::ImageDecode {
        path: disp(path),
        source: e,
    })?;
    let r = opts.resolution;
    let mut hwc: Vec<u8> = if opts.channels == 3 {
        let mut b = img.to_rgb8();
        if b.dimensions() != (r, r) {
            b = image::imageops::resize(&b, r, r, FilterType::Triangle);
        }
        b.into_raw()
    } else {
        let mut b = img.to_luma8();
        if b.dimensions() != (r, r) {
            b = image::imageops::resize(&b, r, r, FilterType::Triangle);
        }
        b.into_raw()
    };
    if opts.channels == 3 {
        // HWC -> CHW
        let hw = (r * r) as usize;
        let mut chw = vec![0u8; 3 * hw];
        for (i, px) in hwc.chunks_exact(3).enumerate() {
            chw[i] = px[0];
            chw[hw + i] = px[1];
            chw[2 * hw + i] = px[2];
        }
        hwc = chw;
    }
    Ok(hwc)
}

/// Decodes `files` (path, label) in parallel; the first error in file order is returned.
fn decode_all(files: &[(PathBuf, i64)], opts: &ImageFolderOptions) -> Result<RawSplit> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(16);
    let chunk = files.len().div_ceil(threads).max(1);
    let results: Vec<Result<Vec<u8>>> = std::thread::scope(|s| {
        let handles: Vec<_> = files
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    let mut buf = Vec::new();
                    for (p, _) in part {
                        buf.extend_from_slice(&decode(p, opts)?);
                    }
                    Ok(buf)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("image decoding thread panicked"))
            .collect()
    });
    let mut images =
        Vec::with_capacity(files.len() * opts.channels * (opts.resolution as usize).pow(2));
    for r in results {
        images.extend_from_slice(&r?);
    }
    let labels = files.iter().map(|(_, y)| *y).collect();
    let r = opts.resolution as usize;
    Ok(RawSplit::new(images, labels, opts.channels, r, r))
}

/// Loads an ImageFolder tree (see the module docs). Dataset name = the root's directory name.
pub fn load_image_folder(root: impl AsRef<Path>, opts: &ImageFolderOptions) -> Result<RawDataset> {
    let root = root.as_ref();
    if opts.channels != 1 && opts.channels != 3 {
        return Err(DataError::invalid(
            disp(root),
            "an ImageFolder channel count of 1 or 3",
            opts.channels.to_string(),
        ));
    }
    if opts.resolution == 0 {
        return Err(DataError::invalid(
            disp(root),
            "a resolution of at least 1",
            "0",
        ));
    }
    let train_dir = root.join("train");
    if !train_dir.is_dir() {
        return Err(DataError::MissingFile {
            path: disp(&train_dir),
            expected: "a train/ directory with one subdirectory per class".into(),
        });
    }
    let test_dir = if root.join("test").is_dir() {
        root.join("test")
    } else {
        root.join("val")
    };
    if !test_dir.is_dir() {
        return Err(DataError::MissingFile {
            path: disp(&root.join("test")),
            expected: "a test/ (or val/) directory with one subdirectory per class".into(),
        });
    }
    let train_classes = class_dirs(&train_dir)?;
    if train_classes.is_empty() {
        return Err(DataError::invalid(
            disp(&train_dir),
            "at least one class subdirectory",
            "none",
        ));
    }
    let test_classes = class_dirs(&test_dir)?;
    let train_split = disp(&train_dir);
    let test_split = disp(&test_dir);
    // Every test class must be a train class.
    for (name, _) in &test_classes {
        if !train_classes.iter().any(|(n, _)| n == name) {
            return Err(DataError::MissingClass {
                path: disp(&train_dir.join(name)),
                class: name.clone(),
                present_in: test_split.clone(),
                found: "no such directory".into(),
            });
        }
    }
    let mut train_files = Vec::new();
    let mut test_files = Vec::new();
    for (label, (name, dir)) in train_classes.iter().enumerate() {
        let files = image_files(dir)?;
        if files.is_empty() {
            return Err(DataError::invalid(
                disp(dir),
                "at least one .png/.jpg/.jpeg image",
                "none",
            ));
        }
        train_files.extend(files.into_iter().map(|p| (p, label as i64)));
        let tdir = test_dir.join(name);
        if !tdir.is_dir() {
            return Err(DataError::MissingClass {
                path: disp(&tdir),
                class: name.clone(),
                present_in: train_split.clone(),
                found: "no such directory".into(),
            });
        }
        let tfiles = image_files(&tdir)?;
        if tfiles.is_empty() {
            return Err(DataError::MissingClass {
                path: disp(&tdir),
                class: name.clone(),
                present_in: train_split.clone(),
                found: "a directory without .png/.jpg/.jpeg images".into(),
            });
        }
        test_files.extend(tfiles.into_iter().map(|p| (p, label as i64)));
    }
    let train = decode_all(&train_files, opts)?;
    let test = decode_all(&test_files, opts)?;
    let name = root
        .canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "imagefolder".to_string());
    let class_names = train_classes.into_iter().map(|(n, _)| n).collect();
    Ok(RawDataset::new(
        name,
        train,
        test,
        class_names,
        opts.mirror_invariant,
    ))
}
