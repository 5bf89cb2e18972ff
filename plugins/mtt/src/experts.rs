//! Expert trajectories: ConvNets trained on the real train split with the harness's fit loop,
//! their flat parameters recorded at initialisation and after every epoch, cached on disk.
//!
//! One file per expert, `<cache>/experts/<key>.traj`, where `key` is the SHA-256 of the
//! canonical JSON of everything that determines the trajectory ([`ExpertPlan::describe`]):
//! the train split's content checksum, the network, input shape and class count, the training
//! recipe (epochs, batch, lr, momentum, weight decay, augmentation), the normalisation, the
//! expert's seed, the device type, the file format and the api version. File layout:
//!
//! ```text
//! b"DMTTTRJ1" | u64 LE n | n bytes of JSON (key, description, snapshots, num_params, ...) |
//! snapshots × num_params f32 LE | SHA-256 of all preceding bytes (32 bytes)
//! ```
//!
//! A file whose magic, key, size or checksum does not match is not used: the expert is
//! retrained and the file rewritten (atomically: temporary file, then rename).

use crate::functional::ParamLayout;
use distillery_api::nn::{self, FitOptions, Network, Targets};
use distillery_api::rng::derive_seed;
use distillery_api::spec::{ModelSpec, TrainSpec};
use distillery_api::{Context, MethodError, Split};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use tch::{Device, Kind, Tensor};

const MAGIC: &[u8; 8] = b"DMTTTRJ1";
/// Bump when the file layout or the meaning of a trajectory changes.
const FORMAT: u32 = 1;

/// SHA-256 of a split's content: shapes, image bytes and label bytes.
pub fn dataset_checksum(split: &Split) -> String {
    let mut h = Sha256::new();
    let imgs = split.images.to_device(Device::Cpu).contiguous();
    let labels = split
        .labels
        .to_device(Device::Cpu)
        .to_kind(Kind::Int64)
        .contiguous();
    h.update(format!("{:?}|{:?}|{:?}|", imgs.size(), imgs.kind(), labels.size()).as_bytes());
    h.update(tensor_bytes(&imgs));
    h.update(tensor_bytes(&labels));
    hex::encode(h.finalize())
}

fn tensor_bytes(t: &Tensor) -> Vec<u8> {
    let n = t.numel();
    let mut buf = vec![0u8; n * t.kind().elt_size_in_bytes()];
    t.copy_data_u8(&mut buf, n);
    buf
}

/// What determines a set of expert trajectories.
#[derive(Clone, Debug)]
pub struct ExpertPlan {
    pub model: ModelSpec,
    pub in_shape: [i64; 3],
    pub classes: i64,
    /// The experts' recipe (buffer.py: SGD lr 0.01, no momentum, no weight decay, batch 256,
    /// DSA, constant lr); `epochs` is the trajectory length.
    pub recipe: TrainSpec,
    pub mirror_invariant: bool,
    pub mean: Vec<f64>,
    pub std: Vec<f64>,
    /// Content checksum of the train split the experts are trained on.
    pub dataset: String,
    pub num_experts: usize,
    /// Expert `i` is trained with `derive_seed(seed, "mtt/expert<i>")`.
    pub seed: u64,
    pub device: Device,
}

impl ExpertPlan {
    pub fn expert_seed(&self, i: usize) -> u64 {
        derive_seed(self.seed, &format!("mtt/expert{i}"))
    }

    /// Everything that determines expert `i`'s trajectory, as canonical JSON.
    pub fn describe(&self, i: usize) -> serde_json::Value {
        serde_json::json!({
            "format": FORMAT,
            "api": distillery_api::API_VERSION,
            "dataset_sha256": self.dataset,
            "model": self.model,
            "in_shape": self.in_shape,
            "classes": self.classes,
            "recipe": self.recipe,
            "mirror_invariant": self.mirror_invariant,
            "mean": self.mean,
            "std": self.std,
            "seed": self.expert_seed(i),
            "device": match self.device { Device::Cpu => "cpu", _ => "cuda" },
        })
    }

