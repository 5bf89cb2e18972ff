//! Benchmark: one hard-label cell in the harness vs the same work in plain PyTorch.
//!
//! `cargo bench -p distillery --bench cell_vs_pytorch` (after ./setup.sh). Environment:
//! `EPOCHS` (default 300, the protocol's), `THREADS` (default 2), `REPEATS` (default 1).
//! Both sides: ConvNet-3 width 128, DSA (no flip), SGD 0.01/0.9/5e-4, batch 256, step decay,
//! 100 training images (IPC 10), the same thread count. The harness side runs the real
//! `bench` binary on mnist-5k with a copy of protocols/hard-label.toml whose epoch count is set
//! to EPOCHS; its time is the record's `timings.train_seconds`. The PyTorch side is
//! harness/benches/plain_pytorch_cell.py run with the project's virtualenv.
//! Prints both times and the ratio harness/PyTorch (lower is better for the harness).

use std::path::{Path, PathBuf};
use std::process::Command;

fn env_or(k: &str, d: usize) -> usize {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(d)
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf();
    let (epochs, threads, repeats) = (
        env_or("EPOCHS", 300),
        env_or("THREADS", 2),
        env_or("REPEATS", 1),
    );
    let bench = root.join("target/release/bench");
    assert!(bench.exists(), "build first: ./setup.sh");
    let venv = Command::new(root.join("setup.sh"))
        .arg("--print-env")
        .output()
        .expect("setup.sh --print-env");
    let env = String::from_utf8_lossy(&venv.stdout).to_string();
    let venv_dir = env
        .lines()
        .find_map(|l| {
            l.strip_prefix("export VIRTUAL_ENV='")
                .map(|v| v.trim_end_matches('\'').to_string())
        })
        .expect("VIRTUAL_ENV from setup.sh");
    let python = PathBuf::from(venv_dir).join("bin/python");
    let tmp = std::env::temp_dir().join(format!("distillery-bench-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let proto = std::fs::read_to_string(root.join("protocols/hard-label.toml"))
        .unwrap()
        .replacen("epochs = 300", &format!("epochs = {epochs}"), 1);
    let proto_path = tmp.join("bench-hard-label.toml");
    std::fs::write(&proto_path, proto).unwrap();
    println!("one IPC-10 cell, {epochs} epochs, {threads} thread(s), {repeats} repeat(s)");
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for r in 0..repeats {
        let out = tmp.join(format!("run{r}"));
        let st = Command::new(&bench)
            .args([
                "--protocol",
                proto_path.to_str().unwrap(),
                "--methods",
                "random",
                "--ipc",
                "10",
                "--seeds",
                "1",
                "--jobs",
                "1",
                "--no-cache",
            ])
            .args([
                "--threads",
                &threads.to_string(),
                "--out",
                out.to_str().unwrap(),
            ])
            .status()
            .unwrap();
        assert!(st.success());
        let rec: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(out.join("cells/random__ipc10__s0.json")).unwrap(),
        )
        .unwrap();
        ours.push(rec["timings"]["train_seconds"].as_f64().unwrap());
        let o = Command::new(&python)
            .arg(root.join("harness/benches/plain_pytorch_cell.py"))
            .args([
                "--epochs",
                &epochs.to_string(),
                "--threads",
                &threads.to_string(),
                "--ipc",
                "10",
            ])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        theirs.push(v["train_seconds"].as_f64().unwrap());
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    println!(
        "harness (bench, train_seconds):   {:.2} s  {ours:.2?}",
        mean(&ours)
    );
    println!(
        "plain PyTorch (train_seconds):    {:.2} s  {theirs:.2?}",
        mean(&theirs)
    );
    println!(
        "ratio harness / PyTorch:          {:.3}",
        mean(&ours) / mean(&theirs)
    );
    let _ = std::fs::remove_dir_all(&tmp);
}
