//! Benchmark: cells/hour of a fixed grid, separate vs concurrent vs grouped vs the plain
//! PyTorch loop, same work, on the CPU (or on `DEVICE=cuda`).
//!
//! `cargo bench -p distillery --bench cells_per_hour` (after ./setup.sh). It runs the prepared
//! GPU check (scripts/gpu-check.sh) with CPU-sized settings and prints its summary; the full
//! results land in `target/cells-per-hour/gpu-check-results.md`. Environment: `DEVICE`
//! (default cpu), `EPOCHS` (default 30), `SEEDS` (default 2), `JOBS` (default 1,2), `THREADS`
//! (default 1: one thread per cell process, as `bench` runs cells on the CPU).
//! The grid: `random` × IPC 1,10 × SEEDS seeds of the hard-label recipe (ConvNet-3 width 128,
//! DSA) with EPOCHS epochs on a generated CIFAR-10-shaped set (1,000 train images per class,
//! 10,000 test images; scripts/gpu-check/check.py); "grouped" appears once `bench` has
//! `--group`. Numbers only, never asserted.

use std::path::Path;
use std::process::Command;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let env = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_string());
    let out = root.join("target/cells-per-hour");
    let st = Command::new(root.join("scripts/gpu-check.sh"))
        .args([
            "--device",
            &env("DEVICE", "cpu"),
            "--epochs",
            &env("EPOCHS", "30"),
            "--mnist-epochs",
            "1",
            "--seeds",
            &env("SEEDS", "2"),
            "--jobs",
            &env("JOBS", "1,2"),
            "--threads",
            &env("THREADS", "1"),
            "--budget",
            "100000",
            "--out",
            out.to_str().unwrap(),
        ])
        .status()
        .expect("scripts/gpu-check.sh");
    let md = std::fs::read_to_string(out.join("gpu-check-results.md")).expect("results file");
    println!("{md}");
    assert!(st.success(), "some step failed: see {}", out.display());
}
