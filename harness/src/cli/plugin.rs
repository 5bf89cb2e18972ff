//! `bench plugin check PATH`: the conformance run on one plugin library.

use crate::error::{exit_code, BenchError};
use std::path::PathBuf;

/// The plugin tools.
#[derive(clap::Subcommand, Clone, Debug)]
pub enum PluginCmd {
    /// Conformance run on tiny data: loads, declares, valid output within budgets, deterministic.
    Check {
        /// Path to the plugin's shared library (e.g. target/release/libdistillery_plugin_x.so).
        path: PathBuf,
        /// A method-config file ([methods.<name>] tables); the plugin's table is passed to it
        /// (e.g. fewer iterations for a quick check). Default: the plugin's own defaults.
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

/// Runs the checks and prints them; exit 1 when one fails.
pub fn run(cmd: PluginCmd) -> Result<u8, BenchError> {
    let PluginCmd::Check { path, config } = cmd;
    if !path.exists() {
        return Err(BenchError::input(format!(
            "{}: no such file",
            path.display()
        )));
    }
    let table = match &config {
        None => serde_json::json!({}),
        Some(f) => {
            let o = crate::method_config::load(f)?;
            let name = crate::plugin::load(&path)
                .map(|p| p.info.name)
                .unwrap_or_default();
            o.get(&name)
                .cloned()
                .unwrap_or_else(|| serde_json::json!({}))
        }
    };
    let checks = crate::conformance::run(&path, &table);
    let (text, ok) = crate::conformance::render(&path, &checks);
    print!("{text}");
    Ok(if ok {
        exit_code::SUCCESS
    } else {
        exit_code::METHOD_FAILED
    })
}
