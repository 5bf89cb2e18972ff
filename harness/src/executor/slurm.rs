//! The Slurm executor (`bench --executor slurm`): one job array whose tasks run the plan's
//! cells with the same cell entry point as the local executor (`bench __cell --claim`),
//! writing their records into the shared output folder.
//!
//! What it writes under the output folder: `plan.json`; `slurm/submit-<n>.sh`, the batch
//! script of the n-th submission (readable, resubmittable with `sbatch` as is: a task skips
//! cells whose record is already current); `slurm/submissions.jsonl`, one line per
//! submission (job id, script, the cells of each array task); `logs/<cell>.log` (appended by
//! every attempt) and `logs/slurm-<array job>_<task>.out`, Slurm's own output of each task.
//!
//! A task takes each cell's claim ([`super::claim`]) before it runs it, so a cell never runs
//! twice at once, whoever else (a resubmission, a local run) wants it. The submitting
//! `bench` waits (unless detached), shows progress from the records and `squeue`, and when
//! the array has ended gives every cell of it that has no record a failed one naming the
//! task's job id, Slurm state, reason, exit code, node and the last lines of its logs. The
//! end states come from `sacct` when accounting is on, else from `scontrol show job` (which
//! knows finished jobs for `MinJobAge`, 300 s by default).

use super::{
    check_existing, failed_record, label_of, log_tail, plugins_of, store_reference, Found, Options,
};
use crate::plan::{CellSpec, Plan};
use crate::plugin::Plugin;
use crate::record::{self, Record, SlurmInfo, Status};
use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The `sbatch` settings of a submission: command-line options over the `[slurm]` table of
/// the user config file (see `cli::args::ExecutorArgs`). Every field maps to the `sbatch`
/// option of the same name; `None` leaves it to the cluster's defaults.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SlurmOptions {
    /// `--partition`.
    pub partition: Option<String>,
    /// `--time` (Slurm's formats: `MM`, `HH:MM:SS`, `D-HH`), per task.
    pub time: Option<String>,
    /// `--cpus-per-task`: also the torch threads of the task's cells.
    pub cpus_per_task: Option<usize>,
    /// `--mem` (per task, e.g. `8G`).
    pub mem: Option<String>,
    /// `--mem-per-cpu`.
    pub mem_per_cpu: Option<String>,
    /// `--gres` (e.g. `gpu:1`, `gpu:a100:1`).
    pub gres: Option<String>,
    /// `--gpus-per-task`.
    pub gpus_per_task: Option<String>,
    /// `--account`.
    pub account: Option<String>,
    /// `--qos`.
    pub qos: Option<String>,
    /// At most this many tasks of the array run at once (`--array=0-N%K`).
    pub array_parallelism: Option<usize>,
    /// More `sbatch` options, each one `#SBATCH` line (e.g. `--constraint=a100`).
    pub sbatch_args: Vec<String>,
    /// Cells per array task (cells of one budget only); 1 by default.
    pub cells_per_task: Option<usize>,
    /// Seconds between two looks at the queue while waiting (default 5).
    pub poll_seconds: Option<f64>,
}

/// One submission, a line of `slurm/submissions.jsonl`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Submission {
    /// The array's job id, as `sbatch --parsable` printed it.
    pub job_id: String,
    /// The batch script.
    pub script: PathBuf,
    /// Seconds since the Unix epoch.
    pub submitted_at: u64,
    /// The cells of each array task, by task index.
    pub tasks: Vec<Vec<String>>,
}

/// The allocation this process runs in, from the Slurm task environment; `None` outside Slurm
/// (`SLURM_JOB_ID` unset).
pub fn from_env() -> Option<SlurmInfo> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let job_id = var("SLURM_JOB_ID")?;
    Some(SlurmInfo {
        array_job_id: var("SLURM_ARRAY_JOB_ID").unwrap_or_else(|| job_id.clone()),
        job_id,
        array_task_id: var("SLURM_ARRAY_TASK_ID").and_then(|v| v.parse().ok()),
        node: var("SLURMD_NODENAME").unwrap_or_default(),
        cpus_per_task: var("SLURM_CPUS_PER_TASK").and_then(|v| v.parse().ok()),
        cuda_visible_devices: var("CUDA_VISIBLE_DEVICES"),
        state: None,
        reason: None,
    })
}

