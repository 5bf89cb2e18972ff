//! The one trait every method implements, whatever its family, and the types it sees:
//! [`Method`], its [`Input`] and [`Compressed`] output, and the [`Context`] of harness
//! services.
//!
//! The leaf types it shares with the rest of the crate live in their own modules and are
//! re-exported here, so `distillery_api::method::Budget` and friends keep working:
//! [`Budget`] (`crate::budget`), [`MethodError`] (`crate::error`), [`Split`]
//! (`crate::split`), [`parse_device`] / [`device_string`] (`crate::device`).

pub use crate::budget::{Budget, BudgetError};
pub use crate::device::{device_string, parse_device, DeviceError};
pub use crate::error::MethodError;
use crate::spec::{ModelSpec, TrainSpec};
pub use crate::split::Split;
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use std::path::{Path, PathBuf};
use tch::{Device, Tensor};

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
    /// The lowercase name used in headers, records and `bench list`: `distillation`,
    /// `pruning`, `kd`, `reference`, `external`.
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Distillation => "distillation",
            Family::Pruning => "pruning",
            Family::Kd => "kd",
            Family::Reference => "reference",
            Family::External => "external",
        }
    }
    /// The inverse of [`Family::as_str`]; `None` for any other string.
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

/// Everything a method may look at. There is no test split here, by construction.
pub struct Input<'a> {
    /// The train split (uint8 images `[N, C, H, W]`, int64 labels `[N]`, CPU), without the
    /// validation images.
    pub train: &'a Split,
    /// Held out from the train split for decisions (early stopping, hyper-parameters).
    pub val: &'a Split,
    /// Class names, index = label (`K` entries).
    pub class_names: &'a [String],
    /// What the method may keep; the harness checks the output against it.
    pub budget: Budget,
}

impl Input<'_> {
    /// Number of classes `K`.
    pub fn num_classes(&self) -> usize {
        self.class_names.len()
    }
}

/// What a method returns.
#[derive(Debug)]
pub enum Output {
    /// Indices into `Input::train` (pruning). The harness materialises the images and labels.
    Indices {
        /// Positions in `Input::train` (`0..N`, no repeats).
        indices: Vec<i64>,
        /// Optional per-image loss weights (same length as `indices`).
        weights: Option<Vec<f32>>,
    },
    /// New images `[M, C, H, W]` (uint8, or float in the dataset's [0,1] pixel scale) with hard
    /// labels `[M]` and optional soft labels `[M, K]` (probabilities).
    Images {
        /// `[M, C, H, W]`, uint8 or float in [0, 1].
        images: Tensor,
        /// int64 `[M]`, class indices.
        labels: Tensor,
        /// float `[M, K]`, rows summing to 1.
        soft_labels: Option<Tensor>,
    },
}

/// A method's result: its output and free-form metadata recorded with the cell.
#[derive(Debug)]
pub struct Compressed {
    /// The selected indices or the new images.
    pub output: Output,
    /// Free-form JSON stored in the cell's record (e.g. scores, timings, chosen parameters).
    pub metadata: serde_json::Value,
    /// How the method wants its images labelled under the native-label protocol (a label
    /// function such as KD, or stored labels). `None`: its hard (or soft) labels as returned.
    pub label_spec: Option<crate::spec::LabelSpec>,
}

impl Compressed {
    /// A selection of train indices, unweighted, with empty metadata.
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
    /// New images `[M, C, H, W]` with hard labels `[M]`, no soft labels, empty metadata.
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
    /// Replaces the metadata recorded with the cell.
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

/// The request metadata that crosses the ABI as JSON (tensors cross as pointers).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RequestMeta {
    /// The method's name (its `Method::NAME`).
    pub method: String,
    /// The cell's budget.
    pub budget: Budget,
    /// Class names, index = label.
    pub class_names: Vec<String>,
    /// The cell's derived seeds.
    pub seeds: Seeds,
    /// `cpu` or `cuda:N` (as written by [`device_string`]; [`parse_device`] must accept it).
    pub device: String,
    /// A fresh folder for this call only (removed by the harness afterwards unless kept).
    pub scratch_dir: PathBuf,
    /// The per-user cache root (`~/.cache/distillery`): for artefacts worth keeping across
    /// cells and runs (teachers, expert trajectories), under a key the method derives from
    /// everything that determines them. Empty when there is none.
    #[serde(default)]
    pub cache_dir: PathBuf,
    /// The `[methods.<name>]` table of the protocol (or `{}`).
    pub config: serde_json::Value,
    /// What the method may know about the protocol.
    pub protocol: ProtocolView,
}

