//! GPU-side settings of a run: the deterministic mode (`--deterministic`) and the
//! memory-aware default of `--jobs` on a GPU. A leaf module (imports nothing from this crate).
//!
//! tch 0.24 exposes neither `at::Context::setDeterministicAlgorithms` nor
//! `setDeterministicCuDNN`; both are exported C++ symbols of `libtorch_cpu` (which every binary
//! of this workspace links), called here through their Itanium-ABI names with the context as
//! the implicit `this` argument (x86-64 and aarch64 Linux, the platforms setup.sh supports).

use std::process::Command;

#[allow(improper_ctypes)]
extern "C" {
    /// `at::Context& at::globalContext()`.
    #[link_name = "_ZN2at13globalContextEv"]
    fn at_global_context() -> *mut std::ffi::c_void;
    /// `void at::Context::setDeterministicAlgorithms(bool b, bool warn_only)`.
    #[link_name = "_ZN2at7Context26setDeterministicAlgorithmsEbb"]
    fn at_set_deterministic_algorithms(ctx: *mut std::ffi::c_void, b: bool, warn_only: bool);
    /// `void at::Context::setDeterministicCuDNN(bool)`.
    #[link_name = "_ZN2at7Context21setDeterministicCuDNNEb"]
    fn at_set_deterministic_cudnn(ctx: *mut std::ffi::c_void, b: bool);
    /// `bool at::Context::deterministicAlgorithms() const`.
    #[link_name = "_ZNK2at7Context23deterministicAlgorithmsEv"]
    fn at_deterministic_algorithms(ctx: *const std::ffi::c_void) -> bool;
    /// `bool at::Context::deterministicCuDNN() const`.
    #[link_name = "_ZNK2at7Context18deterministicCuDNNEv"]
    fn at_deterministic_cudnn(ctx: *const std::ffi::c_void) -> bool;
}

/// The cuBLAS workspace setting deterministic cuBLAS needs (CUDA >= 10.2; see PyTorch's
/// "Reproducibility" notes). Set by [`set_deterministic`] when the variable is unset.
pub const CUBLAS_WORKSPACE_CONFIG: &str = ":4096:8";

/// Switches libtorch's deterministic mode on or off for this process, as PyTorch's
/// `torch.use_deterministic_algorithms(on)` plus `torch.backends.cudnn.deterministic = on` and
/// `torch.backends.cudnn.benchmark = false` do: an operation without a deterministic
/// implementation then fails with libtorch's error (`warn_only` is false) instead of running
/// nondeterministically. Also sets `CUBLAS_WORKSPACE_CONFIG` (unless already set) for cuBLAS;
/// call it before the first CUDA operation of the process. On the CPU the training loop is
/// deterministic either way (tested); the switch costs nothing there.
pub fn set_deterministic(on: bool) {
    if on && std::env::var_os("CUBLAS_WORKSPACE_CONFIG").is_none() {
        std::env::set_var("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE_CONFIG);
    }
    // SAFETY: at::globalContext() returns a reference to a process-wide static that lives until
    // exit; the setters take `this` plus plain bools and only store them.
    unsafe {
        let ctx = at_global_context();
        at_set_deterministic_algorithms(ctx, on, false);
        at_set_deterministic_cudnn(ctx, on);
    }
    tch::Cuda::cudnn_set_benchmark(false);
}

/// Whether libtorch's deterministic algorithms and deterministic cuDNN are both on.
pub fn is_deterministic() -> bool {
    // SAFETY: as in `set_deterministic`; the getters only read two flags.
    unsafe {
        let ctx = at_global_context();
        at_deterministic_algorithms(ctx) && at_deterministic_cudnn(ctx)
    }
}

/// The GPU memory one cell process is assumed to hold (MiB) when `DISTILLERY_GPU_CELL_MIB` is
/// not set. Measured by the GPU check on an H200 (2026-11-29, nvidia-smi peaks): 3,965 MiB for
/// one hard-label ConvNet-3 cell at IPC 50 on CIFAR-shaped data (the CUDA context, cuDNN and
/// cuBLAS workspaces and the caching allocator's pool), ~3,100 MiB per process with 4 and 8
/// cell processes at IPC 1/10 (12,298 and 25,202 MiB in all); rounded up.
pub const DEFAULT_CELL_MIB: u64 = 4096;

/// Cells per grouped model under `--group auto` on a GPU (on the CPU `auto` never groups:
/// a grouped step measured slower than separate steps there). The largest group the GPU check
/// measured (H200, 2026-11-30: random x IPC 1,10 x 20 seeds, 300 epochs, CIFAR-shaped):
/// groups of 20 in 2 processes ran 9,743 cells/hour against 4,887 for 8 separate cell
/// processes and 3,165 for the plain PyTorch loop. See README, "GPU".
pub const AUTO_GPU_GROUP: usize = 20;

/// Grouped processes sharing one GPU by default (`--jobs` not given): the measured
/// configuration (2). A grouped process holds several students, so the per-cell memory
/// estimate does not apply to it; more processes were not measured.
pub const GROUPED_GPU_JOBS: usize = 2;

/// Memory left free on the device for everything else (MiB).
pub const RESERVE_MIB: u64 = 1024;

/// More cell processes than this on one GPU were not measured (the GPU check on an H200
/// measured 1, 2, 4 and 8: 1,521, 2,581, 3,303 and 3,864 cells/hour at IPC 1/10, flattening).
pub const MAX_GPU_JOBS: usize = 8;

/// The default number of cell processes sharing one GPU: as many as fit in the device's free
/// memory `free_mib` after [`RESERVE_MIB`], at `cell_mib` each, at most [`MAX_GPU_JOBS`] and
/// at most `threads` (each cell process needs a CPU thread to launch its kernels); at least 1.
/// `free_mib == None` (free memory unknown: no `nvidia-smi`) gives 1, today's behaviour.
///
/// Pure; `--jobs N` given by the user always wins (the caller does not call this then).
pub fn default_gpu_jobs(free_mib: Option<u64>, cell_mib: u64, threads: usize) -> usize {
    let Some(free) = free_mib else {
        return 1;
    };
    let fit = free.saturating_sub(RESERVE_MIB) / cell_mib.max(1);
    (fit as usize).clamp(1, MAX_GPU_JOBS.min(threads.max(1)))
}

/// The per-cell footprint to plan with: `DISTILLERY_GPU_CELL_MIB` when it parses as a positive
/// number of MiB, else [`DEFAULT_CELL_MIB`].
pub fn cell_mib(env_value: Option<&str>) -> u64 {
    env_value
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|&v| v > 0)
        .unwrap_or(DEFAULT_CELL_MIB)
}

