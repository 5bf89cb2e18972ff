//! The one trait every method implements, whatever its family, and the types it sees.

use crate::spec::{ModelSpec, TrainSpec};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use std::path::{Path, PathBuf};
use tch::{Device, Kind, Tensor};

/// What kind of method a plugin is. Shown by `bench list`, recorded in every result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// Synthesises new images (DC, DSA, DM, MTT, SRe2L, RDED, ...).
    Distillation,
    /// Selects a subset of the train split (random, herding, k-center, forgetting, ...).
    Pruning,
    /// Knowledge distillation: changes the labels, not the images (KD, DKD, stored labels).
    Kd,
    /// A reference line, not a competitor (`full`: the whole train split). Exempt from budgets.
    Reference,
    /// A compressed set produced outside the harness and imported from a file.
    External,
}

impl Family {
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Distillation => "distillation",
            Family::Pruning => "pruning",
            Family::Kd => "kd",
            Family::Reference => "reference",
            Family::External => "external",
        }
    }
    pub fn parse(s: &str) -> Option<Family> {
        Some(match s {
            "distillation" => Family::Distillation,
            "pruning" => Family::Pruning,
            "kd" => Family::Kd,
            "reference" => Family::Reference,
            "external" => Family::External,
            _ => return None,
        })
    }
}

/// How much a method may keep. The harness enforces it on the output.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "kind", content = "value")]
pub enum Budget {
    /// Images per class (IPC): at most this many images labelled with each class.
    Ipc(usize),
    /// A fraction of the train split, in (0, 1]; `round(fraction * N)` images in total.
    Fraction(f64),
    /// Total bytes of images plus labels at their stored precision.
    Bytes(u64),
}

impl Budget {
    /// Short label used in tables and cell ids: `ipc10`, `frac0.1`, `bytes4096`.
    pub fn label(&self) -> String {
        match self {
            Budget::Ipc(k) => format!("ipc{k}"),
            Budget::Fraction(f) => format!("frac{f}"),
            Budget::Bytes(b) => format!("bytes{b}"),
        }
    }

    /// Column header for tables: `IPC 10`, `10%`, `4096 B`.
    pub fn header(&self) -> String {
        match self {
            Budget::Ipc(k) => format!("IPC {k}"),
            Budget::Fraction(f) => format!("{}%", f * 100.0),
            Budget::Bytes(b) => format!("{b} B"),
        }
    }

    /// Total number of images allowed, given the class count and train-split size
    /// (`None` for a byte budget, which depends on the image format).
    pub fn max_images(&self, num_classes: usize, train_len: usize) -> Option<usize> {
        match *self {
            Budget::Ipc(k) => Some(k * num_classes),
            Budget::Fraction(f) => Some(((f * train_len as f64).round() as usize).max(1)),
            Budget::Bytes(_) => None,
        }
    }

    /// Images per class for an IPC budget; an error for other budgets, naming what a
    /// class-balanced method should do instead.
    pub fn images_per_class(&self) -> Result<usize, MethodError> {
        match *self {
            Budget::Ipc(k) => Ok(k),
            other => Err(MethodError::Unsupported(format!(
                "this method needs an images-per-class budget, got {}",
                other.header()
            ))),
        }
    }
}

/// Derived seeds of one cell. The harness derives them from the run seed and logs them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seeds {
    /// The run seed the others derive from (seed index of the cell's repeat).
    pub run: u64,
    /// For the method's own randomness: subset choice, initial images, scoring models.
    pub selection: u64,
    /// Student initialisation (libtorch generator).
    pub init: u64,
    /// Order of training batches.
    pub order: u64,
    /// Augmentation draws (libtorch generator).
    pub augment: u64,
}

/// A split of the dataset: uint8 images `[N, C, H, W]` and int64 labels `[N]`, on CPU.
#[derive(Debug)]
pub struct Split {
    pub images: Tensor,
    pub labels: Tensor,
}

