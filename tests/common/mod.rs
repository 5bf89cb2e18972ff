//! Helpers shared by the end-to-end test modules: where the workspace and the `bench` binary
//! are, running `bench` with a per-test-process cache, and reading cell records.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

pub fn bench_path() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_bench"))
}

pub fn build_dir() -> PathBuf {
    bench_path().parent().unwrap().to_path_buf()
}

/// The per-user cache the tests use (reference cells, teachers): one per test process, so
/// the tests of one binary share a teacher but never see the user's cache.
pub fn test_cache() -> PathBuf {
    std::env::temp_dir().join(format!("distillery-test-cache-{}", std::process::id()))
}

/// Runs `bench` from the workspace root with `envs` set and plugin overrides removed.
pub fn bench(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut c = Command::new(bench_path());
    c.current_dir(root())
        .args(args)
        .env_remove("DISTILLERY_PLUGINS")
        .env_remove("DISTILLERY_FIXTURE_MODE")
        .env("XDG_CACHE_HOME", test_cache());
    for (k, v) in envs {
        c.env(k, v);
    }
    c.output().expect("run bench")
}

/// stdout and stderr together.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The record of cell `id` under `out`.
pub fn record(out: &Path, id: &str) -> Value {
    let p = out.join("cells").join(format!("{id}.json"));
    serde_json::from_str(
        &std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())),
    )
    .unwrap()
}

pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}
