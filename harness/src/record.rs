//! Cell records: one JSON file per finished (method, budget, seed) cell, written atomically
//! (temporary file, fsync, rename) so a killed run loses at most the cell in flight and a
//! reader never sees half a record.

use crate::train::Evaluation;
use crate::validate::Storage;
use distillery_api::{Budget, Seeds};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

pub const SCHEMA: u32 = 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Failed,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ProtocolRef {
    pub name: String,
    pub version: String,
    pub hash: String,
    pub origin: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct DatasetRef {
    pub name: String,
    pub checksum: String,
    pub classes: usize,
    pub shape: [i64; 3],
    pub train: usize,
    pub val: usize,
    pub test: usize,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Versions {
    pub distillery: String,
    pub api: String,
    pub rustc: String,
    pub tch: String,
    pub libtorch: String,
}

impl Versions {
    pub fn current() -> Self {
        Versions {
            distillery: crate::VERSION.into(),
            api: distillery_api::API_VERSION.into(),
            rustc: distillery_api::RUSTC_VERSION.into(),
            tch: distillery_api::TCH_VERSION.into(),
            libtorch: distillery_api::LIBTORCH_VERSION.into(),
        }
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Timings {
    pub load_seconds: f64,
    pub compress_seconds: f64,
    pub train_seconds: f64,
    pub eval_seconds: f64,
    pub total_seconds: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Record {
    pub schema: u32,
    pub status: Status,
    pub cell_id: String,
    pub method: String,
    pub family: String,
    pub plugin_version: String,
    pub plugin_path: String,
    /// `None` for reference cells (`full`), which have no budget.
    pub budget: Option<Budget>,
    pub budget_label: String,
    pub seed: u64,
    pub seeds: Seeds,
    pub protocol: ProtocolRef,
    pub dataset: DatasetRef,
    pub device: String,
    pub threads: usize,
    /// True on CPU (bit-identical per seed); false on GPU (nondeterministic kernels).
    pub deterministic: bool,
    pub versions: Versions,
    pub evaluation: Option<Evaluation>,
    pub storage: Option<Storage>,
    pub per_class: Option<Vec<usize>>,
    pub timings: Timings,
    /// Peak resident memory of the cell's process (harness + plugin), bytes.
    pub peak_rss_bytes: u64,
    /// Peak resident memory of the process when the method returned (data loading + the
    /// method's own work, before the student is trained), bytes.
    #[serde(default)]
    pub compress_peak_rss_bytes: u64,
    pub method_metadata: serde_json::Value,
    /// The method's effective `[methods.<name>]` configuration (protocol table with any
    /// `--method-config` table merged over it). Absent in records written before it existed.
    #[serde(default)]
    pub method_config: serde_json::Value,
    /// The protocol's label mode (`hard`, `soft`, `native`); empty in older records (hard).
    #[serde(default)]
    pub labels: String,
    /// The teacher the student's labels came from, with its own accuracy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teacher: Option<TeacherRecord>,
    pub error: Option<String>,
    /// Set when this record was copied from the reference cache.
    pub cached_from: Option<String>,
    /// Seconds since the Unix epoch.
    pub finished_at: u64,
}

/// A teacher as recorded next to the cells that used it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TeacherRecord {
    /// Content key of its cache entry (`~/.cache/distillery/teachers/<key>`).
    pub key: String,
    pub model: String,
    /// Validation accuracy of the kept epoch (what it was selected on), a fraction.
    pub val_acc: f64,
    /// Its own top-1 on the test split, a fraction (measured by the harness, never used to
    /// choose anything).
    pub test_acc: f64,
    pub best_epoch: usize,
    pub epochs_run: usize,
    pub parameters: i64,
    pub parameter_bytes: u64,
    pub from_cache: bool,
    pub train_seconds: f64,
}

impl TeacherRecord {
    pub fn new(t: &distillery_api::teacher::Teacher, test_acc: f64) -> Self {
        Self {
            key: t.info.key.clone(),
            model: t.info.spec.model.describe(),
            val_acc: t.info.val_acc,
            test_acc,
            best_epoch: t.info.best_epoch,
            epochs_run: t.info.epochs_run,
            parameters: t.info.parameters,
            parameter_bytes: t.info.parameter_bytes,
            from_cache: t.from_cache,
            train_seconds: t.info.train_seconds,
        }
    }
}

impl Record {
    /// The record of `cell` before anything has run (status `Failed`, nothing measured): the
    /// one skeleton both the cell process and, for a crashed cell, the executor fill in.
    pub fn skeleton(
        plan: &crate::plan::Plan,
        cell: &crate::plan::CellSpec,
        plugin: Option<&crate::plugin::Plugin>,
        dataset: DatasetRef,
    ) -> Record {
        let loaded = plan.protocol().ok();
        let from_protocol = |f: fn(&crate::protocol::Protocol) -> &String| {
            loaded
                .as_ref()
                .map(|l| f(&l.protocol).clone())
                .unwrap_or_default()
        };
        Record {
            schema: SCHEMA,
            status: Status::Failed,
            cell_id: cell.id.clone(),
            method: cell.method.clone(),
            family: plugin
                .map(|p| p.info.family.as_str().to_string())
                .unwrap_or_default(),
            plugin_version: plugin.map(|p| p.info.version.clone()).unwrap_or_default(),
            plugin_path: plugin
                .map(|p| p.path.display().to_string())
                .unwrap_or_default(),
            budget: cell.budget,
            budget_label: cell
                .budget
                .map(|b| b.label())
                .unwrap_or_else(|| "full".into()),
            seed: cell.seed,
            seeds: cell.seeds,
            protocol: ProtocolRef {
                name: from_protocol(|p| &p.name),
                version: from_protocol(|p| &p.version),
                hash: plan.protocol_hash.clone(),
                origin: plan.protocol_origin.clone(),
            },
            dataset,
            device: plan.device.clone(),
            threads: plan.threads_per_cell,
            deterministic: plan.device == "cpu",
            versions: Versions::current(),
            evaluation: None,
            storage: None,
            per_class: None,
            timings: Timings::default(),
            peak_rss_bytes: 0,
            compress_peak_rss_bytes: 0,
            method_metadata: serde_json::Value::Null,
            method_config: loaded
                .as_ref()
                .map(|l| plan.method_config(l, &cell.method))
                .unwrap_or_default(),
            labels: loaded
                .as_ref()
                .map(|l| l.protocol.labels.as_str().to_string())
                .unwrap_or_default(),
            teacher: None,
            error: None,
            cached_from: None,
            finished_at: 0,
        }
    }

    pub fn accuracy(&self) -> Option<f64> {
        self.evaluation.as_ref().map(|e| e.top1)
    }
}

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `<out>/cells/<id>.json`.
pub fn path_for(out: &Path, id: &str) -> PathBuf {
    out.join("cells").join(format!("{id}.json"))
}

/// Writes `value` as pretty JSON to `path` atomically.
pub fn write_atomic<T: Serialize>(path: &Path, value: &T) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name().unwrap().to_string_lossy(),
        std::process::id()
    ));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(
            serde_json::to_string_pretty(value)
                .map_err(std::io::Error::other)?
                .as_bytes(),
        )?;
        f.write_all(b"\n")?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

pub fn read(path: &Path) -> anyhow::Result<Record> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("{}: cannot read: {e}", path.display()))?;
    serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{}: not a Distillery cell record: {e}", path.display()))
}

/// Every record under `<dir>/cells` (sorted by id), with unreadable files reported, not skipped silently.
pub fn read_all(dir: &Path) -> anyhow::Result<(Vec<Record>, Vec<String>)> {
    let cells = dir.join("cells");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&cells)
        .map_err(|e| {
            anyhow::anyhow!(
                "{}: no cell records here ({e}); is this a `bench --out` directory?",
                cells.display()
            )
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().is_some_and(|x| x == "json")
                && !p.file_name().unwrap().to_string_lossy().starts_with('.')
        })
        .collect();
    paths.sort();
    let (mut ok, mut bad) = (Vec::new(), Vec::new());
    for p in paths {
        match read(&p) {
            Ok(r) => ok.push(r),
            Err(e) => bad.push(e.to_string()),
        }
    }
    Ok((ok, bad))
}

/// Peak resident set size of this process (Linux `VmHWM`), bytes.
pub fn peak_rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}
