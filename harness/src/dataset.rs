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
    pub fn new(raw: RawDataset, spec: &DataSpec) -> Prepared {
        let k = raw.num_classes();
        let (train_idx, val_idx) =
            data::split_validation(&raw.train.labels, k, spec.val_fraction, spec.val_seed);
        let (mean, std) = match spec.normalization {
            // torchvision's ImageNet statistics (what pretrained teachers were trained with).
            Some(crate::protocol::Normalization::Imagenet) if raw.train.c == 3 => (
                crate::protocol::Normalization::IMAGENET_MEAN.to_vec(),
                crate::protocol::Normalization::IMAGENET_STD.to_vec(),
            ),
            _ => data::normalization_stats(&raw.train),
        };
        let shape = [raw.train.c as i64, raw.train.h as i64, raw.train.w as i64];
        Prepared {
            train: to_split(&raw.train.subset(&train_idx)),
            val: to_split(&raw.train.subset(&val_idx)),
            test: to_split(&raw.test),
            name: raw.name,
            checksum: raw.checksum,
            class_names: raw.class_names,
            mirror_invariant: raw.mirror_invariant,
            source: raw.source,
            shape,
            mean,
            std,
        }
    }

    /// Loads `spec` (`mnist-5k` or a path); `image` sets the resolution and channels an
    /// ImageFolder tree is resized to (ignored by formats with a fixed resolution) and the
    /// kind of a directory of idx files (refused for any other dataset).
    pub fn load(spec: &str, image: &ImageOptions, data: &DataSpec) -> anyhow::Result<Prepared> {
        let opts = data::ResolveOptions {
            image_folder: data::ImageFolderOptions {
                // The protocol's load-time resize (large-image protocols) wins over
                // --image-size. (Resize-then-centre-crop of the test split, `eval_resize` >
                // `eval_crop`, is the data loader's: issue 17's data half.)
                resolution: data.train_resize.unwrap_or(image.size),
                channels: image.channels,
                ..Default::default()
            },
            idx_flavor: image.kind.map_or(IdxFlavor::Auto, DatasetKind::flavor),
        };
        let raw = data::resolve_dataset_with(spec, &opts)?;
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
        out
    }
}
