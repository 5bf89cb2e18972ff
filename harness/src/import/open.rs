//! [`open`]: read a file and run every check that does not depend on the budget, one small
//! function per step, in this order (the first failure is the one reported):
//!
//! 1. read the container ([`super::format`]) and its metadata ([`super::metadata`]); a file
//!    without `class_names` (whose labels cannot be checked against the dataset's class
//!    order) gets a warning, louder when the dataset's names are numbers in text order;
//! 2. every tensor's name, element type and byte length ([`super::tensors`]);
//! 3. `images` and `labels` present; every shape against the dataset's resolution and `N`;
//! 4. pixel values (finite; float pixels in [0, 1] unless declared `free`) and label range;
//! 5. `soft_labels` are probability rows; `weights` finite, non-negative, not all zero;
//! 6. `indices` kept only when they address exactly these images in this train split;
//! 7. no image copies a test image ([`super::test_overlap`]).

use super::error::{ImportError, ImportErrorKind};
use super::metadata::{self, row_name, Declared};
use super::parquet::Columns;
use super::tensors::{self, RawTensor};
use super::view::DatasetView;
use super::{format, test_overlap};
use crate::plan::imported::{Format, Source};
use crate::validate::{pixel_tolerance, probability_rows};
use std::collections::BTreeMap;
use std::path::Path;
use tch::{Kind, Tensor};

/// A file that passed every budget-independent check.
pub struct Set {
    /// What the plan records about the file.
    pub source: Source,
    /// uint8 or float `[N, C, H, W]` at the dataset's resolution, on CPU.
    pub images: Tensor,
    /// int64 `[N]`, in `0..K`.
    pub labels: Tensor,
    /// float `[N, K]`, rows summing to 1.
    pub soft_labels: Option<Tensor>,
    /// float32 `[N]`: only with `indices` and without `soft_labels`.
    pub weights: Option<Tensor>,
    /// The `indices` tensor, when it addresses exactly these images in this train split.
    pub indices: Option<Vec<i64>>,
    /// Things worth knowing that are not problems (resized images, ignored indices, ...).
    pub notes: Vec<String>,
}

/// The tensors of a file by name, after the role and length checks.
type Tensors = BTreeMap<String, RawTensor>;

/// Reads `path` and runs every check that does not depend on the budget (see the module docs).
/// `path` is made absolute first; every error names it.
///
/// # Errors
/// An [`ImportError`] whose kind names the tensor or metadata key at fault.
pub fn open(path: &Path, view: &DatasetView) -> Result<Set, ImportError> {
    open_with(path, view, &Columns::default())
}

/// [`open`], reading a Parquet set from `columns` (other formats ignore them).
///
/// # Errors
/// Those of [`open`].
pub fn open_with(path: &Path, view: &DatasetView, columns: &Columns) -> Result<Set, ImportError> {
    let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let file = path.as_path();
    let read = format::read(file, view.shape, view.class_names, columns)?;
    let mut declared = metadata::parse(file, &read.metadata, view)?;
    if read.format != Format::ImageFolder {
        declared
            .warnings
            .extend(metadata::unchecked_classes(file, &read.metadata, view));
    }
    let mut map = check_roles(file, read.tensors)?;
    let images_raw = take_required(file, &mut map, "images", "uint8 or float [N, C, H, W]")?;
    let labels_raw = take_required(file, &mut map, "labels", "int64 [N]")?;
    check_shapes(file, &images_raw, &labels_raw, &map, view)?;

    let images = images_raw.to_tensor(file, "images")?;
    let labels = labels_raw.to_tensor(file, "labels")?;
    check_pixels(file, &images, &declared)?;
    let lv = check_labels(file, &labels, view)?;
    let soft_labels = take_soft_labels(file, &mut map)?;
    let weights = take_weights(file, &mut map)?;
    let mut notes = read.notes;
    if read.resized > 0 {
        let [_, h, w] = view.shape;
        notes.push(format!(
            "{} image(s) were resized to the dataset's resolution {h}x{w} (bilinear, as the ImageFolder dataset reader does)",
            read.resized
        ));
    }
    let indices = take_indices(file, &mut map, &images, &labels, view, &mut notes)?;
    if weights.is_some() && (indices.is_none() || soft_labels.is_some()) {
        return Err(ImportError::bad_tensor(file, "weights",
            "is only supported for a selection from the train split: `indices` [N] must address exactly `images` in this train split, without `soft_labels`",
        ));
    }
    let indices = if soft_labels.is_some() { None } else { indices };
    test_overlap::check(file, &images, &lv, view)?;
    // A Hub repository's shards sit in `<repo>/data/`: the row is named after the repository.
    let row_path = match file.parent() {
        Some(parent)
            if read.format == Format::Parquet && file.is_dir() && file.ends_with("data") =>
        {
            parent
        }
        _ => file,
    };
    let source = Source {
        row: row_name(read.metadata.get("method").map(String::as_str), row_path),
        path: file.to_path_buf(),
        format: read.format,
        sha256: read.sha256,
        family: declared.family,
        method: read.metadata.get("method").cloned(),
        version: read.metadata.get("version").cloned(),
        paper: read.metadata.get("paper").cloned(),
        budget: declared.budget,
        seed: declared.seed,
        metadata: read.metadata,
        dataset: view.name.to_string(),
        warnings: declared.warnings,
        columns: (read.format == Format::Parquet).then(|| columns.clone()),
    };
    Ok(Set {
        source,
        images,
        labels,
        soft_labels,
        weights,
        indices,
        notes,
    })
}

