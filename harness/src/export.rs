//! `bench export`: run one method exactly as a cell would and write its compressed set in the
//! import layout (crate::import), so that it can be shared, inspected in Python, and evaluated
//! again with `--from FILE`.
//!
//! "Exactly as a cell would": the same protocol, dataset preparation (validation hold-out),
//! derived seeds for run seed `S` (`plan::derive_seeds`), request (`cell::request_meta`:
//! method configuration, protocol view, budget), private copies of the splits, and the same
//! `validate::check_output` of the output. On CPU a cell uses one thread unless `bench` is run with
//! fewer parallel jobs than threads; `--threads` (default 1) must match for methods whose output
//! depends on floating-point reduction order.
//!
//! Written: `images` (the set's images; for a selection, the selected train images as uint8),
//! `labels`, and when present `soft_labels`, `weights` and `indices` (positions in the train
//! split), with metadata naming the method, budget, dataset (name, checksum, class names), run
//! seed and derived seeds, protocol (name, version, hash), output kind and storage figures.

use crate::dataset::Prepared;
use crate::import::tensors::RawTensor;
use crate::import::{folder, npz, safetensors, FORMAT, FORMAT_VERSION};
use crate::plan;
use crate::plugin::Plugin;
use crate::protocol::Loaded;
use distillery_api::{Budget, Family, Split};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use tch::Kind;

/// Why an export failed: bad input (exit 2) or the method itself (exit 1).
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Bad input: the output path or layout, a reference method, an unwritable file.
    #[error("{0}")]
    Input(String),
    /// The method failed or returned an invalid set (the text names the plugin).
    #[error("{0}")]
    Method(String),
}

use ExportError::{Input, Method};

fn input<E: std::fmt::Display>(e: E) -> ExportError {
    Input(e.to_string())
}

/// The layout `--out` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutFormat {
    /// `FILE.safetensors`.
    Safetensors,
    /// `FILE.npz`.
    Npz,
    /// `DIR/` (or an existing directory): an ImageFolder tree of PNGs.
    Folder,
}

impl OutFormat {
    /// The layout of output path `p`: a directory (trailing `/` or existing), `.safetensors`
    /// or `.npz`; anything else is [`ExportError::Input`].
    pub fn of(p: &Path) -> Result<OutFormat, ExportError> {
        let s = p.to_string_lossy();
        if s.ends_with('/') || p.is_dir() {
            return Ok(OutFormat::Folder);
        }
        match p.extension().and_then(|e| e.to_str()) {
            Some("safetensors") => Ok(OutFormat::Safetensors),
            Some("npz") => Ok(OutFormat::Npz),
            _ => Err(Input(format!(
                "--out {}: name a FILE.safetensors, a FILE.npz or a DIR/ (ImageFolder)",
                p.display()
            ))),
        }
    }
}

/// One export, resolved by the command layer (`crate::cli::export`).
pub struct Request<'a> {
    /// The protocol (validation split, method settings, view of the data).
    pub loaded: &'a Loaded,
    /// The dataset, prepared as the protocol says.
    pub data: &'a Prepared,
    /// The method's plugin.
    pub plugin: &'a Plugin,
    /// The method's `[methods.<name>]` table from `--method-config`, merged over the
    /// protocol's.
    pub config_override: Option<&'a serde_json::Value>,
    /// The one budget.
    pub budget: Budget,
    /// The run seed: the method gets the derived seeds of a `bench` cell of this seed.
    pub seed: u64,
    /// Where the method runs.
    pub device: tch::Device,
    /// CPU threads for the method (at least 1).
    pub threads: usize,
    /// The output path and its layout ([`OutFormat::of`]).
    pub out: &'a Path,
    /// The layout of `out`.
    pub format: OutFormat,
}

fn copy(s: &Split) -> Split {
    Split {
        images: s.images.copy(),
        labels: s.labels.copy(),
    }
}

/// What `run` wrote.
pub struct Exported {
    /// The file or directory written.
    pub path: PathBuf,
    /// Images in the set.
    pub images: usize,
    /// What the set is (`validate::CompressedSet::kind`, e.g. a selection or synthetic).
    pub kind: &'static str,
    /// Its storage figures (bytes of images and labels at their stored precision).
    pub storage: crate::validate::Storage,
    /// The `bench` option that selects this budget, without dashes: `ipc 10`, `fraction 0.1`.
    pub budget_flag: String,
}