/// Free memory of CUDA device `index` in MiB, from `nvidia-smi` (`None` when there is no
/// `nvidia-smi` or its answer does not parse). Respects `CUDA_VISIBLE_DEVICES` only when it
/// lists plain indices (the common case); otherwise `index` is nvidia-smi's own.
pub fn free_memory_mib(index: usize) -> Option<u64> {
    let physical = match std::env::var("CUDA_VISIBLE_DEVICES") {
        Ok(v) => v
            .split(',')
            .nth(index)
            .and_then(|s| s.trim().parse::<usize>().ok())
            .unwrap_or(index),
        Err(_) => index,
    };
    let out = Command::new("nvidia-smi")
        .args([
            "--query-gpu=memory.free",
            "--format=csv,noheader,nounits",
            &format!("--id={physical}"),
        ])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    parse_free_mib(&String::from_utf8_lossy(&out.stdout))
}

/// Parses nvidia-smi's `memory.free` answer (`csv,noheader,nounits`: one number of MiB).
pub fn parse_free_mib(s: &str) -> Option<u64> {
    s.lines()
        .next()?
        .trim()
        .parse::<f64>()
        .ok()
        .map(|v| v as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_jobs_follow_free_memory_threads_and_the_cap() {
        // Unknown free memory: one at a time, as before.
        assert_eq!(default_gpu_jobs(None, 2048, 16), 1);
        // An 80 GiB H100 with 79 GiB free: capped at MAX_GPU_JOBS.
        assert_eq!(default_gpu_jobs(Some(80_000), 2048, 16), 8);
        // A 24 GiB card, 23,000 MiB free: (23000 - 1024) / 2048 = 10 -> cap 8; 4 threads -> 4.
        assert_eq!(default_gpu_jobs(Some(23_000), 2048, 4), 4);
        // 8 GiB free, 3 GiB per cell: (8192 - 1024) / 3072 = 2.
        assert_eq!(default_gpu_jobs(Some(8192), 3072, 16), 2);
        // Less than one cell's worth (or less than the reserve): still 1.
        assert_eq!(default_gpu_jobs(Some(1500), 2048, 16), 1);
        assert_eq!(default_gpu_jobs(Some(500), 2048, 16), 1);
        // Zero threads or a zero footprint cannot divide by zero or give 0 jobs.
        assert_eq!(default_gpu_jobs(Some(80_000), 0, 0), 1);
    }

    #[test]
    fn cell_footprint_comes_from_the_environment_when_valid() {
        assert_eq!(cell_mib(None), DEFAULT_CELL_MIB);
        assert_eq!(cell_mib(Some(" 3000 ")), 3000);
        assert_eq!(cell_mib(Some("0")), DEFAULT_CELL_MIB);
        assert_eq!(cell_mib(Some("3 GiB")), DEFAULT_CELL_MIB);
    }

    #[test]
    fn nvidia_smi_answers_parse() {
        assert_eq!(parse_free_mib("81037\n"), Some(81037));
        assert_eq!(parse_free_mib(" 512 \n1024\n"), Some(512));
        assert_eq!(parse_free_mib("[N/A]\n"), None);
        assert_eq!(parse_free_mib(""), None);
    }

    /// The switch reaches libtorch's global context (through the mangled C++ symbols) and back.
    #[test]
    fn deterministic_mode_reaches_libtorch() {
        static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
        set_deterministic(true);
        assert!(is_deterministic());
        assert_eq!(
            std::env::var("CUBLAS_WORKSPACE_CONFIG").as_deref(),
            Ok(CUBLAS_WORKSPACE_CONFIG)
        );
        set_deterministic(false);
        assert!(!is_deterministic());
    }
}