impl Split {
    pub fn len(&self) -> usize {
        self.labels.size()[0] as usize
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Labels as a Rust vector.
    pub fn labels_vec(&self) -> Vec<i64> {
        Vec::<i64>::try_from(&self.labels.to_kind(Kind::Int64).to_device(Device::Cpu))
            .expect("labels tensor is int64 [N]")
    }
    /// Indices of each class, in ascending order.
    pub fn indices_by_class(&self, num_classes: usize) -> Vec<Vec<usize>> {
        let mut by = vec![Vec::new(); num_classes];
        for (i, l) in self.labels_vec().into_iter().enumerate() {
            if (l as usize) < num_classes {
                by[l as usize].push(i);
            }
        }
        by
    }
}

/// Everything a method may look at. There is no test split here, by construction.
pub struct Input<'a> {
    pub train: &'a Split,
    /// Held out from the train split for decisions (early stopping, hyper-parameters).
    pub val: &'a Split,
    pub class_names: &'a [String],
    pub budget: Budget,
}

impl Input<'_> {
    pub fn num_classes(&self) -> usize {
        self.class_names.len()
    }
}

/// What a method returns.
#[derive(Debug)]
pub enum Output {
    /// Indices into `Input::train` (pruning). The harness materialises the images and labels.
    Indices {
        indices: Vec<i64>,
        weights: Option<Vec<f32>>,
    },
    /// New images `[M, C, H, W]` (uint8, or float in the dataset's [0,1] pixel scale) with hard
    /// labels `[M]` and optional soft labels `[M, K]` (probabilities).
    Images {
        images: Tensor,
        labels: Tensor,
        soft_labels: Option<Tensor>,
    },
}

/// A method's result: its output and free-form metadata recorded with the cell.
#[derive(Debug)]
pub struct Compressed {
    pub output: Output,
    pub metadata: serde_json::Value,
    /// How the method wants its images labelled under the native-label protocol (a label
    /// function such as KD, or stored labels). `None`: its hard (or soft) labels as returned.
    pub label_spec: Option<crate::spec::LabelSpec>,
}

impl Compressed {
    pub fn indices(indices: Vec<i64>) -> Self {
        Self {
            output: Output::Indices {
                indices,
                weights: None,
            },
            metadata: serde_json::json!({}),
            label_spec: None,
        }
    }
    pub fn images(images: Tensor, labels: Tensor) -> Self {
        Self {
            output: Output::Images {
                images,
                labels,
                soft_labels: None,
            },
            metadata: serde_json::json!({}),
            label_spec: None,
        }
    }
    pub fn with_metadata(mut self, metadata: serde_json::Value) -> Self {
        self.metadata = metadata;
        self
    }
    /// Declares how the images are to be labelled under the native-label protocol.
    pub fn with_label_spec(mut self, spec: crate::spec::LabelSpec) -> Self {
        self.label_spec = Some(spec);
        self
    }
}

/// An error a method reports. The harness shows it with the plugin's name.
#[derive(Debug, thiserror::Error)]
pub enum MethodError {
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("unsupported: {0}")]
    Unsupported(String),
    #[error("{0}")]
    Failed(String),
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
}

/// The request metadata that crosses the ABI as JSON (tensors cross as pointers).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RequestMeta {
    pub method: String,
    pub budget: Budget,
    pub class_names: Vec<String>,
    pub seeds: Seeds,
    /// `cpu` or `cuda:N`.
    pub device: String,
    pub scratch_dir: PathBuf,
    /// The per-user cache root (`~/.cache/distillery`): for artefacts worth keeping across
    /// cells and runs (teachers, expert trajectories), under a key the method derives from
    /// everything that determines them. Empty when there is none.
    #[serde(default)]
    pub cache_dir: PathBuf,
    /// The `[methods.<name>]` table of the protocol (or `{}`).
    pub config: serde_json::Value,
    pub protocol: ProtocolView,
}

/// What a method may know about the protocol it is evaluated under.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ProtocolView {
    pub name: String,
    pub hash: String,
    pub student: ModelSpec,
    pub train: TrainSpec,
    /// Per-channel mean/std of the train split in [0,1] pixel scale, used by `normalize`.
    pub mean: Vec<f64>,
    pub std: Vec<f64>,
    /// False for digits: DSA drops `flip`.
    pub mirror_invariant: bool,
    /// `hard`, `soft` or `native`: how the student is labelled under this protocol.
    #[serde(default)]
    pub labels: String,
    /// The protocol's teacher, when it has one (see [`Context::teacher`]).
    #[serde(default)]
    pub teacher: Option<crate::spec::TeacherSpec>,
}

pub(crate) type ProgressFn =
    unsafe extern "C" fn(*mut std::ffi::c_void, f64, *const std::ffi::c_char);

