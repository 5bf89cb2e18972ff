//! "Resolve the run": from what was typed, the loaded protocol, the plugins found and the
//! method-config overrides, decide what a run will do, before anything runs.
//!
//! [`resolve`] is pure: no I/O and no printing (the caller reads the environment into a
//! [`RunEnv`], loads the files, and prints [`ResolvedRun::baseline_note`]), so that the rules
//! below are unit-tested without a process:
//! - budgets: `--ipc`/`--fraction`/`--bytes` (checked), else the protocol's IPC list;
//! - seeds: `--seeds`, else the protocol's; at least 1;
//! - methods: `--methods` (`all`: every usable plugin, by name), else the protocol's; `file:PATH`
//!   entries and `--from` are imported sets, not plugins; every name must be a usable plugin;
//! - duplicates (`--ipc 1,1`, `--methods random,random`, the same `file:` path twice) are
//!   dropped, the first occurrence kept, with one note naming them all
//!   ([`ResolvedRun::duplicate_note`]): each cell is planned once;
//! - the `random` baseline is added in front when any competing method (not a reference line)
//!   or an imported set runs, with a note saying so;
//! - every `[methods.<name>]` table of `--method-config` must name a usable plugin;
//! - threads: `--threads`, else `SLURM_CPUS_PER_TASK`, else the machine's CPUs; jobs:
//!   `--jobs`, else one per thread on the CPU and on a GPU as many as its free memory holds
//!   ([`crate::gpu::default_gpu_jobs`]; 1 when unknown), clamped to 1..=threads, and when
//!   cells are grouped on a GPU at most [`crate::gpu::GROUPED_GPU_JOBS`]; each
//!   cell gets threads / jobs threads (at least 1); group: `--group` ([`group_size`]);
//! - output: `--out`, else `bench-out/<protocol>/<dataset name>` for the embedded dataset and
//!   `bench-out/<protocol>/<dataset name>-<first 8 hex digits of its content checksum>` for any
//!   other, so that two different datasets whose folders have the same name never share a
//!   default output folder.

use super::args;
use super::run::RunArgs;
use crate::error::BenchError;
use crate::method_config::Overrides;
use crate::protocol::Protocol;
use crate::report::BASELINE;
use distillery_api::{Budget, Family};
use std::path::PathBuf;

/// What the run needs from the process environment, read by the caller.
#[derive(Clone, Debug, Default)]
pub struct RunEnv {
    /// The value of `SLURM_CPUS_PER_TASK`, if set (used when it is a number).
    pub slurm_cpus_per_task: Option<String>,
    /// The CPUs this process may use (`std::thread::available_parallelism`).
    pub available_cpus: usize,
    /// Free memory of the run's CUDA device in MiB (`None`: not a GPU run, or unknown).
    pub gpu_free_mib: Option<u64>,
    /// The GPU memory one cell process is planned with, MiB (`DISTILLERY_GPU_CELL_MIB`, else
    /// [`crate::gpu::DEFAULT_CELL_MIB`]); used only with `gpu_free_mib`.
    pub gpu_cell_mib: u64,
}

impl RunEnv {
    /// Reads `SLURM_CPUS_PER_TASK` and the available parallelism of this process.
    pub fn of_process() -> RunEnv {
        RunEnv {
            slurm_cpus_per_task: std::env::var("SLURM_CPUS_PER_TASK").ok(),
            available_cpus: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            gpu_free_mib: None,
            gpu_cell_mib: crate::gpu::DEFAULT_CELL_MIB,
        }
    }

    /// On a CUDA device, adds its free memory (nvidia-smi) and the planned per-cell footprint
    /// (`DISTILLERY_GPU_CELL_MIB`); on any other device, returns `self` unchanged.
    pub fn with_gpu(mut self, device: tch::Device) -> RunEnv {
        if let tch::Device::Cuda(i) = device {
            self.gpu_free_mib = crate::gpu::free_memory_mib(i);
            self.gpu_cell_mib =
                crate::gpu::cell_mib(std::env::var("DISTILLERY_GPU_CELL_MIB").ok().as_deref());
        }
        self
    }
}

