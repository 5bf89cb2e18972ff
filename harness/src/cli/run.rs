//! `bench --protocol P [options]`: the run. Parses nothing itself: loads the protocol, the
//! dataset and the plugins, lets [`super::resolve`] decide the run, then plans, executes and
//! prints the report.

use super::args::{
    BudgetArgs, DataArgs, DeviceArgs, Executor, ExecutorArgs, PluginArgs, ThreadArgs,
};
use super::resolve::{resolve, ResolvedRun, RunEnv};
use super::teacher::teacher_line;
use crate::error::{exit_code, BenchError};
use crate::plan::{self, Plan};
use crate::protocol::Loaded;
use crate::{executor, record, report};
use distillery_api::method::device_string;
use std::path::PathBuf;

/// The options of a run (`bench` without a subcommand).
#[derive(clap::Args, Clone, Debug)]
pub struct RunArgs {
    /// Protocol: a shipped name (hard-label, hard-label-dc1000) or a path to a .toml file.
    #[arg(long)]
    pub protocol: Option<String>,
    #[command(flatten)]
    pub data: DataArgs,
    /// Methods to run, comma-separated, or `all` for every installed plugin (replaces the
    /// protocol's default list; the `random` baseline is always added). `file:PATH` evaluates
    /// a compressed set read from a file (see --from).
    #[arg(long, value_delimiter = ',')]
    pub methods: Option<Vec<String>>,
    /// Compressed sets made elsewhere, comma-separated: .safetensors, .npz, ImageFolder
    /// directories, or Parquet files / folders of shards, evaluated like plugins (rows
    /// `file:<name>`; same as --methods file:PATH, added to the methods run). Layout:
    /// CONTRIBUTING.md, "Evaluating a set made elsewhere".
    #[arg(long, value_delimiter = ',')]
    pub from: Vec<PathBuf>,
    /// Parquet sets: the column of encoded PNG/JPEG images (binary, or the Hugging Face Image
    /// struct {bytes, path}).
    #[arg(long, default_value = "image")]
    pub from_image_column: String,
    /// Parquet sets: the column of integer class indices.
    #[arg(long, default_value = "class_id")]
    pub from_label_column: String,
    #[command(flatten)]
    pub budget: BudgetArgs,
    /// Number of seeds (repeats) per cell; seeds are 0..N.
    #[arg(long)]
    pub seeds: Option<usize>,
    /// Output directory for cell records (default: bench-out/<protocol>/<dataset>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub device: DeviceArgs,
    #[command(flatten)]
    pub threads: ThreadArgs,
    /// Cells run in parallel (default: 1 on GPU; on CPU, one per thread, each cell single-threaded).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Train the students of up to N cells of one budget (the seeds of a method, several
    /// methods at one IPC) as one grouped model in one process: each member keeps its own
    /// set, initialisation, data order and augmentation, and writes its own record (marked
    /// `grouped`). Hard-label protocols with the ConvNet student and DSA or no augmentation
    /// only. `auto`: on a GPU only (measured faster there, slower on the CPU); `off`: every
    /// cell alone.
    #[arg(long, default_value = "auto", value_name = "auto|off|N")]
    pub group: super::args::GroupPolicy,
    #[command(flatten)]
    pub plugins: PluginArgs,
    /// Do not reuse or store reference (`full`) cells in the per-user cache.
    #[arg(long)]
    pub no_cache: bool,
    /// Method settings outside the protocol: a TOML file of [methods.<name>] tables, merged
    /// over the protocol's. Recorded in every cell; changes it re-run the affected cells.
    #[arg(long)]
    pub method_config: Option<PathBuf>,
    #[command(flatten)]
    pub executor: ExecutorArgs,
    #[command(flatten)]
    pub teacher: super::teacher::TeacherFileArgs,
}

