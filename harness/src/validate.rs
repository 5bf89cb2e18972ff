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

/// Unit roundoff `u` of a floating-point element type: half the distance from 1 to the next
/// representable number, `2^-p` for a `p`-bit significand (bfloat16 `2^-8`, float16 `2^-11`,
/// float32 `2^-24`, float64 `2^-53`; IEEE 754 / Higham, *Accuracy and Stability of Numerical
/// Algorithms*, 2nd ed., §2.1). `None` for a non-floating kind.
pub fn unit_roundoff(kind: Kind) -> Option<f64> {
    let p = match kind {
        Kind::BFloat16 => 8,
        Kind::Half => 11,
        Kind::Float => 24,
        Kind::Double => 53,
        _ => return None,
    };
    Some(0.5f64.powi(p))
}

/// The floor of [`row_sum_tolerance`]: what float32 and float64 rows are allowed (softmax
/// outputs computed in float32 and saved as they are sum to 1 far within it).
pub const ROW_SUM_FLOOR: f64 = 1e-3;

/// How far from 1 a stored probability row of `k` classes may sum, at the precision `kind` it
/// is stored in: `max(1e-3, k · u)`, `u` the [`unit_roundoff`] of `kind`.
///
/// `k · u` bounds, to first order, the error of rounding `k` probabilities to that precision
/// (each entry off by at most `u · p_i`, so the sum by `u`) plus summing or normalising them in
/// it (recursive summation: `(k − 1) · u`; Higham, §4.2, γ_k). A bfloat16 softmax row of 10
/// classes may thus sum to 1 ± 0.039, a float16 one to 1 ± 0.0049; float32 rows keep the
/// floor of 1e-3. A non-floating kind gets the floor.
pub fn row_sum_tolerance(kind: Kind, k: usize) -> f64 {
    let u = unit_roundoff(kind).unwrap_or(0.0);
    ROW_SUM_FLOOR.max(k as f64 * u)
}

/// How far outside [0, 1] a float pixel stored as `kind` may lie and still be taken for a
/// pixel in [0, 1]: `max(1e-4, 4 · u)`, `u` the [`unit_roundoff`] of `kind`. Undoing a
/// mean/std normalisation (`x · std + mean`) in that precision and storing the result costs up
/// to about `3 · u` (one product, one sum, one rounding: Higham's γ_3); `4 · u` leaves a
/// margin. bfloat16 pixels may reach 1.0156, float16 1.002, float32 keeps the floor 1e-4.
pub fn pixel_tolerance(kind: Kind) -> f64 {
    1e-4f64.max(4.0 * unit_roundoff(kind).unwrap_or(0.0))
}

/// Why a `[N, K]` tensor is not a set of probability rows. `Display` continues a sentence that
/// names the tensor ("soft labels …", "tensor `soft_labels` …") and says what the problem most
/// likely is: logits (negative values, or rows far from 1) or rows that were not renormalised
/// after a lossy conversion (rows off by more than the stored precision's rounding).
#[derive(Debug, PartialEq)]
pub enum ProbabilityIssue {
    /// NaN or infinite entries (how many).
    NonFinite(i64),
    /// Negative entries: how many, and the smallest.
    Negative {
        /// Number of negative entries.
        count: i64,
        /// The smallest entry.
        min: f64,
    },
    /// A row sums outside `1 ± tolerance` ([`row_sum_tolerance`]); the row furthest from 1.
    RowSum {
        /// Index of the row furthest from 1.
        row: i64,
        /// What it sums to (in float64).
        sum: f64,
        /// The tolerance for this element type and class count.
        tolerance: f64,
        /// The element type the rows are stored in.
        kind: Kind,
        /// The number of classes `K`.
        classes: usize,
    },
}

/// A row sum further than this from 1 is not a rounding problem: the rows are not
/// probabilities at all (logits, scores, one-hot rows scaled by something).
const FAR_FROM_ONE: f64 = 0.1;