/// The harness services a method may use: device, seeds, scratch space, configuration,
/// progress, and the protocol's own student, normalisation and training loop.
pub struct Context {
    pub(crate) meta: RequestMeta,
    pub(crate) progress: Option<(ProgressFn, *mut std::ffi::c_void)>,
}

impl Context {
    /// A context for tests and tools running a method in-process (no progress sink).
    pub fn new(meta: RequestMeta) -> Self {
        Self {
            meta,
            progress: None,
        }
    }
    pub fn meta(&self) -> &RequestMeta {
        &self.meta
    }
    pub fn device(&self) -> Device {
        parse_device(&self.meta.device)
    }
    pub fn seeds(&self) -> Seeds {
        self.meta.seeds
    }
    pub fn scratch_dir(&self) -> &Path {
        &self.meta.scratch_dir
    }
    /// A per-user cache folder for this method (`<cache root>/methods/<name>`), created on
    /// demand; the scratch folder when the harness has no cache root.
    pub fn cache_dir(&self) -> Result<PathBuf, MethodError> {
        let dir = if self.meta.cache_dir.as_os_str().is_empty() {
            self.meta.scratch_dir.join("cache")
        } else {
            self.meta.cache_dir.join("methods").join(&self.meta.method)
        };
        std::fs::create_dir_all(&dir).map_err(|e| {
            MethodError::Failed(format!("cannot create cache folder {}: {e}", dir.display()))
        })?;
        Ok(dir)
    }
    pub fn protocol(&self) -> &ProtocolView {
        &self.meta.protocol
    }

    /// Parses the method's `[methods.<name>]` table. Use `#[serde(deny_unknown_fields,
    /// default)]` on the config struct so a misspelt key is reported by name.
    pub fn config<T: DeserializeOwned>(&self) -> Result<T, MethodError> {
        serde_json::from_value(self.meta.config.clone())
            .map_err(|e| MethodError::Config(format!("[methods.{}]: {e}", self.meta.method)))
    }

    /// Reports progress in [0, 1] with a short message (shown by the harness).
    pub fn progress(&self, fraction: f64, message: &str) {
        if let Some((f, host)) = self.progress {
            let msg = std::ffi::CString::new(message.replace('\0', " ")).unwrap_or_default();
            // SAFETY: the host keeps `host` alive for the duration of the compress call.
            unsafe { f(host, fraction, msg.as_ptr()) }
        }
    }

    /// uint8 images -> float, scaled to [0,1] and normalised by the train split's statistics,
    /// on the context's device: exactly what the protocol's student is trained on.
    pub fn normalize(&self, images: &Tensor) -> Tensor {
        crate::nn::normalize(
            images,
            &self.meta.protocol.mean,
            &self.meta.protocol.std,
            self.device(),
        )
    }

    /// Builds the protocol's student (fresh weights from the libtorch generator).
    pub fn build_student(
        &self,
        vs: &tch::nn::Path,
        in_shape: [i64; 3],
    ) -> Box<dyn crate::nn::Network> {
        crate::nn::build(
            vs,
            &self.meta.protocol.student,
            in_shape,
            self.meta.class_names.len() as i64,
        )
    }

    /// Builds any supported network by spec.
    pub fn build_model(
        &self,
        vs: &tch::nn::Path,
        spec: &ModelSpec,
        in_shape: [i64; 3],
    ) -> Box<dyn crate::nn::Network> {
        crate::nn::build(vs, spec, in_shape, self.meta.class_names.len() as i64)
    }

    /// Trains a fresh network on uint8 `images` with hard `labels` — the protocol's student and
    /// training recipe unless `spec` / `recipe` say otherwise — with init, order and
    /// augmentation seeds derived from `seed`. `opts` may carry per-epoch / per-step callbacks
    /// (its seeds and augmenter are filled in here). Returns the variables and the network.
    pub fn train_model(
        &self,
        images: &Tensor,
        labels: &Tensor,
        spec: Option<&ModelSpec>,
        recipe: Option<&TrainSpec>,
        seed: u64,
        opts: crate::nn::FitOptions,
    ) -> Result<(tch::nn::VarStore, Box<dyn crate::nn::Network>), MethodError> {
        use crate::rng::derive_seed;
        let spec = spec.unwrap_or(&self.meta.protocol.student);
        let recipe = recipe.unwrap_or(&self.meta.protocol.train);
        let s = images.size();
        if s.len() != 4 {
            return Err(MethodError::Failed(format!(
                "train_model: images must be [N,C,H,W], got {s:?}"
            )));
        }
        tch::manual_seed(derive_seed(seed, "train_model/init") as i64);
        let vs = tch::nn::VarStore::new(self.device());
        let net = self.build_model(&vs.root(), spec, [s[1], s[2], s[3]]);
        let x = self.normalize(images);
        let y = labels.to_device(self.device());
        let opts = crate::nn::FitOptions {
            order_seed: derive_seed(seed, "train_model/order"),
            augment_seed: Some(derive_seed(seed, "train_model/augment")),
            dsa: Some(self.dsa()),
            ..opts
        };
        crate::nn::fit(
            net.as_ref(),
            &vs,
            &x,
            crate::nn::Targets::Hard(&y),
            recipe,
            opts,
        )?;
        Ok((vs, net))
    }

