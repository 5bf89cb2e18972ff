//! `bench export`: run one method exactly as a cell would and write its compressed set in the
//! import layout (crate::import), so that it can be shared, inspected in Python, and evaluated
//! again with `--from FILE`.
//!
//! "Exactly as a cell would": the same protocol, dataset preparation (validation hold-out),
//! derived seeds for run seed `S` (`plan::derive_seeds`), request (`cell::request_meta`:
//! method configuration, protocol view, budget), private copies of the splits, and the same
//! `validate::check` of the output. On CPU a cell uses one thread unless `bench` is run with
//! fewer parallel jobs than threads; `--threads` (default 1) must match for methods whose output
//! depends on floating-point reduction order.
//!
//! Written: `images` (the set's images; for a selection, the selected train images as uint8),
//! `labels`, and when present `soft_labels`, `weights` and `indices` (positions in the train
//! split), with metadata naming the method, budget, dataset (name, checksum, class names), run
//! seed and derived seeds, protocol (name, version, hash), output kind and storage figures.

use crate::dataset::{ImageOptions, Prepared};
use crate::import::tensors::RawTensor;
use crate::import::{folder, npz, safetensors, FORMAT, FORMAT_VERSION};
use crate::plan;
use crate::protocol::Loaded;
use distillery_api::{Budget, Family, Split};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tch::Kind;

#[derive(clap::Args, Clone, Debug)]
pub struct ExportArgs {
    /// The method (plugin name) to run.
    #[arg(long)]
    pub method: String,
    /// Protocol: a shipped name or a .toml path (its validation split, method settings and view
    /// of the data are used exactly as in a cell).
    #[arg(long, default_value = "hard-label")]
    pub protocol: String,
    /// Dataset: `mnist-5k` (embedded) or a directory (default: the protocol's).
    #[arg(long)]
    pub dataset: Option<String>,
    /// ImageFolder datasets: resize images to SIZE x SIZE.
    #[arg(long, default_value_t = 32)]
    pub image_size: u32,
    /// ImageFolder datasets: 3 (RGB) or 1 (grayscale) channels.
    #[arg(long, default_value_t = 3)]
    pub channels: usize,
    /// Images-per-class budget (give exactly one of --ipc, --fraction, --bytes).
    #[arg(long)]
    pub ipc: Option<usize>,
    /// Fraction budget of the train split.
    #[arg(long)]
    pub fraction: Option<f64>,
    /// Byte budget (images + labels at their stored precision).
    #[arg(long)]
    pub bytes: Option<u64>,
    /// Run seed: the method gets the seeds a `bench` cell of this seed gets.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output: FILE.safetensors, FILE.npz, or DIR/ (an ImageFolder tree of PNGs; uint8 sets only).
    #[arg(long)]
    pub out: PathBuf,
    /// cpu, cuda, cuda:N or auto (CUDA when available).
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// CPU threads for the method (a default `bench` cell on CPU uses 1).
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Extra plugin directories or files (also DISTILLERY_PLUGINS).
    #[arg(long, value_delimiter = ',')]
    pub plugins: Vec<PathBuf>,
    /// Method settings outside the protocol ([methods.<name>] tables), as for `bench`.
    #[arg(long)]
    pub method_config: Option<PathBuf>,
}

/// Why an export failed: bad input (exit 2) or the method itself (exit 1).
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{0}")]
    Input(String),
    #[error("{0}")]
    Method(String),
}

use ExportError::{Input, Method};

fn input<E: std::fmt::Display>(e: E) -> ExportError {
    Input(e.to_string())
}

fn device(s: &str) -> Result<tch::Device, ExportError> {
    let cuda = tch::Cuda::is_available();
    match s {
        "cpu" => Ok(tch::Device::Cpu),
        "auto" if cuda => Ok(tch::Device::Cuda(0)),
        "auto" => Ok(tch::Device::Cpu),
        s if s == "cuda" || s.starts_with("cuda:") => {
            if !cuda {
                return Err(Input(format!(
                    "--device {s}: CUDA is not available on this machine"
                )));
            }
            distillery_api::method::parse_device(s).map_err(input)
        }
        other => Err(Input(format!(
            "--device {other}: expected cpu, cuda, cuda:N or auto"
        ))),
    }
}

fn budget(a: &ExportArgs) -> Result<Budget, ExportError> {
    let mut b = Vec::new();
    if let Some(k) = a.ipc {
        b.push(Budget::Ipc(k));
    }
    if let Some(f) = a.fraction {
        b.push(Budget::Fraction(f));
    }
    if let Some(x) = a.bytes {
        b.push(Budget::Bytes(x));
    }
    match b[..] {
        [Budget::Ipc(0)] | [Budget::Bytes(0)] => Err(Input("the budget must be positive".into())),
        [Budget::Fraction(f)] if !(f > 0.0 && f <= 1.0) => {
            Err(Input(format!("--fraction {f}: must be in (0, 1]")))
        }
        [one] => Ok(one),
        _ => Err(Input(
            "give exactly one budget: --ipc K, --fraction F or --bytes B".into(),
        )),
    }
}

