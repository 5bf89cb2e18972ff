//! `bench export --method M --out FILE`: run a method once, exactly as a cell would, and
//! write its compressed set (the library part is `crate::export`).

use super::args::{BudgetArgs, DataArgs, DeviceArgs, PluginArgs, ThreadArgs};
use crate::error::{exit_code, BenchError};
use crate::export::{self, OutFormat, Request};
use crate::protocol::Loaded;
use std::path::PathBuf;

/// Options of `bench export`.
#[derive(clap::Args, Clone, Debug)]
#[command(
    mut_arg("dataset", |a| a.help("Dataset: `mnist-5k` (embedded) or a directory (default: the protocol's)")),
    mut_arg("ipc", |a| a.help("Images-per-class budget (give exactly one of --ipc, --fraction, --bytes)")),
    mut_arg("fraction", |a| a.help("Fraction budget of the train split")),
    mut_arg("bytes", |a| a.help("Byte budget (images + labels at their stored precision)")),
    mut_arg("threads", |a| a
        .help("CPU threads for the method (a default `bench` cell on CPU uses 1)")
        .default_value("1")),
)]
pub struct ExportArgs {
    /// The method (plugin name) to run.
    #[arg(long)]
    pub method: String,
    /// Protocol: a shipped name or a .toml path (its validation split, method settings and view
    /// of the data are used exactly as in a cell).
    #[arg(long, default_value = "hard-label")]
    pub protocol: String,
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub budget: BudgetArgs,
    /// Run seed: the method gets the seeds a `bench` cell of this seed gets.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output: FILE.safetensors, FILE.npz, or DIR/ (an ImageFolder tree of PNGs; uint8 sets only).
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub device: DeviceArgs,
    #[command(flatten)]
    pub threads: ThreadArgs,
    #[command(flatten)]
    pub plugins: PluginArgs,
    /// Method settings outside the protocol ([methods.<name>] tables), as for `bench`.
    #[arg(long)]
    pub method_config: Option<PathBuf>,
}

/// Exports the set and prints what was written and how to evaluate it. A failing method is
/// exit 1, bad input exit 2.
pub fn run(a: &ExportArgs) -> Result<u8, BenchError> {
    let format = OutFormat::of(&a.out)?;
    let budget = a.budget.resolve_one()?;
    let loaded = Loaded::resolve(&a.protocol)?;
    let p = &loaded.protocol;
    let (_, _, data) = a.data.load(p)?;
    let device = a.device.resolve()?;
    let plugin =
        crate::plugin::find(&a.method, &a.plugins.plugins).map_err(BenchError::bad_input)?;
    let overrides = match &a.method_config {
        None => None,
        Some(f) => Some(crate::method_config::load(f)?),
    };
    let request = Request {
        loaded: &loaded,
        data: &data,
        plugin: &plugin,
        config_override: overrides.as_ref().and_then(|o| o.get(&a.method)),
        budget,
        seed: a.seed,
        device,
        threads: a.threads.resolve(1),
        out: &a.out,
        format,
    };
    let mut last = std::time::Instant::now();
    let mut progress = |cell: &str, f: f64, m: &str| {
        if last.elapsed().as_secs_f64() > 5.0 {
            eprintln!("[export {cell}] {:.0}% {m}", f * 100.0);
            last = std::time::Instant::now();
        }
    };
    let e = export::run(&request, &mut progress)?;
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
    Ok(exit_code::SUCCESS)
}