impl std::fmt::Display for ProbabilityIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            ProbabilityIssue::NonFinite(n) => write!(
                f,
                "contain {n} NaN or infinite values: they must be finite probabilities"
            ),
            ProbabilityIssue::Negative { count, min } => write!(
                f,
                "contain {count} negative values (smallest {min:.4}): probabilities are >= 0; these look like logits: store softmax(logits / T, dim=1)"
            ),
            ProbabilityIssue::RowSum {
                row,
                sum,
                tolerance,
                kind,
                classes,
            } if (sum - 1.0).abs() > FAR_FROM_ONE => write!(
                f,
                "are not probability rows: row {row} sums to {sum:.4} (rows must sum to 1 within {tolerance:.2e} for {classes} classes stored as {}); these look like logits or unnormalised scores: store softmax(logits / T, dim=1)",
                kind_name(kind)
            ),
            ProbabilityIssue::RowSum {
                row,
                sum,
                tolerance,
                kind,
                classes,
            } => write!(
                f,
                "rows must sum to 1: row {row} sums to {sum:.6}, off by {:.3e}, more than rounding to {} allows for {classes} classes (tolerance max(1e-3, K·u) = {tolerance:.2e}, u = {:.3e}); renormalise the rows (p / p.sum(dim=1, keepdim=True)) before saving",
                (sum - 1.0).abs(),
                kind_name(kind),
                unit_roundoff(kind).unwrap_or(0.0)
            ),
        }
    }
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::BFloat16 => "bfloat16",
        Kind::Half => "float16",
        Kind::Float => "float32",
        Kind::Double => "float64",
        _ => "a non-float type",
    }
}