    /// The cache key of expert `i`: SHA-256 of [`Self::describe`].
    pub fn key(&self, i: usize) -> String {
        // serde_json's maps are ordered by key (BTreeMap): the serialisation is canonical.
        let s = serde_json::to_string(&self.describe(i)).expect("serialisable");
        hex::encode(Sha256::digest(s.as_bytes()))
    }
}

/// One expert's trajectory: `snapshots` flat parameter vectors (initialisation, then after
/// each epoch), read from its cache file on demand.
pub struct Trajectory {
    file: Mutex<File>,
    data_offset: u64,
    pub num_params: i64,
    pub snapshots: usize,
    pub meta: serde_json::Value,
    pub path: PathBuf,
}

impl Trajectory {
    /// Snapshot `t` (0 = initialisation, `e` = after epoch `e`) as a float tensor on the CPU.
    pub fn snapshot(&self, t: usize) -> Result<Tensor, MethodError> {
        if t >= self.snapshots {
            return Err(MethodError::Failed(format!(
                "expert trajectory {} has {} snapshots, asked for {t}",
                self.path.display(),
                self.snapshots
            )));
        }
        let n = self.num_params as usize;
        let mut buf = vec![0u8; n * 4];
        let mut f = self.file.lock().unwrap_or_else(|e| e.into_inner());
        f.seek(SeekFrom::Start(self.data_offset + (t * n * 4) as u64))
            .and_then(|_| f.read_exact(&mut buf))
            .map_err(|e| MethodError::Failed(format!("reading {}: {e}", self.path.display())))?;
        let v: Vec<f32> = buf
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        Ok(Tensor::from_slice(&v))
    }

    /// Validation accuracy of the trained expert, if it was measured.
    pub fn val_accuracy(&self) -> Option<f64> {
        self.meta.get("val_accuracy").and_then(|v| v.as_f64())
    }
}

/// Where a trajectory came from in this call.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// Read from the cache.
    Cache,
    /// Not in the cache: trained now.
    Trained,
    /// In the cache but unusable (the reason): trained now and rewritten.
    Rebuilt(String),
    /// Being trained by another live process when this call started: waited for, then read
    /// from the cache.
    Waited,
}

/// Opens and fully verifies a cache file. `Ok(None)`: no file. `Err(reason)`: unusable.
pub fn open(path: &Path, key: &str) -> Result<Option<Trajectory>, String> {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot open: {e}")),
    };
    let len = file
        .metadata()
        .map_err(|e| format!("cannot stat: {e}"))?
        .len();
    if len < 8 + 8 + 32 {
        return Err(format!("truncated ({len} bytes)"));
    }
    // Checksum over everything but the trailing 32 bytes, streamed.
    let mut h = Sha256::new();
    let mut remaining = len - 32;
    let mut buf = vec![0u8; 1 << 20];
    let mut head = Vec::new();
    while remaining > 0 {
        let want = remaining.min(buf.len() as u64) as usize;
        file.read_exact(&mut buf[..want])
            .map_err(|e| format!("read error: {e}"))?;
        if head.len() < 1 << 16 {
            head.extend_from_slice(&buf[..want.min((1 << 16) - head.len())]);
        }
        h.update(&buf[..want]);
        remaining -= want as u64;
    }
    let mut stored = [0u8; 32];
    file.read_exact(&mut stored)
        .map_err(|e| format!("read error: {e}"))?;
    if h.finalize().as_slice() != stored {
        return Err("checksum mismatch (corrupted or partially written file)".into());
    }
    if &head[..8] != MAGIC {
        return Err("not an expert-trajectory file (bad magic)".into());
    }
    let n = u64::from_le_bytes(head[8..16].try_into().unwrap()) as usize;
    if 16 + n > head.len() {
        return Err("header too long".into());
    }
    let meta: serde_json::Value =
        serde_json::from_slice(&head[16..16 + n]).map_err(|e| format!("bad header JSON: {e}"))?;
    if meta.get("key").and_then(|k| k.as_str()) != Some(key) {
        return Err("key in the file does not match its name".into());
    }
    let num_params = meta["num_params"].as_i64().unwrap_or(-1);
    let snapshots = meta["snapshots"].as_u64().unwrap_or(0) as usize;
    let data_offset = (16 + n) as u64;
    if num_params <= 0 || data_offset + (snapshots as u64) * (num_params as u64) * 4 + 32 != len {
        return Err(format!(
            "size {len} does not match {snapshots} snapshots of {num_params} parameters"
        ));
    }
    Ok(Some(Trajectory {
        file: Mutex::new(file),
        data_offset,
        num_params,
        snapshots,
        meta,
        path: path.to_path_buf(),
    }))
}

