//! A dataset prepared for one protocol: tensors, the fixed validation hold-out and the
//! normalisation statistics. The test split lives here and only here: it is used by the
//! harness's evaluation and never handed to a plugin.

use crate::data::{self, IdxFlavor, RawDataset, RawSplit};
use crate::protocol::{DataSpec, Protocol};
use distillery_api::nn::models::min_input_size;
use distillery_api::Split;
use distillery_record::DatasetSource;
use tch::{Kind, Tensor};

/// What a directory of idx files holds (`--dataset-kind`), when its content does not say it.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum DatasetKind {
    /// Handwritten digits: class names 0-9, not mirror invariant (no flip augmentation).
    Mnist,
    /// Fashion-MNIST: the ten clothing class names, mirror invariant (flip augmentation).
    FashionMnist,
}

impl DatasetKind {
    fn flavor(self) -> IdxFlavor {
        match self {
            DatasetKind::Mnist => IdxFlavor::Mnist,
            DatasetKind::FashionMnist => IdxFlavor::Fashion,
        }
    }
}

/// How a dataset given as a path is read (recorded in the plan so every cell loads it alike):
/// the size and channels an ImageFolder tree is resized to, and what a directory of idx files
/// holds when its content does not say it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ImageOptions {
    pub size: u32,
    pub channels: usize,
    /// `--dataset-kind` (idx files only); `None`: from the content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<DatasetKind>,
}

impl Default for ImageOptions {
    fn default() -> Self {
        Self {
            size: 32,
            channels: 3,
            kind: None,
        }
    }
}

pub struct Prepared {
    pub name: String,
    pub checksum: String,
    pub class_names: Vec<String>,
    pub mirror_invariant: bool,
    /// `[C, H, W]`.
    pub shape: [i64; 3],
    /// The pool methods choose from: the train split minus the validation hold-out.
    pub train: Split,
    pub val: Split,
    /// Never leaves the harness.
    pub test: Split,
    /// Per-channel mean/std of the whole train split in [0,1] scale.
    pub mean: Vec<f64>,
    pub std: Vec<f64>,
    /// How the dataset was read (recorded in every cell as `dataset.source`).
    pub source: DatasetSource,
    /// Whether the decoded images came from the decoded-image cache (ImageFolder trees), in
    /// words; printed with [`Prepared::notes`], not recorded.
    pub cache_note: Option<String>,
}

/// Images copied per block by [`gather`].
pub const GATHER_BLOCK: usize = 256;

/// The examples of `raw` at `idx`, in that order, as a [`Split`] (uint8 images
/// `[n, C, H, W]`, int64 labels `[n]`), copied block by block into a preallocated tensor so
/// that no second full-size buffer exists (libtorch's `index_select` on uint8 is an order of
/// magnitude slower than these copies).
pub fn gather(raw: &RawSplit, idx: &[usize]) -> Split {
    let (c, h, w) = (raw.c as i64, raw.h as i64, raw.w as i64);
    let images = Tensor::empty([idx.len() as i64, c, h, w], (Kind::Uint8, tch::Device::Cpu));
    for (b, chunk) in idx.chunks(GATHER_BLOCK).enumerate() {
        let part = raw.subset(chunk);
        let mut dst = images.narrow(0, (b * GATHER_BLOCK) as i64, chunk.len() as i64);
        dst.copy_(&Tensor::from_slice(&part.images).view([chunk.len() as i64, c, h, w]));
    }
    let labels: Vec<i64> = idx.iter().map(|&i| raw.labels[i]).collect();
    Split {
        images,
        labels: Tensor::from_slice(&labels).to_kind(Kind::Int64),
    }
}

pub fn to_split(raw: &RawSplit) -> Split {
    let images = Tensor::from_slice(&raw.images).view([
        raw.n as i64,
        raw.c as i64,
        raw.h as i64,
        raw.w as i64,
    ]);
    let labels = Tensor::from_slice(&raw.labels).to_kind(Kind::Int64);
    Split { images, labels }
}

impl Prepared {
    /// Holds out the validation split and converts the splits to tensors.
    ///
    /// Memory: the splits are converted one at a time, in blocks of [`GATHER_BLOCK`] images
    /// copied straight into the tensor, and each raw buffer is freed once its tensors exist,
    /// so the peak is about twice the train split's bytes plus the test split's
    /// (`n * c * h * w` bytes each, uint8).
    pub fn new(raw: RawDataset, spec: &DataSpec) -> Prepared {
        let RawDataset {
            name,
            train,
            test,
            class_names,
            mirror_invariant,
            checksum,
            source,
            cache_note,
        } = raw;
        let k = class_names.len();
        let (train_idx, val_idx) =
            data::split_validation(&train.labels, k, spec.val_fraction, spec.val_seed);
        let (mean, std) = match spec.normalization {
            // torchvision's ImageNet statistics (what pretrained teachers were trained with).
            Some(crate::protocol::Normalization::Imagenet) if train.c == 3 => (
                crate::protocol::Normalization::IMAGENET_MEAN.to_vec(),
                crate::protocol::Normalization::IMAGENET_STD.to_vec(),
            ),
            _ => data::normalization_stats(&train),
        };
        let shape = [train.c as i64, train.h as i64, train.w as i64];
        let all: Vec<usize> = (0..test.n).collect();
        let test = {
            let t = gather(&test, &all);
            drop(test);
            t
        };
        let (train, val) = {
            let (t, v) = (gather(&train, &train_idx), gather(&train, &val_idx));
            drop(train);
            (t, v)
        };
        Prepared {
            train,
            val,
            test,
            name,
            checksum,
            class_names,
            mirror_invariant,
            source,
            cache_note,
            shape,
            mean,
            std,
        }
    }