/// Step 2: every tensor has a known name, an accepted element type and all its bytes.
fn check_roles(file: &Path, raw: Vec<(String, RawTensor)>) -> Result<Tensors, ImportError> {
    let mut map = Tensors::new();
    for (name, t) in raw {
        tensors::check_role(file, &name, &t)?;
        t.check_len(file, &name)?;
        map.insert(name, t);
    }
    Ok(map)
}

/// Removes a tensor every set holds (`images`, `labels`) from `map`.
fn take_required(
    file: &Path,
    map: &mut Tensors,
    name: &'static str,
    expected: &'static str,
) -> Result<RawTensor, ImportError> {
    map.remove(name)
        .ok_or_else(|| ImportError::new(file, ImportErrorKind::MissingTensor { name, expected }))
}

/// Step 3: `images` is `[N, C, H, W]` at the dataset's resolution with `N > 0`, and every
/// other tensor has one entry per image.
fn check_shapes(
    file: &Path,
    images: &RawTensor,
    labels: &RawTensor,
    map: &Tensors,
    view: &DatasetView,
) -> Result<(), ImportError> {
    let [c, h, w] = view.shape;
    let s: Vec<i64> = images.shape.iter().map(|&d| d as i64).collect();
    if s.len() != 4 || s[1..] != view.shape[..] {
        let hint = if s.len() == 4 && s[1..] == [h, w, c] {
            " (it looks channels-last, NHWC: permute to [N, C, H, W])"
        } else if s.len() == 3 && c == 1 && s[1..] == [h, w] {
            " (add the channel dimension: images[:, None])"
        } else {
            ""
        };
        return Err(ImportError::shape(file, "images", &images.shape, format!(
            "expected [N, {c}, {h}, {w}] (N images at the dataset's resolution, channels first){hint}"
        )));
    }
    let n = images.shape[0];
    if n == 0 {
        return Err(ImportError::bad_tensor(file, "images", "holds no image"));
    }
    let expect_n = |name: &str, t: &RawTensor, tail: &[usize], what: &str| {
        let mut want = vec![n];
        want.extend_from_slice(tail);
        if t.shape != want {
            return Err(ImportError::shape(
                file,
                name,
                &t.shape,
                format!("expected {want:?} ({what}, one per image of `images`)"),
            ));
        }
        Ok(())
    };
    expect_n("labels", labels, &[], "class indices")?;
    let k = view.class_names.len();
    if let Some(t) = map.get("soft_labels") {
        if t.shape.len() == 3 {
            return Err(ImportError::shape(file, "soft_labels", &t.shape, format!(
                "a per-augmentation label store [E, N, K] is not supported yet (no protocol of this harness consumes one); store one distribution per image, [N, {k}]"
            )));
        }
        expect_n(
            "soft_labels",
            t,
            &[k],
            "probabilities over the dataset's classes",
        )?;
    }
    for name in ["weights", "indices"] {
        if let Some(t) = map.get(name) {
            expect_n(name, t, &[], name)?;
        }
    }
    Ok(())
}