/// What a method may know about the protocol it is evaluated under.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ProtocolView {
    /// The protocol's name (its file stem, e.g. `hard-label`).
    pub name: String,
    /// Content hash of the protocol file (hex SHA-256).
    pub hash: String,
    /// The student every method is evaluated with.
    pub student: ModelSpec,
    /// The student's training recipe.
    pub train: TrainSpec,
    /// Per-channel mean of the train split in [0,1] pixel scale (`C` values), used by
    /// `normalize`.
    pub mean: Vec<f64>,
    /// Per-channel standard deviation of the train split in [0,1] pixel scale (`C` values).
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
///
/// Every service takes `&self`: a method receives the context as `&Context` (API 0.2.0; it was
/// `&mut Context` before, though nothing needed it). Progress goes straight to the host's
/// callback, the device is parsed once when the context is made, and randomness comes from
/// [`Context::seeds`], so there is no state to mutate.
pub struct Context {
    pub(crate) meta: RequestMeta,
    pub(crate) device: Device,
    pub(crate) progress: Option<(ProgressFn, *mut std::ffi::c_void)>,
}

impl Context {
    /// A context for tests and tools running a method in-process (no progress sink).
    ///
    /// # Panics
    /// If `meta.device` is not a device [`parse_device`] accepts; use [`Context::try_new`] to
    /// get the error instead.
    pub fn new(meta: RequestMeta) -> Self {
        Self::try_new(meta).unwrap_or_else(|e| panic!("Context::new: {e}"))
    }

    /// A context for `meta`, with no progress sink.
    ///
    /// # Errors
    /// [`DeviceError`] when `meta.device` is not `cpu`, `cuda` or `cuda:N`.
    pub fn try_new(meta: RequestMeta) -> Result<Self, DeviceError> {
        Ok(Self {
            device: parse_device(&meta.device)?,
            meta,
            progress: None,
        })
    }

    /// The request as the harness sent it.
    pub fn meta(&self) -> &RequestMeta {
        &self.meta
    }
    /// The device to compute on (the cell's `--device`).
    pub fn device(&self) -> Device {
        self.device
    }
    /// The cell's derived seeds: draw all randomness from them, so a seed gives one output.
    pub fn seeds(&self) -> Seeds {
        self.meta.seeds
    }
    /// A scratch folder for this call only.
    pub fn scratch_dir(&self) -> &Path {
        &self.meta.scratch_dir
    }
    /// A per-user cache folder for this method (`<cache root>/methods/<name>`), created on
    /// demand; the scratch folder when the harness has no cache root.
    ///
    /// # Errors
    /// [`MethodError::Failed`] when the folder cannot be created.
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
    /// What the method may know about the protocol.
    pub fn protocol(&self) -> &ProtocolView {
        &self.meta.protocol
    }

    /// Parses the method's `[methods.<name>]` table. Use `#[serde(deny_unknown_fields,
    /// default)]` on the config struct so a misspelt key is reported by name.
    ///
    /// # Errors
    /// [`MethodError::Config`] naming `[methods.<name>]` and the serde message.
    pub fn config<T: DeserializeOwned>(&self) -> Result<T, MethodError> {
        serde_json::from_value(self.meta.config.clone())
            .map_err(|e| MethodError::Config(format!("[methods.{}]: {e}", self.meta.method)))
    }

    /// Reports progress in [0, 1] with a short message (shown by the harness). A message with
    /// NUL bytes has them replaced by spaces.
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
    ///
    /// # Errors
    /// [`MethodError::Failed`] when `images` is not 4-D; [`MethodError::Torch`] from training.
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
    ///
    /// # Errors
    /// [`MethodError::Unsupported`] when the protocol has no `[teacher]`; otherwise those of
    /// [`Context::teacher_for`].
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
    ///
    /// # Errors
    /// [`MethodError::Config`] for an invalid recipe, [`MethodError::Failed`] when the cache
    /// cannot be written, [`MethodError::Torch`] from training.
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

/// The trait. `Default` builds the method; `compress` is called once per cell, in a fresh
/// child process, with the train and validation splits and the budget.
pub trait Method: Default + 'static {
    /// Unique, lowercase, `[a-z0-9-]`: used on the command line and in `[methods.<name>]`.
    const NAME: &'static str;
    /// The method's family (decides how `bench` treats budgets and which table it joins).
    const FAMILY: Family;
    /// The plugin's version (recorded with every result; bump it when results can change).
    const VERSION: &'static str;
    /// Paper reference, e.g. "Zhao & Bilen, Dataset Condensation with Distribution Matching, WACV 2023".
    const PAPER: &'static str;
    /// One line for `bench list`.
    const DESCRIPTION: &'static str;

    /// Compresses `input.train` to `input.budget`. Called once per cell in a fresh process;
    /// `self` is `Default::default()`.
    ///
    /// # Errors
    /// [`MethodError::Unsupported`] for a budget (or protocol) the method cannot handle (a
    /// skip, not a failure, in `bench plugin check`); [`MethodError::Config`] for a bad
    /// `[methods.<name>]` table; anything else as [`MethodError::Failed`] or
    /// [`MethodError::Torch`].
    fn compress(&mut self, input: &Input, ctx: &Context) -> Result<Compressed, MethodError>;
}
