//! The built-in importer: evaluate a compressed set made anywhere (a Python codebase, another
//! harness, `bench export`) under exactly the protocol, checks and tables of the shipped plugins.
//!
//! ```text
//! bench --protocol hard-label --from set.safetensors[,other.npz,folder/]
//! bench --protocol hard-label --methods herding,file:set.safetensors
//! ```
//!
//! * **Formats** (detected from the content): safetensors ([`safetensors`]), NumPy `.npz`
//!   ([`npz`]) and ImageFolder trees ([`folder`]). The layout — tensor names, shapes, dtypes,
//!   metadata keys — is documented in CONTRIBUTING.md ("Evaluating a set made elsewhere").
//! * **Checks.** [`open`] reads the file and checks everything that does not depend on the
//!   budget, each failure naming the file and the tensor or metadata key: known tensor names,
//!   element types, shapes against the dataset's resolution, label range, NaN/infinity, the
//!   [0, 1] pixel scale of float images, class count and names, the source dataset's checksum
//!   (an error when it differs, a warning when absent), a declared budget or seed against the
//!   run, and that no image is a verbatim copy of a test image that is not also in the train
//!   split. The budget and everything else a plugin's output must satisfy is then checked by
//!   the same [`crate::validate::check`] as for a plugin, in the cell.
//! * **How a file becomes cells.** Each file becomes a *row* `file:<name>`, `<name>` being the
//!   metadata's `method` (else the file stem), lowercased and reduced to `[a-z0-9._-]`; its
//!   cells are `file.<name>__<budget>__s<seed>` (filesystem-safe; plugin names cannot contain
//!   `.` or `:`, so rows never collide with plugins). A file that declares a `budget` is
//!   evaluated only at that budget (which the run must include); one that declares a `seed`
//!   only in that seed's cell (a set made for run seed `s`); otherwise in every budget and
//!   seed of the run. Several files may fill one row (one per budget and/or seed).
//! * **Seeds.** A cell's seeds derive from the run seed alone (never from the method name),
//!   so an imported set trains with the same student initialisation, batch order and
//!   augmentation as every plugin at that seed: the comparison is paired, and a set exported
//!   by `bench export --seed s` and imported at seed `s` reproduces the plugin's cell bit for
//!   bit on CPU. A file without a `seed` is one fixed set: across seeds only the student's
//!   training varies, not the set (the spread of its row understates the method's own).
//! * **Execution.** An imported cell runs like any other: `crate::cell::run` calls the built-in
//!   importer through the same plugin boundary, with the train and validation splits only
//!   (the test-image check above runs once, when the run is planned, in the harness). The
//!   record's `plugin_version` is the declared version plus the file's SHA-256, so a re-run
//!   reuses a finished cell only when the file is byte-identical; a changed file is evaluated
//!   again and its old record is moved aside. The cell refuses a file that changed after the
//!   plan was made.

pub mod folder;
pub mod npz;
pub mod safetensors;
pub mod tensors;

use crate::plan::{cell_id, derive_seeds, CellSpec};
use crate::plugin::Plugin;
use distillery_api::abi::{CompressRequest, CompressResponse, PluginHeader};
use distillery_api::method::RequestMeta;
use distillery_api::{
    Budget, Compressed, Context, Family, Input, Method, MethodError, Output, Split,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use tch::{Kind, Tensor};
use tensors::RawTensor;

/// `format` metadata value of the layout, and its version.
pub const FORMAT: &str = "distillery-set";
pub const FORMAT_VERSION: u32 = 1;

/// Prefix of an imported method on the command line (`--methods file:PATH`) and of its row.
pub const PREFIX: &str = "file:";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    Safetensors,
    Npz,
    ImageFolder,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Safetensors => "safetensors",
            Format::Npz => "npz",
            Format::ImageFolder => "image-folder",
        }
    }
}

/// What the plan records about one imported file (and what the cell's importer receives).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Source {
    /// Absolute path of the file or ImageFolder root.
    pub path: PathBuf,
    pub format: Format,
    /// SHA-256 of the file (of the files read, for an ImageFolder tree).
    pub sha256: String,
    /// The table row: `file:<name>`.
    pub row: String,
    /// Declared in the metadata (`family`), default `external`.
    pub family: Family,
    pub method: Option<String>,
    pub version: Option<String>,
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
}

/// What the checks need to know about the dataset. The test split and the checksum are given
/// when a run is planned (in the harness); the cell's importer sees neither.
pub struct DatasetView<'a> {
    pub name: &'a str,
    pub shape: [i64; 3],
    pub class_names: &'a [String],
    pub train: &'a Split,
    pub val: Option<&'a Split>,
    pub test: Option<&'a Split>,
    pub checksum: Option<&'a str>,
}