/// Runs the protocol: exit 0 when every cell succeeded, 1 when some failed.
pub fn run(args: &RunArgs) -> Result<u8, BenchError> {
    let Some(pspec) = args.protocol.as_deref() else {
        return Err(BenchError::Usage(
            "no protocol given: run `bench --protocol hard-label` (see `bench --help`)".into(),
        ));
    };
    let executor_kind = args.executor.resolve()?;
    let loaded = args.teacher.apply(Loaded::resolve(pspec)?)?;
    let p = &loaded.protocol;
    let (dataset, image, data) = args.data.load(p)?;
    // A Slurm run that asks for GPUs gets them on the compute nodes, not necessarily here.
    let device = match &executor_kind {
        Executor::Slurm { options, .. }
            if (options.gres.is_some() || options.gpus_per_task.is_some())
                && (args.device.device == "auto" || args.device.device.starts_with("cuda")) =>
        {
            tch::Device::Cuda(0)
        }
        _ => args.device.resolve()?,
    };
    let plugins = args.plugins.resolve();
    let overrides = match &args.method_config {
        None => Default::default(),
        Some(f) => crate::method_config::load(f)?,
    };
    let run = match resolve(
        args,
        p,
        &data.name,
        &data.checksum,
        device,
        &plugins.families(),
        overrides,
        &RunEnv::of_process().with_gpu(device),
    ) {
        Err(BenchError::UnknownMethod(m)) => return Err(plugins.missing(&m)),
        r => r?,
    };
    let ResolvedRun {
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
        method_overrides,
        group,
        group_note,
    } = run;
    for n in duplicate_note
        .iter()
        .chain(&baseline_note)
        .chain(&group_note)
    {
        eprintln!("note: {n}");
    }

    // Every imported file is read and checked against the dataset now (exit 2 on a bad file).
    let columns = crate::import::Columns {
        image: args.from_image_column.clone(),
        label: args.from_label_column.clone(),
    };
    let imports = crate::import::plan(&imported, &data, &budgets, seeds, &columns)?;
    for w in imports.sources.iter().flat_map(|s| &s.warnings) {
        eprintln!("warning: {w}");
    }

    let device_name = device_string(device);
    let plan = Plan {
        protocol_origin: loaded.origin.clone(),
        protocol_text: loaded.text.clone(),
        protocol_hash: loaded.hash.clone(),
        dataset: dataset.clone(),
        image,
        dataset_checksum: data.checksum.clone(),
        device: device_name.clone(),
        deterministic: args.device.deterministic,
        threads_per_cell,
        plugin_dirs: args.plugins.recorded(),
        method_config_origin: args.method_config.as_ref().map(|p| {
            std::path::absolute(p)
                .unwrap_or(p.clone())
                .display()
                .to_string()
        }),
        method_overrides,
        teacher: args.teacher.resolve(),
        cells: plan::unique([plan::cells(&methods, &budgets, seeds), imports.cells].concat())
            .map_err(anyhow::Error::from)?,
    };
    eprintln!(
        "bench: protocol {} v{} ({}), dataset {} ({} train / {} val / {} test, checksum {}), {} cells on {device_name}, {jobs} parallel x {threads_per_cell} thread(s){}; records in {}",
        p.name,
        p.version,
        loaded.short_hash(),
        data.name,
        data.train.len(),
        data.val.len(),
        data.test.len(),
        &data.checksum[..12],
        plan.cells.len(),
        if group > 1 {
            format!(", students grouped up to {group} per model")
        } else {
            String::new()
        },
        out.display()
    );
    if device != tch::Device::Cpu && !args.device.deterministic {
        eprintln!("note: GPU results are reproducible only up to nondeterministic CUDA kernels; CPU runs are bit-identical per seed");
    }
    if p.labels == crate::protocol::LabelMode::Soft && executor_kind == Executor::Local {
        // Every cell needs the teacher: train (or load) it once here, with all threads,
        // rather than in the first cell while the others wait on its lock.
        tch::set_num_threads(threads as i32);
        let (_, t) = crate::cell::obtain_teacher(p, &data, device, &mut |line| eprintln!("{line}"))
            .map_err(|e| anyhow::anyhow!(e))?;
        eprintln!("{}", teacher_line(&t));
    }
    drop(data);
    let opts = executor::Options {
        out: out.clone(),
        jobs,
        group: if executor_kind == Executor::Local {
            group
        } else {
            1
        },
        reference_cache: if args.no_cache {
            None
        } else {
            executor::default_cache_dir()
        },
    };
    let started = std::time::Instant::now();
    let records = match &executor_kind {
        Executor::Local => executor::run(&plan, &plugins.by_name, &opts)?,
        Executor::Slurm { options, detach } => {
            if p.labels == crate::protocol::LabelMode::Soft {
                eprintln!("note: the tasks share the teacher through the per-user cache: the first task to need it trains it, the others wait for it");
            }
            match executor::slurm::run(&plan, &plugins.by_name, &opts, options, *detach)? {
                Some(r) => r,
                None => return Ok(exit_code::SUCCESS),
            }
        }
    };
    let ids: std::collections::HashSet<&str> = plan.cells.iter().map(|c| c.id.as_str()).collect();
    let mine: Vec<record::Record> = records
        .into_iter()
        .filter(|r| ids.contains(r.cell_id.as_str()))
        .collect();
    let failed = mine
        .iter()
        .filter(|r| r.status != record::Status::Ok)
        .count();
    let mut rep = report::build(&mine, seeds).with_protocol_text(&loaded.text, &loaded.origin);
    super::print_warnings(&report::find_label_gain(&mut rep, &out, None));
    println!("{}", rep.terminal(None));
    eprintln!(
        "wall time {}; records in {}",
        executor::fmt_secs(started.elapsed().as_secs_f64()),
        out.display()
    );
    if failed > 0 {
        eprintln!(
            "{failed} cell(s) failed; their records say why (`bench report {}`)",
            out.display()
        );
        return Ok(exit_code::METHOD_FAILED);
    }
    Ok(exit_code::SUCCESS)
}
