//! `bench __cell --plan P --cell ID`: one cell of a plan, in the child process the executor
//! starts for it (hidden from `--help`).

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
    #[arg(long)]
    pub cell: String,
}

/// Runs the cell and writes its record next to the plan; exit 1 when the cell failed (its
/// record says why), 3 when the plan cannot be read.
pub fn run(a: &CellArgs) -> Result<u8, BenchError> {
    let text = std::fs::read_to_string(&a.plan)
        .with_context(|| format!("reading {}", a.plan.display()))?;
    let plan: Plan =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", a.plan.display()))?;
    let spec = plan
        .cells
        .iter()
        .find(|c| c.id == a.cell)
        .with_context(|| format!("no cell {} in the plan", a.cell))?
        .clone();
    let out_dir = a.plan.parent().map(|p| p.to_path_buf()).unwrap_or_default();
    let rec = crate::cell::run(&plan, &spec, &out_dir, &mut |line| eprintln!("{line}"))?;
    Ok(if rec.status == record::Status::Ok {
        exit_code::SUCCESS
    } else {
        exit_code::METHOD_FAILED
    })
}
