//! `bench env`: what this binary was built with and what it can run on.

use serde::Serialize;

#[derive(Serialize)]
pub struct EnvInfo {
    pub distillery: String,
    pub rustc: String,
    pub tch: String,
    pub libtorch: String,
    pub libtorch_lib: String,
    pub cuda_available: bool,
    pub cuda_devices: i64,
    pub cudnn_available: bool,
    pub default_device: String,
    pub intra_op_threads: i32,
    pub cpus: usize,
    pub slurm_cpus_per_task: Option<String>,
}

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
