//! `bench`: the Distillery command line. See `bench --help`.
//!
//! Exit codes: 0 success; 1 the run finished but some cells failed (see their records);
//! 2 bad input (protocol, dataset, options, unknown method); 3 internal error.

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use distillery::plan::{self, Plan};
use distillery::protocol::Loaded;
use distillery::{dataset::Prepared, env, executor, plugin, record, report};
use distillery_api::Budget;
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "bench", version = long_version(), about = "Distillery: evaluate dataset distillation, pruning and KD methods under identical, versioned protocols", args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    cmd: Option<Cmd>,
    #[command(flatten)]
    run: RunArgs,
}

fn long_version() -> &'static str {
    let v = format!(
        "{} (rustc: {}; tch {}; libtorch {})",
        distillery::VERSION,
        distillery_api::RUSTC_VERSION,
        distillery_api::TCH_VERSION,
        distillery_api::LIBTORCH_VERSION
    );
    Box::leak(v.into_boxed_str())
}

#[derive(Args, Clone)]
struct RunArgs {
    /// Protocol: a shipped name (hard-label, hard-label-dc1000) or a path to a .toml file.
    #[arg(long)]
    protocol: Option<String>,
    /// Dataset: `mnist-5k` (embedded) or a directory (MNIST idx, CIFAR-10/100 binary, ImageFolder).
    #[arg(long)]
    dataset: Option<String>,
    /// ImageFolder datasets: resize images to SIZE x SIZE.
    #[arg(long, default_value_t = 32)]
    image_size: u32,
    /// ImageFolder datasets: 3 (RGB) or 1 (grayscale) channels.
    #[arg(long, default_value_t = 3)]
    channels: usize,
    /// Methods to run, comma-separated, or `all` for every installed plugin (replaces the
    /// protocol's default list; the `random` baseline is always added). `file:PATH` evaluates
    /// a compressed set read from a file (see --from).
    #[arg(long, value_delimiter = ',')]
    methods: Option<Vec<String>>,
    /// Compressed sets made elsewhere, comma-separated: .safetensors, .npz or ImageFolder
    /// directories, evaluated like plugins (rows `file:<name>`; same as --methods file:PATH,
    /// added to the methods run). Layout: CONTRIBUTING.md, "Evaluating a set made elsewhere".
    #[arg(long, value_delimiter = ',')]
    from: Vec<PathBuf>,
    /// Images-per-class budgets, comma-separated.
    #[arg(long, value_delimiter = ',')]
    ipc: Option<Vec<usize>>,
    /// Fraction budgets of the train split (pruning-style), comma-separated, e.g. 0.1,0.3.
    #[arg(long, value_delimiter = ',')]
    fraction: Option<Vec<f64>>,
    /// Byte budgets (images + labels at their stored precision), comma-separated.
    #[arg(long, value_delimiter = ',')]
    bytes: Option<Vec<u64>>,
    /// Number of seeds (repeats) per cell; seeds are 0..N.
    #[arg(long)]
    seeds: Option<usize>,
    /// Output directory for cell records (default: bench-out/<protocol>/<dataset>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// cpu, cuda, cuda:N or auto (CUDA when available).
    #[arg(long, default_value = "auto")]
    device: String,
    /// Total CPU threads (default: SLURM_CPUS_PER_TASK or all CPUs), split across parallel cells.
    #[arg(long)]
    threads: Option<usize>,
    /// Cells run in parallel (default: 1 on GPU; on CPU, one per thread, each cell single-threaded).
    #[arg(long)]
    jobs: Option<usize>,
    /// Extra plugin directories or files (also DISTILLERY_PLUGINS, `:`-separated).
    #[arg(long, value_delimiter = ',')]
    plugins: Vec<PathBuf>,
    /// Do not reuse or store reference (`full`) cells in the per-user cache.
    #[arg(long)]
    no_cache: bool,
    /// Method settings outside the protocol: a TOML file of [methods.<name>] tables, merged
    /// over the protocol's. Recorded in every cell; changes it re-run the affected cells.
    #[arg(long)]
    method_config: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Print versions, devices and threads.
    Env {
        #[arg(long)]
        json: bool,
    },
    /// List plugins found on the search path, with their status.
    List {
        #[arg(long, value_delimiter = ',')]
        plugins: Vec<PathBuf>,
    },
    /// Print the table for a result directory (or publish it under results/).
    Report {
        dir: PathBuf,
        /// Output format (CSV columns: harness/src/report/SCHEMA.md).
        #[arg(long, value_enum, default_value_t = report::Format::Terminal)]
        format: report::Format,
        /// With --format csv or json: one row per cell record instead of per (method, budget).
        #[arg(long)]
        per_cell: bool,
        /// Same as --format json (kept for older scripts).
        #[arg(long, hide = true)]
        json: bool,
        /// Write tables, figures and a README to RESULTS/<dataset>/<protocol>/ and update RESULTS/README.md.
        #[arg(long)]
        publish: bool,
        /// Root of the published results (with --publish).
        #[arg(long, default_value = "results")]
        results: PathBuf,
        /// Terminal table width in columns (default: the terminal's).
        #[arg(long)]
        width: Option<u16>,
        /// Soft/native-label reports: the hard-label results of the same dataset for the label
        /// gain (default: bench-out/hard-label/<dataset> or results/<dataset>/hard-label next to DIR).
        #[arg(long)]
        hard_label: Option<PathBuf>,
    },
    /// Compare two result directories (B - A per method and budget, with tests).
    Compare {
        /// Baseline side: a `bench --out` directory or a published results directory.
        a: PathBuf,
        /// Other side, same kinds.
        b: PathBuf,
        #[arg(long, value_enum, default_value_t = report::Format::Terminal)]
        format: report::Format,
        #[arg(long)]
        width: Option<u16>,
    },
    /// Plugin tools: `bench plugin check PATH` runs the conformance check on a library.
    Plugin {
        #[command(subcommand)]
        cmd: PluginCmd,
    },
    /// Run a method once (one budget, one seed, exactly as a cell would) and write its
    /// compressed set: FILE.safetensors (the layout `--from` reads), FILE.npz or DIR/.
    Export(distillery::export::ExportArgs),
    /// Train (or load from the cache) the protocol's teacher and print its accuracy.
    Teacher {
        /// A protocol with a [teacher] table (soft-label, native-label or a file).
        #[arg(long)]
        protocol: String,
        /// Dataset (default: the protocol's).
        #[arg(long)]
        dataset: Option<String>,
        #[arg(long, default_value_t = 32)]
        image_size: u32,
        #[arg(long, default_value_t = 3)]
        channels: usize,
        /// cpu, cuda, cuda:N or auto.
        #[arg(long, default_value = "auto")]
        device: String,
        /// CPU threads (default: all).
        #[arg(long)]
        threads: Option<usize>,
        /// Print the teacher record as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Start a new method plugin from the template: plugins/NAME, added to the workspace.
    NewPlugin {
        /// Method name: lowercase letters, digits and '-'.
        name: String,
    },
    /// Internal: run one cell of a plan (used by the executor in a child process).
    #[command(name = "__cell", hide = true)]
    Cell {
        #[arg(long)]
        plan: PathBuf,
        #[arg(long)]
        cell: String,
    },
}

#[derive(Subcommand)]
enum PluginCmd {
    /// Conformance run on tiny data: loads, declares, valid output within budgets, deterministic.
    Check {
        /// Path to the plugin's shared library (e.g. target/release/libdistillery_plugin_x.so).
        path: PathBuf,
        /// A method-config file ([methods.<name>] tables); the plugin's table is passed to it
        /// (e.g. fewer iterations for a quick check). Default: the plugin's own defaults.
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

/// A user error (exit 2) as opposed to an internal one.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct UserError(String);

fn user<E: std::fmt::Display>(e: E) -> anyhow::Error {
    UserError(e.to_string()).into()
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            if e.downcast_ref::<UserError>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::from(3)
            }
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.cmd {
        Some(Cmd::Env { json }) => {
            let info = env::collect();
            if json {
                println!("{}", serde_json::to_string_pretty(&info)?);
            } else {
                println!("{}", info.render());
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(Cmd::List { plugins }) => {
            list(&plugins);
            Ok(ExitCode::SUCCESS)
        }
        Some(Cmd::Report {
            dir,
            format,
            per_cell,
            json,
            publish,
            results,
            width,
            hard_label,
        }) => {
            let format = if json { report::Format::Json } else { format };
            let args = report::ReportArgs {
                dir,
                format,
                per_cell,
                publish,
                results,
                width,
                hard_label,
            };
            report::cli_report(&args).map_err(user)?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Cmd::Compare {
            a,
            b,
            format,
            width,
        }) => {
            report::cli_compare(&a, &b, format, width).map_err(user)?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Cmd::Teacher {
            protocol,
            dataset,
            image_size,
            channels,
            device,
            threads,
            json,
        }) => {
            let loaded = Loaded::resolve(&protocol).map_err(user)?;
            let p = &loaded.protocol;
            if p.teacher.is_none() {
                return Err(user(format!(
                    "{}: protocol '{}' has no [teacher] table",
                    loaded.origin, p.name
                )));
            }
            let dataset = dataset.unwrap_or_else(|| p.defaults.dataset.clone());
            let image = distillery::dataset::ImageOptions {
                size: image_size,
                channels,
            };
            let data = Prepared::load(&dataset, &image, &p.data).map_err(user)?;
            let device = resolve_device(&device)?;
            if let Some(n) = threads {
                tch::set_num_threads(n.max(1) as i32);
            }
            let (_, t) = distillery::cell::obtain_teacher(
                p,
                &data,
                distillery_api::method::parse_device(&device).map_err(user)?,
            )
            .map_err(|e| anyhow::anyhow!(e))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&t)?);
            } else {
                println!("{}", teacher_line(&t));
                println!(
                    "cache: {}",
                    distillery_api::teacher::entry_dir(
                        &distillery::executor::cache_root().unwrap_or_default(),
                        &t.key
                    )
                    .display()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(Cmd::Cell { plan, cell }) => {
            let plan_path = plan.clone();
            let text = std::fs::read_to_string(&plan)
                .with_context(|| format!("reading {}", plan.display()))?;
            let plan: Plan = serde_json::from_str(&text)
                .with_context(|| format!("parsing {}", plan.display()))?;
            let spec = plan
                .cells
                .iter()
                .find(|c| c.id == cell)
                .with_context(|| format!("no cell {cell} in the plan"))?
                .clone();
            let out_dir = plan_path
                .parent()
                .map(|p| p.to_path_buf())
                .unwrap_or_default();
            let rec = distillery::cell::run(&plan, &spec, &out_dir)?;
            Ok(if rec.status == record::Status::Ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Some(Cmd::Plugin {
            cmd: PluginCmd::Check { path, config },
        }) => {
            if !path.exists() {
                return Err(user(format!("{}: no such file", path.display())));
            }
            let table = match &config {
                None => serde_json::json!({}),
                Some(f) => {
                    let o = distillery::method_config::load(f).map_err(user)?;
                    let name = distillery::plugin::load(&path)
                        .map(|p| p.info.name)
                        .unwrap_or_default();
                    o.get(&name)
                        .cloned()
                        .unwrap_or_else(|| serde_json::json!({}))
                }
            };
            let checks = distillery::conformance::run(&path, &table);
            let (text, ok) = distillery::conformance::render(&path, &checks);
            print!("{text}");
            Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Some(Cmd::Export(a)) => export(&a),
        Some(Cmd::NewPlugin { name }) => {
            let dir =
                distillery::scaffold::new_plugin(&std::env::current_dir()?, &name).map_err(user)?;
            let krate = format!("distillery-plugin-{name}");
            println!(
                "created {}
next:
  1. implement `compress` in {}/src/lib.rs
  2. ./setup.sh   (or: cargo build --release -p {krate})
  3. ./target/release/bench plugin check target/release/libdistillery_plugin_{}.so
  4. ./target/release/bench --protocol hard-label --methods {name}",
                dir.display(),
                dir.display(),
                name.replace('-', "_")
            );
            Ok(ExitCode::SUCCESS)
        }
        None => bench(cli.run),
    }
}

fn list(extra: &[PathBuf]) {
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
    t.set_header([
        "name",
        "family",
        "version",
        "status",
        "path",
        "description / paper",
    ]);
    for c in plugin::discover(extra) {
        match c {
            plugin::Candidate::Ok(p) => {
                t.add_row([
                    p.info.name.clone(),
                    p.info.family.as_str().into(),
                    p.info.version.clone(),
                    "ok".into(),
                    p.path.display().to_string(),
                    format!("{}\n{}", p.info.description, p.info.paper),
                ]);
            }
            plugin::Candidate::Rejected { path, reason } => {
                t.add_row([
                    String::from("?"),
                    String::new(),
                    String::new(),
                    format!("rejected: {reason}"),
                    path.display().to_string(),
                    String::new(),
                ]);
            }
        }
    }
    t.add_row(distillery::import::list_row());
    println!("{t}");
    let dirs: Vec<String> = plugin::search_path(extra)
        .iter()
        .map(|(d, _)| d.display().to_string())
        .collect();
    println!("search path: {}", dirs.join(":"));
}

fn export(a: &distillery::export::ExportArgs) -> anyhow::Result<ExitCode> {
    use distillery::export::ExportError;
    match distillery::export::run(a) {
        Ok(e) => {
            println!(
                "wrote {}: {} images ({}), {} bytes (images {} + labels {})\nevaluate it with: bench --protocol {} --from {} --{} --seeds {}",
                e.path.display(),
                e.images,
                e.kind,
                e.storage.total_bytes,
                e.storage.image_bytes,
                e.storage.label_bytes,
                a.protocol,
                e.path.display(),
                e.budget_flag,
                a.seed + 1
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(ExportError::Input(m)) => Err(user(m)),
        Err(ExportError::Method(m)) => {
            eprintln!("error: {m}");
            Ok(ExitCode::from(1))
        }
    }
}

/// One line about a teacher: model, accuracies, provenance.
fn teacher_line(t: &record::TeacherRecord) -> String {
    format!(
        "teacher {}: {}, {} parameters; val {:.2}% (epoch {} of {}), test {:.2}%; {}",
        &t.key[..12],
        t.model,
        t.parameters,
        t.val_acc * 100.0,
        t.best_epoch,
        t.epochs_run,
        t.test_acc * 100.0,
        if t.from_cache {
            "from the cache".to_string()
        } else {
            format!("trained in {:.0} s", t.train_seconds)
        }
    )
}

fn resolve_device(s: &str) -> anyhow::Result<String> {
    Ok(match s {
        "auto" => {
            if tch::Cuda::is_available() {
                "cuda:0".into()
            } else {
                "cpu".into()
            }
        }
        "cpu" => "cpu".into(),
        s if s == "cuda" || s.starts_with("cuda:") => {
            if !tch::Cuda::is_available() {
                return Err(user(format!("--device {s}: CUDA is not available on this machine (`bench env` shows what libtorch sees)")));
            }
            if s == "cuda" {
                "cuda:0".into()
            } else {
                s.into()
            }
        }
        other => {
            return Err(user(format!(
                "--device {other}: expected cpu, cuda, cuda:N or auto"
            )))
        }
    })
}

fn bench(args: RunArgs) -> anyhow::Result<ExitCode> {
    let Some(pspec) = args.protocol.as_deref() else {
        return Err(user(
            "no protocol given: run `bench --protocol hard-label` (see `bench --help`)",
        ));
    };
    let loaded = Loaded::resolve(pspec).map_err(user)?;
    let p = &loaded.protocol;
    let dataset = args
        .dataset
        .clone()
        .unwrap_or_else(|| p.defaults.dataset.clone());
    let image = distillery::dataset::ImageOptions {
        size: args.image_size,
        channels: args.channels,
    };
    let data = Prepared::load(&dataset, &image, &p.data).map_err(user)?;
    let device = resolve_device(&args.device)?;

    let mut budgets: Vec<Budget> = Vec::new();
    if args.ipc.is_none() && args.fraction.is_none() && args.bytes.is_none() {
        budgets.extend(p.defaults.ipc.iter().map(|&k| Budget::Ipc(k)));
    }
    for &k in args.ipc.iter().flatten() {
        if k == 0 {
            return Err(user("--ipc: budgets must be positive"));
        }
        budgets.push(Budget::Ipc(k));
    }
    for &f in args.fraction.iter().flatten() {
        if !(f > 0.0 && f <= 1.0) {
            return Err(user(format!("--fraction {f}: must be in (0, 1]")));
        }
        budgets.push(Budget::Fraction(f));
    }
    for &b in args.bytes.iter().flatten() {
        if b == 0 {
            return Err(user("--bytes: budgets must be positive"));
        }
        budgets.push(Budget::Bytes(b));
    }
    let seeds = args.seeds.unwrap_or(p.defaults.seeds);
    if seeds == 0 {
        return Err(user("--seeds must be at least 1"));
    }

    let available = plugin::available(&args.plugins);
    let by_name: HashMap<String, plugin::Plugin> = available
        .iter()
        .map(|p| (p.info.name.clone(), p.clone()))
        .collect();
    // `file:PATH` entries (and --from) are sets imported from files, not plugins.
    let (named, imported) =
        distillery::import::split_methods(args.methods.as_deref().unwrap_or_default(), &args.from);
    let wanted: Vec<String> = match args.methods.as_ref().map(|_| &named) {
        Some(m) if m.len() == 1 && m[0] == "all" => {
            let mut v: Vec<String> = by_name.keys().cloned().collect();
            v.sort();
            v
        }
        Some(m) => m.clone(),
        None => p.defaults.methods.clone(),
    };
    // Families from the plugins already loaded; `find` only runs for a missing name, to
    // explain what is available and what was rejected.
    let family_of = |m: &str| -> anyhow::Result<distillery_api::Family> {
        match by_name.get(m) {
            Some(p) => Ok(p.info.family),
            None => Err(user(plugin::find(m, &args.plugins).err().map_or_else(
                || format!("no plugin named '{m}'"),
                |e| e.to_string(),
            ))),
        }
    };
    let mut methods = Vec::new();
    for m in &wanted {
        methods.push((m.clone(), family_of(m)?));
    }
    let method_overrides = match &args.method_config {
        None => Default::default(),
        Some(f) => {
            let o = distillery::method_config::load(f).map_err(user)?;
            if let Some(unknown) = o.keys().find(|k| !by_name.contains_key(*k)) {
                return Err(user(format!(
                    "method config {}: [methods.{unknown}] names no installed plugin",
                    f.display()
                )));
            }
            o
        }
    };
    // The random baseline runs in every table that has a competing method.
    if !methods.iter().any(|(m, _)| m == report::BASELINE)
        && (!imported.is_empty()
            || methods
                .iter()
                .any(|(_, f)| *f != distillery_api::Family::Reference))
    {
        methods.insert(0, (report::BASELINE.into(), family_of(report::BASELINE)?));
        eprintln!(
            "note: added the '{}' baseline: every method is compared with it",
            report::BASELINE
        );
    }

    // Every imported file is read and checked against the dataset now (exit 2 on a bad file).
    let imports = distillery::import::plan(&imported, &data, &budgets, seeds).map_err(user)?;
    for w in imports.sources.iter().flat_map(|s| &s.warnings) {
        eprintln!("warning: {w}");
    }

    let cpus = std::env::var("SLURM_CPUS_PER_TASK")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        });
    let threads = args.threads.unwrap_or(cpus).max(1);
    let jobs = args
        .jobs
        .unwrap_or(if device == "cpu" { threads } else { 1 })
        .clamp(1, threads);
    let threads_per_cell = (threads / jobs).max(1);

    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("bench-out").join(&p.name).join(&data.name));
    let plan = Plan {
        protocol_origin: loaded.origin.clone(),
        protocol_text: loaded.text.clone(),
        protocol_hash: loaded.hash.clone(),
        dataset: dataset.clone(),
        image,
        dataset_checksum: data.checksum.clone(),
        device: device.clone(),
        threads_per_cell,
        plugin_dirs: args
            .plugins
            .iter()
            .map(|p| std::path::absolute(p).unwrap_or(p.clone()))
            .collect(),
        method_config_origin: args.method_config.as_ref().map(|p| {
            std::path::absolute(p)
                .unwrap_or(p.clone())
                .display()
                .to_string()
        }),
        method_overrides,
        cells: [plan::cells(&methods, &budgets, seeds), imports.cells].concat(),
    };
    eprintln!(
        "bench: protocol {} v{} ({}), dataset {} ({} train / {} val / {} test, checksum {}), {} cells on {device}, {jobs} parallel x {threads_per_cell} thread(s); records in {}",
        p.name,
        p.version,
        loaded.short_hash(),
        data.name,
        data.train.len(),
        data.val.len(),
        data.test.len(),
        &data.checksum[..12],
        plan.cells.len(),
        out.display()
    );
    if device != "cpu" {
        eprintln!("note: GPU results are reproducible only up to nondeterministic CUDA kernels; CPU runs are bit-identical per seed");
    }
    if p.labels == distillery::protocol::LabelMode::Soft {
        // Every cell needs the teacher: train (or load) it once here, with all threads,
        // rather than in the first cell while the others wait on its lock.
        tch::set_num_threads(threads as i32);
        let (_, t) = distillery::cell::obtain_teacher(
            p,
            &data,
            distillery_api::method::parse_device(&device).map_err(user)?,
        )
        .map_err(|e| anyhow::anyhow!(e))?;
        eprintln!("{}", teacher_line(&t));
    }
    drop(data);
    let opts = executor::Options {
        out: out.clone(),
        jobs,
        reference_cache: if args.no_cache {
            None
        } else {
            executor::default_cache_dir()
        },
    };
    let started = std::time::Instant::now();
    let records = executor::run(&plan, &by_name, &opts)?;
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
    report::attach_label_gain(&mut rep, &out, None);
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
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
