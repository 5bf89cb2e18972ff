//! The protocol's teacher: one network per (dataset content, teacher recipe, seed, versions),
//! trained on the train split with the epoch of best validation accuracy kept, and cached on
//! disk so every run, cell and method that needs it gets the same weights.
//!
//! Both sides of the plugin boundary use this module: the harness (soft-label evaluation,
//! `bench teacher`) and plugins (`Context::teacher`, e.g. SRe2L and RDED). The cache entry is
//! `<cache root>/teachers/<key>/` with `weights.safetensors` and `teacher.json`, which holds the
//! SHA-256 of the weights: an entry whose weights do not match it (truncated, edited, half
//! written) is reported and rebuilt, never used. Concurrent cells wait on a lock file instead
//! of training the same teacher twice. The test split is never seen here; the harness measures
//! the teacher's test accuracy itself.

use crate::error::MethodError;
use crate::nn::{self, FitOptions, Network, Targets};
use crate::rng::derive_seed;
use crate::spec::TeacherSpec;
use crate::split::Split;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::Instant;
use tch::{nn::VarStore, Device, Tensor};

/// Format version of a cache entry; bump when the files change meaning.
const ENTRY_FORMAT: u32 = 1;

/// What is known about a teacher, stored in `teacher.json` and copied into records.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TeacherInfo {
    /// Cache-entry format version.
    pub format: u32,
    /// Content key of the cache entry (hex SHA-256).
    pub key: String,
    /// The recipe it was trained by.
    pub spec: TeacherSpec,
    /// SHA-256 of the train+validation tensors it was trained and selected on.
    pub data_checksum: String,
    /// Validation accuracy of the kept epoch, a fraction.
    pub val_acc: f64,
    /// 1-based epoch that was kept.
    pub best_epoch: usize,
    /// Epochs trained before stopping (early stopping may end before the recipe's epochs).
    pub epochs_run: usize,
    /// Wall-clock training time in seconds of the run that trained it.
    pub train_seconds: f64,
    /// Number of trainable parameters.
    pub parameters: i64,
    /// Parameter bytes at float32: what an online teacher costs to ship with a dataset.
    pub parameter_bytes: u64,
    /// Hex SHA-256 of `weights.safetensors`; an entry whose file does not match is rebuilt.
    pub weights_sha256: String,
    /// Device class it was trained on (`cpu` or `cuda`): the two differ numerically;
    /// `pretrained` for weights from a file.
    pub trained_on: String,
    /// The weights file of a pretrained teacher (`[teacher.pretrained]`, `--teacher`);
    /// `None` for a harness-trained one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

/// A loaded teacher in eval mode.
pub struct Teacher {
    /// The teacher's variables (frozen).
    pub vs: VarStore,
    /// The network (call it in eval mode: `forward_t(x, false)`).
    pub net: Box<dyn Network>,
    /// What is known about it.
    pub info: TeacherInfo,
    /// True when the weights came from the cache rather than being trained now.
    pub from_cache: bool,
}

impl Teacher {
    /// Logits `[N, K]` for normalised images, in eval mode, without gradients, in batches.
    pub fn logits(&self, x: &Tensor, batch: i64) -> Tensor {
        batched_logits(self.net.as_ref(), x, batch)
    }
}

/// Logits `[N, K]` of `net` for `x` in eval mode, without gradients, `batch` images at a time.
pub fn batched_logits(net: &dyn Network, x: &Tensor, batch: i64) -> Tensor {
    let _g = tch::no_grad_guard();
    let n = x.size()[0];
    let mut out = Vec::new();
    let mut start = 0;
    while start < n {
        let len = batch.min(n - start);
        out.push(net.forward_t(&x.narrow(0, start, len), false));
        start += len;
    }
    Tensor::cat(&out, 0)
}

