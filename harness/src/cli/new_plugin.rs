//! `bench new-plugin NAME`: a new method crate from the template (see `crate::scaffold`).

use crate::error::{exit_code, BenchError};

/// Options of `bench new-plugin`.
#[derive(clap::Args, Clone, Debug)]
pub struct NewPluginArgs {
    /// Method name: lowercase letters, digits and '-'.
    pub name: String,
}

/// Creates `plugins/NAME` under the current directory and prints the next steps.
pub fn run(a: &NewPluginArgs) -> Result<u8, BenchError> {
    let name = &a.name;
    let cwd = std::env::current_dir().map_err(anyhow::Error::from)?;
    let dir = crate::scaffold::new_plugin(&cwd, name)?;
    let krate = format!("distillery-plugin-{name}");
    println!(
        "created {}
next:
  1. implement `compress` in {}/src/lib.rs
  2. ./setup.sh   (or: cargo build --release -p {krate})
  3. ./target/release/bench plugin check target/release/libdistillery_plugin_{}.so
  4. ./target/release/bench --protocol hard-label --methods {name}",
        dir.display(),
        dir.display(),
        name.replace('-', "_")
    );
    Ok(exit_code::SUCCESS)
}
