//! Options shared by several subcommands, declared once and `#[command(flatten)]`ed.
//!
//! Each group turns what was typed into what the library takes in one `resolve()`. Where a
//! subcommand words an option's help differently, it rewrites the help text only
//! (`mut_arg`), never the option.

use crate::dataset::{DatasetKind, ImageOptions, Prepared};
use crate::error::BenchError;
use crate::plugin::{self, Plugin};
use crate::protocol::Protocol;
use distillery_api::{Budget, BudgetError, Family};
use std::collections::HashMap;
use std::path::PathBuf;

/// `--dataset`, `--image-size`, `--channels`, `--dataset-kind`.
#[derive(clap::Args, Clone, Debug)]
pub struct DataArgs {
    /// Dataset: `mnist-5k` (embedded) or a directory (MNIST idx, CIFAR-10/100 binary, ImageFolder).
    #[arg(long)]
    pub dataset: Option<String>,
    /// ImageFolder datasets: resize (stretch, no crop) images to SIZE x SIZE; the protocol's
    /// student needs a minimum (8 for the default ConvNet-3 on RGB, 4 on grayscale).
    #[arg(long, default_value_t = 32)]
    pub image_size: u32,
    /// ImageFolder datasets: 3 (RGB) or 1 (grayscale) channels.
    #[arg(long, default_value_t = 3)]
    pub channels: usize,
    /// Directories of idx files: what they hold (class names; flip augmentation for
    /// fashion-mnist only). Needed unless the files are the published MNIST or Fashion-MNIST
    /// release (recognised by content); never guessed from the path.
    #[arg(long, value_enum)]
    pub dataset_kind: Option<DatasetKind>,
}

impl DataArgs {
    /// The dataset spec (`--dataset`, else the protocol's `default_dataset`) and how it is
    /// read (ImageFolder side in pixels and channels, idx kind).
    pub fn resolve(&self, default_dataset: &str) -> (String, ImageOptions) {
        (
            self.dataset
                .clone()
                .unwrap_or_else(|| default_dataset.to_string()),
            ImageOptions {
                size: self.image_size,
                channels: self.channels,
                kind: self.dataset_kind,
            },
        )
    }

    /// Resolves and loads the dataset for protocol `p`, checks that the protocol's networks
    /// can run on its images ([`Prepared::check_networks`]), and prints to standard error
    /// what the loader decided ([`Prepared::notes`]) and its warnings. Bad input is exit 2.
    pub fn load(&self, p: &Protocol) -> Result<(String, ImageOptions, Prepared), BenchError> {
        let (dataset, image) = self.resolve(&p.defaults.dataset);
        let data = Prepared::load(&dataset, &image, &p.data).map_err(BenchError::bad_input)?;
        data.check_networks(p).map_err(BenchError::input)?;
        for line in data.notes() {
            eprintln!("{line}");
        }
        for w in &data.source.warnings {
            eprintln!("warning: {w}");
        }
        Ok((dataset, image, data))
    }
}

/// `--device`.
#[derive(clap::Args, Clone, Debug)]
pub struct DeviceArgs {
    /// cpu, cuda, cuda:N or auto (CUDA when available).
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// Deterministic mode: libtorch's deterministic algorithms and deterministic cuDNN (an
    /// operation with no deterministic implementation fails instead); recorded in every
    /// record. CPU runs are deterministic without it.
    #[arg(long)]
    pub deterministic: bool,
}

impl DeviceArgs {
    /// The device to run on, asking libtorch whether CUDA is there (see [`parse_device`]).
    /// With `--deterministic`, also switches this process to deterministic mode
    /// ([`crate::gpu::set_deterministic`]); cell processes get it through the plan.
    pub fn resolve(&self) -> Result<tch::Device, BenchError> {
        if self.deterministic {
            crate::gpu::set_deterministic(true);
        }
        let cuda = tch::Cuda::is_available();
        let count = if cuda { tch::Cuda::device_count() } else { 0 };
        parse_device(&self.device, count as usize)
    }
}