    /// Loads `spec` (`mnist-5k` or a path); `image` sets the resolution and channels an
    /// ImageFolder tree is resized to (ignored by formats with a fixed resolution) and the
    /// kind of a directory of idx files (refused for any other dataset). The protocol's
    /// `[data]` preprocessing (`train_resize`, `eval_resize`, `eval_crop`) applies to
    /// ImageFolder trees and overrides `--image-size` (one that contradicts it is refused);
    /// another format with any of them is refused. Decoded ImageFolder images are cached
    /// per user ([`data::cache`]).
    pub fn load(spec: &str, image: &ImageOptions, data: &DataSpec) -> anyhow::Result<Prepared> {
        let resolution = match data.train_resize.or(data.eval_crop) {
            Some(s) if image.size != ImageOptions::default().size && image.size != s => {
                anyhow::bail!(
                    "--image-size {} contradicts the protocol's [data] {} = {s}: leave --image-size out (the protocol decides the size) or use a protocol without it",
                    image.size,
                    if data.train_resize.is_some() { "train_resize" } else { "eval_crop" }
                )
            }
            Some(s) => s,
            None => image.size,
        };
        let eval = data.eval_crop.map(|crop| data::Preprocess::ResizeCrop {
            resize: data.eval_resize,
            crop,
        });
        let opts = data::ResolveOptions {
            image_folder: data::ImageFolderOptions {
                resolution,
                channels: image.channels,
                eval,
                cache: data::cache::default_dir(),
                ..Default::default()
            },
            idx_flavor: image.kind.map_or(IdxFlavor::Auto, DatasetKind::flavor),
        };
        let raw = data::resolve_dataset_with(spec, &opts)?;
        let keys: Vec<&str> = [
            ("train_resize", data.train_resize),
            ("eval_resize", data.eval_resize),
            ("eval_crop", data.eval_crop),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|_| k))
        .collect();
        if raw.source.format != "image-folder" && !keys.is_empty() {
            anyhow::bail!(
                "dataset {}: the protocol's [data] {} preprocess ImageFolder trees, but this dataset is {} with fixed {}x{} images: use an ImageFolder dataset or a protocol without them",
                raw.name,
                keys.join(", "),
                raw.source.format,
                raw.train.h,
                raw.train.w
            );
        }
        if let Some(w) = crate::classes::numeric_order_warning(&raw.name, &raw.class_names) {
            eprintln!("warning: {w}");
        }
        Ok(Prepared::new(raw, data))
    }

    pub fn num_classes(&self) -> usize {
        self.class_names.len()
    }

    /// Checks that the protocol's networks (the student; the teacher when there is one) can
    /// run on this dataset's images ([`min_input_size`]), so that a run is refused before any
    /// cell starts rather than every cell panicking inside libtorch. The message names the
    /// network, the minimum and what to change: `--image-size` for an ImageFolder tree, the
    /// protocol's network otherwise.
    pub fn check_networks(&self, p: &Protocol) -> Result<(), String> {
        let [c, h, w] = self.shape;
        let nets = std::iter::once(("student", &p.student, "[student]")).chain(
            p.teacher
                .as_ref()
                .map(|t| ("teacher", &t.model, "[teacher.model]")),
        );
        for (role, spec, table) in nets {
            let (mh, mw) = min_input_size(spec, c);
            if h >= mh && w >= mw {
                continue;
            }
            let fix = if self.source.format == "image-folder" {
                format!("use --image-size {} or more", mh.max(mw))
            } else {
                format!(
                    "this dataset's images have a fixed size: use a protocol whose {table} \
                     takes smaller images (fewer ConvNet blocks)"
                )
            };
            let given = if self.source.format == "image-folder" {
                format!(" (--image-size {h})")
            } else {
                String::new()
            };
            return Err(format!(
                "dataset {}: images are {h}x{w}{given}, but the {role} of protocol '{}', {}, \
                 needs at least {mh}x{mw} for {c}-channel images: {fix}",
                self.name,
                p.name,
                spec.describe()
            ));
        }
        Ok(())
    }

    /// What the loader decided, as lines to print before a run: the files used and left out
    /// per split (ImageFolder), the kind and what decided it (idx), the resize policy.
    /// Warnings are in [`DatasetSource::warnings`] and not repeated here.
    pub fn notes(&self) -> Vec<String> {
        let s = &self.source;
        let mut out = Vec::new();
        if let (Some(kind), Some(from)) = (&s.kind, &s.kind_from) {
            if s.format == "idx" {
                out.push(format!("dataset {}: kind {kind}, from {from}", self.name));
            }
        }
        for f in &s.splits {
            let skipped: usize = f.skipped.values().sum();
            let mut line = format!(
                "dataset {}: {}: {} image files used, {skipped} left out",
                self.name, f.split, f.used
            );
            if skipped > 0 {
                let why: Vec<String> = f
                    .skipped
                    .iter()
                    .map(|(reason, n)| format!("{n} {reason}"))
                    .collect();
                line.push_str(&format!(" ({})", why.join("; ")));
            }
            out.push(line);
        }
        if let Some(r) = &s.resize {
            out.push(format!("dataset {}: {r}", self.name));
        }
        if let Some(c) = &self.cache_note {
            out.push(format!("dataset {}: {c}", self.name));
        }
        out
    }
}