/// Everything a teacher depends on besides its recipe.
pub struct TeacherData<'a> {
    /// The split it trains on.
    pub train: &'a Split,
    /// The split its kept epoch is chosen on.
    pub val: &'a Split,
    /// Number of classes `K` (its output width).
    pub num_classes: usize,
    /// Per-channel mean of the train split in [0, 1] pixel scale (what the student sees too).
    pub mean: &'a [f64],
    /// Per-channel standard deviation of the train split in [0, 1] pixel scale.
    pub std: &'a [f64],
    /// False for digits: its DSA drops `flip`.
    pub mirror_invariant: bool,
}

/// SHA-256 over the shapes and bytes of the train and validation tensors.
pub fn data_checksum(train: &Split, val: &Split) -> String {
    let mut h = Sha256::new();
    for t in [&train.images, &train.labels, &val.images, &val.labels] {
        let t = t.to_device(Device::Cpu).contiguous();
        h.update(format!("{:?}{:?};", t.size(), t.kind()).as_bytes());
        let mut buf = vec![0u8; t.numel() * t.kind().elt_size_in_bytes()];
        t.copy_data_u8(&mut buf, t.numel());
        h.update(&buf);
    }
    hex::encode(h.finalize())
}

fn device_class(d: Device) -> &'static str {
    if d.is_cuda() {
        "cuda"
    } else {
        "cpu"
    }
}

/// The cache key of a teacher: recipe, data, normalisation, versions and device class.
pub fn cache_key(
    spec: &TeacherSpec,
    data: &TeacherData,
    data_checksum: &str,
    device: Device,
) -> String {
    let v = serde_json::json!({
        "format": ENTRY_FORMAT,
        "spec": spec,
        "data": data_checksum,
        "classes": data.num_classes,
        "mean": data.mean,
        "std": data.std,
        "mirror_invariant": data.mirror_invariant,
        "api": crate::version::API_VERSION,
        "libtorch": crate::version::LIBTORCH_VERSION,
        "device": device_class(device),
    });
    hex::encode(Sha256::digest(v.to_string().as_bytes()))
}

fn file_sha256(path: &Path) -> std::io::Result<String> {
    let bytes = std::fs::read(path)?;
    Ok(hex::encode(Sha256::digest(&bytes)))
}

fn fail(what: String) -> MethodError {
    MethodError::Failed(what)
}

/// Returns the teacher for `spec` on `data`: from `cache_root/teachers/<key>` when a valid
/// entry exists, otherwise trained now and stored. `progress(fraction, message)` reports
/// training; `warn` receives a line when a corrupted entry is discarded.
///
/// # Errors
/// [`MethodError::Config`] for an invalid recipe, [`MethodError::Failed`] when the cache
/// folder, lock or files cannot be written, [`MethodError::Torch`] from training.
pub fn obtain(
    spec: &TeacherSpec,
    data: &TeacherData,
    device: Device,
    cache_root: &Path,
    progress: &mut dyn FnMut(f64, &str),
    warn: &mut dyn FnMut(&str),
) -> Result<Teacher, MethodError> {
    spec.validate()
        .map_err(|(k, why)| MethodError::Config(format!("[teacher] {k}: {why}")))?;
    if let Some(p) = &spec.pretrained {
        return load_pretrained(spec, p, data, device);
    }
    let checksum = data_checksum(data.train, data.val);
    let key = cache_key(spec, data, &checksum, device);
    let dir = cache_root.join("teachers").join(&key);
    std::fs::create_dir_all(&dir).map_err(|e| {
        fail(format!(
            "cannot create teacher cache {}: {e}",
            dir.display()
        ))
    })?;
    // One trainer per key at a time; others wait here and then find the entry.
    let lock_path = cache_root.join("teachers").join(format!("{key}.lock"));
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| fail(format!("cannot open {}: {e}", lock_path.display())))?;
    lock.lock()
        .map_err(|e| fail(format!("cannot lock {}: {e}", lock_path.display())))?;
    match load_entry(&dir, spec, data, device) {
        Ok(Some(t)) => return Ok(t),
        Ok(None) => {}
        Err(why) => {
            warn(&format!(
                "teacher cache entry {} is corrupted ({why}); discarding it and training again",
                dir.display()
            ));
            let _ = std::fs::remove_file(dir.join("teacher.json"));
            let _ = std::fs::remove_file(dir.join("weights.safetensors"));
        }
    }
    let t = train(spec, data, device, &key, &checksum, progress)?;
    let weights = dir.join("weights.safetensors");
    let mut info = t.info.clone();
    // The weights first, then the description that vouches for them: a reader that finds
    // teacher.json finds the weights it names (both written atomically and durably).
    info.weights_sha256 = crate::fsio::replace_with(&weights, |tmp| {
        t.vs.save(tmp).map_err(std::io::Error::other)?;
        file_sha256(tmp)
    })
    .map_err(|e| fail(format!("cannot write {}: {e}", weights.display())))?;
    let meta = dir.join("teacher.json");
    crate::fsio::write_atomic(
        &meta,
        serde_json::to_string_pretty(&info)
            .expect("json")
            .as_bytes(),
    )
    .map_err(|e| fail(format!("cannot write {}: {e}", meta.display())))?;
    Ok(Teacher { info, ..t })
}