/// Parses `--device` for a machine with `cuda_devices` CUDA devices: `auto` is `cuda:0` when
/// there is one and `cpu` otherwise; `cpu`; `cuda` (= `cuda:0`) and `cuda:N` only when that
/// device exists. Anything else is an error (exit 2): there is no silent fallback to the CPU.
pub fn parse_device(s: &str, cuda_devices: usize) -> Result<tch::Device, BenchError> {
    // The syntax is the API's (`cpu`, `cuda`, `cuda:N`; the form records and plugin requests
    // use); `auto` and whether the device exists are decided here.
    let index = match s {
        "auto" if cuda_devices > 0 => 0,
        "auto" => return Ok(tch::Device::Cpu),
        s => match distillery_api::method::parse_device(s) {
            Ok(tch::Device::Cuda(i)) => i,
            Ok(d) => return Ok(d),
            Err(_) => {
                return Err(BenchError::Usage(format!(
                    "--device {s}: expected cpu, cuda, cuda:N or auto"
                )))
            }
        },
    };
    if cuda_devices == 0 {
        return Err(BenchError::Usage(format!(
            "--device {s}: CUDA is not available on this machine (`bench env` shows what libtorch sees)"
        )));
    }
    if index >= cuda_devices {
        return Err(BenchError::Usage(format!(
            "--device {s}: this machine has {cuda_devices} CUDA device(s), cuda:0 to cuda:{} (`bench env` shows what libtorch sees)",
            cuda_devices - 1
        )));
    }
    Ok(tch::Device::Cuda(index))
}

/// `--threads`.
#[derive(clap::Args, Clone, Debug)]
pub struct ThreadArgs {
    /// Total CPU threads (default: SLURM_CPUS_PER_TASK or all CPUs), split across parallel cells.
    #[arg(long)]
    pub threads: Option<usize>,
}

impl ThreadArgs {
    /// `--threads`, else `default`; at least 1.
    pub fn resolve(&self, default: usize) -> usize {
        self.threads.unwrap_or(default).max(1)
    }
}

/// `--group auto|off|N`: how many cells' students may train as one grouped model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupPolicy {
    /// Group where it was measured to pay: on a GPU (see `crate::gpu::AUTO_GPU_GROUP`), not
    /// on the CPU (a grouped step measured slower there than separate steps).
    Auto,
    /// Every cell trains alone.
    Off,
    /// Up to N cells of one budget per grouped model (1 = off).
    Max(usize),
}

impl std::str::FromStr for GroupPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Self::Auto),
            "off" => Ok(Self::Off),
            n => match n.parse::<usize>() {
                Ok(k) if k >= 1 => Ok(Self::Max(k)),
                _ => Err(format!(
                    "expected auto, off or a number of cells >= 1, not {n:?}"
                )),
            },
        }
    }
}

/// The CPUs a run may use: `SLURM_CPUS_PER_TASK` when it is set to a number, else
/// `available` (the machine's CPUs). Pure: the caller reads the environment.
pub fn cpus(slurm_cpus_per_task: Option<&str>, available: usize) -> usize {
    slurm_cpus_per_task
        .and_then(|v| v.parse().ok())
        .unwrap_or(available)
}