/// Runs the method for one (budget, seed) cell and writes its set to `r.out`.
///
/// `progress(cell id, fraction done, message)` receives the method's progress reports.
/// Errors: [`ExportError::Input`] for a reference method, an output the set cannot be written
/// as, or an unwritable path; [`ExportError::Method`] when the method fails or returns an
/// invalid set.
pub fn run(
    r: &Request,
    progress: &mut dyn FnMut(&str, f64, &str),
) -> Result<Exported, ExportError> {
    let (loaded, data, plugin, budget, dev) = (r.loaded, r.data, r.plugin, r.budget, r.device);
    let p = &loaded.protocol;
    let method = &plugin.info.name;
    let family = plugin.info.family;
    if family == Family::Reference {
        return Err(Input(format!(
            "'{method}' is a reference line (no budget, not a compressed set): nothing to export"
        )));
    }
    let mut config = loaded.method_config(method);
    if let Some(t) = r.config_override {
        config = crate::method_config::merge(&config, t);
    }
    let cell = plan::cells(&[(method.clone(), family)], &[budget], r.seed as usize + 1)
        .into_iter()
        .find(|c| c.seed == r.seed)
        .expect("the plan has a cell for every seed");

    tch::set_num_threads(r.threads.max(1) as i32);
    let scratch = std::env::temp_dir().join(format!(
        "distillery-export-{}-{}",
        std::process::id(),
        cell.id
    ));
    std::fs::create_dir_all(&scratch).map_err(input)?;
    let meta = crate::cell::request_meta(loaded, &cell, data, dev, scratch.clone(), config.clone());
    let mut progress = |f: f64, m: &str| progress(&cell.id, f, m);
    let who = format!("plugin '{}' ({})", plugin.info.name, plugin.path.display());
    let result = distillery_api::host::call_compress(
        plugin.header,
        &meta,
        &copy(&data.train),
        &copy(&data.val),
        &mut progress,
    );
    let _ = std::fs::remove_dir_all(&scratch);
    let raw = result.map_err(|e| Method(format!("{who} {e}")))?;
    let indices = raw.indices.as_ref().map(|t| t.shallow_clone());
    let method_metadata = raw.metadata.clone();
    let set = crate::validate::check_output(
        raw,
        &data.train,
        data.num_classes(),
        data.shape,
        budget,
        family,
    )
    .map_err(|e| Method(format!("{who} returned an invalid compressed set: {e}")))?;

    let t = |x: &tch::Tensor| RawTensor::from_tensor(x).map_err(|e| Method(e.to_string()));
    let mut tensors = vec![
        ("images".to_string(), t(&set.images)?),
        ("labels".to_string(), t(&set.labels)?),
    ];
    if let Some(s) = &set.soft_labels {
        tensors.push(("soft_labels".into(), t(s)?));
    }
    if let Some(w) = &set.weights {
        tensors.push(("weights".into(), t(&w.to_kind(Kind::Float))?));
    }
    if let Some(i) = &indices {
        tensors.push(("indices".into(), t(i)?));
    }
    let mut m: BTreeMap<String, String> = BTreeMap::new();
    let mut put = |k: &str, v: String| {
        m.insert(k.to_string(), v);
    };
    put("format", FORMAT.into());
    put("format_version", FORMAT_VERSION.to_string());
    put(
        "created_by",
        format!("bench export (Distillery {})", crate::VERSION),
    );
    put("method", plugin.info.name.clone());
    put("version", plugin.info.version.clone());
    put("family", family.as_str().into());
    put("paper", plugin.info.paper.clone());
    put("budget", budget.label());
    put("kind", set.kind.into());
    put("dataset", data.name.clone());
    put("dataset_checksum", data.checksum.clone());
    put("class_names", js(&data.class_names));
    put("num_classes", data.num_classes().to_string());
    put("seed", r.seed.to_string());
    put("seeds", js(&cell.seeds));
    put("protocol", p.name.clone());
    put("protocol_version", p.version.clone());
    put("protocol_hash", loaded.hash.clone());
    put("storage", js(&set.storage));
    put("method_metadata", method_metadata.to_string());
    put("method_config", config.to_string());
    put("device", distillery_api::method::device_string(dev));
    put("threads", r.threads.max(1).to_string());
    if set.images.is_floating_point() {
        let lo = set.images.min().double_value(&[]);
        let hi = set.images.max().double_value(&[]);
        let unit = lo >= 0.0 && hi <= 1.0;
        put("float_range", if unit { "unit" } else { "free" }.into());
    }

    match r.format {
        OutFormat::Safetensors | OutFormat::Npz => {
            let bytes = match r.format {
                OutFormat::Safetensors => safetensors::to_bytes(&tensors, &m),
                _ => npz::to_bytes(&tensors, &m),
            }
            .map_err(|e| Method(format!("{}: {e}", r.out.display())))?;
            write_atomic(r.out, &bytes).map_err(|e| Input(format!("{}: {e}", r.out.display())))?;
        }
        OutFormat::Folder => {
            if set.images.kind() != Kind::Uint8
                || set.soft_labels.is_some()
                || set.weights.is_some()
            {
                return Err(Input(format!(
                    "--out {}: an ImageFolder holds uint8 images with hard labels only; this set has {}; write a .safetensors file",
                    r.out.display(),
                    if set.images.kind() != Kind::Uint8 { "float images" } else { "soft labels or weights" }
                )));
            }
            let px = Vec::<u8>::try_from(&set.images.contiguous().view([-1]))
                .map_err(|e| Method(e.to_string()))?;
            let labels = Vec::<i64>::try_from(&set.labels).map_err(|e| Method(e.to_string()))?;
            let s = set.images.size();
            let shape = [s[0] as usize, s[1] as usize, s[2] as usize, s[3] as usize];
            folder::write(r.out, &px, shape, &labels, &data.class_names, &m).map_err(Input)?;
        }
    }
    Ok(Exported {
        path: r.out.to_path_buf(),
        images: set.storage.images,
        kind: set.kind,
        storage: set.storage.clone(),
        budget_flag: match budget {
            Budget::Ipc(k) => format!("ipc {k}"),
            Budget::Fraction(f) => format!("fraction {f}"),
            Budget::Bytes(b) => format!("bytes {b}"),
        },
    })
}

/// Compact JSON (metadata values are strings).
fn js<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    distillery_api::fsio::write_atomic(path, bytes)
}