/// Everything a run was resolved to, before the plan is built.
#[derive(Clone, Debug)]
pub struct ResolvedRun {
    /// The budgets, in the order given (`--ipc`, then `--fraction`, then `--bytes`).
    pub budgets: Vec<Budget>,
    /// Seeds per cell (the run seeds are `0..seeds`).
    pub seeds: usize,
    /// The plugin methods to run with their families, the baseline first when added.
    pub methods: Vec<(String, Family)>,
    /// Compressed sets to import (`--methods file:PATH` and `--from`), in order.
    pub imported: Vec<PathBuf>,
    /// Set when the baseline was added: the note to show the user (without `note: `).
    pub baseline_note: Option<String>,
    /// Set when duplicate budgets, methods or imported paths were dropped: one note naming
    /// them, to show the user once (without `note: `).
    pub duplicate_note: Option<String>,
    /// Total CPU threads of the run.
    pub threads: usize,
    /// Cells run in parallel.
    pub jobs: usize,
    /// CPU threads of each cell.
    pub threads_per_cell: usize,
    /// Where the records go.
    pub out: PathBuf,
    /// The `--method-config` tables by method name (empty without the option).
    pub method_overrides: Overrides,
    /// Cells per grouped model (1: every cell alone), from `--group` ([`group_size`]).
    pub group: usize,
    /// Set when `--group N` was asked for but this protocol's cells cannot be grouped: the
    /// note to show the user (without `note: `).
    pub group_note: Option<String>,
}

/// Resolves a run (see the module docs for the rules).
///
/// - `dataset_name`, `dataset_checksum`: the name and content checksum (hex) of the loaded
///   dataset (the default output directory uses them);
/// - `device`: the resolved `--device` (jobs default to one per thread on the CPU only);
/// - `plugins`: name and family of every usable plugin;
/// - `overrides`: the tables read from `args.method_config` (empty without it).
///
/// Errors (exit 2; texts as `bench` has always printed them): [`BenchError::Usage`] for a
/// budget or `--seeds`, [`BenchError::UnknownMethod`] for a method (or the baseline) with no
/// usable plugin, [`BenchError::Input`] for a `--method-config` table that names none.
#[allow(clippy::too_many_arguments)]
pub fn resolve(
    args: &RunArgs,
    protocol: &Protocol,
    dataset_name: &str,
    dataset_checksum: &str,
    device: tch::Device,
    plugins: &[(String, Family)],
    overrides: Overrides,
    env: &RunEnv,
) -> Result<ResolvedRun, BenchError> {
    let mut duplicates: Vec<String> = Vec::new();
    let budgets = dedup(
        args.budget.resolve(&protocol.defaults.ipc)?,
        |b| b.header(),
        "budget",
        &mut duplicates,
    );
    let seeds = args.seeds.unwrap_or(protocol.defaults.seeds);
    if seeds == 0 {
        return Err(BenchError::Usage("--seeds must be at least 1".into()));
    }

    let family_of = |m: &str| -> Result<Family, BenchError> {
        plugins
            .iter()
            .find(|(n, _)| n == m)
            .map(|(_, f)| *f)
            .ok_or_else(|| BenchError::UnknownMethod(m.to_string()))
    };
    // `file:PATH` entries (and --from) are sets imported from files, not plugins.
    let (named, imported) =
        crate::import::split_methods(args.methods.as_deref().unwrap_or_default(), &args.from);
    let named = dedup(named, |m| m.clone(), "method", &mut duplicates);
    let imported = dedup(
        imported,
        |p| format!("file:{}", p.display()),
        "imported set",
        &mut duplicates,
    );
    let wanted: Vec<String> = match args.methods.as_ref().map(|_| &named) {
        Some(m) if m.len() == 1 && m[0] == "all" => {
            let mut v: Vec<String> = plugins.iter().map(|(n, _)| n.clone()).collect();
            v.sort();
            v
        }
        Some(m) => m.clone(),
        None => protocol.defaults.methods.clone(),
    };
    let mut methods = Vec::new();
    for m in &wanted {
        methods.push((m.clone(), family_of(m)?));
    }
    if let Some(f) = &args.method_config {
        if let Some(unknown) = overrides.keys().find(|k| family_of(k).is_err()) {
            return Err(BenchError::input(format!(
                "method config {}: [methods.{unknown}] names no installed plugin",
                f.display()
            )));
        }
    }
    // The random baseline runs in every table that has a competing method.
    let mut baseline_note = None;
    if !methods.iter().any(|(m, _)| m == BASELINE)
        && (!imported.is_empty() || methods.iter().any(|(_, f)| *f != Family::Reference))
    {
        methods.insert(0, (BASELINE.into(), family_of(BASELINE)?));
        baseline_note = Some(format!(
            "added the '{BASELINE}' baseline: every method is compared with it"
        ));
    }

    let cpus = args::cpus(env.slurm_cpus_per_task.as_deref(), env.available_cpus);
    let threads = args.threads.resolve(cpus);
    let jobs = args
        .jobs
        .unwrap_or(match device {
            tch::Device::Cpu => threads,
            tch::Device::Cuda(_) => {
                crate::gpu::default_gpu_jobs(env.gpu_free_mib, env.gpu_cell_mib, threads)
            }
            _ => 1,
        })
        .clamp(1, threads);
    let (group, group_note) = group_size(args.group, device, protocol);
    // Grouped processes on a GPU: the measured number of them, unless --jobs says otherwise.
    let jobs = if group > 1 && device.is_cuda() && args.jobs.is_none() {
        jobs.min(crate::gpu::GROUPED_GPU_JOBS)
    } else {
        jobs
    };
    let threads_per_cell = (threads / jobs).max(1);
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| default_out(&protocol.name, dataset_name, dataset_checksum));
    let duplicate_note = (!duplicates.is_empty()).then(|| {
        format!(
            "ignored duplicate entries (each cell runs once): {}",
            duplicates.join(", ")
        )
    });
    Ok(ResolvedRun {
        group,
        group_note,
        budgets,
        seeds,
        methods,
        imported,
        baseline_note,
        duplicate_note,
        threads,
        jobs,
        threads_per_cell,
        out,
        method_overrides: overrides,
    })
}

