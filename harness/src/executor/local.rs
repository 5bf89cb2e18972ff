//! The local executor: runs the plan's cells as child processes (`bench __cell`), `jobs` at a
//! time, skipping cells whose record is already there and current. A child that crashes
//! (segfault, abort, out of memory) fails its cell only; the parent records why.
//!
//! Several runs may share one output folder: this process holds a cell's [`Claim`] while its
//! child runs the cell, so another run skips it for now, and reuses its record once the claim
//! is released. A reference cell that the per-user cache may provide is also run under the
//! claim of its cache entry, so two runs (in any folders) build it once.

use super::claim::{self, Claim};
use super::{
    check_existing, failed_record, label_of, log_tail, plugins_of, reference_entry,
    store_reference, Found, Options,
};
use crate::plan::{CellSpec, Plan};
use crate::plugin::Plugin;
use crate::record::{self, Record, Status};
use std::collections::{HashMap, VecDeque};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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
    /// The cells this child runs: one, or the members of a group (`--group`).
    cells: Vec<CellSpec>,
    child: Child,
    log: PathBuf,
    started: Instant,
    /// The cell's claim and, for a cacheable reference cell, its cache entry's: released
    /// when the record (and cache entry) are written.
    _claims: Vec<Claim>,
}

/// Takes the claims a cell needs to run here (its own, and its reference-cache entry's),
/// or `None` when another process holds one of them.
fn claim_cell(
    plan: &Plan,
    cell: &CellSpec,
    plugin: Option<&Plugin>,
    opts: &Options,
) -> anyhow::Result<Option<Vec<Claim>>> {
    let Some(own) = Claim::try_acquire(&claim::cell_lock(&opts.out, &cell.id))? else {
        return Ok(None);
    };
    let mut claims = vec![own];
    if let Some((_, lock)) = reference_entry(opts, plan, cell, plugin) {
        let Some(c) = Claim::try_acquire(&lock)? else {
            return Ok(None);
        };
        claims.push(c);
    }
    Ok(Some(claims))
}