/// Writes a trajectory file atomically and durably (`distillery_api::fsio::write_atomic`).
pub fn write(
    path: &Path,
    key: &str,
    mut meta: serde_json::Value,
    snapshots: &[Tensor],
) -> Result<(), MethodError> {
    let fail = |e: std::io::Error| MethodError::Failed(format!("writing {}: {e}", path.display()));
    let num_params = snapshots.first().map(|t| t.numel() as i64).unwrap_or(0);
    meta["key"] = key.into();
    meta["num_params"] = num_params.into();
    meta["snapshots"] = snapshots.len().into();
    let json = serde_json::to_vec(&meta).expect("serialisable");
    let mut bytes =
        Vec::with_capacity(16 + json.len() + snapshots.len() * num_params as usize * 4 + 32);
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&(json.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&json);
    for s in snapshots {
        let v = Vec::<f32>::try_from(s.to_device(Device::Cpu).to_kind(Kind::Float).reshape([-1]))
            .map_err(MethodError::Torch)?;
        if v.len() as i64 != num_params {
            return Err(MethodError::Failed("snapshots of different sizes".into()));
        }
        for x in v {
            bytes.extend_from_slice(&x.to_le_bytes());
        }
    }
    let digest = Sha256::digest(&bytes);
    bytes.extend_from_slice(&digest);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(fail)?;
    }
    distillery_api::fsio::write_atomic(path, &bytes).map_err(fail)
}

/// Trains expert `i` of `plan` on `train` (normalised by the context) with the harness's fit
/// loop, recording the flat parameters at initialisation and after every epoch. Returns the
/// snapshots (CPU) and the expert's validation accuracy.
pub fn train_expert(
    ctx: &Context,
    plan: &ExpertPlan,
    i: usize,
    train: &Split,
    val: &Split,
    progress: &dyn Fn(usize, f64),
) -> Result<(Vec<Tensor>, Option<f64>), MethodError> {
    let seed = plan.expert_seed(i);
    let layout = ParamLayout::convnet(&plan.model, plan.in_shape, plan.classes)?;
    // The same seed derivation as Context::train_model.
    tch::manual_seed(derive_seed(seed, "train_model/init") as i64);
    let vs = tch::nn::VarStore::new(ctx.device());
    let net = ctx.build_model(&vs.root(), &plan.model, plan.in_shape);
    let params = layout.tensors_of(&vs)?;
    let mut snaps = vec![layout.flatten(&params).to_device(Device::Cpu)];
    let x = ctx.normalize(&train.images);
    let y = train.labels.to_device(ctx.device());
    let mut on_epoch = |e: usize, loss: f64, _n: &dyn Network| {
        snaps.push(layout.flatten(&params).to_device(Device::Cpu));
        progress(e + 1, loss);
        true
    };
    nn::fit(
        net.as_ref(),
        &vs,
        &x,
        Targets::Hard(&y),
        &plan.recipe,
        FitOptions {
            order_seed: derive_seed(seed, "train_model/order"),
            augment_seed: Some(derive_seed(seed, "train_model/augment")),
            dsa: Some(ctx.dsa()),
            on_epoch: Some(&mut on_epoch),
            ..Default::default()
        },
    )?;
    let val_acc = (!val.is_empty()).then(|| {
        let xv = ctx.normalize(&val.images);
        nn::evaluate(net.as_ref(), &xv, &val.labels, 500).0
    });
    Ok((snaps, val_acc))
}

