//! The prepared GPU check (`scripts/gpu-check.sh`) in its CPU dry-run mode: every step runs the
//! real `bench` and the plain PyTorch loop on tiny sizes, and the results file says what a GPU
//! run's file will say. Keeps the script from rotting between the rare runs on a GPU.

use super::common::{build_dir, root};
use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

/// The interpreter with torch: `$VIRTUAL_ENV/bin/python` (set by `setup.sh --print-env`, which
/// `make test` evaluates), else the one `setup.sh --print-env` names.
fn python() -> PathBuf {
    let venv = std::env::var("VIRTUAL_ENV").ok().or_else(|| {
        let o = Command::new(root().join("setup.sh"))
            .arg("--print-env")
            .output()
            .ok()?;
        String::from_utf8_lossy(&o.stdout).lines().find_map(|l| {
            l.strip_prefix("export VIRTUAL_ENV='")
                .map(|v| v.trim_end_matches('\'').to_string())
        })
    });
    PathBuf::from(venv.expect("VIRTUAL_ENV (run ./setup.sh)")).join("bin/python")
}

#[test]
fn dry_run_writes_every_step_into_one_results_file() {
    let out = tempfile::tempdir().unwrap();
    let o = Command::new(root().join("scripts/gpu-check.sh"))
        .args(["--dry-run", "--out", out.path().to_str().unwrap()])
        .env("PYTHON", python())
        .env("BENCH", build_dir().join("bench"))
        .env("XDG_CACHE_HOME", out.path().join("cache"))
        .env_remove("DISTILLERY_PLUGINS")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.success(), "{text}");
    let r: Value = serde_json::from_str(
        &std::fs::read_to_string(out.path().join("gpu-check-results.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(r["mode"], "dry-run");
    assert_eq!(r["device"], "cpu");
    assert_eq!(r["ok"], true, "{r:#}");
    let steps = r["steps"].as_object().unwrap();
    for k in [
        "env",
        "mnist_5k",
        "make_cifar",
        "per_cell",
        "plain_per_cell",
        "grid_jobs1",
        "grid_jobs2",
        "plain_grid",
        "deterministic",
    ] {
        assert_eq!(steps[k]["status"], "ok", "{k}: {:#}", steps[k]);
    }
    assert_eq!(steps["env"]["env"]["default_device"], "cpu");
    // The mnist-5k run: one IPC-10 cell trained on the CPU, 1 epoch.
    let m = &steps["mnist_5k"]["cells"][0];
    assert_eq!(m["cell"], "random__ipc10__s0");
    assert_eq!(m["device"], "cpu");
    let top1 = m["top1"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&top1), "{m}");
    // The generated CIFAR-10 binary set: 20 images per class, 20 test images.
    assert_eq!(steps["make_cifar"]["train"], 200);
    assert_eq!(steps["make_cifar"]["test"], 20);
    // Per cell: IPC 1 and 2, both sides, and their ratio.
    let per = r["summary"]["per_cell"].as_array().unwrap();
    let ipcs: Vec<i64> = per.iter().map(|x| x["ipc"].as_i64().unwrap()).collect();
    assert_eq!(ipcs, [1, 2]);
    for x in per {
        assert!(
            x["ratio_train_bench_over_plain"].as_f64().unwrap() > 0.0,
            "{x}"
        );
    }
    // The grid: 2 IPCs x 2 seeds in each option; concurrency changes no result.
    let cells = |k: &str| steps[k]["cells"].as_array().unwrap().clone();
    let (j1, j2) = (cells("grid_jobs1"), cells("grid_jobs2"));
    assert_eq!(j1.len(), 4);
    for (a, b) in j1.iter().zip(&j2) {
        assert_eq!(a["cell"], b["cell"]);
        assert_eq!(a["top1"], b["top1"], "{a} vs {b}");
        assert_eq!(a["final_train_loss"], b["final_train_loss"], "{a} vs {b}");
    }
    assert_eq!(
        steps["plain_grid"]["cells"].as_array().unwrap().len(),
        4,
        "{:#}",
        steps["plain_grid"]
    );
    let cph = r["summary"]["cells_per_hour"].as_object().unwrap();
    for k in ["grid_jobs1", "grid_jobs2", "plain_grid"] {
        assert!(cph[k].as_f64().unwrap() > 0.0, "{k}");
    }
    // --deterministic is recorded in the cell's record.
    assert_eq!(steps["deterministic"]["cells"][0]["deterministic"], true);
    let md = std::fs::read_to_string(out.path().join("gpu-check-results.md")).unwrap();
    assert!(md.starts_with("# GPU check (dry-run)\n"), "{md}");
    for s in [
        "## Per cell: bench vs the plain PyTorch loop",
        "## Throughput on the grid (cells/hour)",
        "- grid_jobs2: ",
        "- GPU (nvidia-smi): ",
    ] {
        assert!(md.contains(s), "missing {s:?} in\n{md}");
    }
}