/// `--executor` and the Slurm options of a run (`bench --protocol P --executor slurm …`).
///
/// The Slurm options default to the `[slurm]` table of the user config file
/// ([`user_config_path`]), whose keys are the options' names with `_` (`partition`,
/// `time`, `cpus_per_task`, `mem`, `mem_per_cpu`, `gres`, `gpus_per_task`, `account`, `qos`,
/// `array_parallelism`, `sbatch_args` (a list), `cells_per_task`, `poll_seconds`); an option
/// given on the command line wins, `--sbatch-arg`s are added after the file's.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct ExecutorArgs {
    /// Where the cells run: `local` (child processes on this machine) or `slurm` (one Slurm
    /// job array; see the README, "Running on a Slurm cluster").
    #[arg(long, default_value = "local", value_parser = ["local", "slurm"])]
    pub executor: String,
    /// Slurm: partition (`sbatch --partition`).
    #[arg(long, help_heading = "Slurm executor")]
    pub partition: Option<String>,
    /// Slurm: time limit per array task (`sbatch --time`, e.g. 02:00:00).
    #[arg(long, help_heading = "Slurm executor")]
    pub time: Option<String>,
    /// Slurm: CPUs per task (`sbatch --cpus-per-task`), also each task's torch threads.
    #[arg(long, help_heading = "Slurm executor")]
    pub cpus_per_task: Option<usize>,
    /// Slurm: memory per task (`sbatch --mem`, e.g. 16G).
    #[arg(long, help_heading = "Slurm executor")]
    pub mem: Option<String>,
    /// Slurm: memory per CPU (`sbatch --mem-per-cpu`).
    #[arg(long, help_heading = "Slurm executor")]
    pub mem_per_cpu: Option<String>,
    /// Slurm: generic resources per task (`sbatch --gres`, e.g. gpu:1).
    #[arg(long, help_heading = "Slurm executor")]
    pub gres: Option<String>,
    /// Slurm: GPUs per task (`sbatch --gpus-per-task`).
    #[arg(long, help_heading = "Slurm executor")]
    pub gpus_per_task: Option<String>,
    /// Slurm: account to charge (`sbatch --account`).
    #[arg(long, help_heading = "Slurm executor")]
    pub account: Option<String>,
    /// Slurm: quality of service (`sbatch --qos`).
    #[arg(long, help_heading = "Slurm executor")]
    pub qos: Option<String>,
    /// Slurm: at most N array tasks at once (`--array=0-M%N`).
    #[arg(long, help_heading = "Slurm executor")]
    pub array_parallelism: Option<usize>,
    /// Slurm: one more sbatch option, e.g. --sbatch-arg=--constraint=a100 (repeatable).
    #[arg(
        long = "sbatch-arg",
        allow_hyphen_values = true,
        help_heading = "Slurm executor"
    )]
    pub sbatch_args: Vec<String>,
    /// Slurm: cells per array task (cells of one budget share a task; default 1).
    #[arg(long, help_heading = "Slurm executor")]
    pub cells_per_task: Option<usize>,
    /// Slurm: return once the array is submitted (follow it with `bench status DIR`).
    #[arg(long, help_heading = "Slurm executor")]
    pub detach: bool,
}

/// Where a run's cells go, resolved from [`ExecutorArgs`] and the user config file.
#[derive(Clone, Debug, PartialEq)]
pub enum Executor {
    /// Child processes on this machine.
    Local,
    /// One Slurm job array with these settings; `detach`: return after submitting.
    Slurm {
        options: Box<crate::executor::slurm::SlurmOptions>,
        detach: bool,
    },
}

/// The user config file: `$XDG_CONFIG_HOME/distillery/config.toml`, else
/// `~/.config/distillery/config.toml`; `None` without either variable.
pub fn user_config_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("distillery").join("config.toml"))
}

/// The `[slurm]` table of the config file `text` (read from `path`, named in errors).
///
/// # Errors
/// Invalid TOML or an unknown key (exit 2).
pub fn slurm_defaults(
    text: &str,
    path: &std::path::Path,
) -> Result<crate::executor::slurm::SlurmOptions, BenchError> {
    #[derive(serde::Deserialize, Default)]
    struct File {
        #[serde(default)]
        slurm: crate::executor::slurm::SlurmOptions,
    }
    let f: File =
        toml::from_str(text).map_err(|e| BenchError::Usage(format!("{}: {e}", path.display())))?;
    Ok(f.slurm)
}

