//! `bench env`: what this binary was built with and what it can run on.

use serde::Serialize;

/// What `bench env` reports (also as JSON, `bench env --json`).
#[derive(Serialize)]
pub struct EnvInfo {
    /// Version of the harness.
    pub distillery: String,
    /// The rustc that built `bench` (plugins must match it).
    pub rustc: String,
    /// The `tch` crate version.
    pub tch: String,
    /// The libtorch version `bench` was built against.
    pub libtorch: String,
    /// The libtorch library directory it links.
    pub libtorch_lib: String,
    /// Whether libtorch sees a CUDA device.
    pub cuda_available: bool,
    /// How many (0 without CUDA).
    pub cuda_devices: i64,
    /// Whether cuDNN is usable.
    pub cudnn_available: bool,
    /// What `--device auto` resolves to: `cuda:0` or `cpu`.
    pub default_device: String,
    /// libtorch's intra-op thread count in this process.
    pub intra_op_threads: i32,
    /// CPUs available to this process.
    pub cpus: usize,
    /// `SLURM_CPUS_PER_TASK`, when set (the default of `--threads`).
    pub slurm_cpus_per_task: Option<String>,
}

/// Asks libtorch and the process environment.
pub fn collect() -> EnvInfo {
    let cuda = tch::Cuda::is_available();
    EnvInfo {
        distillery: crate::VERSION.into(),
        rustc: distillery_api::RUSTC_VERSION.into(),
        tch: distillery_api::TCH_VERSION.into(),
        libtorch: distillery_api::LIBTORCH_VERSION.into(),
        libtorch_lib: distillery_api::LIBTORCH_LIB.into(),
        cuda_available: cuda,
        cuda_devices: if cuda { tch::Cuda::device_count() } else { 0 },
        cudnn_available: tch::Cuda::cudnn_is_available(),
        default_device: if cuda { "cuda:0".into() } else { "cpu".into() },
        intra_op_threads: tch::get_num_threads(),
        cpus: std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        slurm_cpus_per_task: std::env::var("SLURM_CPUS_PER_TASK").ok(),
    }
}

impl EnvInfo {
    /// The text `bench env` prints: one line per topic.
    pub fn render(&self) -> String {
        format!(
            "distillery {}\nrustc      {}\ntch        {}\nlibtorch   {} ({})\ndevice     {} (CUDA available: {}, devices: {}, cuDNN: {})\nthreads    {} intra-op (CPUs: {}{})",
            self.distillery,
            self.rustc,
            self.tch,
            self.libtorch,
            self.libtorch_lib,
            self.default_device,
            self.cuda_available,
            self.cuda_devices,
            self.cudnn_available,
            self.intra_op_threads,
            self.cpus,
            self.slurm_cpus_per_task.as_ref().map(|s| format!(", SLURM_CPUS_PER_TASK={s}")).unwrap_or_default()
        )
    }
}
