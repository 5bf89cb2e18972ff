//! A compressed set saved as an ImageFolder tree: `root/<class name>/*.{png,jpg,jpeg}`, plus an
//! optional `root/metadata.json` (a JSON object with the same keys as the safetensors metadata).
//!
//! Folders are matched to the dataset's classes **by name** (label = the class's index in the
//! dataset); a folder that is not a class is an error. Images are decoded exactly as the
//! ImageFolder dataset reader decodes (`crate::data`): converted to the dataset's channels
//! (RGB or luma) and, when their size differs from the dataset's resolution, stretched to it
//! with the same bilinear filter; how many were resized is reported. Hidden entries and files
//! with other extensions are ignored, as in the dataset reader.

use super::error::{ImportError, ImportErrorKind};
use super::tensors::{DType, RawTensor};
use crate::data::{self, ImageFolderOptions};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;

/// The tensors and metadata read from an ImageFolder set.
pub struct Folder {
    /// `images` (uint8 `[N, C, H, W]`, class folders in order) and `labels` (int64 `[N]`).
    pub tensors: Vec<(String, RawTensor)>,
    /// `metadata.json`'s keys, values as strings (JSON values that are not strings as JSON).
    pub metadata: BTreeMap<String, String>,
    /// SHA-256 over the relative paths and bytes of every file read, in order.
    pub sha256: String,
    /// Images whose size differed from the dataset's resolution (resized).
    pub resized: usize,
}

/// Reads the set under `root` at the dataset's `shape` (`[C, H, W]`) and classes.
///
/// # Errors
/// [`ImportErrorKind::Container`] for a dataset it cannot hold, a bad `metadata.json` or no
/// class folder or image; [`ImportErrorKind::NotAClass`] for a folder that is not a class;
/// [`ImportErrorKind::Io`] / [`ImportErrorKind::Data`] when a file cannot be read or decoded.
pub fn read(root: &Path, shape: [i64; 3], class_names: &[String]) -> Result<Folder, ImportError> {
    let [c, h, w] = shape;
    if h != w || !(c == 1 || c == 3) {
        return Err(ImportError::container(root, format!(
            "an ImageFolder set needs a dataset with square 1- or 3-channel images; this dataset's are {c}x{h}x{w}"
        )));
    }
    let mut hasher = Sha256::new();
    hasher.update(b"distillery-imagefolder-set-v1\n");
    let mut add = |rel: &str, bytes: &[u8]| {
        hasher.update((rel.len() as u64).to_le_bytes());
        hasher.update(rel.as_bytes());
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(bytes);
    };
    let mut metadata = BTreeMap::new();
    let meta_path = root.join("metadata.json");
    if meta_path.is_file() {
        let text = std::fs::read(&meta_path)
            .map_err(|e| ImportError::new(&meta_path, ImportErrorKind::Io(e)))?;
        add("metadata.json", &text);
        let v: serde_json::Value = serde_json::from_slice(&text)
            .map_err(|e| ImportError::container(&meta_path, format!("not valid JSON: {e}")))?;
        let obj = v
            .as_object()
            .ok_or_else(|| ImportError::container(&meta_path, "must be a JSON object"))?;
        for (k, v) in obj {
            let s = match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            metadata.insert(k.clone(), s);
        }
    }
    let data_err = |e| ImportError::new(root, ImportErrorKind::Data(e));
    let dirs = data::class_dirs(root).map_err(data_err)?;
    if dirs.is_empty() {
        return Err(ImportError::container(root, format!(
            "an ImageFolder set needs one folder per class (named like the dataset's classes: {}), found none",
            preview(class_names)
        )));
    }
    let opts = ImageFolderOptions {
        resolution: h as u32,
        channels: c as usize,
        ..Default::default()
    };
    let mut pixels = Vec::new();
    let mut labels: Vec<i64> = Vec::new();
    let mut resized = 0;
    for (name, dir) in &dirs {
        let Some(label) = class_names.iter().position(|n| n == name) else {
            let (folder, classes) = (name.clone(), preview(class_names));
            return Err(ImportError::new(
                dir,
                ImportErrorKind::NotAClass { folder, classes },
            ));
        };
        for file in data::image_files(dir).map_err(data_err)? {
            let bytes = std::fs::read(&file)
                .map_err(|e| ImportError::new(&file, ImportErrorKind::Io(e)))?;
            add(
                &format!(
                    "{name}/{}",
                    file.file_name().unwrap_or_default().to_string_lossy()
                ),
                &bytes,
            );
            if image::image_dimensions(&file).is_ok_and(|d| d != (w as u32, h as u32)) {
                resized += 1;
            }
            pixels.extend(data::decode_image(&file, &opts).map_err(data_err)?);
            labels.push(label as i64);
        }
    }
    let n = labels.len();
    if n == 0 {
        return Err(ImportError::container(
            root,
            "no .png/.jpg/.jpeg image in any class folder",
        ));
    }
    let tensors = vec![
        (
            "images".to_string(),
            RawTensor {
                dtype: DType::U8,
                shape: vec![n, c as usize, h as usize, w as usize],
                data: pixels,
            },
        ),
        (
            "labels".to_string(),
            RawTensor {
                dtype: DType::I64,
                shape: vec![n],
                data: labels.iter().flat_map(|l| l.to_le_bytes()).collect(),
            },
        ),
    ];
    Ok(Folder {
        tensors,
        metadata,
        sha256: hex::encode(hasher.finalize()),
        resized,
    })
}

