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

/// Checks `out` against the train split, class count, resolution and budget.
pub fn check(
    out: RawOutput,
    train: &Split,
    num_classes: usize,
    shape: [i64; 3],
    budget: Budget,
    family: Family,
) -> Result<TrainingSet, String> {
    let k = num_classes;
    let (images, labels, soft_labels, weights, kind) = match out.kind.as_str() {
        "indices" => {
            let idx = out
                .indices
                .ok_or("declared kind \"indices\" but returned no index tensor")?;
            if idx.dim() != 1 {
                return Err(format!(
                    "indices must be a 1-D int64 tensor, got shape {:?}",
                    idx.size()
                ));
            }
            if idx.kind() != Kind::Int64 {
                return Err(format!("indices must be int64, got {:?}", idx.kind()));
            }
            let v = Vec::<i64>::try_from(&idx).map_err(|e| e.to_string())?;
            let n = train.len() as i64;
            if let Some(bad) = v.iter().find(|&&i| i < 0 || i >= n) {
                return Err(format!(
                    "index {bad} is out of range: the train split has {n} images (0..{})",
                    n - 1
                ));
            }
            let mut sorted = v.clone();
            sorted.sort_unstable();
            if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
                return Err(format!(
                    "index {} appears more than once (duplicates inflate the budget)",
                    w[0]
                ));
            }
            let weights = match out.weights {
                Some(w) => {
                    if w.size() != vec![v.len() as i64] {
                        return Err(format!(
                            "weights must have shape [{}], got {:?}",
                            v.len(),
                            w.size()
                        ));
                    }
                    let w = w.to_kind(Kind::Float);
                    let finite = w.isfinite().all().int64_value(&[]) == 1;
                    if !finite
                        || w.lt(0.0).any().int64_value(&[]) == 1
                        || w.sum(Kind::Double).double_value(&[]) <= 0.0
                    {
                        return Err("weights must be finite, non-negative and not all zero".into());
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
            let images = out
                .images
                .ok_or("declared kind \"images\" but returned no image tensor")?;
            let labels = out
                .labels
                .ok_or("declared kind \"images\" but returned no label tensor")?;
            let s = images.size();
            if s.len() != 4 {
                return Err(format!(
                    "images must have rank 4 [N, C, H, W], got shape {s:?}"
                ));
            }
            if s[1..] != shape[..] {
                return Err(format!(
                    "images have shape {s:?}, but the protocol's resolution is [N, {}, {}, {}]",
                    shape[0], shape[1], shape[2]
                ));
            }
            let images = match images.kind() {
                Kind::Uint8 => images.to_device(tch::Device::Cpu),
                Kind::Float | Kind::Double | Kind::Half | Kind::BFloat16 => {
                    let f = images.to_device(tch::Device::Cpu);
                    if f.isfinite().all().int64_value(&[]) != 1 {
                        let bad = f.isfinite().logical_not().sum(Kind::Int64).int64_value(&[]);
                        return Err(format!("images contain {bad} NaN or infinite values"));
                    }
                    f
                }
                other => {
                    return Err(format!(
                        "images must be uint8 or floating point, got {other:?}"
                    ))
                }
            };
            if labels.size() != vec![s[0]] {
                return Err(format!(
                    "labels must have shape [{}] (one per image), got {:?}",
                    s[0],
                    labels.size()
                ));
            }
            if labels.kind() != Kind::Int64 {
                return Err(format!("labels must be int64, got {:?}", labels.kind()));
            }
            let labels = labels.to_device(tch::Device::Cpu);
            let soft = match out.soft_labels {
                Some(p) => {
                    if p.size() != vec![s[0], k as i64] {
                        return Err(format!(
                            "soft labels must have shape [{}, {k}], got {:?}",
                            s[0],
                            p.size()
                        ));
                    }
                    let p = p.to_device(tch::Device::Cpu);
                    match probability_rows(&p) {
                        Err(ProbabilityIssue::NotProbabilities) => {
                            return Err("soft labels must be finite probabilities (>= 0)".into())
                        }
                        Err(ProbabilityIssue::RowSum(dev)) => {
                            return Err(format!(
                                "soft label rows must sum to 1 (largest deviation {dev:.3e})"
                            ))
                        }
                        Ok(()) => {}
                    }
                    Some(p)
                }
                None => None,
            };
            (images, labels, soft, None, "images")
        }
        other => {
            return Err(format!(
                "unknown output kind {other:?} (expected \"indices\" or \"images\")"
            ))
        }
    };
    let m = labels.size()[0] as usize;
    let lv = Vec::<i64>::try_from(&labels).map_err(|e| e.to_string())?;
    if let Some(bad) = lv.iter().find(|&&l| l < 0 || l >= k as i64) {
        return Err(format!(
            "label {bad} is out of range: the dataset has {k} classes (0..{})",
            k - 1
        ));
    }
    let mut per_class = vec![0usize; k];
    for &l in &lv {
        per_class[l as usize] += 1;
    }
    if m == 0 {
        return Err("returned an empty set".into());
    }
    let label_spec = match out.label_spec {
        serde_json::Value::Null => None,
        v => {
            let spec: distillery_api::spec::LabelSpec =
                serde_json::from_value(v).map_err(|e| format!("label_spec: {e}"))?;
            spec.validate().map_err(|e| format!("label_spec: {e}"))?;
            Some(spec)
        }
    };
    // Stored labels cost their file (written by the method at its stored precision).
    let stored_bytes = match &label_spec {
        Some(distillery_api::spec::LabelSpec::Stored { file, .. }) => std::fs::metadata(file)
            .map_err(|e| format!("label_spec: label store {}: {e}", file.display()))?
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
                if let Some((c, &n)) = per_class.iter().enumerate().find(|(_, &n)| n > ipc) {
                    return Err(format!(
                        "{n} images labelled class {c}, over the budget of {ipc} per class"
                    ));
                }
                if let Some((c, _)) = per_class
                    .iter()
                    .enumerate()
                    .find(|(c, &n)| n == 0 && !available[*c].is_empty())
                {
                    return Err(format!("class {c} has no image, but an IPC {ipc} budget requires at least one per class"));
                }
            }
            Budget::Fraction(f) => {
                let max = budget.max_images(k, train.len()).unwrap_or(0);
                if m > max {
                    return Err(format!(
                        "{m} images, over the budget of {max} ({}% of {})",
                        f * 100.0,
                        train.len()
                    ));
                }
            }
            Budget::Bytes(b) => {
                if storage.total_bytes > b {
                    return Err(format!(
                        "{} bytes (images {} + labels {}), over the budget of {b} bytes",
                        storage.total_bytes, image_bytes, label_bytes
                    ));
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