/// Cells per grouped model for `--group` on `device` under `protocol`, and a note when the
/// user asked for grouping that this protocol cannot have. `auto` groups on a GPU only
/// ([`crate::gpu::AUTO_GPU_GROUP`] cells): on the CPU a grouped step was measured slower than
/// separate steps (README, "Timing"). Grouping needs a hard-label protocol whose student and
/// recipe [`distillery_api::nn::grouped::GroupedFit::eligible`] accepts.
pub fn group_size(
    policy: args::GroupPolicy,
    device: tch::Device,
    protocol: &Protocol,
) -> (usize, Option<String>) {
    let wanted = match policy {
        args::GroupPolicy::Off => 1,
        args::GroupPolicy::Max(n) => n,
        args::GroupPolicy::Auto if device.is_cuda() => crate::gpu::AUTO_GPU_GROUP,
        args::GroupPolicy::Auto => 1,
    };
    if wanted <= 1 {
        return (1, None);
    }
    let why = if protocol.labels != crate::protocol::LabelMode::Hard {
        Some("its labels are not hard labels".to_string())
    } else {
        distillery_api::nn::grouped::GroupedFit::eligible(&protocol.student, &protocol.train)
            .err()
            .map(|e| e.to_string())
    };
    match (why, policy) {
        (None, _) => (wanted, None),
        (Some(_), args::GroupPolicy::Auto) => (1, None),
        (Some(why), _) => (
            1,
            Some(format!(
                "--group {wanted} ignored: protocol '{}' cannot train cells grouped ({why}); every cell trains alone",
                protocol.name
            )),
        ),
    }
}

/// `items` without repeats (by `key`), first occurrences kept in order; each dropped repeat
/// is described in `dropped` as `<what> <key>` (once per distinct key, with `×n` when it was
/// given n times).
fn dedup<T>(
    items: Vec<T>,
    key: impl Fn(&T) -> String,
    what: &str,
    dropped: &mut Vec<String>,
) -> Vec<T> {
    let mut seen: Vec<(String, usize)> = Vec::new();
    let mut out = Vec::new();
    for it in items {
        let k = key(&it);
        match seen.iter_mut().find(|(s, _)| *s == k) {
            Some((_, n)) => *n += 1,
            None => {
                seen.push((k, 1));
                out.push(it);
            }
        }
    }
    dropped.extend(
        seen.into_iter()
            .filter(|(_, n)| *n > 1)
            .map(|(k, n)| format!("{what} {k} (given {n} times)")),
    );
    out
}

/// The default output folder of a run: `bench-out/<protocol>/<dataset name>` for the embedded
/// dataset (its name is unique: it is built in), `bench-out/<protocol>/<name>-<checksum[..8]>`
/// for a dataset read from a path, whose folder name says nothing about its content.
pub fn default_out(protocol: &str, dataset_name: &str, dataset_checksum: &str) -> PathBuf {
    let base = PathBuf::from("bench-out").join(protocol);
    if dataset_checksum == crate::data::MNIST_5K_CHECKSUM || dataset_checksum.len() < 8 {
        base.join(dataset_name)
    } else {
        base.join(format!("{dataset_name}-{}", &dataset_checksum[..8]))
    }
}

#[cfg(test)]
mod tests;