fn preview(names: &[String]) -> String {
    if names.len() <= 12 {
        names.join(", ")
    } else {
        format!("{}, … ({} in all)", names[..10].join(", "), names.len())
    }
}

/// Writes `images` (uint8 `[N, C, H, W]`, C = 1 or 3) with their labels as
/// `root/<class name>/<index>.png` (lossless), and `metadata` as `root/metadata.json`.
///
/// Returns its error as text: `crate::export` (another module's owner) hands it to
/// `ExportError::Input(String)` by constructor; when that call becomes `.map_err(input)`, this
/// can return [`super::WriteError`] like the other writers.
pub fn write(
    root: &Path,
    images: &[u8],
    shape: [usize; 4],
    labels: &[i64],
    class_names: &[String],
    metadata: &BTreeMap<String, String>,
) -> Result<(), String> {
    let [n, c, h, w] = shape;
    if images.len() != n * c * h * w || labels.len() != n || !(c == 1 || c == 3) {
        return Err(format!(
            "cannot write {n} images of shape [{c}, {h}, {w}] with {} labels as PNG",
            labels.len()
        ));
    }
    std::fs::create_dir_all(root).map_err(|e| format!("{}: {e}", root.display()))?;
    for (i, chw) in images.chunks_exact(c * h * w).enumerate() {
        let class = class_names
            .get(labels[i] as usize)
            .ok_or_else(|| format!("label {} out of range", labels[i]))?;
        let dir = root.join(class);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let path = dir.join(format!("{i:06}.png"));
        let res = if c == 1 {
            image::GrayImage::from_raw(w as u32, h as u32, chw.to_vec())
                .expect("buffer size checked")
                .save(&path)
        } else {
            let hw = h * w;
            let hwc: Vec<u8> = (0..hw)
                .flat_map(|p| [chw[p], chw[hw + p], chw[2 * hw + p]])
                .collect();
            image::RgbImage::from_raw(w as u32, h as u32, hwc)
                .expect("buffer size checked")
                .save(&path)
        };
        res.map_err(|e| format!("{}: {e}", path.display()))?;
    }
    if !metadata.is_empty() {
        let p = root.join("metadata.json");
        std::fs::write(&p, serde_json::to_string_pretty(metadata).unwrap())
            .map_err(|e| format!("{}: {e}", p.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_map_to_classes_by_name_and_pixels_survive_png() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("set");
        let names: Vec<String> = ["cat", "dog", "eel"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let images: Vec<u8> = (0..3 * 3 * 4 * 4).map(|v| (v * 7 % 256) as u8).collect();
        let mut meta = BTreeMap::new();
        meta.insert("method".to_string(), "m".to_string());
        write(&root, &images, [3, 3, 4, 4], &[2, 0, 1], &names, &meta).unwrap();
        let got = read(&root, [3, 4, 4], &names).unwrap();
        assert_eq!(got.metadata, meta);
        assert_eq!(got.resized, 0);
        // Read back class by class: cat (image 1), dog (image 2), eel (image 0).
        let px = &got.tensors[0].1.data;
        let n = 3 * 4 * 4;
        assert_eq!(&px[..n], &images[n..2 * n]);
        assert_eq!(&px[2 * n..], &images[..n]);
        let labels: Vec<i64> = got.tensors[1]
            .1
            .data
            .chunks(8)
            .map(|b| i64::from_le_bytes(b.try_into().unwrap()))
            .collect();
        assert_eq!(labels, vec![0, 1, 2]);
        // Same files, same hash; another class folder is named in the error.
        assert_eq!(read(&root, [3, 4, 4], &names).unwrap().sha256, got.sha256);
        std::fs::create_dir_all(root.join("fox")).unwrap();
        let e = read(&root, [3, 4, 4], &names).err().unwrap().to_string();
        assert!(
            e.ends_with(
                "set/fox: folder `fox` is not a class of the dataset (classes: cat, dog, eel)"
            ),
            "{e}"
        );
    }
}