impl<'a> DatasetView<'a> {
    /// The full view of a prepared dataset (planning).
    pub fn of(data: &'a crate::dataset::Prepared) -> Self {
        DatasetView {
            name: &data.name,
            shape: data.shape,
            class_names: &data.class_names,
            train: &data.train,
            val: Some(&data.val),
            test: Some(&data.test),
            checksum: Some(&data.checksum),
        }
    }
}

/// A file that passed every budget-independent check.
pub struct Set {
    pub source: Source,
    pub images: Tensor,
    pub labels: Tensor,
    pub soft_labels: Option<Tensor>,
    pub weights: Option<Tensor>,
    /// The `indices` tensor, when it addresses exactly these images in this train split.
    pub indices: Option<Vec<i64>>,
    /// Things worth knowing that are not problems (resized images, ignored indices, ...).
    pub notes: Vec<String>,
}

/// `file:dm` for metadata method `DM`, else from the file stem.
pub fn row_name(method: Option<&str>, path: &Path) -> String {
    let slug = |s: &str| {
        let mut out = String::new();
        for c in s.to_lowercase().chars() {
            let c = if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            };
            if !(c == '-' && out.ends_with('-')) {
                out.push(c);
            }
        }
        out.trim_matches(|c| c == '-' || c == '.').to_string()
    };
    let from_meta = method.map(slug).filter(|s| !s.is_empty());
    let stem = path
        .file_stem()
        .map(|s| slug(&s.to_string_lossy()))
        .filter(|s| !s.is_empty());
    format!(
        "{PREFIX}{}",
        from_meta.or(stem).unwrap_or_else(|| "set".into())
    )
}

