//! Finding and loading method plugins.
//!
//! Plugins are `cdylib`s exporting `distillery_plugin_entry`. They are looked for in the
//! directory of the running `bench` (the workspace's build output: `libdistillery_plugin_*.so`),
//! then in every entry of `--plugins` and `DISTILLERY_PLUGINS` (a `:`-separated list of
//! directories or files; every `*.so` there is tried). Libraries are opened with RTLD_NOW so
//! missing symbols fail at load time, and are never unloaded.

use distillery_api::abi::{EntryFn, PluginHeader, ENTRY_SYMBOL};
use distillery_api::host::{read_header, HeaderError, PluginInfo};
use std::path::{Path, PathBuf};

/// A plugin that passed every header check.
#[derive(Clone)]
pub struct Plugin {
    pub info: PluginInfo,
    pub path: PathBuf,
    pub header: &'static PluginHeader,
}

/// The outcome of trying one library.
pub enum Candidate {
    Ok(Plugin),
    Rejected { path: PathBuf, reason: String },
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{path}: cannot be loaded: {message}")]
    Open { path: String, message: String },
    #[error("{path}: not a Distillery plugin (it does not export `{ENTRY_SYMBOL}`). Plugins are cdylib crates that call `distillery_api::export_plugin!(YourMethod);` — see CONTRIBUTING.md")]
    NotAPlugin { path: String },
    #[error(
        "{path}: rejected: {source}. Rebuild the plugin with this toolchain and API: `{rebuild}`"
    )]
    Header {
        path: String,
        source: HeaderError,
        rebuild: String,
    },
}

fn rebuild_hint(path: &Path) -> String {
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    let krate = stem.strip_prefix("lib").unwrap_or(stem).replace('_', "-");
    format!("./setup.sh && cargo build --release -p {krate}  (or, outside this workspace: cargo build --release in the plugin's crate, with rust-toolchain.toml and distillery-api {})", distillery_api::API_VERSION)
}

/// Loads one library and validates its header.
pub fn load(path: &Path) -> Result<Plugin, LoadError> {
    let shown = path.display().to_string();
    // SAFETY: loading a library runs its initialisers; that is the point of a plugin.
    let lib = unsafe {
        libloading::os::unix::Library::open(
            Some(path),
            libloading::os::unix::RTLD_NOW | libloading::os::unix::RTLD_LOCAL,
        )
    }
    .map_err(|e| LoadError::Open {
        path: shown.clone(),
        message: e.to_string(),
    })?;
    let entry: libloading::os::unix::Symbol<EntryFn> =
        match unsafe { lib.get(ENTRY_SYMBOL.as_bytes()) } {
            Ok(s) => s,
            Err(_) => return Err(LoadError::NotAPlugin { path: shown }),
        };
    let ptr = unsafe { entry() };
    let result = unsafe { read_header(ptr) };
    // Never unload: thread-local destructors and libtorch registrations outlive dlclose.
    std::mem::forget(lib);
    match result {
        Ok((header, info)) => Ok(Plugin {
            info,
            path: path.to_path_buf(),
            header,
        }),
        Err(source) => Err(LoadError::Header {
            path: shown,
            source,
            rebuild: rebuild_hint(path),
        }),
    }
}

/// Where to look, in order: the build output next to `bench`, then `extra`, then
/// `DISTILLERY_PLUGINS`.
pub fn search_path(extra: &[PathBuf]) -> Vec<(PathBuf, bool)> {
    let mut dirs = Vec::new();
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
    {
        // `cargo test` runs binaries from target/<profile>/deps; plugins sit one level up.
        let dir = if dir.ends_with("deps") {
            dir.parent().unwrap().to_path_buf()
        } else {
            dir
        };
        dirs.push((dir, true));
    }
    for p in extra {
        dirs.push((p.clone(), false));
    }
    if let Some(v) = std::env::var_os("DISTILLERY_PLUGINS") {
        for p in std::env::split_paths(&v) {
            if !p.as_os_str().is_empty() {
                dirs.push((p, false));
            }
        }
    }
    dirs
}

