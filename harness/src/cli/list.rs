//! `bench list`: the plugins on the search path, with their status.

use super::args::PluginArgs;
use crate::error::{exit_code, BenchError};
use crate::plugin;

/// Options of `bench list`.
#[derive(clap::Args, Clone, Debug)]
pub struct ListArgs {
    #[command(flatten)]
    pub plugins: PluginArgs,
}

/// Prints one row per library found (usable or rejected, and why), the built-in importer
/// and the search path.
pub fn run(a: &ListArgs) -> Result<u8, BenchError> {
    let extra = &a.plugins.plugins;
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
    t.set_header([
        "name",
        "family",
        "version",
        "status",
        "path",
        "description / paper",
    ]);
    for c in plugin::discover(extra) {
        match c {
            plugin::Candidate::Ok(p) => {
                t.add_row([
                    p.info.name.clone(),
                    p.info.family.as_str().into(),
                    p.info.version.clone(),
                    "ok".into(),
                    p.path.display().to_string(),
                    format!("{}\n{}", p.info.description, p.info.paper),
                ]);
            }
            plugin::Candidate::Rejected { path, reason } => {
                t.add_row([
                    String::from("?"),
                    String::new(),
                    String::new(),
                    format!("rejected: {reason}"),
                    path.display().to_string(),
                    String::new(),
                ]);
            }
        }
    }
    t.add_row(crate::import::list_row());
    println!("{t}");
    let dirs: Vec<String> = plugin::search_path(extra)
        .iter()
        .map(|(d, _)| d.display().to_string())
        .collect();
    println!("search path: {}", dirs.join(":"));
    Ok(exit_code::SUCCESS)
}