/// Parses a budget label as written in cell ids and metadata: `ipc10`, `frac0.1`, `bytes4096`.
pub fn parse_budget(s: &str) -> Option<Budget> {
    let s = s.trim();
    if let Some(k) = s.strip_prefix("ipc") {
        k.parse().ok().filter(|&k| k > 0).map(Budget::Ipc)
    } else if let Some(f) = s.strip_prefix("frac") {
        f.parse()
            .ok()
            .filter(|f: &f64| *f > 0.0 && *f <= 1.0)
            .map(Budget::Fraction)
    } else if let Some(b) = s.strip_prefix("bytes") {
        b.parse().ok().filter(|&b| b > 0).map(Budget::Bytes)
    } else {
        None
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The parsed metadata of a file (see CONTRIBUTING.md for the keys).
struct Declared {
    family: Family,
    budget: Option<Budget>,
    seed: Option<u64>,
    float_range_free: bool,
    warnings: Vec<String>,
}

fn parse_metadata(
    file: &Path,
    m: &BTreeMap<String, String>,
    view: &DatasetView,
) -> Result<Declared, String> {
    let f = file.display();
    let key_err = |k: &str, why: String| format!("{f}: metadata `{k}`: {why}");
    if m.get("format").map(String::as_str) == Some(FORMAT) {
        if let Some(v) = m.get("format_version") {
            let v: u32 = v
                .parse()
                .map_err(|_| key_err("format_version", format!("{v:?} is not a number")))?;
            if v > FORMAT_VERSION {
                return Err(key_err(
                    "format_version",
                    format!("layout version {v} is newer than this harness reads ({FORMAT_VERSION}); update Distillery"),
                ));
            }
        }
    }
    let family = match m.get("family").map(|s| s.trim().to_lowercase()) {
        None => Family::External,
        Some(s) => match Family::parse(&s) {
            Some(Family::Reference) => {
                return Err(key_err(
                    "family",
                    "\"reference\" is reserved for reference lines run by the harness (they skip the budget checks); use distillation, pruning, kd or external".into(),
                ))
            }
            Some(fam) => fam,
            None => {
                return Err(key_err(
                    "family",
                    format!("unknown family {s:?} (distillation, pruning, kd or external)"),
                ))
            }
        },
    };
    let budget = match m.get("budget") {
        None => None,
        Some(s) => Some(parse_budget(s).ok_or_else(|| {
            key_err(
                "budget",
                format!("{s:?} is not a budget: write ipc<K> (e.g. \"ipc10\"), frac<F> (e.g. \"frac0.1\") or bytes<B>"),
            )
        })?),
    };
    let seed = match m.get("seed") {
        None => None,
        Some(s) => Some(s.trim().parse::<u64>().map_err(|_| {
            key_err(
                "seed",
                format!("{s:?} is not a non-negative integer (the run seed the set was made for)"),
            )
        })?),
    };
    let float_range_free = match m.get("float_range").map(String::as_str) {
        None | Some("unit") => false,
        Some("free") => true,
        Some(other) => {
            return Err(key_err(
                "float_range",
                format!(
                "{other:?}: expected \"unit\" (float pixels in [0, 1], the default) or \"free\""
            ),
            ))
        }
    };
    let k = view.class_names.len();
    if let Some(s) = m.get("class_names") {
        let names: Vec<String> = serde_json::from_str(s).map_err(|_| {
            key_err(
                "class_names",
                "must be a JSON list of strings in label order, e.g. [\"airplane\", \"automobile\", ...]".into(),
            )
        })?;
        if names.len() != k {
            return Err(key_err(
                "class_names",
                format!(
                    "lists {} classes, the dataset `{}` has {k}",
                    names.len(),
                    view.name
                ),
            ));
        }
        if let Some(i) = (0..k).find(|&i| names[i] != view.class_names[i]) {
            return Err(key_err(
                "class_names",
                format!(
                    "label {i} is {:?} in the file but {:?} in the dataset `{}`: the labels would mean other classes",
                    names[i], view.class_names[i], view.name
                ),
            ));
        }
    }
    if let Some(s) = m.get("num_classes") {
        if s.trim().parse::<usize>().ok() != Some(k) {
            return Err(key_err(
                "num_classes",
                format!("{s:?}, but the dataset `{}` has {k} classes", view.name),
            ));
        }
    }
    let mut warnings = Vec::new();
    if let Some(want) = view.checksum {
        match m.get("dataset_checksum").map(|s| s.trim().to_lowercase()) {
            Some(c) if c == want => {}
            Some(c) => {
                return Err(key_err(
                    "dataset_checksum",
                    format!(
                        "the set was made from another dataset (checksum {c}); the dataset `{}` has checksum {want}",
                        view.name
                    ),
                ))
            }
            None => warnings.push(format!(
                "{f}: no `dataset_checksum` in the metadata: cannot verify that the set was made from `{}` (checksum {})",
                view.name, want
            )),
        }
    }
    if let (Some(seed), Some(s)) = (seed, m.get("seeds")) {
        let ours = serde_json::to_value(derive_seeds(seed)).unwrap_or_default();
        if serde_json::from_str::<serde_json::Value>(s).ok().as_ref() != Some(&ours) {
            warnings.push(format!(
                "{f}: metadata `seeds` differ from this harness's derivation for run seed {seed}; the student is trained with this harness's seeds"
            ));
        }
    }
    Ok(Declared {
        family,
        budget,
        seed,
        float_range_free,
        warnings,
    })
}

/// Reads the container and returns tensors, metadata, format, checksum and resized count.
type Read = (
    Vec<(String, RawTensor)>,
    BTreeMap<String, String>,
    Format,
    String,
    usize,
);

fn read_container(path: &Path, view: &DatasetView) -> Result<Read, String> {
    if path.is_dir() {
        let f = folder::read(path, view.shape, view.class_names)?;
        return Ok((
            f.tensors,
            f.metadata,
            Format::ImageFolder,
            f.sha256,
            f.resized,
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            format!("{}: no such file or directory", path.display())
        } else {
            format!("{}: cannot read: {e}", path.display())
        }
    })?;
    let sha = sha256_hex(&bytes);
    let is_npz = bytes.starts_with(b"PK")
        || path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("npz"));
    let (t, m, fmt) = if is_npz {
        let (t, m) = npz::read(path, &bytes)?;
        (t, m, Format::Npz)
    } else {
        let (t, m) = safetensors::read(path, &bytes)?;
        (t, m, Format::Safetensors)
    };
    Ok((t, m, fmt, sha, 0))
}

fn image_bytes_u8(images: &Tensor) -> Option<Vec<u8>> {
    let x = if images.kind() == Kind::Uint8 {
        images.shallow_clone()
    } else {
        let s = images.to_kind(Kind::Double) * 255.0;
        let q = s.round();
        let off = (&s - &q).abs().max().double_value(&[]);
        let lo = q.min().double_value(&[]);
        let hi = q.max().double_value(&[]);
        if off > 0.25 || lo < 0.0 || hi > 255.0 {
            return None; // not quantised pixels: cannot be a verbatim copy
        }
        q.to_kind(Kind::Uint8)
    };
    Vec::<u8>::try_from(&x.contiguous().view([-1])).ok()
}

fn hash_images(bytes: &[u8], d: usize) -> HashMap<u64, Vec<usize>> {
    use std::hash::{Hash, Hasher};
    let mut m: HashMap<u64, Vec<usize>> = HashMap::new();
    for (i, img) in bytes.chunks_exact(d).enumerate() {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        img.hash(&mut h);
        m.entry(h.finish()).or_default().push(i);
    }
    m
}

fn find_image(index: &HashMap<u64, Vec<usize>>, all: &[u8], d: usize, img: &[u8]) -> Option<usize> {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    img.hash(&mut h);
    index
        .get(&h.finish())?
        .iter()
        .copied()
        .find(|&j| &all[j * d..(j + 1) * d] == img)
}

/// Refuses a set holding a verbatim copy of a test image that is not also a train image.
fn check_no_test_images(
    file: &Path,
    images: &Tensor,
    labels: &[i64],
    view: &DatasetView,
) -> Result<(), String> {
    let Some(test) = view.test else {
        return Ok(());
    };
    let Some(mine) = image_bytes_u8(images) else {
        return Ok(());
    };
    let d: usize = view.shape.iter().product::<i64>() as usize;
    let flat =
        |s: &Split| Vec::<u8>::try_from(&s.images.contiguous().view([-1])).unwrap_or_default();
    let test_px = flat(test);
    let test_idx = hash_images(&test_px, d);
    let mut train_px = flat(view.train);
    if let Some(v) = view.val {
        train_px.extend(flat(v));
    }
    let train_idx = hash_images(&train_px, d);
    for (i, img) in mine.chunks_exact(d).enumerate() {
        if let Some(j) = find_image(&test_idx, &test_px, d, img) {
            if find_image(&train_idx, &train_px, d, img).is_none() {
                return Err(format!(
                    "{}: tensor `images`: image {i} (label {}) is identical to test image {j} of `{}`, which is not in the train split: a compressed set must be made from the train split only",
                    file.display(),
                    labels.get(i).copied().unwrap_or(-1),
                    view.name
                ));
            }
        }
    }
    Ok(())
}

/// Reads `path` and runs every check that does not depend on the budget (see the module docs).
pub fn open(path: &Path, view: &DatasetView) -> Result<Set, String> {
    let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let file = path.as_path();
    let f = file.display();
    let (raw, metadata, format, sha256, resized) = read_container(file, view)?;
    let declared = parse_metadata(file, &metadata, view)?;
    let mut map: BTreeMap<String, RawTensor> = BTreeMap::new();
    for (name, t) in raw {
        tensors::check_role(file, &name, &t)?;
        t.check_len(file, &name)?;
        map.insert(name, t);
    }
    let missing = |n: &str, what: &str| {
        format!(
            "{f}: no tensor `{n}` ({what}): a compressed set holds `images` [N, C, H, W] and `labels` [N]"
        )
    };
    let images_raw = map
        .remove("images")
        .ok_or_else(|| missing("images", "uint8 or float [N, C, H, W]"))?;
    let labels_raw = map
        .remove("labels")
        .ok_or_else(|| missing("labels", "int64 [N]"))?;
    let [c, h, w] = view.shape;
    let s: Vec<i64> = images_raw.shape.iter().map(|&d| d as i64).collect();
    if s.len() != 4 || s[1..] != view.shape[..] {
        let hint = if s.len() == 4 && s[1..] == [h, w, c] {
            " (it looks channels-last, NHWC: permute to [N, C, H, W])"
        } else if s.len() == 3 && c == 1 && s[1..] == [h, w] {
            " (add the channel dimension: images[:, None])"
        } else {
            ""
        };
        return Err(format!(
            "{f}: tensor `images` has shape {s:?}: expected [N, {c}, {h}, {w}] (N images at the dataset's resolution, channels first){hint}"
        ));
    }
    let n = s[0] as usize;
    if n == 0 {
        return Err(format!("{f}: tensor `images` holds no image"));
    }
    let expect_n = |name: &str, t: &RawTensor, tail: &[usize], what: &str| -> Result<(), String> {
        let mut want = vec![n];
        want.extend_from_slice(tail);
        if t.shape != want {
            return Err(format!(
                "{f}: tensor `{name}` has shape {:?}: expected {want:?} ({what}, one per image of `images`)",
                t.shape
            ));
        }
        Ok(())
    };
    expect_n("labels", &labels_raw, &[], "class indices")?;
    let k = view.class_names.len();
    if let Some(t) = map.get("soft_labels") {
        if t.shape.len() == 3 {
            return Err(format!(
                "{f}: tensor `soft_labels` has shape {:?}: a per-augmentation label store [E, N, K] is not supported yet (no protocol of this harness consumes one); store one distribution per image, [N, {k}]",
                t.shape
            ));
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

    let images = images_raw.to_tensor(file, "images")?;
    let labels = labels_raw.to_tensor(file, "labels")?;
    if images.is_floating_point() {
        let bad = images
            .isfinite()
            .logical_not()
            .sum(Kind::Int64)
            .int64_value(&[]);
        if bad > 0 {
            return Err(format!(
                "{f}: tensor `images` contains {bad} NaN or infinite values"
            ));
        }
        let lo = images.min().double_value(&[]);
        let hi = images.max().double_value(&[]);
        if !declared.float_range_free && (lo < -1e-4 || hi > 1.0 + 1e-4) {
            return Err(format!(
                "{f}: tensor `images` has values in [{lo:.3}, {hi:.3}], outside the [0, 1] pixel scale: float images must be un-normalised pixels in [0, 1] (undo a mean/std normalisation: x * std + mean). A method that deliberately keeps unclipped pixel values declares metadata `float_range` = \"free\""
            ));
        }
    }
    let lv = Vec::<i64>::try_from(&labels).map_err(|e| format!("{f}: tensor `labels`: {e}"))?;
    if let Some((i, &l)) = lv.iter().enumerate().find(|(_, &l)| l < 0 || l >= k as i64) {
        return Err(format!(
            "{f}: tensor `labels`: label {l} (image {i}) is out of range: the dataset `{}` has {k} classes (0..{})",
            view.name,
            k - 1
        ));
    }
    let soft_labels = match map.remove("soft_labels") {
        None => None,
        Some(t) => {
            let p = t.to_tensor(file, "soft_labels")?;
            match crate::validate::probability_rows(&p) {
                Err(crate::validate::ProbabilityIssue::NotProbabilities) => {
                    return Err(format!(
                        "{f}: tensor `soft_labels` must hold finite probabilities (>= 0)"
                    ))
                }
                Err(crate::validate::ProbabilityIssue::RowSum(dev)) => {
                    return Err(format!(
                        "{f}: tensor `soft_labels`: rows must sum to 1 (largest deviation {dev:.3e}); store probabilities, not logits"
                    ))
                }
                Ok(()) => {}
            }
            Some(p)
        }
    };
    let weights = match map.remove("weights") {
        None => None,
        Some(t) => {
            let w = t.to_tensor(file, "weights")?.to_kind(Kind::Float);
            if w.isfinite().all().int64_value(&[]) != 1
                || w.lt(0.0).any().int64_value(&[]) == 1
                || w.sum(Kind::Double).double_value(&[]) <= 0.0
            {
                return Err(format!(
                    "{f}: tensor `weights` must be finite, non-negative and not all zero"
                ));
            }
            Some(w)
        }
    };
    let mut notes = Vec::new();
    if resized > 0 {
        notes.push(format!(
            "{resized} image(s) were resized to the dataset's resolution {h}x{w} (bilinear, as the ImageFolder dataset reader does)"
        ));
    }
    let indices = match map.remove("indices") {
        None => None,
        Some(t) => {
            let idx = t.to_tensor(file, "indices")?;
            let v =
                Vec::<i64>::try_from(&idx).map_err(|e| format!("{f}: tensor `indices`: {e}"))?;
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
                images.kind() == Kind::Uint8 && imgs.equal(&images) && labs.equal(&labels)
            };
            if matches {
                Some(v)
            } else {
                notes.push(format!(
                    "tensor `indices` does not address these images in this protocol's train split (another validation split, or another dataset order); the set is evaluated from its images{}",
                    if unique { "" } else { " (and it repeats an index)" }
                ));
                None
            }
        }
    };
    if weights.is_some() && (indices.is_none() || soft_labels.is_some()) {
        return Err(format!(
            "{f}: tensor `weights` is only supported for a selection from the train split: `indices` [N] must address exactly `images` in this train split, without `soft_labels`"
        ));
    }
    let indices = if soft_labels.is_some() { None } else { indices };
    check_no_test_images(file, &images, &lv, view)?;
    let warnings = declared.warnings;
    let source = Source {
        row: row_name(metadata.get("method").map(String::as_str), file),
        path: file.to_path_buf(),
        format,
        sha256,
        family: declared.family,
        method: metadata.get("method").cloned(),
        version: metadata.get("version").cloned(),
        paper: metadata.get("paper").cloned(),
        budget: declared.budget,
        seed: declared.seed,
        metadata,
        dataset: view.name.to_string(),
        warnings,
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

    /// The built-in importer as a plugin for this file: its name is the row, its family and
    /// paper those declared, its path the file.
    pub fn plugin(&self) -> Plugin {
        // SAFETY: the header is built by distillery_api::export::header in this process.
        let (header, mut info) = unsafe { distillery_api::host::read_header(importer_header()) }
            .expect("the built-in importer's header is valid");
        info.name = self.row.clone();
        info.family = self.family;
        info.version = self.version_tag();
        info.paper = self.paper.clone().unwrap_or_default();
        info.description = format!(
            "{} set imported from {}",
            self.format.as_str(),
            self.path.display()
        );
        Plugin {
            info,
            path: self.path.clone(),
            header,
        }
    }
}

/// The built-in importer, run behind the same plugin boundary as any method: it re-reads the
/// planned file (refusing it if its SHA-256 changed) and returns its set.
#[derive(Default)]
struct Importer;

impl Method for Importer {
    const NAME: &'static str = "file";
    const FAMILY: Family = Family::External;
    const VERSION: &'static str = crate::VERSION;
    const PAPER: &'static str = "";
    const DESCRIPTION: &'static str = "built-in: evaluates a compressed set read from a file";

    fn compress(&mut self, input: &Input, ctx: &Context) -> Result<Compressed, MethodError> {
        let src: Source = serde_json::from_value(ctx.meta().config.clone())
            .map_err(|e| MethodError::Config(format!("the importer's request: {e}")))?;
        let s = input.train.images.size();
        let view = DatasetView {
            name: &src.dataset,
            shape: [s[1], s[2], s[3]],
            class_names: input.class_names,
            train: input.train,
            val: None,
            test: None,
            checksum: None,
        };
        let set = open(&src.path, &view).map_err(MethodError::Failed)?;
        if set.source.sha256 != src.sha256 {
            return Err(MethodError::Failed(format!(
                "{} changed since the run was planned (sha256 {} then, {} now); run the command again to plan it afresh",
                src.path.display(),
                src.sha256,
                set.source.sha256
            )));
        }
        if let Some(b) = src.budget {
            if b.label() != input.budget.label() {
                return Err(MethodError::Failed(format!(
                    "{}: metadata `budget` declares {}, but this cell's budget is {}: a set is evaluated only at the budget it was made for",
                    src.path.display(),
                    b.header(),
                    input.budget.header()
                )));
            }
        }
        let kind = if set.indices.is_some() {
            "indices"
        } else {
            "images"
        };
        let mut notes = src.warnings.clone();
        notes.extend(set.notes);
        let metadata = serde_json::json!({
            "import": {
                "path": src.path,
                "format": src.format.as_str(),
                "sha256": src.sha256,
                "kind": kind,
                "metadata": src.metadata,
                "notes": notes,
            }
        });
        // Built through the API's constructors, so fields added to them later keep defaults.
        let compressed = match set.indices {
            Some(indices) => {
                let mut c = Compressed::indices(indices);
                if let (Output::Indices { weights, .. }, Some(w)) = (&mut c.output, set.weights) {
                    *weights = Some(
                        Vec::<f32>::try_from(&w.to_kind(Kind::Float))
                            .map_err(|e| MethodError::Failed(format!("tensor `weights`: {e}")))?,
                    );
                }
                c
            }
            None => {
                let mut c = Compressed::images(set.images, set.labels);
                if let Output::Images { soft_labels, .. } = &mut c.output {
                    *soft_labels = set.soft_labels;
                }
                c
            }
        };
        Ok(compressed.with_metadata(metadata))
    }
}

unsafe extern "C" fn importer_compress(req: *const CompressRequest, resp: *mut CompressResponse) {
    unsafe { distillery_api::export::compress::<Importer>(req, resp) }
}

unsafe extern "C" fn importer_free(resp: *mut CompressResponse) {
    unsafe { distillery_api::export::free_response(resp) }
}

fn importer_header() -> &'static PluginHeader {
    static HEADER: std::sync::OnceLock<PluginHeader> = std::sync::OnceLock::new();
    HEADER.get_or_init(|| {
        distillery_api::export::header::<Importer>(importer_compress, importer_free)
    })
}

/// The plugin a cell runs: the importer for an imported cell, else the named plugin.
pub fn plugin_for(cell: &CellSpec, dirs: &[PathBuf]) -> anyhow::Result<Plugin> {
    match &cell.import {
        Some(s) => Ok(s.plugin()),
        None => crate::plugin::find(&cell.method, dirs),
    }
}

/// The plugin of a cell among those already loaded (the importer for an imported cell).
pub fn loaded_plugin_for(cell: &CellSpec, plugins: &HashMap<String, Plugin>) -> Option<Plugin> {
    match &cell.import {
        Some(s) => Some(s.plugin()),
        None => plugins.get(&cell.method).cloned(),
    }
}

/// The request of an imported cell carries its planned file (as the importer's config).
pub fn request_for(cell: &CellSpec, mut meta: RequestMeta) -> RequestMeta {
    if let Some(s) = &cell.import {
        meta.config = serde_json::to_value(s).unwrap_or_default();
    }
    meta
}

/// Splits `--methods` into plugin names and `file:` paths; `--from` adds paths.
pub fn split_methods(methods: &[String], from: &[PathBuf]) -> (Vec<String>, Vec<PathBuf>) {
    let mut names = Vec::new();
    let mut paths = Vec::new();
    for m in methods {
        match m.strip_prefix(PREFIX) {
            Some(p) => paths.push(PathBuf::from(p)),
            None => names.push(m.clone()),
        }
    }
    paths.extend(from.iter().cloned());
    (names, paths)
}

/// The imported files of a run and their cells.
pub struct Planned {
    pub sources: Vec<Source>,
    pub cells: Vec<CellSpec>,
}

/// Opens and checks every file against the dataset, then lays out its cells over the run's
/// budgets and seeds (see the module docs). Errors name the file.
pub fn plan(
    paths: &[PathBuf],
    data: &crate::dataset::Prepared,
    budgets: &[Budget],
    seeds: usize,
) -> Result<Planned, String> {
    let view = DatasetView::of(data);
    let mut sources: Vec<Source> = Vec::new();
    for p in paths {
        let set = open(p, &view)?;
        let s = set.source;
        if let Some(b) = s.budget {
            if !budgets.iter().any(|x| x.label() == b.label()) {
                let run: Vec<String> = budgets.iter().map(|b| b.header()).collect();
                return Err(format!(
                    "{}: metadata `budget` declares {}, but this run's budgets are {}: add that budget (e.g. --ipc/--fraction/--bytes) to evaluate it; a set is evaluated only at the budget it was made for",
                    s.path.display(),
                    b.header(),
                    run.join(", ")
                ));
            }
        }
        if let Some(seed) = s.seed {
            if seed as usize >= seeds {
                return Err(format!(
                    "{}: metadata `seed` = {seed} (the run seed the set was made for), but this run has seeds 0..{}: use --seeds {} or more, or drop the `seed` key to evaluate the set under every seed",
                    s.path.display(),
                    seeds.saturating_sub(1),
                    seed + 1
                ));
            }
        }
        sources.push(s);
    }
    let mut cells: Vec<CellSpec> = Vec::new();
    let mut owner: HashMap<String, PathBuf> = HashMap::new();
    for seed in 0..seeds as u64 {
        for b in budgets {
            for s in &sources {
                if s.budget.is_some_and(|d| d.label() != b.label())
                    || s.seed.is_some_and(|d| d != seed)
                {
                    continue;
                }
                let id = cell_id(&s.row.replacen(PREFIX, "file.", 1), Some(b), seed);
                if let Some(other) = owner.insert(id.clone(), s.path.clone()) {
                    return Err(format!(
                        "{} and {} both give row `{}` a set at {} for seed {seed}: give one of them another `method` in its metadata (or another file name), or declare the `budget`/`seed` each was made for",
                        other.display(),
                        s.path.display(),
                        s.row,
                        b.header()
                    ));
                }
                cells.push(CellSpec {
                    id,
                    method: s.row.clone(),
                    budget: Some(*b),
                    seed,
                    seeds: derive_seeds(seed),
                    import: Some(s.clone()),
                });
            }
        }
    }
    Ok(Planned { sources, cells })
}

/// The row `bench list` shows for the built-in importer.
pub fn list_row() -> [String; 6] {
    [
        "file:PATH".into(),
        "from the file (default external)".into(),
        crate::VERSION.into(),
        "built-in".into(),
        "-".into(),
        "evaluates a compressed set made elsewhere: safetensors, .npz or an ImageFolder tree\n`--methods file:PATH` or `--from PATH[,PATH…]`; layout in CONTRIBUTING.md".into(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use tensors::DType;

    /// Four 1x2x2 images (pixel values 10*i ..), labels 0, 0, 1, 1.
    fn toy() -> Split {
        let px: Vec<u8> = (0..16).map(|v| 10 * (v / 4) + v % 4).collect();
        Split {
            images: Tensor::from_slice(&px).view([4, 1, 2, 2]),
            labels: Tensor::from_slice(&[0i64, 0, 1, 1]),
        }
    }

    fn raw(dtype: DType, shape: &[usize], data: Vec<u8>) -> RawTensor {
        RawTensor {
            dtype,
            shape: shape.to_vec(),
            data,
        }
    }

    fn write(path: &Path, t: Vec<(&str, RawTensor)>, meta: &[(&str, &str)]) {
        let t: Vec<(String, RawTensor)> = t.into_iter().map(|(n, t)| (n.into(), t)).collect();
        let m = meta
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        std::fs::write(path, safetensors::to_bytes(&t, &m).unwrap()).unwrap();
    }

    /// Calls the importer in process, as a cell does through the plugin boundary.
    fn import(src: &Source, train: &Split, budget: Budget) -> Result<Compressed, MethodError> {
        let names = vec!["a".to_string(), "b".to_string()];
        let meta: RequestMeta = serde_json::from_value(serde_json::json!({
            "method": src.row, "budget": budget, "class_names": names,
            "seeds": derive_seeds(0), "device": "cpu", "scratch_dir": "/nonexistent",
            "config": src,
            "protocol": {
                "name": "p", "hash": "h", "student": {"arch": "convnet"},
                "train": {"epochs": 1, "batch_size": 1, "optimizer": "sgd", "lr": 0.1,
                          "schedule": "constant", "augment": "none"},
                "mean": [0.5], "std": [0.5], "mirror_invariant": true
            }
        }))
        .unwrap();
        let input = Input {
            train,
            val: train,
            class_names: &names,
            budget,
        };
        Importer.compress(&input, &Context::new(meta))
    }

    #[test]
    fn the_cell_importer_returns_the_selection_and_refuses_surprises() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("sel.safetensors");
        let train = toy();
        let pick = |idx: &[i64]| {
            let t = train.images.index_select(0, &Tensor::from_slice(idx));
            Vec::<u8>::try_from(&t.view([-1])).unwrap()
        };
        let i64s = |v: &[i64]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
        let w: Vec<u8> = [0.5f32, 2.0].iter().flat_map(|x| x.to_le_bytes()).collect();
        let tensors = |idx: &[i64]| {
            vec![
                ("images", raw(DType::U8, &[2, 1, 2, 2], pick(&[1, 2]))),
                ("labels", raw(DType::I64, &[2], i64s(&[0, 1]))),
                ("indices", raw(DType::I64, &[2], i64s(idx))),
                ("weights", raw(DType::F32, &[2], w.clone())),
            ]
        };
        write(
            &f,
            tensors(&[1, 2]),
            &[("method", "Sel"), ("budget", "ipc1")],
        );
        let names = vec!["a".to_string(), "b".to_string()];
        let view = DatasetView {
            name: "toy",
            shape: [1, 2, 2],
            class_names: &names,
            train: &train,
            val: None,
            test: None,
            checksum: None,
        };
        let set = open(&f, &view).unwrap();
        assert_eq!(set.indices, Some(vec![1, 2]));
        let src = set.source;
        assert_eq!(
            (src.row.as_str(), src.budget),
            ("file:sel", Some(Budget::Ipc(1)))
        );
        assert_eq!(src.family, Family::External);

        let c = import(&src, &train, Budget::Ipc(1)).unwrap();
        assert_eq!(c.metadata["import"]["kind"], "indices");
        match c.output {
            Output::Indices { indices, weights } => {
                assert_eq!(indices, vec![1, 2]);
                assert_eq!(weights, Some(vec![0.5, 2.0]));
            }
            other => panic!("{other:?}"),
        }
        let e = import(&src, &train, Budget::Ipc(2))
            .unwrap_err()
            .to_string();
        assert!(
            e.ends_with("sel.safetensors: metadata `budget` declares IPC 1, but this cell's budget is IPC 2: a set is evaluated only at the budget it was made for"),
            "{e}"
        );

        // The file changes after the run was planned: the cell refuses it.
        write(
            &f,
            tensors(&[1, 2]),
            &[("method", "Sel"), ("budget", "ipc1"), ("paper", "x")],
        );
        let e = import(&src, &train, Budget::Ipc(1))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("sel.safetensors changed since the run was planned"),
            "{e}"
        );

        // Indices that address other images: weights cannot be honoured, so the file is refused.
        write(&f, tensors(&[0, 3]), &[]);
        let e = open(&f, &view).err().unwrap();
        assert!(
            e.contains("tensor `weights` is only supported for a selection"),
            "{e}"
        );
        // Without weights, the same file is evaluated from its images, with a note.
        let mut t = tensors(&[0, 3]);
        t.pop();
        write(&f, t, &[]);
        let set = open(&f, &view).unwrap();
        assert_eq!(set.indices, None);
        assert!(
            set.notes[0].contains("does not address these images"),
            "{:?}",
            set.notes
        );
        assert_eq!(set.source.row, "file:sel", "the file stem names the row");
        let c = import(&set.source, &train, Budget::Ipc(1)).unwrap();
        match c.output {
            Output::Images { images, labels, .. } => {
                assert_eq!(
                    Vec::<u8>::try_from(&images.view([-1])).unwrap(),
                    pick(&[1, 2])
                );
                assert_eq!(Vec::<i64>::try_from(&labels).unwrap(), vec![0, 1]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn rows_are_recognisable_and_filesystem_safe() {
        let p = Path::new("/x/My Set (v2).safetensors");
        assert_eq!(row_name(Some("DM"), p), "file:dm");
        assert_eq!(
            row_name(Some("Dataset Condensation / DSA"), p),
            "file:dataset-condensation-dsa"
        );
        assert_eq!(row_name(None, p), "file:my-set-v2");
        assert_eq!(row_name(Some("  "), Path::new("/x/.st")), "file:st");
        assert_eq!(parse_budget("ipc10"), Some(Budget::Ipc(10)));
        assert_eq!(parse_budget("frac0.1"), Some(Budget::Fraction(0.1)));
        assert_eq!(parse_budget("bytes4096"), Some(Budget::Bytes(4096)));
        assert_eq!(parse_budget("ipc0"), None);
        assert_eq!(parse_budget("10"), None);
        let (names, paths) = split_methods(
            &["random".into(), "file:/a/b.npz".into()],
            &[PathBuf::from("c.safetensors")],
        );
        assert_eq!(names, vec!["random".to_string()]);
        assert_eq!(
            paths,
            vec![PathBuf::from("/a/b.npz"), PathBuf::from("c.safetensors")]
        );
    }
}
