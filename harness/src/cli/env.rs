//! `bench env`: versions, devices, threads and the machine (CPU model, libtorch's CPU
//! capability: what decides whether CPU results are bit-identical to a published table).

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
    let machine = crate::provenance::machine();
    if a.json {
        let mut v = serde_json::to_value(&info).map_err(anyhow::Error::from)?;
        if let Some(o) = v.as_object_mut() {
            o.insert("cpu_model".into(), machine.cpu_model.clone().into());
            o.insert(
                "cpu_capability".into(),
                machine.cpu_capability.clone().into(),
            );
            o.insert(
                "cpu_capability_source".into(),
                machine.cpu_capability_source.clone().into(),
            );
        }
        println!(
            "{}",
            serde_json::to_string_pretty(&v).map_err(anyhow::Error::from)?
        );
    } else {
        println!("{}", info.render());
        println!("{}", machine_line(&machine));
    }
    Ok(exit_code::SUCCESS)
}

/// `cpu        <model> (libtorch CPU capability: AVX2, from libtorch)`.
pub fn machine_line(m: &crate::record::Machine) -> String {
    let model = if m.cpu_model.is_empty() {
        "unknown model"
    } else {
        &m.cpu_model
    };
    format!(
        "cpu        {model} (libtorch CPU capability: {}, from {})",
        m.cpu_capability, m.cpu_capability_source
    )
}