/// Step 4a: float pixels are finite and, unless declared `float_range = "free"`, in [0, 1]
/// within the rounding of their stored precision ([`pixel_tolerance`]).
fn check_pixels(file: &Path, images: &Tensor, declared: &Declared) -> Result<(), ImportError> {
    if !images.is_floating_point() {
        return Ok(());
    }
    let bad = images
        .isfinite()
        .logical_not()
        .sum(Kind::Int64)
        .int64_value(&[]);
    if bad > 0 {
        return Err(ImportError::bad_tensor(
            file,
            "images",
            format!("contains {bad} NaN or infinite values"),
        ));
    }
    let lo = images.min().double_value(&[]);
    let hi = images.max().double_value(&[]);
    let tol = pixel_tolerance(images.kind());
    if !declared.float_range_free && (lo < -tol || hi > 1.0 + tol) {
        return Err(ImportError::bad_tensor(file, "images", format!(
            "has values in [{lo:.3}, {hi:.3}], outside the [0, 1] pixel scale: float images must be un-normalised pixels in [0, 1] (undo a mean/std normalisation: x * std + mean). A method that deliberately keeps unclipped pixel values declares metadata `float_range` = \"free\""
        )));
    }
    Ok(())
}

/// Step 4b: every label is a class of the dataset. Returns the labels.
fn check_labels(file: &Path, labels: &Tensor, view: &DatasetView) -> Result<Vec<i64>, ImportError> {
    let k = view.class_names.len();
    let lv = Vec::<i64>::try_from(labels)
        .map_err(|e| ImportError::tensor(file, "labels", e.to_string()))?;
    if let Some((i, &l)) = lv.iter().enumerate().find(|(_, &l)| l < 0 || l >= k as i64) {
        return Err(ImportError::tensor(
            file,
            "labels",
            format!(
                "label {l} (image {i}) is out of range: the dataset `{}` has {k} classes (0..{})",
                view.name,
                k - 1
            ),
        ));
    }
    Ok(lv)
}

/// Step 5a: `soft_labels`, if present, hold probability rows, within the rounding of the
/// precision they are stored in ([`crate::validate::row_sum_tolerance`]).
fn take_soft_labels(file: &Path, map: &mut Tensors) -> Result<Option<Tensor>, ImportError> {
    let Some(t) = map.remove("soft_labels") else {
        return Ok(None);
    };
    let p = t.to_tensor(file, "soft_labels")?;
    match probability_rows(&p) {
        Err(issue) => Err(ImportError::bad_tensor(
            file,
            "soft_labels",
            issue.to_string(),
        )),
        Ok(()) => Ok(Some(p)),
    }
}

/// Step 5b: `weights`, if present, are finite, non-negative and not all zero (float32).
fn take_weights(file: &Path, map: &mut Tensors) -> Result<Option<Tensor>, ImportError> {
    let Some(t) = map.remove("weights") else {
        return Ok(None);
    };
    let w = t.to_tensor(file, "weights")?.to_kind(Kind::Float);
    if w.isfinite().all().int64_value(&[]) != 1
        || w.lt(0.0).any().int64_value(&[]) == 1
        || w.sum(Kind::Double).double_value(&[]) <= 0.0
    {
        return Err(ImportError::bad_tensor(
            file,
            "weights",
            "must be finite, non-negative and not all zero",
        ));
    }
    Ok(Some(w))
}

/// Step 6: `indices`, if present, are kept only when they address exactly `images` and
/// `labels` in this train split (uint8 images, in range, no repeats); otherwise a note says
/// the set is evaluated from its images.
fn take_indices(
    file: &Path,
    map: &mut Tensors,
    images: &Tensor,
    labels: &Tensor,
    view: &DatasetView,
    notes: &mut Vec<String>,
) -> Result<Option<Vec<i64>>, ImportError> {
    let Some(t) = map.remove("indices") else {
        return Ok(None);
    };
    let idx = t.to_tensor(file, "indices")?;
    let v = Vec::<i64>::try_from(&idx)
        .map_err(|e| ImportError::tensor(file, "indices", e.to_string()))?;
    let pool = view.train.len() as i64;
    let in_range = v.iter().all(|&i| (0..pool).contains(&i));
    let mut sorted = v.clone();
    sorted.sort_unstable();
    sorted.dedup();
    let unique = sorted.len() == v.len();
    let matches = in_range && unique && {
        let t = Tensor::from_slice(&v);
        let imgs = view.train.images.index_select(0, &t);
        let labs = view.train.labels.index_select(0, &t);
        images.kind() == Kind::Uint8 && imgs.equal(images) && labs.equal(labels)
    };
    if matches {
        return Ok(Some(v));
    }
    notes.push(format!(
        "tensor `indices` does not address these images in this protocol's train split (another validation split, or another dataset order); the set is evaluated from its images{}",
        if unique { "" } else { " (and it repeats an index)" }
    ));
    Ok(None)
}