impl ExecutorArgs {
    /// The executor: `--executor`, the Slurm options over `defaults` (the config file's
    /// `[slurm]` table). Slurm options with the local executor are an error (exit 2).
    pub fn resolve_with(
        &self,
        defaults: crate::executor::slurm::SlurmOptions,
    ) -> Result<Executor, BenchError> {
        let given = [
            ("--partition", self.partition.is_some()),
            ("--time", self.time.is_some()),
            ("--cpus-per-task", self.cpus_per_task.is_some()),
            ("--mem", self.mem.is_some()),
            ("--mem-per-cpu", self.mem_per_cpu.is_some()),
            ("--gres", self.gres.is_some()),
            ("--gpus-per-task", self.gpus_per_task.is_some()),
            ("--account", self.account.is_some()),
            ("--qos", self.qos.is_some()),
            ("--array-parallelism", self.array_parallelism.is_some()),
            ("--sbatch-arg", !self.sbatch_args.is_empty()),
            ("--cells-per-task", self.cells_per_task.is_some()),
            ("--detach", self.detach),
        ];
        if self.executor == "local" {
            if let Some((flag, _)) = given.iter().find(|(_, g)| *g) {
                return Err(BenchError::Usage(format!(
                    "{flag} is an option of the Slurm executor: add --executor slurm"
                )));
            }
            return Ok(Executor::Local);
        }
        if self.cells_per_task == Some(0) || self.array_parallelism == Some(0) {
            return Err(BenchError::Usage(
                "--cells-per-task and --array-parallelism must be at least 1".into(),
            ));
        }
        let d = defaults;
        let or = |a: &Option<String>, b: Option<String>| a.clone().or(b);
        Ok(Executor::Slurm {
            options: Box::new(crate::executor::slurm::SlurmOptions {
                partition: or(&self.partition, d.partition),
                time: or(&self.time, d.time),
                cpus_per_task: self.cpus_per_task.or(d.cpus_per_task),
                mem: or(&self.mem, d.mem),
                mem_per_cpu: or(&self.mem_per_cpu, d.mem_per_cpu),
                gres: or(&self.gres, d.gres),
                gpus_per_task: or(&self.gpus_per_task, d.gpus_per_task),
                account: or(&self.account, d.account),
                qos: or(&self.qos, d.qos),
                array_parallelism: self.array_parallelism.or(d.array_parallelism),
                sbatch_args: [d.sbatch_args, self.sbatch_args.clone()].concat(),
                cells_per_task: self.cells_per_task.or(d.cells_per_task),
                poll_seconds: d.poll_seconds,
            }),
            detach: self.detach,
        })
    }

    /// [`ExecutorArgs::resolve_with`] the user config file's `[slurm]` table (when the file
    /// exists and the executor is Slurm).
    pub fn resolve(&self) -> Result<Executor, BenchError> {
        let defaults = match (self.executor.as_str(), user_config_path()) {
            ("slurm", Some(p)) if p.exists() => {
                let text = std::fs::read_to_string(&p)
                    .map_err(|e| BenchError::Usage(format!("{}: {e}", p.display())))?;
                slurm_defaults(&text, &p)?
            }
            _ => Default::default(),
        };
        self.resolve_with(defaults)
    }
}

/// `--ipc`, `--fraction`, `--bytes`.
#[derive(clap::Args, Clone, Debug)]
pub struct BudgetArgs {
    /// Images-per-class budgets, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub ipc: Option<Vec<usize>>,
    /// Fraction budgets of the train split (pruning-style), comma-separated, e.g. 0.1,0.3.
    #[arg(long, value_delimiter = ',')]
    pub fraction: Option<Vec<f64>>,
    /// Byte budgets (images + labels at their stored precision), comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub bytes: Option<Vec<u64>>,
}

impl BudgetArgs {
    /// The budgets given, in the order `--ipc`, `--fraction`, `--bytes`, each checked
    /// (positive; a fraction in (0, 1]); `default_ipc` when none is given.
    pub fn resolve(&self, default_ipc: &[usize]) -> Result<Vec<Budget>, BenchError> {
        let mut budgets: Vec<Budget> = Vec::new();
        if self.ipc.is_none() && self.fraction.is_none() && self.bytes.is_none() {
            budgets.extend(default_ipc.iter().map(|&k| Budget::Ipc(k)));
        }
        // The checks and their texts are `Budget`'s; the flag is put in front.
        for &k in self.ipc.iter().flatten() {
            budgets.push(Budget::ipc(k).map_err(|e| BenchError::Usage(format!("--ipc: {e}")))?);
        }
        for &f in self.fraction.iter().flatten() {
            budgets.push(
                Budget::fraction(f).map_err(|e| BenchError::Usage(format!("--fraction {e}")))?,
            );
        }
        for &b in self.bytes.iter().flatten() {
            budgets.push(Budget::bytes(b).map_err(|e| BenchError::Usage(format!("--bytes: {e}")))?);
        }
        Ok(budgets)
    }