/// Quotes `s` for bash (single quotes; a `'` becomes `'\''`).
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Groups cells into array tasks: `per_task` cells of the same budget per task, in plan order.
pub fn group_cells(cells: &[CellSpec], per_task: usize) -> Vec<Vec<String>> {
    let mut by_label: BTreeMap<(usize, String), Vec<String>> = BTreeMap::new();
    let mut order: HashMap<String, usize> = HashMap::new();
    for c in cells {
        let l = label_of(c);
        let n = order.len();
        let first = *order.entry(l.clone()).or_insert(n);
        by_label.entry((first, l)).or_default().push(c.id.clone());
    }
    by_label
        .into_values()
        .flat_map(|ids| {
            ids.chunks(per_task.max(1))
                .map(|c| c.to_vec())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The batch script of a submission: `#SBATCH` lines from `s`, one array task per entry of
/// `tasks`, each running its cells one after the other with `bench __cell --claim`, output to
/// `logs/<cell>.log` (appended) and Slurm's own output to `logs/slurm-%A_%a.out`. Exit status:
/// the last failing cell's, so Slurm marks the task FAILED when one of its cells failed.
pub fn batch_script(
    exe: &Path,
    plan_path: &Path,
    out: &Path,
    name: &str,
    tasks: &[Vec<String>],
    s: &SlurmOptions,
) -> String {
    let mut l = vec![
        "#!/bin/bash".to_string(),
        format!(
            "# Written by bench {} for {}: one array task per line of the case below.",
            crate::VERSION,
            out.display()
        ),
        "# Resubmit as is with `sbatch THIS_FILE`: a task skips cells whose record is current."
            .into(),
        format!("#SBATCH --job-name={name}"),
        format!(
            "#SBATCH --array=0-{}{}",
            tasks.len().saturating_sub(1),
            s.array_parallelism
                .map(|k| format!("%{k}"))
                .unwrap_or_default()
        ),
        format!(
            "#SBATCH --output={}",
            out.join("logs").join("slurm-%A_%a.out").display()
        ),
    ];
    let opt = |l: &mut Vec<String>, flag: &str, v: &Option<String>| {
        if let Some(v) = v {
            l.push(format!("#SBATCH --{flag}={v}"));
        }
    };
    opt(&mut l, "partition", &s.partition);
    opt(&mut l, "time", &s.time);
    opt(
        &mut l,
        "cpus-per-task",
        &s.cpus_per_task.map(|c| c.to_string()),
    );
    opt(&mut l, "mem", &s.mem);
    opt(&mut l, "mem-per-cpu", &s.mem_per_cpu);
    opt(&mut l, "gres", &s.gres);
    opt(&mut l, "gpus-per-task", &s.gpus_per_task);
    opt(&mut l, "account", &s.account);
    opt(&mut l, "qos", &s.qos);
    for a in &s.sbatch_args {
        l.push(format!("#SBATCH {a}"));
    }
    l.push("set -u".into());
    l.push("case \"$SLURM_ARRAY_TASK_ID\" in".into());
    for (i, cells) in tasks.iter().enumerate() {
        let q: Vec<String> = cells.iter().map(|c| sh_quote(c)).collect();
        l.push(format!("  {i}) cells=({}) ;;", q.join(" ")));
    }
    l.push("  *) echo \"no task $SLURM_ARRAY_TASK_ID in this script\" >&2; exit 2 ;;".into());
    l.push("esac".into());
    l.push("status=0".into());
    l.push("for c in \"${cells[@]}\"; do".into());
    l.push(format!(
        "  log={}/\"$c.log\"",
        sh_quote(&out.join("logs").display().to_string())
    ));
    l.push("  echo \"=== slurm job ${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID} (job id $SLURM_JOB_ID) on $(hostname) at $(date -u +%FT%TZ)\" >>\"$log\"".into());
    l.push(format!(
        "  {} __cell --plan {} --cell \"$c\" --claim >>\"$log\" 2>&1 || status=$?",
        sh_quote(&exe.display().to_string()),
        sh_quote(&plan_path.display().to_string())
    ));
    l.push("done".into());
    l.push("exit $status".into());
    l.join("\n") + "\n"
}

/// Runs a Slurm client command; its stdout, or an error naming the command and its stderr.
fn slurm_cmd(prog: &str, args: &[&str]) -> anyhow::Result<String> {
    let o = Command::new(prog).args(args).output().map_err(|e| {
        anyhow::anyhow!(
            "cannot run `{prog}`: {e} (is this a Slurm login node with the Slurm client installed, and SLURM_CONF set if the cluster needs it?)"
        )
    })?;
    if !o.status.success() {
        anyhow::bail!(
            "`{prog} {}` failed ({}): {}",
            args.join(" "),
            o.status,
            String::from_utf8_lossy(&o.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&o.stdout).into_owned())
}

/// Array tasks still in the queue: task index → state (`PENDING`, `RUNNING`, …). Empty once
/// the array has left the queue (also when Slurm no longer knows the job id).
pub fn queued_tasks(job: &str) -> anyhow::Result<HashMap<u32, String>> {
    let o = Command::new("squeue")
        .args(["-h", "-r", "-j", job, "-o", "%K|%T"])
        .output()
        .context("cannot run `squeue`")?;
    let text = String::from_utf8_lossy(&o.stdout);
    if !o.status.success() {
        let err = String::from_utf8_lossy(&o.stderr);
        if err.contains("Invalid job id") {
            return Ok(HashMap::new());
        }
        anyhow::bail!("`squeue -j {job}` failed: {}", err.trim());
    }
    let mut m = HashMap::new();
    for line in text.lines() {
        let Some((ids, state)) = line.trim().split_once('|') else {
            continue;
        };
        for i in parse_task_ids(ids) {
            m.insert(i, state.to_string());
        }
    }
    Ok(m)
}

/// Task indices of `3`, `4-7`, `[4-7%2]`, `1,3,5-6` (Slurm's array notations).
pub fn parse_task_ids(s: &str) -> Vec<u32> {
    let s = s.trim().trim_start_matches('[').trim_end_matches(']');
    let s = s.split('%').next().unwrap_or("");
    let mut v = Vec::new();
    for part in s.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.parse::<u32>(), b.parse::<u32>()) {
                    v.extend(a..=b);
                }
            }
            None => v.extend(part.parse::<u32>().ok()),
        }
    }
    v
}