/// `Ok(None)`: no entry. `Err(why)`: an entry that must not be used.
fn load_entry(
    dir: &Path,
    spec: &TeacherSpec,
    data: &TeacherData,
    device: Device,
) -> Result<Option<Teacher>, String> {
    let meta = dir.join("teacher.json");
    let weights = dir.join("weights.safetensors");
    if !meta.exists() {
        return Ok(None);
    }
    let info: TeacherInfo = serde_json::from_str(
        &std::fs::read_to_string(&meta).map_err(|e| format!("{}: {e}", meta.display()))?,
    )
    .map_err(|e| format!("{}: {e}", meta.display()))?;
    if info.format != ENTRY_FORMAT || &info.spec != spec {
        return Err(format!("{} describes another teacher", meta.display()));
    }
    let sha = file_sha256(&weights).map_err(|e| format!("{}: {e}", weights.display()))?;
    if sha != info.weights_sha256 {
        return Err(format!(
            "{} has SHA-256 {sha}, {} records {}",
            weights.display(),
            meta.display(),
            info.weights_sha256
        ));
    }
    let mut vs = VarStore::new(device);
    let net = nn::build(
        &vs.root(),
        &spec.model,
        shape(data.train),
        data.num_classes as i64,
    );
    vs.load(&weights)
        .map_err(|e| format!("{}: {e}", weights.display()))?;
    vs.freeze();
    Ok(Some(Teacher {
        vs,
        net,
        info,
        from_cache: true,
    }))
}

fn shape(s: &Split) -> [i64; 3] {
    let z = s.images.size();
    [z[1], z[2], z[3]]
}