    /// Exactly one budget (`bench export`): the messages `bench export` has always given.
    pub fn resolve_one(&self) -> Result<Budget, BenchError> {
        let given: Vec<Budget> = (self.ipc.iter().flatten().map(|&k| Budget::Ipc(k)))
            .chain(self.fraction.iter().flatten().map(|&f| Budget::Fraction(f)))
            .chain(self.bytes.iter().flatten().map(|&b| Budget::Bytes(b)))
            .collect();
        let [one] = given[..] else {
            return Err(BenchError::Usage(
                "give exactly one budget: --ipc K, --fraction F or --bytes B".into(),
            ));
        };
        one.validate().map_err(|e| {
            BenchError::Usage(match e {
                BudgetError::FractionRange(_) => format!("--fraction {e}"),
                _ => "the budget must be positive".into(),
            })
        })?;
        Ok(one)
    }
}

/// `--plugins`.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct PluginArgs {
    /// Extra plugin directories or files (also DISTILLERY_PLUGINS, `:`-separated).
    #[arg(long, value_delimiter = ',')]
    pub plugins: Vec<PathBuf>,
}

/// The plugins found on the search path (`--plugins`, `DISTILLERY_PLUGINS`, next to `bench`).
pub struct Plugins {
    /// The usable plugins by method name.
    pub by_name: HashMap<String, Plugin>,
    extra: Vec<PathBuf>,
}

impl PluginArgs {
    /// Discovers the usable plugins (loading each library once).
    pub fn resolve(&self) -> Plugins {
        Plugins {
            by_name: plugin::available(&self.plugins)
                .into_iter()
                .map(|p| (p.info.name.clone(), p))
                .collect(),
            extra: self.plugins.clone(),
        }
    }

    /// The extra directories as the plan records them (absolute).
    pub fn recorded(&self) -> Vec<PathBuf> {
        self.plugins
            .iter()
            .map(|p| std::path::absolute(p).unwrap_or(p.clone()))
            .collect()
    }
}

