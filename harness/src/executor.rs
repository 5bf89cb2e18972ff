//! The local executor: runs the plan's cells as child processes (`bench __cell`), `jobs` at a
//! time, skipping cells whose record is already there and current. A child that crashes
//! (segfault, abort, out of memory) fails its cell only; the parent records why.

use crate::plan::{CellSpec, Plan};
use crate::plugin::Plugin;
use crate::record::{self, Record, Status};
use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Options {
    pub out: PathBuf,
    pub jobs: usize,
    /// Reuse reference (`full`) records from the per-user cache.
    pub reference_cache: Option<PathBuf>,
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
    let key = format!(
        "{}|{}|{}|{}|{}|{}|{}|{}|{}",
        plan.protocol_hash,
        plan.dataset_checksum,
        cell.method,
        plugin.info.version,
        cell.seed,
        plan.device,
        v.distillery,
        v.libtorch,
        v.api
    );
    hex::encode(&Sha256::digest(key.as_bytes())[..16])
}

/// A finished record is reused only if it was made under the same protocol, dataset, plugin
/// version and method configuration (records from before the configuration was recorded ran
/// with the protocol's own table).
fn is_current(r: &Record, plan: &Plan, plugin: Option<&Plugin>) -> bool {
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

fn log_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let v: Vec<&str> = text.lines().collect();
    v[v.len().saturating_sub(lines)..].join("\n")
}

#[cfg(unix)]
fn describe_exit(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    if let Some(sig) = status.signal() {
        let name = match sig {
            4 => "SIGILL",
            6 => "SIGABRT (abort)",
            7 => "SIGBUS",
            9 => "SIGKILL (killed, often out of memory)",
            11 => "SIGSEGV (segmentation fault)",
            15 => "SIGTERM",
            _ => "signal",
        };
        format!("the cell's process was killed by signal {sig} {name}")
    } else {
        format!(
            "the cell's process exited with status {}",
            status.code().unwrap_or(-1)
        )
    }
}

struct Running {
    cell: CellSpec,
    child: Child,
    log: PathBuf,
    started: Instant,
}