/// Checks that every row of `p` (`[N, K]`, any floating kind) is a probability distribution:
/// finite, >= 0, and summing to 1 within [`row_sum_tolerance`]`(p.kind(), K)`, i.e. the
/// rounding its stored precision allows. Plugin outputs and imported files share it; each
/// caller names the tensor before the issue's text.
///
/// # Errors
/// The first [`ProbabilityIssue`] in the order: non-finite, negative, row sums.
pub fn probability_rows(p: &Tensor) -> Result<(), ProbabilityIssue> {
    let d = p.to_kind(Kind::Double);
    let bad = d.isfinite().logical_not().sum(Kind::Int64).int64_value(&[]);
    if bad > 0 {
        return Err(ProbabilityIssue::NonFinite(bad));
    }
    let count = d.lt(0.0).sum(Kind::Int64).int64_value(&[]);
    if count > 0 {
        let min = d.min().double_value(&[]);
        return Err(ProbabilityIssue::Negative { count, min });
    }
    if d.dim() != 2 || d.size()[0] == 0 {
        return Ok(());
    }
    let classes = d.size()[1] as usize;
    let sums = d.sum_dim_intlist(1, false, Kind::Double);
    let row = (&sums - 1.0).abs().argmax(0, false).int64_value(&[]);
    let sum = sums.double_value(&[row]);
    let tolerance = row_sum_tolerance(p.kind(), classes);
    if (sum - 1.0).abs() > tolerance {
        return Err(ProbabilityIssue::RowSum {
            row,
            sum,
            tolerance,
            kind: p.kind(),
            classes,
        });
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
    /// `soft_labels` are not probability rows (non-finite or negative entries, or a row sum
    /// further from 1 than its stored precision allows: [`row_sum_tolerance`]).
    #[error("soft labels {0}")]
    SoftLabels(ProbabilityIssue),
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
                    probability_rows(&p).map_err(E::SoftLabels)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Softmax rows of 10 classes computed in float32 from seeded logits, then rounded to `kind`.
    fn softmax_rows(n: i64, kind: Kind) -> Tensor {
        tch::manual_seed(7);
        let logits = Tensor::randn([n, 10], (Kind::Float, tch::Device::Cpu)) * 3.0;
        logits.softmax(1, Kind::Float).to_kind(kind)
    }

    fn worst_row_deviation(p: &Tensor) -> f64 {
        (p.to_kind(Kind::Double)
            .sum_dim_intlist(1, false, Kind::Double)
            - 1.0)
            .abs()
            .max()
            .double_value(&[])
    }

    /// Valid softmax rows stored as bfloat16 or float16 pass: the tolerance follows the stored
    /// precision. (A fixed 1e-3 refused them: rounding alone moves many rows further.)
    #[test]
    fn reduced_precision_softmax_rows_are_probabilities() {
        for (kind, tol) in [(Kind::BFloat16, 10.0 / 256.0), (Kind::Half, 10.0 / 2048.0)] {
            let p = softmax_rows(300, kind);
            assert_eq!(row_sum_tolerance(kind, 10), tol);
            let dev = worst_row_deviation(&p);
            assert!(dev <= tol, "{kind:?}: rounding moves a row by {dev}");
            if kind == Kind::BFloat16 {
                assert!(
                    dev > 1e-3,
                    "bfloat16 rounding alone exceeds the old fixed 1e-3: {dev}"
                );
            }
            assert_eq!(probability_rows(&p), Ok(()), "{kind:?}");
        }
        assert_eq!(row_sum_tolerance(Kind::Float, 10), 1e-3);
        assert_eq!(
            row_sum_tolerance(Kind::Float, 100_000),
            1e-3f64.max(1e5 * 0.5f64.powi(24))
        );
        assert_eq!(probability_rows(&softmax_rows(300, Kind::Float)), Ok(()));
    }

    /// The message names the real problem: logits (negative values, or rows far from 1) or
    /// rows off by more than their precision's rounding.
    #[test]
    fn issues_name_the_real_problem() {
        tch::manual_seed(3);
        let logits = Tensor::randn([4, 10], (Kind::Float, tch::Device::Cpu)) * 3.0;
        let e = probability_rows(&logits).unwrap_err();
        assert!(matches!(e, ProbabilityIssue::Negative { .. }), "{e:?}");
        assert!(
            e.to_string().contains("negative values") && e.to_string().contains("look like logits"),
            "{e}"
        );
        // Positive, unnormalised scores (e.g. exp(logits)): far from 1.
        let e = probability_rows(&logits.exp().to_kind(Kind::BFloat16)).unwrap_err();
        let ProbabilityIssue::RowSum { sum, tolerance, .. } = e else {
            panic!("{e:?}")
        };
        assert!((sum - 1.0).abs() > 0.1 && tolerance == 10.0 / 256.0);
        assert!(
            e.to_string().starts_with("are not probability rows: row ")
                && e.to_string()
                    .contains("look like logits or unnormalised scores"),
            "{e}"
        );
        // A bfloat16 row scaled by 1.06: beyond rounding, but not logits.
        let p = softmax_rows(5, Kind::Float);
        let _ = p.get(2).g_mul_scalar_(1.06);
        let e = probability_rows(&p.to_kind(Kind::BFloat16)).unwrap_err();
        assert!(
            matches!(e, ProbabilityIssue::RowSum { row: 2, .. }),
            "{e:?}"
        );
        let t = e.to_string();
        assert!(
            t.starts_with("rows must sum to 1: row 2 sums to 1.06")
                && t.contains("more than rounding to bfloat16 allows for 10 classes (tolerance max(1e-3, K·u) = 3.91e-2")
                && t.contains("renormalise the rows"),
            "{t}"
        );
        let nan = Tensor::from_slice(&[0.5f32, f32::NAN]).view([1, 2]);
        assert_eq!(probability_rows(&nan), Err(ProbabilityIssue::NonFinite(1)));
    }

    #[test]
    fn pixel_tolerance_follows_the_precision() {
        assert_eq!(pixel_tolerance(Kind::Float), 1e-4);
        assert_eq!(pixel_tolerance(Kind::BFloat16), 4.0 / 256.0);
        assert_eq!(pixel_tolerance(Kind::Half), 4.0 / 2048.0);
        assert_eq!(unit_roundoff(Kind::Uint8), None);
    }
}