/// How an array task ended, as the scheduler tells it.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskEnd {
    /// The task's own job id.
    pub job_id: String,
    /// `COMPLETED`, `FAILED`, `CANCELLED`, `TIMEOUT`, `OUT_OF_MEMORY`, `NODE_FAIL`, …
    pub state: String,
    /// Slurm's reason (`NonZeroExitCode`, `TimeLimit`, …), when known.
    pub reason: String,
    /// `exit:signal`.
    pub exit_code: String,
    /// The node(s), or `None assigned` for a task that never started.
    pub node: String,
}

/// Parses `scontrol -o show job` output (one line per job or pending array range).
pub fn parse_scontrol(text: &str) -> HashMap<u32, TaskEnd> {
    let mut m = HashMap::new();
    for line in text.lines() {
        let kv: HashMap<&str, &str> = line
            .split_whitespace()
            .filter_map(|t| t.split_once('='))
            .collect();
        let Some(tasks) = kv.get("ArrayTaskId") else {
            continue;
        };
        let end = TaskEnd {
            job_id: kv.get("JobId").unwrap_or(&"").to_string(),
            state: kv.get("JobState").unwrap_or(&"").to_string(),
            reason: kv.get("Reason").unwrap_or(&"").to_string(),
            exit_code: kv.get("ExitCode").unwrap_or(&"").to_string(),
            node: kv
                .get("NodeList")
                .filter(|n| **n != "(null)")
                .unwrap_or(&"None assigned")
                .to_string(),
        };
        for i in parse_task_ids(tasks) {
            m.insert(i, end.clone());
        }
    }
    m
}