fn train(
    spec: &TeacherSpec,
    data: &TeacherData,
    device: Device,
    key: &str,
    checksum: &str,
    progress: &mut dyn FnMut(f64, &str),
) -> Result<Teacher, MethodError> {
    let t0 = Instant::now();
    tch::manual_seed(derive_seed(spec.seed, "teacher/init") as i64);
    let mut vs = VarStore::new(device);
    let net = nn::build(
        &vs.root(),
        &spec.model,
        shape(data.train),
        data.num_classes as i64,
    );
    let x = nn::normalize(&data.train.images, data.mean, data.std, device);
    let y = data.train.labels.to_device(device);
    let xv = nn::normalize(&data.val.images, data.mean, data.std, device);
    let yv = data.val.labels.to_device(device);
    // The weights (parameters and buffers) of the best validation epoch; first best on ties.
    type Snapshot = Vec<(String, Tensor)>;
    let mut best: Option<(f64, usize, Snapshot)> = None;
    let recipe = &spec.train;
    let (epochs, patience) = (recipe.epochs, spec.patience);
    let report = {
        let vs_ref = &vs;
        let mut on_epoch = |epoch: usize, loss: f64, n: &dyn Network| -> bool {
            let (acc, _) = nn::evaluate(n, &xv, &yv, 500);
            progress(
                (epoch + 1) as f64 / epochs as f64,
                &format!(
                    "teacher epoch {}/{epochs}: train loss {loss:.4}, val {:.2}%",
                    epoch + 1,
                    acc * 100.0
                ),
            );
            if best.as_ref().is_none_or(|(b, _, _)| acc > *b) {
                let _g = tch::no_grad_guard();
                let mut snap: Vec<(String, Tensor)> = vs_ref
                    .variables()
                    .into_iter()
                    .map(|(k, v)| (k, v.copy()))
                    .collect();
                snap.sort_by(|a, b| a.0.cmp(&b.0));
                best = Some((acc, epoch + 1, snap));
            }
            let since_best = epoch + 1 - best.as_ref().map_or(0, |b| b.1);
            patience == 0 || since_best < patience
        };
        nn::fit(
            net.as_ref(),
            &vs,
            &x,
            Targets::Hard(&y),
            recipe,
            FitOptions {
                order_seed: derive_seed(spec.seed, "teacher/order"),
                augment_seed: Some(derive_seed(spec.seed, "teacher/augment")),
                dsa: Some(nn::augment::Dsa::new(
                    &recipe.dsa_strategy,
                    data.mirror_invariant,
                )),
                on_epoch: Some(&mut on_epoch),
                ..Default::default()
            },
        )?
    };
    let (val_acc, best_epoch, snap) = best.expect("at least one epoch ran");
    {
        let _g = tch::no_grad_guard();
        let mut vars = vs.variables();
        for (k, v) in &snap {
            vars.get_mut(k).expect("same variables").copy_(v);
        }
    }
    let parameters: i64 = vs
        .trainable_variables()
        .iter()
        .map(|t| t.numel() as i64)
        .sum();
    vs.freeze();
    let info = TeacherInfo {
        format: ENTRY_FORMAT,
        key: key.to_string(),
        spec: spec.clone(),
        data_checksum: checksum.to_string(),
        val_acc,
        best_epoch,
        epochs_run: report.epochs_run,
        train_seconds: t0.elapsed().as_secs_f64(),
        parameters,
        parameter_bytes: parameters as u64 * 4,
        weights_sha256: String::new(),
        trained_on: device_class(device).to_string(),
        file: None,
    };
    Ok(Teacher {
        vs,
        net,
        info,
        from_cache: false,
    })
}

/// The SHA-256 (hex) of a file's bytes.
///
/// # Errors
/// The file cannot be read.
pub fn sha256_of(path: &Path) -> std::io::Result<String> {
    file_sha256(path)
}

/// A pretrained teacher: `spec.model` built and filled from the file (torchvision layout),
/// frozen, its validation accuracy measured on `data.val` (in batches, normalised per batch).
/// Its key is the file's SHA-256. Its class order is the caller's to check
/// ([`check_class_order`]): the harness does it before any cell runs.
fn load_pretrained(
    spec: &TeacherSpec,
    p: &crate::spec::PretrainedTeacher,
    data: &TeacherData,
    device: Device,
) -> Result<Teacher, MethodError> {
    let file = p.file.as_ref().ok_or_else(|| {
        MethodError::Config(
            "[teacher.pretrained] has no weights file: give it with `bench --teacher FILE.safetensors` (or `file = ...` in the protocol)".into(),
        )
    })?;
    let sha = file_sha256(file).map_err(|e| fail(format!("{}: {e}", file.display())))?;
    let mut vs = VarStore::new(device);
    let net = nn::build(
        &vs.root(),
        &spec.model,
        shape(data.train),
        data.num_classes as i64,
    );
    match p.layout {
        crate::spec::WeightLayout::Torchvision => {
            nn::torchvision::load_state_dict(&mut vs, &spec.model, file)
                .map_err(MethodError::Config)?;
        }
    }
    let parameters: i64 = vs
        .trainable_variables()
        .iter()
        .map(|t| t.numel() as i64)
        .sum();
    vs.freeze();
    let val_acc = accuracy_raw(net.as_ref(), data.val, data.mean, data.std, device);
    let info = TeacherInfo {
        format: ENTRY_FORMAT,
        key: sha.clone(),
        spec: spec.clone(),
        data_checksum: String::new(),
        val_acc,
        best_epoch: 0,
        epochs_run: 0,
        train_seconds: 0.0,
        parameters,
        parameter_bytes: parameters as u64 * 4,
        weights_sha256: sha,
        trained_on: "pretrained".into(),
        file: Some(file.display().to_string()),
    };
    Ok(Teacher {
        vs,
        net,
        info,
        from_cache: false,
    })
}

