//! The harness never trusts a plugin's output. Everything a method returns is checked here —
//! kind, rank, shape, dtype, finiteness, label range, index range and uniqueness, the budget
//! (per class, in total, in bytes), empty classes — before a student sees it. Budgets are
//! enforced here, not by the plugin's honesty.

use distillery_api::host::RawOutput;
use distillery_api::{Budget, Family, Split};
use tch::{Kind, Tensor};

/// A compressed set that passed every check, ready for the protocol trainer.
pub struct TrainingSet {
    /// uint8 or float32 `[M, C, H, W]`, on CPU.
    pub images: Tensor,
    /// int64 `[M]`.
    pub labels: Tensor,
    pub soft_labels: Option<Tensor>,
    pub weights: Option<Tensor>,
    pub kind: &'static str,
    pub storage: Storage,
    pub per_class: Vec<usize>,
    /// The method's label function or stored labels (used by the native-label protocol).
    pub label_spec: Option<distillery_api::spec::LabelSpec>,
}

/// What the compressed set costs to store; its schema is part of the cell record.
pub use distillery_record::Storage;

/// Why a `[N, K]` tensor is not a set of probability rows.
#[derive(Debug, PartialEq)]
pub enum ProbabilityIssue {
    /// A NaN, an infinity or a negative entry.
    NotProbabilities,
    /// A row does not sum to 1 (within 1e-3); the largest deviation.
    RowSum(f64),
}

/// Checks that every row of `p` is a probability distribution: finite, >= 0, summing to 1
/// within 1e-3. Plugin outputs and imported files share it; each caller words the error.
pub fn probability_rows(p: &Tensor) -> Result<(), ProbabilityIssue> {
    if p.isfinite().all().int64_value(&[]) != 1 || p.lt(0.0).any().int64_value(&[]) == 1 {
        return Err(ProbabilityIssue::NotProbabilities);
    }
    let dev = (p
        .to_kind(Kind::Double)
        .sum_dim_intlist(1, false, Kind::Double)
        - 1.0)
        .abs()
        .max()
        .double_value(&[]);
    if dev > 1e-3 {
        return Err(ProbabilityIssue::RowSum(dev));
    }
    Ok(())
}

fn hard_label_width(k: usize) -> u64 {
    if k <= 256 {
        1
    } else if k <= 65536 {
        2
    } else {
        4
    }
}

fn element_bytes(kind: Kind) -> u64 {
    match kind {
        Kind::Uint8 | Kind::Int8 | Kind::Bool => 1,
        Kind::Half | Kind::BFloat16 | Kind::Int16 => 2,
        Kind::Float | Kind::Int => 4,
        _ => 8,
    }
}