impl Plugins {
    /// Name and family of every usable plugin, sorted by name (the input of
    /// [`super::resolve::resolve`]).
    pub fn families(&self) -> Vec<(String, Family)> {
        let mut v: Vec<(String, Family)> = self
            .by_name
            .values()
            .map(|p| (p.info.name.clone(), p.info.family))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    /// Why there is no plugin named `name`: what is available and what was rejected (exit 2).
    pub fn missing(&self, name: &str) -> BenchError {
        BenchError::input(
            plugin::find(name, &self.extra)
                .err()
                .map_or_else(|| format!("no plugin named '{name}'"), |e| e.to_string()),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(r: Result<impl std::fmt::Debug, BenchError>) -> String {
        format!("{:#}", r.unwrap_err())
    }

    #[test]
    fn devices_parse_one_way_and_never_fall_back_to_the_cpu() {
        assert_eq!(parse_device("auto", 0).unwrap(), tch::Device::Cpu);
        assert_eq!(parse_device("auto", 2).unwrap(), tch::Device::Cuda(0));
        assert_eq!(parse_device("cpu", 2).unwrap(), tch::Device::Cpu);
        assert_eq!(parse_device("cuda", 1).unwrap(), tch::Device::Cuda(0));
        assert_eq!(parse_device("cuda:1", 2).unwrap(), tch::Device::Cuda(1));
        assert_eq!(
            msg(parse_device("cuda", 0)),
            "--device cuda: CUDA is not available on this machine (`bench env` shows what libtorch sees)"
        );
        assert!(msg(parse_device("cuda:2", 2)).contains("has 2 CUDA device(s)"));
        for bad in ["gpu", "cuda:x", "cuda:", "CPU", ""] {
            assert_eq!(
                msg(parse_device(bad, 1)),
                format!("--device {bad}: expected cpu, cuda, cuda:N or auto")
            );
        }
        assert_eq!(parse_device("cuda:0", 0).unwrap_err().exit_code(), 2);
    }

    #[test]
    fn slurm_cpus_win_when_they_are_a_number() {
        assert_eq!(cpus(Some("6"), 64), 6);
        assert_eq!(cpus(Some("six"), 64), 64);
        assert_eq!(cpus(None, 64), 64);
        let t = ThreadArgs { threads: Some(0) };
        assert_eq!(t.resolve(8), 1);
        assert_eq!(ThreadArgs { threads: None }.resolve(8), 8);
    }

    fn budgets(ipc: &[usize], fraction: &[f64], bytes: &[u64]) -> BudgetArgs {
        fn some<T: Clone>(v: &[T]) -> Option<Vec<T>> {
            (!v.is_empty()).then(|| v.to_vec())
        }
        BudgetArgs {
            ipc: some(ipc),
            fraction: some(fraction),
            bytes: some(bytes),
        }
    }

    #[test]
    fn budgets_default_to_the_protocol_and_are_checked() {
        let b = budgets(&[], &[], &[]).resolve(&[1, 10]).unwrap();
        assert_eq!(b.len(), 2);
        assert!(matches!(b[..], [Budget::Ipc(1), Budget::Ipc(10)]));
        let b = budgets(&[5], &[0.5], &[1000]).resolve(&[1]).unwrap();
        assert!(matches!(
            b[..],
            [Budget::Ipc(5), Budget::Fraction(_), Budget::Bytes(1000)]
        ));
        assert_eq!(
            msg(budgets(&[0], &[], &[]).resolve(&[1])),
            "--ipc: budgets must be positive"
        );
        assert_eq!(
            msg(budgets(&[], &[1.5], &[]).resolve(&[1])),
            "--fraction 1.5: must be in (0, 1]"
        );
        assert_eq!(
            msg(budgets(&[], &[], &[0]).resolve(&[1])),
            "--bytes: budgets must be positive"
        );
    }

    #[test]
    fn export_takes_exactly_one_budget() {
        assert!(matches!(
            budgets(&[3], &[], &[]).resolve_one().unwrap(),
            Budget::Ipc(3)
        ));
        assert_eq!(
            msg(budgets(&[], &[], &[]).resolve_one()),
            "give exactly one budget: --ipc K, --fraction F or --bytes B"
        );
        assert_eq!(
            msg(budgets(&[1, 2], &[], &[]).resolve_one()),
            "give exactly one budget: --ipc K, --fraction F or --bytes B"
        );
        assert_eq!(
            msg(budgets(&[0], &[], &[]).resolve_one()),
            "the budget must be positive"
        );
        assert_eq!(
            msg(budgets(&[], &[0.0], &[]).resolve_one()),
            "--fraction 0: must be in (0, 1]"
        );
    }

    #[test]
    fn slurm_options_come_from_the_command_line_over_the_config_file() {
        let file = "[slurm]\npartition = \"gpu\"\ntime = \"01:00:00\"\nsbatch_args = [\"--constraint=a100\"]\ncells_per_task = 4\n";
        let d = slurm_defaults(file, std::path::Path::new("c.toml")).unwrap();
        let a = ExecutorArgs {
            executor: "slurm".into(),
            time: Some("00:10:00".into()),
            sbatch_args: vec!["--exclusive".into()],
            detach: true,
            ..Default::default()
        };
        let Executor::Slurm { options, detach } = a.resolve_with(d).unwrap() else {
            panic!("slurm")
        };
        assert!(detach);
        assert_eq!(options.partition.as_deref(), Some("gpu"));
        assert_eq!(options.time.as_deref(), Some("00:10:00"));
        assert_eq!(options.cells_per_task, Some(4));
        assert_eq!(options.sbatch_args, ["--constraint=a100", "--exclusive"]);
        assert_eq!(
            msg(slurm_defaults("[slurm]\npartitoin = \"x\"\n", std::path::Path::new("c.toml"))),
            "c.toml: TOML parse error at line 2, column 1\n  |\n2 | partitoin = \"x\"\n  | ^^^^^^^^^\nunknown field `partitoin`, expected one of `partition`, `time`, `cpus_per_task`, `mem`, `mem_per_cpu`, `gres`, `gpus_per_task`, `account`, `qos`, `array_parallelism`, `sbatch_args`, `cells_per_task`, `poll_seconds`\n"
        );
        let local = ExecutorArgs {
            executor: "local".into(),
            partition: Some("gpu".into()),
            ..Default::default()
        };
        assert_eq!(
            msg(local.resolve_with(Default::default())),
            "--partition is an option of the Slurm executor: add --executor slurm"
        );
    }
}
