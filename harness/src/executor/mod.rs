//! Executors: run the plan's cells, each in its own `bench __cell` process, skipping cells
//! whose record is already there and current, and write one record per cell.
//!
//! - [`local`]: child processes on this machine, `jobs` at a time (the default).
//! - [`slurm`]: one Slurm job array whose tasks run the cells (`bench --executor slurm`).
//! - [`claim`]: the per-cell and per-cache-entry locks that let several `bench` processes
//!   share one output folder and one per-user cache: a cell runs in exactly one process at a
//!   time, and one whose record appears while another process waits for it is reused.

pub mod claim;
pub mod local;
pub mod slurm;

use crate::plan::{CellSpec, Plan};
use crate::plugin::Plugin;
use crate::record::{self, Record, Status};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub use local::run;

/// What every executor is given.
pub struct Options {
    /// The output folder: `plan.json`, `cells/`, `logs/`, `locks/`.
    pub out: PathBuf,
    /// Cells run in parallel (local executor).
    pub jobs: usize,
    /// Reuse reference (`full`) records from the per-user cache.
    pub reference_cache: Option<PathBuf>,
    /// Cells of one budget run in one process with their students trained as one grouped
    /// model, up to this many (local executor; 1 = every cell alone). See `--group`.
    pub group: usize,
}

/// The per-user cache root: `$XDG_CACHE_HOME/distillery` or `~/.cache/distillery`.
pub fn cache_root() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("distillery"))
}

/// The default per-user cache folder for reference cells.
pub fn default_cache_dir() -> Option<PathBuf> {
    Some(cache_root()?.join("reference"))
}

fn cache_key(plan: &Plan, cell: &CellSpec, plugin: &Plugin) -> String {
    use sha2::{Digest, Sha256};
    let v = crate::provenance::versions();
    // The machine and thread count too: CPU results are bit-identical per seed only on the same
    // CPU model, libtorch CPU capability and threads per cell, so a cache shared across
    // machines (a home folder on a cluster's shared filesystem) never mixes them.
    let m = crate::provenance::machine();
    let key = format!(
        "{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}",
        plan.protocol_hash,
        plan.dataset_checksum,
        cell.method,
        plugin.info.version,
        cell.seed,
        plan.device,
        v.distillery,
        v.libtorch,
        v.api,
        m.cpu_model,
        m.cpu_capability,
        plan.threads_per_cell
    );
    hex::encode(&Sha256::digest(key.as_bytes())[..16])
}

/// The reference-cache file of a reference cell, and the lock its builder holds while the
/// cell runs; `None` when the cache is off, the cell has a budget or its plugin is unknown.
fn reference_entry(
    opts: &Options,
    plan: &Plan,
    cell: &CellSpec,
    plugin: Option<&Plugin>,
) -> Option<(PathBuf, PathBuf)> {
    let (Some(cache), None, Some(p)) = (&opts.reference_cache, cell.budget, plugin) else {
        return None;
    };
    let key = cache_key(plan, cell, p);
    Some((
        cache.join(format!("{key}.json")),
        cache.join("locks").join(format!("{key}.lock")),
    ))
}

/// A finished record is reused only if it was made under the same protocol, dataset, plugin
/// version and method configuration (records from before the configuration was recorded ran
/// with the protocol's own table).
pub fn is_current(r: &Record, plan: &Plan, plugin: Option<&Plugin>) -> bool {
    let config_same = || {
        let Ok(loaded) = plan.protocol() else {
            return false;
        };
        let wanted = plan.method_config(&loaded, &r.method);
        if r.method_config.is_null() {
            wanted == loaded.method_config(&r.method)
        } else {
            r.method_config == wanted
        }
    };
    r.status == Status::Ok
        && r.protocol.hash == plan.protocol_hash
        && r.dataset.checksum == plan.dataset_checksum
        && plugin.is_some_and(|p| p.info.version == r.plugin_version)
        && config_same()
}

/// What [`check_existing`] found for a cell.
pub enum Found {
    /// A current record (in the output folder, or copied there from the reference cache).
    Done(Box<Record>),
    /// Nothing usable: the cell must run (anything in the way was moved aside or removed).
    Todo,
}

/// A free name for a replaced record in `stale/`: `<id>.<tag>.json`, else `<id>.<tag>.2.json`,
/// `.3`, …, so successive replaced versions of one cell (e.g. three versions of an imported
/// file, which share the protocol hash) never overwrite each other.
pub fn stale_destination(stale: &Path, cell_id: &str, tag: &str) -> PathBuf {
    let first = stale.join(format!("{cell_id}.{tag}.json"));
    if !first.exists() {
        return first;
    }
    (2..)
        .map(|n| stale.join(format!("{cell_id}.{tag}.{n}.json")))
        .find(|p| !p.exists())
        .expect("a free name")
}