/// Runs every cell of the plan; returns the records of all cells (finished earlier or now).
pub fn run(
    plan: &Plan,
    plugins: &HashMap<String, Plugin>,
    opts: &Options,
) -> anyhow::Result<Vec<Record>> {
    let out = &opts.out;
    std::fs::create_dir_all(out.join("cells"))?;
    std::fs::create_dir_all(out.join("logs"))?;
    let plan_path = out.join("plan.json");
    record::write_atomic(&plan_path, plan)?;

    let mut todo: Vec<CellSpec> = Vec::new();
    let mut done: Vec<Record> = Vec::new();
    for cell in &plan.cells {
        let path = record::path_for(out, &cell.id);
        // The importer for a set imported from a file: its version carries the file's hash.
        let owned = crate::import::loaded_plugin_for(cell, plugins);
        let plugin = owned.as_ref();
        if path.exists() {
            match record::read(&path) {
                Ok(r) if is_current(&r, plan, plugin) => {
                    done.push(r);
                    continue;
                }
                Ok(r) if r.status == Status::Ok => {
                    // Made under another protocol, dataset or plugin version: keep it aside.
                    let stale = out.join("cells").join("stale");
                    std::fs::create_dir_all(&stale)?;
                    let dest = stale.join(format!(
                        "{}.{}.json",
                        cell.id,
                        &r.protocol.hash[..12.min(r.protocol.hash.len())]
                    ));
                    std::fs::rename(&path, &dest)?;
                    eprintln!("note: {} was made under another protocol/dataset/plugin version; moved to {}", cell.id, dest.display());
                }
                Ok(_) => std::fs::remove_file(&path)?, // an earlier failure: run again
                Err(e) => {
                    // Unreadable: keep it for inspection, out of the way of the new record.
                    let stale = out.join("cells").join("stale");
                    std::fs::create_dir_all(&stale)?;
                    std::fs::rename(&path, stale.join(format!("{}.unreadable.json", cell.id)))?;
                    eprintln!("note: {e}; moved aside, running the cell again");
                }
            }
        }
        if let (Some(cache), None, Some(p)) = (&opts.reference_cache, cell.budget, plugin) {
            let cached = cache.join(format!("{}.json", cache_key(plan, cell, p)));
            if let Ok(mut r) = record::read(&cached) {
                if is_current(&r, plan, Some(p)) {
                    r.cached_from = Some(cached.display().to_string());
                    record::write_atomic(&path, &r)?;
                    done.push(r);
                    continue;
                }
            }
        }
        todo.push(cell.clone());
    }

    let total = plan.cells.len();
    let skipped = done.len();
    if skipped > 0 {
        eprintln!(
            "{skipped} of {total} cells already finished in {} (reused)",
            out.display()
        );
    }
    let tty = std::io::stderr().is_terminal();
    let bar = indicatif::ProgressBar::new(total as u64);
    if tty {
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} cells, ETA {eta} {msg}",
            )
            .unwrap(),
        );
        bar.set_position(skipped as u64);
    } else {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let exe = std::env::current_exe()?;
    // Longest first (reference cells, then larger budgets): with several cells in parallel the
    // run then ends on short cells instead of one long straggler. Stable: plan order otherwise.
    todo.sort_by(|a, b| {
        cost_rank(b)
            .partial_cmp(&cost_rank(a))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let mut queue: std::collections::VecDeque<CellSpec> = todo.into();
    // Wall time of the cells finished in this run, by budget label (for the ETA).
    let mut durations: HashMap<String, Vec<f64>> = HashMap::new();
    let mut running: Vec<Running> = Vec::new();
    let mut finished_now = 0usize;
    loop {
        while running.len() < opts.jobs.max(1) {
            let Some(cell) = queue.pop_front() else { break };
            let log = out.join("logs").join(format!("{}.log", cell.id));
            let f = std::fs::File::create(&log)?;
            let child = Command::new(&exe)
                .args(["__cell", "--plan"])
                .arg(&plan_path)
                .args(["--cell", &cell.id])
                .stdin(Stdio::null())
                .stdout(f.try_clone()?)
                .stderr(f)
                .spawn()
                .map_err(|e| {
                    anyhow::anyhow!(
                        "cannot start the cell process {} for {}: {e} (was bench rebuilt or removed while running?)",
                        exe.display(),
                        cell.id
                    )
                })?;
            running.push(Running {
                cell,
                child,
                log,
                started: Instant::now(),
            });
        }
        if running.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
        let mut i = 0;
        while i < running.len() {
            let Some(status) = running[i].child.try_wait()? else {
                i += 1;
                continue;
            };
            let r = running.swap_remove(i);
            let path = record::path_for(out, &r.cell.id);
            let rec = match record::read(&path) {
                // The child writes its record (ok or failed) itself; none means it crashed.
                Ok(rec) => rec,
                Err(_) => {
                    let reason = format!(
                        "{}; last lines of {}:\n{}",
                        describe_exit(status),
                        r.log.display(),
                        log_tail(&r.log, 15)
                    );
                    let rec = failed_record(
                        plan,
                        &r.cell,
                        crate::import::loaded_plugin_for(&r.cell, plugins).as_ref(),
                        reason,
                        r.started.elapsed().as_secs_f64(),
                    );
                    record::write_atomic(&path, &rec)?;
                    rec
                }
            };
            if rec.status == Status::Ok && rec.budget.is_none() {
                if let (Some(cache), Some(p)) = (&opts.reference_cache, plugins.get(&rec.method)) {
                    let _ = record::write_atomic(
                        &cache.join(format!("{}.json", cache_key(plan, &r.cell, p))),
                        &rec,
                    );
                }
            }
            finished_now += 1;
            let n_done = skipped + finished_now;
            let what = match (&rec.status, rec.accuracy()) {
                (Status::Ok, Some(a)) => format!("{:.2}%", a * 100.0),
                _ => format!(
                    "FAILED: {}",
                    rec.error
                        .as_deref()
                        .unwrap_or("")
                        .lines()
                        .next()
                        .unwrap_or("")
                ),
            };
            durations
                .entry(label_of(&r.cell))
                .or_default()
                .push(r.started.elapsed().as_secs_f64());
            let eta = estimate_remaining(&durations, &queue, &running, opts.jobs.max(1));
            let line = format!(
                "[{n_done}/{total}] {} {what} ({:.1} s; ETA {})",
                r.cell.id,
                rec.timings.total_seconds,
                fmt_secs(eta)
            );
            if tty {
                bar.println(line);
                bar.set_position(n_done as u64);
            } else {
                eprintln!("{line}");
            }
            done.push(rec);
        }
    }
    bar.finish_and_clear();
    Ok(done)
}

fn label_of(c: &CellSpec) -> String {
    c.budget.map(|b| b.label()).unwrap_or_else(|| "full".into())
}

/// Seconds left: every queued or running cell is estimated by the mean wall time of finished
/// cells with the same budget (else of all finished cells), spread over the parallel slots.
fn estimate_remaining(
    durations: &HashMap<String, Vec<f64>>,
    queue: &std::collections::VecDeque<CellSpec>,
    running: &[Running],
    jobs: usize,
) -> f64 {
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let all: Vec<f64> = durations.values().flatten().copied().collect();
    let est = |c: &CellSpec| {
        durations
            .get(&label_of(c))
            .map(|v| mean(v))
            .unwrap_or_else(|| mean(&all))
    };
    let queued: f64 = queue.iter().map(est).sum();
    let in_flight: f64 = running
        .iter()
        .map(|r| (est(&r.cell) - r.started.elapsed().as_secs_f64()).max(0.0))
        .sum();
    (queued + in_flight) / jobs as f64
}

/// A rough cost order of a cell: reference cells (whole train split) first, then by budget size.
fn cost_rank(c: &CellSpec) -> f64 {
    match c.budget {
        None => f64::INFINITY,
        Some(distillery_api::Budget::Ipc(k)) => k as f64,
        Some(distillery_api::Budget::Fraction(f)) => 1e6 * f,
        Some(distillery_api::Budget::Bytes(b)) => b as f64 / 1e3,
    }
}

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