/// What [`obtain`] did, for the cell's metadata.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ExpertReport {
    pub origins: Vec<Origin>,
    /// Wall time spent training experts in this call (0 when none was trained here).
    pub train_seconds: f64,
    /// Wall time spent waiting for experts another process was training.
    pub wait_seconds: f64,
    /// Wall time spent opening and verifying cache files.
    pub load_seconds: f64,
    pub val_accuracy: Vec<Option<f64>>,
    pub dir: PathBuf,
}

/// A lock file `<key>.lock` holding `host:pid`, removed on drop. Cells running in parallel
/// (and needing the same experts) train different experts instead of the same ones.
pub struct Lock {
    path: PathBuf,
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// What holds a lock file, if anyone alive does.
enum Holder {
    Nobody,
    /// A live process on this host (its pid).
    Alive(u32),
}

fn holder(path: &Path) -> Holder {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Holder::Nobody;
    };
    let Some((h, pid)) = text.trim().rsplit_once(':') else {
        return Holder::Nobody; // unreadable or half-written: treat as stale
    };
    let Ok(pid) = pid.parse::<u32>() else {
        return Holder::Nobody;
    };
    // A lock from another host cannot be checked: it is not waited for (at worst, the same
    // expert is trained twice, and the atomic rename keeps the file whole).
    if h != host() || !Path::new(&format!("/proc/{pid}")).exists() {
        return Holder::Nobody;
    }
    Holder::Alive(pid)
}