    /// The protocol's pretrained teacher (eval mode, frozen), trained by the harness's recipe
    /// on `input.train` with the epoch of best `input.val` accuracy kept, and cached per user:
    /// the first call for a dataset and recipe trains it (with progress), later calls and
    /// other cells load it. An error if the protocol names no `[teacher]`.
    pub fn teacher(&self, input: &Input) -> Result<crate::teacher::Teacher, MethodError> {
        let p = &self.meta.protocol;
        let spec = p.teacher.as_ref().ok_or_else(|| {
            MethodError::Unsupported(format!(
                "this method needs the protocol's teacher, and protocol '{}' has no [teacher] table",
                p.name
            ))
        })?;
        self.teacher_for(spec, input)
    }

    /// A model the method names itself (e.g. SRe2L's BatchNorm "squeeze" model, RDED's
    /// observer), trained and cached exactly as the protocol's teacher is: `spec`'s recipe on
    /// `input.train`, the epoch of best `input.val` accuracy kept, eval mode, frozen, stored in
    /// the same per-user cache under its content hash (so an identical spec is the same entry).
    pub fn teacher_for(
        &self,
        spec: &crate::spec::TeacherSpec,
        input: &Input,
    ) -> Result<crate::teacher::Teacher, MethodError> {
        let p = &self.meta.protocol;
        let root = if self.meta.cache_dir.as_os_str().is_empty() {
            self.meta.scratch_dir.join("cache")
        } else {
            self.meta.cache_dir.clone()
        };
        let data = crate::teacher::TeacherData {
            train: input.train,
            val: input.val,
            num_classes: input.num_classes(),
            mean: &p.mean,
            std: &p.std,
            mirror_invariant: p.mirror_invariant,
        };
        crate::teacher::obtain(
            spec,
            &data,
            self.device(),
            &root,
            &mut |f, m| self.progress(f, m),
            &mut |w| eprintln!("warning: {w}"),
        )
    }

    /// The DSA augmenter of the protocol (flip dropped on non-mirror-invariant datasets).
    pub fn dsa(&self) -> crate::nn::augment::Dsa {
        crate::nn::augment::Dsa::new(
            &self.meta.protocol.train.dsa_strategy,
            self.meta.protocol.mirror_invariant,
        )
    }
}

/// `cpu`, `cuda`, `cuda:N` -> a tch device (unknown strings fall back to CPU).
pub fn parse_device(s: &str) -> Device {
    match s {
        "cuda" => Device::Cuda(0),
        s if s.starts_with("cuda:") => Device::Cuda(s[5..].parse().unwrap_or(0)),
        _ => Device::Cpu,
    }
}

/// Canonical device string for records.
pub fn device_string(d: Device) -> String {
    match d {
        Device::Cpu => "cpu".into(),
        Device::Cuda(i) => format!("cuda:{i}"),
        other => format!("{other:?}").to_lowercase(),
    }
}

/// The trait. `Default` builds the method; `compress` is called once per cell, in a fresh
/// child process, with the train and validation splits and the budget.
pub trait Method: Default + 'static {
    /// Unique, lowercase, `[a-z0-9-]`: used on the command line and in `[methods.<name>]`.
    const NAME: &'static str;
    const FAMILY: Family;
    /// The plugin's version (recorded with every result; bump it when results can change).
    const VERSION: &'static str;
    /// Paper reference, e.g. "Zhao & Bilen, Dataset Condensation with Distribution Matching, WACV 2023".
    const PAPER: &'static str;
    /// One line for `bench list`.
    const DESCRIPTION: &'static str;

    fn compress(&mut self, input: &Input, ctx: &mut Context) -> Result<Compressed, MethodError>;
}