fn libraries_in(entry: &Path, build_output: bool) -> Vec<PathBuf> {
    if entry.is_file() {
        return vec![entry.to_path_buf()];
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir(entry)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "so"))
                .filter(|p| {
                    !build_output
                        || p.file_name()
                            .and_then(|n| n.to_str())
                            .is_some_and(|n| n.starts_with("libdistillery_plugin_"))
                })
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

/// Tries every library on the search path. Later duplicates of a name are rejected with the
/// path of the one that won, so it is always clear which file runs.
pub fn discover(extra: &[PathBuf]) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = Vec::new();
    let mut seen_files = std::collections::HashSet::new();
    for (dir, build_output) in search_path(extra) {
        for lib in libraries_in(&dir, build_output) {
            let canon = lib.canonicalize().unwrap_or(lib.clone());
            if !seen_files.insert(canon) {
                continue;
            }
            match load(&lib) {
                Ok(p) => {
                    if let Some(Candidate::Ok(first)) = out
                        .iter()
                        .find(|c| matches!(c, Candidate::Ok(q) if q.info.name == p.info.name))
                    {
                        let reason = format!(
                            "duplicate method name '{}' (already provided by {})",
                            p.info.name,
                            first.path.display()
                        );
                        out.push(Candidate::Rejected { path: lib, reason });
                    } else {
                        out.push(Candidate::Ok(p));
                    }
                }
                Err(e) => out.push(Candidate::Rejected {
                    path: lib,
                    reason: e.to_string(),
                }),
            }
        }
    }
    out
}

/// The usable plugins by name.
pub fn available(extra: &[PathBuf]) -> Vec<Plugin> {
    discover(extra)
        .into_iter()
        .filter_map(|c| {
            if let Candidate::Ok(p) = c {
                Some(p)
            } else {
                None
            }
        })
        .collect()
}

/// Finds one plugin by name, or explains what is available.
pub fn find(name: &str, extra: &[PathBuf]) -> anyhow::Result<Plugin> {
    let all = discover(extra);
    if let Some(p) = all.iter().find_map(|c| match c {
        Candidate::Ok(p) if p.info.name == name => Some(p.clone()),
        _ => None,
    }) {
        return Ok(p);
    }
    let names: Vec<String> = all
        .iter()
        .filter_map(|c| {
            if let Candidate::Ok(p) = c {
                Some(p.info.name.clone())
            } else {
                None
            }
        })
        .collect();
    let rejected: Vec<String> = all
        .iter()
        .filter_map(|c| {
            if let Candidate::Rejected { path, reason } = c {
                Some(format!("  {}: {reason}", path.display()))
            } else {
                None
            }
        })
        .collect();
    let mut msg = format!(
        "no plugin named '{name}'. Available: {}.",
        if names.is_empty() {
            "none".into()
        } else {
            names.join(", ")
        }
    );
    if !rejected.is_empty() {
        msg.push_str(&format!("\nRejected libraries:\n{}", rejected.join("\n")));
    }
    msg.push_str("\nRun `bench list` to see the search path; build plugins with `./setup.sh`.");
    anyhow::bail!(msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The whole line `bench list` and `bench plugin check` print for a plugin built against
    /// the previous API (the loader's part is tested in distillery-api's `host` module).
    #[test]
    fn an_old_api_plugin_is_told_both_versions_and_the_rebuild_command() {
        let path = Path::new("/plugins/libdistillery_plugin_random.so");
        let e = LoadError::Header {
            path: path.display().to_string(),
            source: HeaderError::ApiVersion {
                host: distillery_api::API_VERSION.into(),
                plugin: "0.1.0".into(),
            },
            rebuild: rebuild_hint(path),
        };
        let msg = e.to_string();
        assert!(
            msg.starts_with(&format!(
                "/plugins/libdistillery_plugin_random.so: rejected: the plugin was built against \
                 distillery-api 0.1.0, and this bench needs distillery-api {}",
                distillery_api::API_VERSION
            )),
            "{msg}"
        );
        assert!(
            msg.contains(
                "Rebuild the plugin with this toolchain and API: `./setup.sh && cargo build \
                 --release -p distillery-plugin-random"
            ),
            "{msg}"
        );
    }
}