/// Why a method's output is not a valid compressed set. The texts are the messages users and
/// plugin authors read after "returned an invalid compressed set: ".
#[derive(Debug, thiserror::Error)]
pub enum InvalidOutput {
    /// The declared kind's tensor is absent (`what`: index, image or label).
    #[error("declared kind \"{kind}\" but returned no {what} tensor")]
    Missing {
        /// `indices` or `images`.
        kind: &'static str,
        /// `index`, `image` or `label`.
        what: &'static str,
    },
    /// An output kind other than `indices` or `images`.
    #[error("unknown output kind {0:?} (expected \"indices\" or \"images\")")]
    UnknownKind(String),
    /// `indices` is not 1-D.
    #[error("indices must be a 1-D int64 tensor, got shape {0:?}")]
    IndicesRank(Vec<i64>),
    /// `indices` is not int64.
    #[error("indices must be int64, got {0:?}")]
    IndicesKind(Kind),
    /// An index outside the train split.
    #[error("index {index} is out of range: the train split has {len} images (0..{})", .len - 1)]
    IndexOutOfRange {
        /// The index.
        index: i64,
        /// The train split's size.
        len: i64,
    },
    /// An index listed twice.
    #[error("index {0} appears more than once (duplicates inflate the budget)")]
    DuplicateIndex(i64),
    /// `weights` is not `[M]` for `M` indices.
    #[error("weights must have shape [{expected}], got {found:?}")]
    WeightsShape {
        /// The number of indices.
        expected: usize,
        /// The shape returned.
        found: Vec<i64>,
    },
    /// `weights` has a NaN, an infinity or a negative entry, or sums to 0.
    #[error("weights must be finite, non-negative and not all zero")]
    Weights,
    /// `images` is not rank 4.
    #[error("images must have rank 4 [N, C, H, W], got shape {0:?}")]
    ImagesRank(Vec<i64>),
    /// `images` is not at the protocol's resolution `[C, H, W]`.
    #[error("images have shape {found:?}, but the protocol's resolution is [N, {}, {}, {}]", .resolution[0], .resolution[1], .resolution[2])]
    Resolution {
        /// The shape returned.
        found: Vec<i64>,
        /// `[C, H, W]`.
        resolution: [i64; 3],
    },
    /// Float images with NaN or infinite values (how many).
    #[error("images contain {0} NaN or infinite values")]
    NonFinite(i64),
    /// Images neither uint8 nor floating point.
    #[error("images must be uint8 or floating point, got {0:?}")]
    ImagesKind(Kind),
    /// `labels` is not `[N]`.
    #[error("labels must have shape [{expected}] (one per image), got {found:?}")]
    LabelsShape {
        /// The number of images.
        expected: i64,
        /// The shape returned.
        found: Vec<i64>,
    },
    /// `labels` is not int64.
    #[error("labels must be int64, got {0:?}")]
    LabelsKind(Kind),
    /// `soft_labels` is not `[N, K]`.
    #[error("soft labels must have shape [{n}, {k}], got {found:?}")]
    SoftLabelsShape {
        /// The number of images.
        n: i64,
        /// The number of classes.
        k: usize,
        /// The shape returned.
        found: Vec<i64>,
    },
    /// `soft_labels` has a NaN, an infinity or a negative entry.
    #[error("soft labels must be finite probabilities (>= 0)")]
    SoftLabelsNotProbabilities,
    /// A `soft_labels` row does not sum to 1 (the largest deviation).
    #[error("soft label rows must sum to 1 (largest deviation {0:.3e})")]
    SoftLabelsRowSum(f64),
    /// A tensor's data could not be read (libtorch's message).
    #[error("{0}")]
    Tensor(String),
    /// A label outside `0..K`.
    #[error("label {label} is out of range: the dataset has {classes} classes (0..{})", .classes - 1)]
    LabelOutOfRange {
        /// The label.
        label: i64,
        /// `K`.
        classes: usize,
    },
    /// No image at all.
    #[error("returned an empty set")]
    Empty,
    /// The `label_spec` does not parse or is inconsistent.
    #[error("label_spec: {0}")]
    LabelSpec(String),
    /// The label store a `label_spec` names cannot be read.
    #[error("label_spec: label store {}: {error}", .path.display())]
    LabelStore {
        /// The store's file.
        path: std::path::PathBuf,
        /// Why it cannot be read.
        error: std::io::Error,
    },
    /// More images of one class than an IPC budget allows.
    #[error("{images} images labelled class {class}, over the budget of {ipc} per class")]
    OverIpc {
        /// Images of that class.
        images: usize,
        /// The class.
        class: usize,
        /// The budget's images per class.
        ipc: usize,
    },
    /// A class with train images but none in the set, under an IPC budget.
    #[error("class {class} has no image, but an IPC {ipc} budget requires at least one per class")]
    EmptyClass {
        /// The class.
        class: usize,
        /// The budget's images per class.
        ipc: usize,
    },
    /// More images than a fraction budget allows.
    #[error("{images} images, over the budget of {max} ({}% of {train})", .fraction * 100.0)]
    OverFraction {
        /// Images in the set.
        images: usize,
        /// The most the budget allows.
        max: usize,
        /// The budget's fraction of the train split.
        fraction: f64,
        /// The train split's size.
        train: usize,
    },
    /// More bytes than a byte budget allows.
    #[error(
        "{total} bytes (images {images} + labels {labels}), over the budget of {budget} bytes"
    )]
    OverBytes {
        /// Image plus label bytes.
        total: u64,
        /// Image bytes.
        images: u64,
        /// Label bytes.
        labels: u64,
        /// The budget.
        budget: u64,
    },
}