/// Top-1 accuracy of `net` (eval mode) on raw images (uint8 or [0, 1] float) `split`,
/// normalised with `mean`/`std` one batch of 256 at a time (never the whole split as float).
pub fn accuracy_raw(
    net: &dyn Network,
    split: &Split,
    mean: &[f64],
    std: &[f64],
    device: Device,
) -> f64 {
    let n = split.images.size()[0];
    if n == 0 {
        return 0.0;
    }
    let mut hits = 0.0;
    let mut start = 0;
    while start < n {
        let len = 256.min(n - start);
        let x = nn::normalize(&split.images.narrow(0, start, len), mean, std, device);
        let y = split.labels.narrow(0, start, len);
        hits += nn::evaluate(net, &x, &y, len).0 * len as f64;
        start += len;
    }
    hits / n as f64
}

/// Reads a class list (one name per line, trailing blank lines ignored) and checks it against
/// the dataset's class order: same names in the same order.
///
/// # Errors
/// A message naming the file, the counts, or the first position where the orders differ.
pub fn check_class_order(classes_file: &Path, dataset: &[String]) -> Result<(), String> {
    let text = std::fs::read_to_string(classes_file).map_err(|e| {
        format!(
            "the teacher's class list {}: {e} (one class name per line, in the order of its outputs; `--teacher-classes FILE`)",
            classes_file.display()
        )
    })?;
    let names: Vec<&str> = text
        .lines()
        .map(|l| l.trim_end_matches('\r'))
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .skip_while(|l| l.is_empty())
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    if names.len() != dataset.len() {
        return Err(format!(
            "the teacher's class list {} has {} classes, the dataset {}",
            classes_file.display(),
            names.len(),
            dataset.len()
        ));
    }
    if let Some(i) = (0..names.len()).find(|&i| names[i] != dataset[i]) {
        return Err(format!(
            "the teacher's class order ({}) differs from the dataset's at output {i}: '{}' vs '{}' (the dataset's order is its sorted class folder names, torchvision's ImageFolder order)",
            classes_file.display(),
            names[i],
            dataset[i]
        ));
    }
    Ok(())
}

/// Where the cache entry of a key lives (for tools and error messages).
pub fn entry_dir(cache_root: &Path, key: &str) -> PathBuf {
    cache_root.join("teachers").join(key)
}

