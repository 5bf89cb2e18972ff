//! A dataset prepared for one protocol: tensors, the fixed validation hold-out and the
//! normalisation statistics. The test split lives here and only here: it is used by the
//! harness's evaluation and never handed to a plugin.

use crate::data::{self, RawDataset, RawSplit};
use crate::protocol::DataSpec;
use distillery_api::Split;
use tch::{Kind, Tensor};

/// How an ImageFolder dataset is decoded (recorded in the plan so every cell loads it alike).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ImageOptions {
    pub size: u32,
    pub channels: usize,
}

impl Default for ImageOptions {
    fn default() -> Self {
        Self {
            size: 32,
            channels: 3,
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
        let (mean, std) = data::normalization_stats(&raw.train);
        let shape = [raw.train.c as i64, raw.train.h as i64, raw.train.w as i64];
        Prepared {
            train: to_split(&raw.train.subset(&train_idx)),
            val: to_split(&raw.train.subset(&val_idx)),
            test: to_split(&raw.test),
            name: raw.name,
            checksum: raw.checksum,
            class_names: raw.class_names,
            mirror_invariant: raw.mirror_invariant,
            shape,
            mean,
            std,
        }
    }

    /// Loads `spec` (`mnist-5k` or a path); `image` sets the resolution and channels an
    /// ImageFolder tree is resized to (ignored by formats with a fixed resolution).
    pub fn load(spec: &str, image: &ImageOptions, data: &DataSpec) -> anyhow::Result<Prepared> {
        let opts = data::ResolveOptions {
            image_folder: data::ImageFolderOptions {
                resolution: image.size,
                channels: image.channels,
                ..Default::default()
            },
            ..Default::default()
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
}