/// Runs every cell of the plan; returns the records of all cells (finished earlier, now, or
/// by another process sharing the output folder).
pub fn run(
    plan: &Plan,
    plugins: &HashMap<String, Plugin>,
    opts: &Options,
) -> anyhow::Result<Vec<Record>> {
    let out = &opts.out;
    let plan_path = super::prepare_out(out, plan)?;
    let owned = plugins_of(plan, plugins);
    let plugin = |c: &CellSpec| owned.get(&c.id).and_then(|p| p.as_ref());

    let mut todo: Vec<CellSpec> = Vec::new();
    let mut done: Vec<Record> = Vec::new();
    for cell in &plan.cells {
        // A cell another process is running now is looked at again when its claim is free.
        let Some(_claim) = Claim::try_acquire(&claim::cell_lock(out, &cell.id))? else {
            todo.push(cell.clone());
            continue;
        };
        match check_existing(plan, cell, plugin(cell), opts)? {
            Found::Done(r) => done.push(*r),
            Found::Todo => todo.push(cell.clone()),
        }
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
    let say = |line: String| {
        if tty {
            bar.println(line);
        } else {
            eprintln!("{line}");
        }
    };
    let exe = std::env::current_exe()?;
    // Longest first (reference cells, then larger budgets): with several cells in parallel the
    // run then ends on short cells instead of one long straggler. Stable: plan order otherwise.
    todo.sort_by(|a, b| {
        cost_rank(b)
            .partial_cmp(&cost_rank(a))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    // With --group N: up to N consecutive cells of one budget share a process (their students
    // train as one grouped model where the cell process finds them groupable).
    let mut queue: VecDeque<Vec<CellSpec>> = batch_for_groups(todo, opts.group);
    // Wall time of the cells finished in this run, by budget label (for the ETA).
    let mut durations: HashMap<String, Vec<f64>> = HashMap::new();
    let mut running: Vec<Running> = Vec::new();
    let mut n_done = skipped;
    loop {
        // Start the first queued cells whose claims are free; a claimed one waits its turn.
        let mut i = 0;
        while running.len() < opts.jobs.max(1) && i < queue.len() {
            let batch = queue[i].clone();
            // All of a batch's claims, or none (a member claimed elsewhere runs there).
            let mut claims = Vec::new();
            let mut free = true;
            for cell in &batch {
                match claim_cell(plan, cell, plugin(cell), opts)? {
                    Some(c) => claims.extend(c),
                    None => {
                        free = false;
                        break;
                    }
                }
            }
            if !free {
                drop(claims);
                if batch.len() > 1 {
                    // Run its members on their own instead, each when its claim is free.
                    queue.remove(i);
                    for (k, c) in batch.into_iter().enumerate() {
                        queue.insert(i + k, vec![c]);
                    }
                }
                i += 1;
                continue;
            }
            queue.remove(i);
            // Another process may have finished some while we waited for the claims.
            let mut cells = Vec::new();
            for cell in batch {
                if let Found::Done(r) = check_existing(plan, &cell, plugin(&cell), opts)? {
                    n_done += 1;
                    say(format!(
                        "[{n_done}/{total}] {} finished by another run (reused)",
                        cell.id
                    ));
                    bar.set_position(n_done as u64);
                    done.push(*r);
                } else {
                    cells.push(cell);
                }
            }
            if cells.is_empty() {
                continue;
            }
            // A group's log is its first member's; every member's record names the group.
            let log = out.join("logs").join(format!("{}.log", cells[0].id));
            let f = std::fs::File::create(&log)?;
            let mut cmd = Command::new(&exe);
            cmd.args(["__cell", "--plan"]).arg(&plan_path);
            for c in &cells {
                cmd.args(["--cell", &c.id]);
            }
            let child = cmd
                .stdin(Stdio::null())
                .stdout(f.try_clone()?)
                .stderr(f)
                .spawn()
                .map_err(|e| {
                    anyhow::anyhow!(
                        "cannot start the cell process {} for {}: {e} (was bench rebuilt or removed while running?)",
                        exe.display(),
                        cells[0].id
                    )
                })?;
            running.push(Running {
                cells,
                child,
                log,
                started: Instant::now(),
                _claims: claims,
            });
        }
        if running.is_empty() && queue.is_empty() {
            break;
        }
        // Nothing of ours running: the rest is being run by other processes; wait for them.
        std::thread::sleep(Duration::from_millis(if running.is_empty() {
            250
        } else {
            50
        }));
        let mut i = 0;
        while i < running.len() {
            let Some(status) = running[i].child.try_wait()? else {
                i += 1;
                continue;
            };
            let r = running.swap_remove(i);
            let grouped = r.cells.len() > 1;
            let mut missing = Vec::new();
            for cell in &r.cells {
                let path = record::path_for(out, &cell.id);
                let rec = match record::read(&path) {
                    // The child writes its records (ok or failed) itself; none means it crashed.
                    Ok(rec) => rec,
                    Err(_) if grouped => {
                        // A crash of a grouped process must not fail the other members' cells:
                        // the members without a record run again, each on its own.
                        missing.push(cell.clone());
                        continue;
                    }
                    Err(_) => {
                        let reason = format!(
                            "{}; last lines of {}:\n{}",
                            describe_exit(status),
                            r.log.display(),
                            log_tail(&r.log, 15)
                        );
                        let rec = failed_record(
                            plan,
                            cell,
                            plugin(cell),
                            reason,
                            r.started.elapsed().as_secs_f64(),
                        );
                        record::write_atomic(&path, &rec)?;
                        rec
                    }
                };
                if rec.budget.is_none() {
                    store_reference(opts, plan, cell, plugin(cell), &rec);
                }
                n_done += 1;
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
                    .entry(label_of(cell))
                    .or_default()
                    .push(r.started.elapsed().as_secs_f64() / r.cells.len() as f64);
                let eta = estimate_remaining(&durations, &queue, &running, opts.jobs.max(1));
                let how = match &rec.grouped {
                    Some(g) => format!(", grouped x{}", g.size),
                    None => String::new(),
                };
                say(format!(
                    "[{n_done}/{total}] {} {what} ({:.1} s{how}; ETA {})",
                    cell.id,
                    rec.timings.total_seconds,
                    super::fmt_secs(eta)
                ));
                bar.set_position(n_done as u64);
                done.push(rec);
            }
            if !missing.is_empty() {
                say(format!(
                    "{}; {} of its {} cells have no record and run again on their own: {} (log: {})",
                    describe_exit(status).replace("the cell's process", "a grouped process"),
                    missing.len(),
                    r.cells.len(),
                    missing.iter().map(|c| c.id.as_str()).collect::<Vec<_>>().join(", "),
                    r.log.display()
                ));
                for c in missing.into_iter().rev() {
                    queue.push_front(vec![c]);
                }
            }
            // `r` (and its claims) dropped here: the record is written.
        }
    }
    bar.finish_and_clear();
    Ok(done)
}

/// Seconds left: every queued or running cell is estimated by the mean wall time of finished
/// cells with the same budget (else of all finished cells), spread over the parallel slots.
fn estimate_remaining(
    durations: &HashMap<String, Vec<f64>>,
    queue: &VecDeque<Vec<CellSpec>>,
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
    let queued: f64 = queue.iter().flatten().map(est).sum();
    let in_flight: f64 = running
        .iter()
        .map(|r| {
            let e: f64 = r.cells.iter().map(est).sum();
            (e - r.started.elapsed().as_secs_f64()).max(0.0)
        })
        .sum();
    (queued + in_flight) / jobs as f64
}

/// The queue's units: with `group` <= 1 one cell each; otherwise runs of up to `group`
/// consecutive cells (in the cost order) with the same budget, reference cells alone.
fn batch_for_groups(todo: Vec<CellSpec>, group: usize) -> VecDeque<Vec<CellSpec>> {
    let mut q: VecDeque<Vec<CellSpec>> = VecDeque::new();
    for c in todo {
        match q.back_mut() {
            Some(last)
                if group > 1
                    && c.budget.is_some()
                    && last.len() < group
                    && last[0].budget == c.budget =>
            {
                last.push(c)
            }
            _ => q.push_back(vec![c]),
        }
    }
    q
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