/// Parses `sacct -n -P -X -o JobID,JobIDRaw,State,ExitCode,NodeList,Reason` output.
pub fn parse_sacct(text: &str) -> HashMap<u32, TaskEnd> {
    let mut m = HashMap::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split('|').collect();
        if f.len() < 5 {
            continue;
        }
        let Some((_, tasks)) = f[0].split_once('_') else {
            continue;
        };
        let end = TaskEnd {
            job_id: f[1].to_string(),
            state: f[2].split_whitespace().next().unwrap_or("").to_string(),
            reason: f.get(5).unwrap_or(&"").to_string(),
            exit_code: f[3].to_string(),
            node: f[4].to_string(),
        };
        for i in parse_task_ids(tasks) {
            m.insert(i, end.clone());
        }
    }
    m
}

/// How each task of array `job` ended: from `sacct` when accounting is on, else from
/// `scontrol show job` (empty when Slurm has forgotten the job).
pub fn task_ends(job: &str) -> HashMap<u32, TaskEnd> {
    if let Ok(t) = slurm_cmd(
        "sacct",
        &[
            "-n",
            "-P",
            "-X",
            "-j",
            job,
            "-o",
            "JobID,JobIDRaw,State,ExitCode,NodeList,Reason",
        ],
    ) {
        let m = parse_sacct(&t);
        if !m.is_empty() {
            return m;
        }
    }
    slurm_cmd("scontrol", &["-o", "show", "job", job])
        .map(|t| parse_scontrol(&t))
        .unwrap_or_default()
}

/// The counts a progress line shows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Progress {
    pub done: usize,
    pub failed: usize,
    pub running: usize,
    pub pending: usize,
    /// Cells whose task has left the queue without a record (yet).
    pub gone: usize,
}

/// Counts the cells of `sub` by their record and their task's state in `queued`.
fn progress(out: &Path, sub: &Submission, queued: &HashMap<u32, String>) -> (Progress, Vec<f64>) {
    let mut p = Progress::default();
    let mut secs = Vec::new();
    for (i, cells) in sub.tasks.iter().enumerate() {
        // In a running task, the first cell without a record runs; the later ones wait.
        let mut first_missing = true;
        for c in cells {
            match record::read(&record::path_for(out, c)) {
                Ok(r) if r.status == Status::Ok => {
                    p.done += 1;
                    secs.push(r.timings.total_seconds);
                }
                Ok(_) => p.failed += 1,
                Err(_) => match queued.get(&(i as u32)).map(|s| s.as_str()) {
                    Some("RUNNING") | Some("COMPLETING") | Some("CONFIGURING")
                        if std::mem::take(&mut first_missing) =>
                    {
                        p.running += 1
                    }
                    Some(_) => p.pending += 1,
                    None => p.gone += 1,
                },
            }
        }
    }
    (p, secs)
}

fn progress_line(job: &str, p: &Progress, total: usize, secs: &[f64], slots: usize) -> String {
    let eta = if secs.is_empty() {
        "?".to_string()
    } else {
        let mean = secs.iter().sum::<f64>() / secs.len() as f64;
        super::fmt_secs(mean * (p.running + p.pending) as f64 / slots.max(1) as f64)
    };
    format!(
        "slurm job {job}: {}/{total} cells done, {} failed, {} running, {} pending; ETA {eta}",
        p.done, p.failed, p.running, p.pending
    )
}