/// Top-1 accuracy of the teacher on normalised images (the harness calls it on the test split).
pub fn accuracy(t: &Teacher, x: &Tensor, y: &Tensor) -> f64 {
    nn::evaluate(t.net.as_ref(), x, y, 500).0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{Arch, Augment, ModelSpec, Optimizer, Schedule, TrainSpec};
    use tch::Kind;

    /// Two classes: bright top half vs bright bottom half, with noise.
    fn split(n: i64, seed: i64) -> Split {
        tch::manual_seed(seed);
        let top = Tensor::zeros([n, 1, 8, 8], (Kind::Float, Device::Cpu));
        let _ = top.narrow(2, 0, 4).fill_(200.0);
        let bottom = top.flip([2]);
        let x = Tensor::cat(&[top, bottom], 0)
            + Tensor::rand([2 * n, 1, 8, 8], (Kind::Float, Device::Cpu)) * 50.0;
        let y = Tensor::cat(
            &[
                Tensor::zeros([n], (Kind::Int64, Device::Cpu)),
                Tensor::ones([n], (Kind::Int64, Device::Cpu)),
            ],
            0,
        );
        Split {
            images: x.clamp(0.0, 255.0).to_kind(Kind::Uint8),
            labels: y,
        }
    }

    fn spec() -> TeacherSpec {
        TeacherSpec {
            model: ModelSpec {
                arch: Arch::Convnet,
                width: 4,
                depth: 1,
            },
            train: TrainSpec {
                epochs: 6,
                batch_size: 8,
                optimizer: Optimizer::Sgd,
                lr: 0.05,
                momentum: 0.9,
                weight_decay: 0.0,
                nesterov: false,
                schedule: Schedule::Constant,
                augment: Augment::None,
                dsa_strategy: crate::spec::default_dsa_strategy(),
                rrc_scale: [0.5, 1.0],
                mix: crate::nn::mix::Mix::None,
                mix_alpha: 1.0,
            },
            seed: 3,
            patience: 2,
            pretrained: None,
        }
    }

    #[test]
    fn trains_caches_reuses_and_rebuilds_a_corrupted_entry() {
        let _rng = crate::rng::test_lock();
        let (train, val) = (split(16, 1), split(4, 2));
        let data = TeacherData {
            train: &train,
            val: &val,
            num_classes: 2,
            mean: &[0.5],
            std: &[0.3],
            mirror_invariant: false,
        };
        let root =
            std::env::temp_dir().join(format!("distillery-teacher-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let mut warnings = Vec::new();
        let get = |w: &mut Vec<String>| {
            obtain(
                &spec(),
                &data,
                Device::Cpu,
                &root,
                &mut |_, _| {},
                &mut |m| w.push(m.to_string()),
            )
            .unwrap()
        };
        let first = get(&mut warnings);
        assert!(!first.from_cache);
        assert!(first.info.val_acc >= 0.99, "learned: {:?}", first.info);
        assert!(first.info.best_epoch >= 1 && first.info.best_epoch <= first.info.epochs_run);
        // Early stopping: perfect validation accuracy early, so training stops exactly
        // `patience` (2) epochs after the best epoch, before the 6 the recipe allows.
        assert!(first.info.epochs_run < 6, "{:?}", first.info);
        assert_eq!(first.info.epochs_run, first.info.best_epoch + 2);
        let x = crate::nn::normalize(&val.images, &[0.5], &[0.3], Device::Cpu);
        let l1 = first.logits(&x, 3);

        let second = get(&mut warnings);
        assert!(second.from_cache);
        assert_eq!(second.info, first.info);
        // Same batch size as `l1`: libtorch's CPU kernels may sum in another order for another
        // batch size (batch 3 vs 5 differed in the last bit on an AMD EPYC machine), which says
        // nothing about the cache.
        assert!(
            second.logits(&x, 3).equal(&l1),
            "the cache gives the same network"
        );
        assert!(warnings.is_empty(), "{warnings:?}");

        // Truncate the weights: detected by the checksum, reported, rebuilt identically.
        let w = entry_dir(&root, &first.info.key).join("weights.safetensors");
        let bytes = std::fs::read(&w).unwrap();
        std::fs::write(&w, &bytes[..bytes.len() / 2]).unwrap();
        let third = get(&mut warnings);
        assert!(!third.from_cache);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].contains("is corrupted") && warnings[0].contains("SHA-256"),
            "{}",
            warnings[0]
        );
        assert_eq!(
            third.info.weights_sha256, first.info.weights_sha256,
            "CPU training is deterministic"
        );

        // Another recipe is another entry.
        let mut other = spec();
        other.seed = 4;
        let t = obtain(
            &other,
            &data,
            Device::Cpu,
            &root,
            &mut |_, _| {},
            &mut |_| {},
        )
        .unwrap();
        assert_ne!(t.info.key, first.info.key);
        let _ = std::fs::remove_dir_all(&root);
    }
}