impl Lock {
    /// Takes the lock unless a live process on this host holds it (a stale lock is removed).
    pub fn try_acquire(path: &Path) -> Result<Result<Lock, u32>, MethodError> {
        for _ in 0..2 {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
            {
                Ok(mut f) => {
                    let _ = write!(f, "{}:{}", host(), std::process::id());
                    return Ok(Ok(Lock {
                        path: path.to_path_buf(),
                    }));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => match holder(path) {
                    Holder::Alive(pid) if pid != std::process::id() => return Ok(Err(pid)),
                    _ => {
                        let _ = std::fs::remove_file(path);
                    }
                },
                Err(e) => {
                    return Err(MethodError::Failed(format!(
                        "cannot create lock {}: {e}",
                        path.display()
                    )))
                }
            }
        }
        Ok(Err(0))
    }
}

/// The plan's experts, from `dir` where present and valid, trained (and cached) otherwise.
/// An expert another live process is training is waited for (the process trains the others
/// meanwhile). Progress goes from `lo` to `hi` over the experts that need training.
pub fn obtain(
    ctx: &Context,
    plan: &ExpertPlan,
    dir: &Path,
    train: &Split,
    val: &Split,
    (lo, hi): (f64, f64),
) -> Result<(Vec<Trajectory>, ExpertReport), MethodError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| MethodError::Failed(format!("cannot create {}: {e}", dir.display())))?;
    let t0 = std::time::Instant::now();
    let path_of = |i: usize| dir.join(format!("{}.traj", plan.key(i)));
    let mut slots: Vec<Option<Trajectory>> = Vec::new();
    let mut origins = Vec::new();
    for i in 0..plan.num_experts {
        match open(&path_of(i), &plan.key(i)) {
            Ok(Some(t)) => {
                slots.push(Some(t));
                origins.push(Origin::Cache);
            }
            Ok(None) => {
                slots.push(None);
                origins.push(Origin::Trained);
            }
            Err(why) => {
                slots.push(None);
                origins.push(Origin::Rebuilt(why));
            }
        }
    }
    let mut load_seconds = t0.elapsed().as_secs_f64();
    let mut pending: Vec<usize> = (0..plan.num_experts)
        .filter(|&i| slots[i].is_none())
        .collect();
    let total = pending.len();
    let (mut train_seconds, mut wait_seconds) = (0.0, 0.0);
    let epochs = plan.recipe.epochs;
    let mut done = 0usize;
    while !pending.is_empty() {
        let mut waiting_on = Vec::new();
        for &i in &pending.clone() {
            let key = plan.key(i);
            let path = path_of(i);
            // Another process may have written it meanwhile.
            if matches!(origins[i], Origin::Waited) {
                let t = std::time::Instant::now();
                let found = open(&path, &key);
                load_seconds += t.elapsed().as_secs_f64();
                if let Ok(Some(t)) = found {
                    slots[i] = Some(t);
                    pending.retain(|&j| j != i);
                    done += 1;
                    continue;
                }
            }
            let lock = match Lock::try_acquire(&dir.join(format!("{key}.lock")))? {
                Ok(lock) => lock,
                Err(pid) => {
                    origins[i] = Origin::Waited;
                    waiting_on.push((i, pid));
                    continue;
                }
            };
            // Holding the lock: another process may have written the file since the first
            // look (then it is used), or given up or died without writing it (then it is
            // trained here).
            if let Ok(Some(t)) = open(&path, &key) {
                origins[i] = Origin::Waited;
                slots[i] = Some(t);
                pending.retain(|&j| j != i);
                done += 1;
                continue;
            }
            if matches!(origins[i], Origin::Waited) {
                origins[i] = Origin::Trained;
            }
            let t1 = std::time::Instant::now();
            let span = (hi - lo) / total as f64;
            let base = lo + done as f64 * span;
            let what = format!(
                "training expert {}/{} ({} of {} missing from the cache)",
                i + 1,
                plan.num_experts,
                done + 1,
                total
            );
            ctx.progress(base, &what);
            let report = |e: usize, loss: f64| {
                ctx.progress(
                    base + span * e as f64 / epochs as f64,
                    &format!("{what}: epoch {e}/{epochs}, loss {loss:.3}"),
                )
            };
            let (snaps, val_acc) = train_expert(ctx, plan, i, train, val, &report)?;
            let meta = serde_json::json!({
                "description": plan.describe(i),
                "val_accuracy": val_acc,
            });
            write(&path, &key, meta, &snaps)?;
            drop(lock);
            let t = open(&path, &key)
                .map_err(|why| {
                    MethodError::Failed(format!(
                        "{} unusable right after writing: {why}",
                        path.display()
                    ))
                })?
                .ok_or_else(|| {
                    MethodError::Failed(format!("{} vanished after writing", path.display()))
                })?;
            slots[i] = Some(t);
            pending.retain(|&j| j != i);
            done += 1;
            train_seconds += t1.elapsed().as_secs_f64();
        }
        if !waiting_on.is_empty() && !pending.is_empty() {
            let (i, pid) = waiting_on[0];
            ctx.progress(
                lo + (hi - lo) * done as f64 / total.max(1) as f64,
                &format!(
                    "waiting for expert {}/{} (being trained by process {pid})",
                    i + 1,
                    plan.num_experts
                ),
            );
            let t = std::time::Instant::now();
            std::thread::sleep(std::time::Duration::from_millis(500));
            wait_seconds += t.elapsed().as_secs_f64();
        }
    }
    let trajectories: Vec<Trajectory> = slots.into_iter().map(|t| t.expect("filled")).collect();
    let val_accuracy = trajectories.iter().map(|t| t.val_accuracy()).collect();
    Ok((
        trajectories,
        ExpertReport {
            origins,
            train_seconds,
            wait_seconds,
            load_seconds,
            val_accuracy,
            dir: dir.to_path_buf(),
        },
    ))
}