/// Decides, for one cell, whether its record in `opts.out` (or the reference cache) can be
/// reused. Call it while holding the cell's claim: an outdated record is moved to
/// `cells/stale/` (under a name of its own, said on standard error), an earlier failure is
/// removed, an unreadable record is moved aside.
///
/// # Errors
/// Files that cannot be moved or written.
pub fn check_existing(
    plan: &Plan,
    cell: &CellSpec,
    plugin: Option<&Plugin>,
    opts: &Options,
) -> anyhow::Result<Found> {
    let out = &opts.out;
    let path = record::path_for(out, &cell.id);
    if path.exists() {
        let stale = out.join("cells").join("stale");
        match record::read(&path) {
            Ok(r) if is_current(&r, plan, plugin) => return Ok(Found::Done(Box::new(r))),
            Ok(r) if r.status == Status::Ok => {
                // Made under another protocol, dataset or plugin version: keep it aside.
                std::fs::create_dir_all(&stale)?;
                let dest = stale_destination(
                    &stale,
                    &cell.id,
                    &r.protocol.hash[..12.min(r.protocol.hash.len())],
                );
                std::fs::rename(&path, &dest)?;
                eprintln!(
                    "note: {} was made under another protocol/dataset/plugin version; moved to {}",
                    cell.id,
                    dest.display()
                );
            }
            Ok(_) => std::fs::remove_file(&path)?, // an earlier failure: run again
            Err(e) => {
                // Unreadable: keep it for inspection, out of the way of the new record.
                std::fs::create_dir_all(&stale)?;
                let dest = stale_destination(&stale, &cell.id, "unreadable");
                std::fs::rename(&path, &dest)?;
                eprintln!(
                    "note: {e}; moved aside to {}, running the cell again",
                    dest.display()
                );
            }
        }
    }
    if let Some((cached, _)) = reference_entry(opts, plan, cell, plugin) {
        if let Ok(mut r) = record::read(&cached) {
            if is_current(&r, plan, plugin) {
                r.cached_from = Some(cached.display().to_string());
                record::write_atomic(&path, &r)?;
                return Ok(Found::Done(Box::new(r)));
            }
        }
    }
    Ok(Found::Todo)
}

/// Stores a finished reference record in the per-user cache (atomically; best effort).
fn store_reference(
    opts: &Options,
    plan: &Plan,
    cell: &CellSpec,
    plugin: Option<&Plugin>,
    rec: &Record,
) {
    if rec.status == Status::Ok {
        if let Some((cached, _)) = reference_entry(opts, plan, cell, plugin) {
            let _ = record::write_atomic(&cached, rec);
        }
    }
}

/// Makes the output folder's `cells/` and `logs/` and writes the plan to `plan.json` (what
/// every cell process reads); returns that path. Both executors start here.
fn prepare_out(out: &Path, plan: &Plan) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(out.join("cells"))?;
    std::fs::create_dir_all(out.join("logs"))?;
    let plan_path = out.join("plan.json");
    record::write_atomic(&plan_path, plan)?;
    Ok(plan_path)
}

/// The plugins of the plan's cells (an imported cell's importer carries its file's hash).
fn plugins_of(plan: &Plan, plugins: &HashMap<String, Plugin>) -> HashMap<String, Option<Plugin>> {
    plan.cells
        .iter()
        .map(|c| (c.id.clone(), crate::import::loaded_plugin_for(c, plugins)))
        .collect()
}

fn log_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let v: Vec<&str> = text.lines().collect();
    v[v.len().saturating_sub(lines)..].join("\n")
}

fn label_of(c: &CellSpec) -> String {
    c.budget.map(|b| b.label()).unwrap_or_else(|| "full".into())
}

/// A duration for progress lines: `42s`, `3m05s`, `2h10m`.
pub fn fmt_secs(s: f64) -> String {
    let s = s.max(0.0).round() as u64;
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

fn failed_record(
    plan: &Plan,
    cell: &CellSpec,
    plugin: Option<&Plugin>,
    reason: String,
    secs: f64,
) -> Record {
    let dataset = record::DatasetRef {
        name: plan.dataset.clone(),
        checksum: plan.dataset_checksum.clone(),
        classes: 0,
        shape: [0, 0, 0],
        train: 0,
        val: 0,
        test: 0,
        source: None,
    };
    let mut rec = crate::provenance::skeleton(plan, cell, plugin, dataset);
    rec.timings.total_seconds = secs;
    rec.error = Some(reason);
    rec.finished_at = record::now();
    rec
}