/// Submits the plan's missing cells as one job array and (unless `detach`) waits for it.
/// Returns the records of every cell (finished earlier or now), or `None` when detached.
///
/// # Errors
/// `sbatch` missing or refusing the job; files that cannot be written.
pub fn run(
    plan: &Plan,
    plugins: &HashMap<String, Plugin>,
    opts: &Options,
    s: &SlurmOptions,
    detach: bool,
) -> anyhow::Result<Option<Vec<Record>>> {
    let out = &std::path::absolute(&opts.out)?;
    let opts = &Options {
        out: out.clone(),
        jobs: opts.jobs,
        reference_cache: opts.reference_cache.clone(),
        group: 1,
    };
    let plan_path = super::prepare_out(out, plan)?;
    std::fs::create_dir_all(out.join("slurm"))?;
    let owned = plugins_of(plan, plugins);
    let plugin = |c: &CellSpec| owned.get(&c.id).and_then(|p| p.as_ref());

    let mut todo: Vec<CellSpec> = Vec::new();
    let mut done: Vec<Record> = Vec::new();
    for cell in &plan.cells {
        // A cell another process holds now is submitted anyway: its task waits for the
        // claim and then reuses the record.
        let claim = super::claim::Claim::try_acquire(&super::claim::cell_lock(out, &cell.id))?;
        if claim.is_some() {
            if let Found::Done(r) = check_existing(plan, cell, plugin(cell), opts)? {
                done.push(*r);
                continue;
            }
        }
        todo.push(cell.clone());
    }
    let total = plan.cells.len();
    if !done.is_empty() {
        eprintln!(
            "{} of {total} cells already finished in {} (reused)",
            done.len(),
            out.display()
        );
    }
    if todo.is_empty() {
        return Ok(Some(done));
    }
    let tasks = group_cells(&todo, s.cells_per_task.unwrap_or(1));
    let n = std::fs::read_dir(out.join("slurm"))?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("submit-"))
        .count()
        + 1;
    let script = out.join("slurm").join(format!("submit-{n}.sh"));
    let name = format!(
        "bench-{}",
        plan.protocol().map(|l| l.protocol.name).unwrap_or_default()
    );
    let exe = std::env::current_exe()?;
    std::fs::write(
        &script,
        batch_script(&exe, &plan_path, out, &name, &tasks, s),
    )?;
    let stdout = slurm_cmd("sbatch", &["--parsable", &script.display().to_string()])?;
    let job = stdout.trim().split(';').next().unwrap_or("").to_string();
    anyhow::ensure!(!job.is_empty(), "sbatch printed no job id: {stdout:?}");
    let sub = Submission {
        job_id: job.clone(),
        script: script.clone(),
        submitted_at: record::now(),
        tasks,
    };
    let mut line = serde_json::to_string(&sub)?;
    line.push('\n');
    use std::io::Write as _;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(out.join("slurm").join("submissions.jsonl"))?
        .write_all(line.as_bytes())?;
    eprintln!(
        "submitted slurm job {job}: {} cells in {} array tasks; batch script {}",
        todo.len(),
        sub.tasks.len(),
        script.display()
    );
    if detach {
        eprintln!(
            "detached: follow it with `bench status {}`, then `bench report {}`",
            out.display(),
            out.display()
        );
        return Ok(None);
    }

    // Wait, showing progress whenever it changes.
    let poll = Duration::from_secs_f64(s.poll_seconds.unwrap_or(5.0).max(0.2));
    let started = Instant::now();
    let mut last = String::new();
    let mut last_print = Instant::now();
    loop {
        let queued = queued_tasks(&job)?;
        let (p, secs) = progress(out, &sub, &queued);
        let running_tasks = queued.values().filter(|s| *s == "RUNNING").count();
        let line = progress_line(&job, &p, todo.len(), &secs, running_tasks);
        if line != last || last_print.elapsed() > Duration::from_secs(60) {
            eprintln!(
                "[{}] {line}",
                super::fmt_secs(started.elapsed().as_secs_f64())
            );
            last = line;
            last_print = Instant::now();
        }
        if queued.is_empty() {
            break;
        }
        std::thread::sleep(poll);
    }

    // The array has ended: every cell gets a record; failures name the task's end.
    let ends = task_ends(&job);
    for (i, cells) in sub.tasks.iter().enumerate() {
        let end = ends.get(&(i as u32));
        for id in cells {
            let cell = plan.cells.iter().find(|c| &c.id == id).expect("planned");
            let path = record::path_for(out, id);
            let slurm_out = out.join("logs").join(format!("slurm-{job}_{i}.out"));
            let what = match end {
                Some(e) => format!(
                    "slurm job {job}_{i} (job id {}) ended {} (reason {}, exit code {}) on {}",
                    e.job_id, e.state, e.reason, e.exit_code, e.node
                ),
                None => format!(
                    "slurm job {job}_{i}: its end state is unknown (Slurm no longer knows the job, and accounting is off)"
                ),
            };
            let info = |mut si: SlurmInfo| {
                if let Some(e) = end {
                    si.state = Some(e.state.clone());
                    si.reason = Some(format!("{}, exit code {}", e.reason, e.exit_code));
                    if si.node.is_empty() {
                        si.node = e.node.clone();
                    }
                    if si.job_id.is_empty() {
                        si.job_id = e.job_id.clone();
                    }
                }
                si
            };
            match record::read(&path) {
                Ok(r) if r.status == Status::Ok => {
                    if cell.budget.is_none() {
                        store_reference(opts, plan, cell, plugin(cell), &r);
                    }
                    done.push(r);
                }
                Ok(mut r) => {
                    // The cell wrote its failure itself; add how its task ended.
                    if r.slurm.as_ref().is_some_and(|si| si.state.is_none()) {
                        r.error = Some(format!("{}\n{what}", r.error.unwrap_or_default()));
                        r.slurm = r.slurm.take().map(info);
                        record::write_atomic(&path, &r)?;
                    }
                    done.push(r);
                }
                Err(_) => {
                    let cell_log = out.join("logs").join(format!("{id}.log"));
                    let reason = format!(
                        "{what}; last lines of {}:\n{}\nlast lines of {}:\n{}",
                        cell_log.display(),
                        log_tail(&cell_log, 15),
                        slurm_out.display(),
                        log_tail(&slurm_out, 5)
                    );
                    let mut r = failed_record(plan, cell, plugin(cell), reason, 0.0);
                    r.slurm = Some(info(SlurmInfo {
                        array_job_id: job.clone(),
                        array_task_id: Some(i as u32),
                        cpus_per_task: s.cpus_per_task,
                        ..Default::default()
                    }));
                    record::write_atomic(&path, &r)?;
                    eprintln!("{id} FAILED: {what}");
                    done.push(r);
                }
            }
        }
    }
    Ok(Some(done))
}

