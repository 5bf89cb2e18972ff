//! `bench __cell --plan P --cell ID [--cell ID …]`: one cell of a plan (or the cells of one
//! group, `bench --group`), in the child process the executor starts for it (hidden from
//! `--help`).

use crate::error::{exit_code, BenchError};
use crate::plan::Plan;
use crate::record;
use anyhow::Context as _;
use std::path::PathBuf;

/// Options of `bench __cell`.
#[derive(clap::Args, Clone, Debug)]
pub struct CellArgs {
    #[arg(long)]
    pub plan: PathBuf,
    /// The cell; given several times, the cells run in this one process and their students
    /// train as one grouped model where they can (crate::cell::run_cells).
    #[arg(long, required = true)]
    pub cell: Vec<String>,
    /// Take the cell's claim first (waiting while another process runs it) and do nothing
    /// when a current record is there by then: how Slurm tasks run cells.
    #[arg(long)]
    pub claim: bool,
}

/// Runs the cell and writes its record next to the plan; exit 1 when the cell failed (its
/// record says why), 3 when the plan cannot be read.
pub fn run(a: &CellArgs) -> Result<u8, BenchError> {
    let text = std::fs::read_to_string(&a.plan)
        .with_context(|| format!("reading {}", a.plan.display()))?;
    let plan: Plan =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", a.plan.display()))?;
    let specs = a
        .cell
        .iter()
        .map(|id| {
            plan.cells
                .iter()
                .find(|c| &c.id == id)
                .cloned()
                .with_context(|| format!("no cell {id} in the plan"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    if a.claim && specs.len() > 1 {
        return Err(anyhow::anyhow!("--claim takes one --cell").into());
    }
    let spec = specs[0].clone();
    let out_dir = a.plan.parent().map(|p| p.to_path_buf()).unwrap_or_default();
    let mut plan = plan;
    if crate::executor::slurm::from_env().is_some() {
        // In a Slurm allocation: its CPUs are the cell's threads, its GPUs are numbered
        // from 0 (CUDA_VISIBLE_DEVICES), whatever the submitting machine had.
        let cpus = ["SLURM_CPUS_PER_TASK", "SLURM_CPUS_ON_NODE"]
            .iter()
            .find_map(|k| std::env::var(k).ok()?.parse::<usize>().ok());
        if let Some(n) = cpus {
            plan.threads_per_cell = n.max(1);
        }
        if plan.device.starts_with("cuda") && std::env::var_os("CUDA_VISIBLE_DEVICES").is_some() {
            plan.device = "cuda:0".into();
        }
    }
    let _claim = if a.claim {
        let lock = crate::executor::claim::cell_lock(&out_dir, &spec.id);
        let c = crate::executor::claim::Claim::acquire(&lock).map_err(anyhow::Error::from)?;
        let plugin = crate::import::plugin_for(&spec, &plan.plugin_dirs).ok();
        let opts = crate::executor::Options {
            out: out_dir.clone(),
            jobs: 1,
            reference_cache: None,
            group: 1,
        };
        if let crate::executor::Found::Done(_) =
            crate::executor::check_existing(&plan, &spec, plugin.as_ref(), &opts)?
        {
            eprintln!(
                "{}: its record is already there and current (another process ran it); nothing to do",
                spec.id
            );
            return Ok(exit_code::SUCCESS);
        }
        Some(c)
    } else {
        None
    };
    let recs = crate::cell::run_cells(&plan, &specs, &out_dir, &mut |line| eprintln!("{line}"))?;
    Ok(if recs.iter().all(|r| r.status == record::Status::Ok) {
        exit_code::SUCCESS
    } else {
        exit_code::METHOD_FAILED
    })
}