/// Checks `out` (a method's raw output) against the train split, class count `K`, resolution
/// `shape` (`[C, H, W]`) and budget; reference methods (`family`) skip the budget.
///
/// # Errors
/// The first [`InvalidOutput`] found, in the order: kind and tensors, shapes and types, label
/// range, emptiness, label spec, budget.
pub fn check_output(
    out: RawOutput,
    train: &Split,
    num_classes: usize,
    shape: [i64; 3],
    budget: Budget,
    family: Family,
) -> Result<TrainingSet, InvalidOutput> {
    use InvalidOutput as E;
    let k = num_classes;
    let (images, labels, soft_labels, weights, kind) = match out.kind.as_str() {
        "indices" => {
            let idx = out.indices.ok_or(E::Missing {
                kind: "indices",
                what: "index",
            })?;
            if idx.dim() != 1 {
                return Err(E::IndicesRank(idx.size()));
            }
            if idx.kind() != Kind::Int64 {
                return Err(E::IndicesKind(idx.kind()));
            }
            let v = Vec::<i64>::try_from(&idx).map_err(|e| E::Tensor(e.to_string()))?;
            let n = train.len() as i64;
            if let Some(&index) = v.iter().find(|&&i| i < 0 || i >= n) {
                return Err(E::IndexOutOfRange { index, len: n });
            }
            let mut sorted = v.clone();
            sorted.sort_unstable();
            if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
                return Err(E::DuplicateIndex(w[0]));
            }
            let weights = match out.weights {
                Some(w) => {
                    if w.size() != vec![v.len() as i64] {
                        return Err(E::WeightsShape {
                            expected: v.len(),
                            found: w.size(),
                        });
                    }
                    let w = w.to_kind(Kind::Float);
                    let finite = w.isfinite().all().int64_value(&[]) == 1;
                    if !finite
                        || w.lt(0.0).any().int64_value(&[]) == 1
                        || w.sum(Kind::Double).double_value(&[]) <= 0.0
                    {
                        return Err(E::Weights);
                    }
                    Some(w)
                }
                None => None,
            };
            let t = Tensor::from_slice(&v);
            (
                train.images.index_select(0, &t),
                train.labels.index_select(0, &t),
                None,
                weights,
                "indices",
            )
        }
        "images" => {
            let images = out.images.ok_or(E::Missing {
                kind: "images",
                what: "image",
            })?;
            let labels = out.labels.ok_or(E::Missing {
                kind: "images",
                what: "label",
            })?;
            let s = images.size();
            if s.len() != 4 {
                return Err(E::ImagesRank(s));
            }
            if s[1..] != shape[..] {
                return Err(E::Resolution {
                    found: s,
                    resolution: shape,
                });
            }
            let images = match images.kind() {
                Kind::Uint8 => images.to_device(tch::Device::Cpu),
                Kind::Float | Kind::Double | Kind::Half | Kind::BFloat16 => {
                    let f = images.to_device(tch::Device::Cpu);
                    if f.isfinite().all().int64_value(&[]) != 1 {
                        let bad = f.isfinite().logical_not().sum(Kind::Int64).int64_value(&[]);
                        return Err(E::NonFinite(bad));
                    }
                    f
                }
                other => return Err(E::ImagesKind(other)),
            };
            if labels.size() != vec![s[0]] {
                return Err(E::LabelsShape {
                    expected: s[0],
                    found: labels.size(),
                });
            }
            if labels.kind() != Kind::Int64 {
                return Err(E::LabelsKind(labels.kind()));
            }
            let labels = labels.to_device(tch::Device::Cpu);
            let soft = match out.soft_labels {
                Some(p) => {
                    if p.size() != vec![s[0], k as i64] {
                        return Err(E::SoftLabelsShape {
                            n: s[0],
                            k,
                            found: p.size(),
                        });
                    }
                    let p = p.to_device(tch::Device::Cpu);
                    match probability_rows(&p) {
                        Err(ProbabilityIssue::NotProbabilities) => {
                            return Err(E::SoftLabelsNotProbabilities)
                        }
                        Err(ProbabilityIssue::RowSum(dev)) => return Err(E::SoftLabelsRowSum(dev)),
                        Ok(()) => {}
                    }
                    Some(p)
                }
                None => None,
            };
            (images, labels, soft, None, "images")
        }
        other => return Err(E::UnknownKind(other.to_string())),
    };
    let m = labels.size()[0] as usize;
    let lv = Vec::<i64>::try_from(&labels).map_err(|e| E::Tensor(e.to_string()))?;
    if let Some(&label) = lv.iter().find(|&&l| l < 0 || l >= k as i64) {
        return Err(E::LabelOutOfRange { label, classes: k });
    }
    let mut per_class = vec![0usize; k];
    for &l in &lv {
        per_class[l as usize] += 1;
    }
    if m == 0 {
        return Err(E::Empty);
    }
    let label_spec = match out.label_spec {
        serde_json::Value::Null => None,
        v => {
            let spec: distillery_api::spec::LabelSpec =
                serde_json::from_value(v).map_err(|e| E::LabelSpec(e.to_string()))?;
            spec.validate().map_err(|e| E::LabelSpec(e.to_string()))?;
            Some(spec)
        }
    };
    // Stored labels cost their file (written by the method at its stored precision).
    let stored_bytes = match &label_spec {
        Some(distillery_api::spec::LabelSpec::Stored { file, .. }) => std::fs::metadata(file)
            .map_err(|error| E::LabelStore {
                path: file.clone(),
                error,
            })?
            .len(),
        _ => 0,
    };
    let image_bytes = (images.numel() as u64) * element_bytes(images.kind());
    let label_bytes = m as u64 * hard_label_width(k)
        + soft_labels
            .as_ref()
            .map(|p| p.numel() as u64 * element_bytes(p.kind()))
            .unwrap_or(0)
        + stored_bytes;
    let storage = Storage {
        images: m,
        image_bytes,
        label_bytes,
        total_bytes: image_bytes + label_bytes,
        teacher_parameter_bytes: None,
    };
    if family != Family::Reference {
        let available = train.indices_by_class(k);
        match budget {
            Budget::Ipc(ipc) => {
                if let Some((class, &images)) = per_class.iter().enumerate().find(|(_, &n)| n > ipc)
                {
                    return Err(E::OverIpc { images, class, ipc });
                }
                if let Some((class, _)) = per_class
                    .iter()
                    .enumerate()
                    .find(|(c, &n)| n == 0 && !available[*c].is_empty())
                {
                    return Err(E::EmptyClass { class, ipc });
                }
            }
            Budget::Fraction(f) => {
                let max = budget.max_images(k, train.len()).unwrap_or(0);
                if m > max {
                    return Err(E::OverFraction {
                        images: m,
                        max,
                        fraction: f,
                        train: train.len(),
                    });
                }
            }
            Budget::Bytes(b) => {
                if storage.total_bytes > b {
                    return Err(E::OverBytes {
                        total: storage.total_bytes,
                        images: image_bytes,
                        labels: label_bytes,
                        budget: b,
                    });
                }
            }
        }
    }
    Ok(TrainingSet {
        images,
        labels,
        soft_labels,
        weights,
        kind,
        storage,
        per_class,
        label_spec,
    })
}