/// Reads `slurm/submissions.jsonl` of an output folder (empty when it has none).
pub fn submissions(out: &Path) -> Vec<Submission> {
    std::fs::read_to_string(out.join("slurm").join("submissions.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// `bench status DIR`: the plan's cells by their record, and for the latest Slurm
/// submission, which of the missing ones are running or pending in the queue.
///
/// # Errors
/// No `plan.json` in `out`.
pub fn status(out: &Path) -> anyhow::Result<String> {
    let plan_path = out.join("plan.json");
    let plan: Plan =
        serde_json::from_str(&std::fs::read_to_string(&plan_path).with_context(|| {
            format!(
                "{} has no plan.json: not a bench output folder",
                out.display()
            )
        })?)
        .with_context(|| format!("parsing {}", plan_path.display()))?;
    let subs = submissions(out);
    let mut queue_of: HashMap<String, String> = HashMap::new();
    let mut lines = Vec::new();
    if let Some(sub) = subs.last() {
        let queued = match queued_tasks(&sub.job_id) {
            Ok(q) => q,
            Err(e) => {
                lines.push(format!("(cannot ask Slurm: {e:#})"));
                HashMap::new()
            }
        };
        for (i, cells) in sub.tasks.iter().enumerate() {
            if let Some(st) = queued.get(&(i as u32)) {
                for c in cells {
                    queue_of.insert(c.clone(), st.clone());
                }
            }
        }
        lines.push(format!(
            "slurm job {} (submission {} of {}, batch script {}): {} of {} array tasks in the queue",
            sub.job_id,
            subs.len(),
            subs.len(),
            sub.script.display(),
            queued.len(),
            sub.tasks.len()
        ));
    }
    let (mut ok, mut failed, mut running, mut pending, mut missing) = (0, 0, 0, 0, 0);
    let mut secs = Vec::new();
    let mut failures = Vec::new();
    for c in &plan.cells {
        match record::read(&record::path_for(out, &c.id)) {
            Ok(r) if r.status == Status::Ok => {
                ok += 1;
                secs.push(r.timings.total_seconds);
            }
            Ok(r) => {
                failed += 1;
                failures.push(format!(
                    "  {}: {}",
                    c.id,
                    r.error
                        .as_deref()
                        .unwrap_or("")
                        .lines()
                        .last()
                        .unwrap_or("")
                ));
            }
            Err(_) => match queue_of.get(&c.id).map(|s| s.as_str()) {
                Some("RUNNING") | Some("COMPLETING") | Some("CONFIGURING") => running += 1,
                Some(_) => pending += 1,
                None => missing += 1,
            },
        }
    }
    let eta = if secs.is_empty() || running + pending == 0 {
        String::new()
    } else {
        let mean = secs.iter().sum::<f64>() / secs.len() as f64;
        format!(
            "; ETA {}",
            super::fmt_secs(mean * (running + pending) as f64 / running.max(1) as f64)
        )
    };
    let mut text = format!(
        "{}: {} cells: {ok} done, {failed} failed, {running} running, {pending} pending, {missing} not running (missing){eta}\n",
        out.display(),
        plan.cells.len()
    );
    for l in lines {
        text.push_str(&l);
        text.push('\n');
    }
    if !failures.is_empty() {
        text.push_str("failed cells (re-running the same command runs them again):\n");
        for f in failures {
            text.push_str(&f);
            text.push('\n');
        }
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_task_notations_parse() {
        assert_eq!(parse_task_ids("3"), vec![3]);
        assert_eq!(parse_task_ids("4-7"), vec![4, 5, 6, 7]);
        assert_eq!(parse_task_ids("[4-6%2]"), vec![4, 5, 6]);
        assert_eq!(parse_task_ids("1,3,5-6"), vec![1, 3, 5, 6]);
        assert_eq!(parse_task_ids("N/A"), Vec::<u32>::new());
    }

    #[test]
    fn scontrol_lines_give_each_task_its_end() {
        let t = "JobId=8 ArrayJobId=5 ArrayTaskId=3 JobName=bench JobState=FAILED Reason=NonZeroExitCode Dependency=(null) ExitCode=1:0 NodeList=vm\n\
                 JobId=5 ArrayJobId=5 ArrayTaskId=4-5 JobState=CANCELLED Reason=Resources ExitCode=0:0 NodeList=(null)\n";
        let m = parse_scontrol(t);
        assert_eq!(
            m[&3],
            TaskEnd {
                job_id: "8".into(),
                state: "FAILED".into(),
                reason: "NonZeroExitCode".into(),
                exit_code: "1:0".into(),
                node: "vm".into()
            }
        );
        assert_eq!(m[&5].state, "CANCELLED");
        assert_eq!(m[&5].node, "None assigned");
        assert_eq!(m.len(), 3);
    }

    #[test]
    fn the_script_runs_each_task_s_cells_under_their_claims() {
        let s = SlurmOptions {
            partition: Some("gpu".into()),
            time: Some("01:00:00".into()),
            gres: Some("gpu:1".into()),
            array_parallelism: Some(4),
            sbatch_args: vec!["--constraint=a100".into()],
            ..Default::default()
        };
        let tasks = vec![
            vec!["a__ipc1__s0".to_string(), "it's".to_string()],
            vec!["b".to_string()],
        ];
        let t = batch_script(
            Path::new("/opt/bench"),
            Path::new("/o/plan.json"),
            Path::new("/o"),
            "bench-x",
            &tasks,
            &s,
        );
        for want in [
            "#SBATCH --array=0-1%4\n",
            "#SBATCH --output=/o/logs/slurm-%A_%a.out\n",
            "#SBATCH --partition=gpu\n",
            "#SBATCH --time=01:00:00\n",
            "#SBATCH --gres=gpu:1\n",
            "#SBATCH --constraint=a100\n",
            "  0) cells=('a__ipc1__s0' 'it'\\''s') ;;\n",
            "  1) cells=('b') ;;\n",
            "'/opt/bench' __cell --plan '/o/plan.json' --cell \"$c\" --claim >>\"$log\" 2>&1 || status=$?\n",
        ] {
            assert!(t.contains(want), "missing {want:?} in\n{t}");
        }
        assert!(!t.contains("--account"));
    }
}
