//! Records, at compile time, the two facts a plugin and its host must agree on beyond the
//! crate versions: the rustc that compiled them and the libtorch they were built against.
use std::{env, fs, path::Path, process::Command};

fn main() {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = Command::new(&rustc)
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown rustc".into());
    println!("cargo:rustc-env=DISTILLERY_RUSTC_VERSION={version}");

    // torch/lib/../version.py holds `__version__ = '2.11.0+cu130'` in the PyPI wheel;
    // a standalone libtorch has build-version at its root instead.
    let lib = env::var("DEP_TCH_LIBTORCH_LIB").unwrap_or_default();
    let root = Path::new(&lib)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let mut torch = String::from("unknown");
    if let Ok(text) = fs::read_to_string(root.join("version.py")) {
        if let Some(line) = text.lines().find(|l| l.starts_with("__version__")) {
            torch = line
                .split('=')
                .nth(1)
                .unwrap_or("")
                .trim()
                .trim_matches(['\'', '"'])
                .to_string();
        }
    } else if let Ok(text) = fs::read_to_string(root.join("build-version")) {
        torch = text.trim().to_string();
    }
    println!("cargo:rustc-env=DISTILLERY_LIBTORCH_VERSION={torch}");
    println!("cargo:rustc-env=DISTILLERY_LIBTORCH_LIB={lib}");
    // This crate's own unit-test binary links libtorch: give it a RUNPATH too.
    if !lib.is_empty() {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
    }
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    println!("cargo:rerun-if-changed=build.rs");
}