enum OutFormat {
    Safetensors,
    Npz,
    Folder,
}

fn out_format(p: &Path) -> Result<OutFormat, ExportError> {
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

fn copy(s: &Split) -> Split {
    Split {
        images: s.images.copy(),
        labels: s.labels.copy(),
    }
}

/// What `run` wrote.
pub struct Exported {
    pub path: PathBuf,
    pub images: usize,
    pub kind: &'static str,
    pub storage: crate::validate::Storage,
    /// The `bench` option that selects this budget, without dashes: `ipc 10`, `fraction 0.1`.
    pub budget_flag: String,
}

/// Runs the method for one (budget, seed) cell and writes its set to `--out`.
pub fn run(a: &ExportArgs) -> Result<Exported, ExportError> {
    let fmt = out_format(&a.out)?;
    let budget = budget(a)?;
    let loaded = Loaded::resolve(&a.protocol).map_err(input)?;
    let p = &loaded.protocol;
    let dataset = a
        .dataset
        .clone()
        .unwrap_or_else(|| p.defaults.dataset.clone());
    let image = ImageOptions {
        size: a.image_size,
        channels: a.channels,
    };
    let data = Prepared::load(&dataset, &image, &p.data).map_err(input)?;
    let dev = device(&a.device)?;
    let plugin = crate::plugin::find(&a.method, &a.plugins).map_err(input)?;
    let family = plugin.info.family;
    if family == Family::Reference {
        return Err(Input(format!(
            "'{}' is a reference line (no budget, not a compressed set): nothing to export",
            a.method
        )));
    }
    let mut config = loaded.method_config(&a.method);
    if let Some(f) = &a.method_config {
        let o = crate::method_config::load(f).map_err(input)?;
        if let Some(t) = o.get(&a.method) {
            config = crate::method_config::merge(&config, t);
        }
    }
    let cell = plan::cells(
        &[(a.method.clone(), family)],
        &[budget],
        a.seed as usize + 1,
    )
    .into_iter()
    .find(|c| c.seed == a.seed)
    .expect("the plan has a cell for every seed");

    tch::set_num_threads(a.threads.max(1) as i32);
    let scratch = std::env::temp_dir().join(format!(
        "distillery-export-{}-{}",
        std::process::id(),
        cell.id
    ));
    std::fs::create_dir_all(&scratch).map_err(input)?;
    let meta =
        crate::cell::request_meta(&loaded, &cell, &data, dev, scratch.clone(), config.clone());
    let mut last = std::time::Instant::now();
    let mut progress = |f: f64, m: &str| {
        if last.elapsed().as_secs_f64() > 5.0 {
            eprintln!("[export {}] {:.0}% {m}", cell.id, f * 100.0);
            last = std::time::Instant::now();
        }
    };
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
    let set = crate::validate::check(
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
    put("seed", a.seed.to_string());
    put("seeds", js(&cell.seeds));
    put("protocol", p.name.clone());
    put("protocol_version", p.version.clone());
    put("protocol_hash", loaded.hash.clone());
    put("storage", js(&set.storage));
    put("method_metadata", method_metadata.to_string());
    put("method_config", config.to_string());
    put("device", distillery_api::method::device_string(dev));
    put("threads", a.threads.max(1).to_string());
    if set.images.is_floating_point() {
        let lo = set.images.min().double_value(&[]);
        let hi = set.images.max().double_value(&[]);
        let unit = lo >= 0.0 && hi <= 1.0;
        put("float_range", if unit { "unit" } else { "free" }.into());
    }

    match fmt {
        OutFormat::Safetensors | OutFormat::Npz => {
            let bytes = match fmt {
                OutFormat::Safetensors => safetensors::to_bytes(&tensors, &m),
                _ => npz::to_bytes(&tensors, &m),
            }
            .map_err(|e| Method(format!("{}: {e}", a.out.display())))?;
            write_atomic(&a.out, &bytes).map_err(|e| Input(format!("{}: {e}", a.out.display())))?;
        }
        OutFormat::Folder => {
            if set.images.kind() != Kind::Uint8
                || set.soft_labels.is_some()
                || set.weights.is_some()
            {
                return Err(Input(format!(
                    "--out {}: an ImageFolder holds uint8 images with hard labels only; this set has {}; write a .safetensors file",
                    a.out.display(),
                    if set.images.kind() != Kind::Uint8 { "float images" } else { "soft labels or weights" }
                )));
            }
            let px = Vec::<u8>::try_from(&set.images.contiguous().view([-1]))
                .map_err(|e| Method(e.to_string()))?;
            let labels = Vec::<i64>::try_from(&set.labels).map_err(|e| Method(e.to_string()))?;
            let s = set.images.size();
            let shape = [s[0] as usize, s[1] as usize, s[2] as usize, s[3] as usize];
            folder::write(&a.out, &px, shape, &labels, &data.class_names, &m).map_err(Input)?;
        }
    }
    Ok(Exported {
        path: a.out.clone(),
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
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id()
    ));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}
