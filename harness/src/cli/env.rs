//! `bench env`: versions, devices and threads.

use crate::error::{exit_code, BenchError};

/// Options of `bench env`.
#[derive(clap::Args, Clone, Debug)]
pub struct EnvArgs {
    #[arg(long)]
    pub json: bool,
}

/// Prints what this binary was built with and what it can run on.
pub fn run(a: &EnvArgs) -> Result<u8, BenchError> {
    let info = crate::env::collect();
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&info).map_err(anyhow::Error::from)?
        );
    } else {
        println!("{}", info.render());
    }
    Ok(exit_code::SUCCESS)
}
