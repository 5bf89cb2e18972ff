//! `bench teacher --protocol P`: train (or load from the cache) the protocol's teacher.

use super::args::{DataArgs, DeviceArgs, ThreadArgs};
use crate::error::{exit_code, BenchError};
use crate::protocol::Loaded;
use crate::record::TeacherRecord;

/// Options of `bench teacher`.
#[derive(clap::Args, Clone, Debug)]
#[command(
    mut_arg("dataset", |a| a.help("Dataset (default: the protocol's)")),
    mut_arg("threads", |a| a.help("CPU threads (default: all)"))
)]
pub struct TeacherArgs {
    /// A protocol with a [teacher] table (soft-label, native-label or a file).
    #[arg(long)]
    pub protocol: String,
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub device: DeviceArgs,
    #[command(flatten)]
    pub threads: ThreadArgs,
    /// Print the teacher record as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Obtains the teacher and prints its line (or record) and its cache entry.
pub fn run(a: &TeacherArgs) -> Result<u8, BenchError> {
    let loaded = Loaded::resolve(&a.protocol)?;
    let p = &loaded.protocol;
    if p.teacher.is_none() {
        return Err(BenchError::Usage(format!(
            "{}: protocol '{}' has no [teacher] table",
            loaded.origin, p.name
        )));
    }
    let (_, _, data) = a.data.load(p)?;
    let device = a.device.resolve()?;
    // Without --threads, libtorch keeps its own default (all cores).
    if a.threads.threads.is_some() {
        tch::set_num_threads(a.threads.resolve(1) as i32);
    }
    let (_, t) = crate::cell::obtain_teacher(p, &data, device, &mut |line| eprintln!("{line}"))
        .map_err(|e| anyhow::anyhow!(e))?;
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&t).map_err(anyhow::Error::from)?
        );
    } else {
        println!("{}", teacher_line(&t));
        println!(
            "cache: {}",
            distillery_api::teacher::entry_dir(
                &crate::executor::cache_root().unwrap_or_default(),
                &t.key
            )
            .display()
        );
    }
    Ok(exit_code::SUCCESS)
}

/// One line about a teacher: model, accuracies, provenance.
pub fn teacher_line(t: &TeacherRecord) -> String {
    format!(
        "teacher {}: {}, {} parameters; val {:.2}% (epoch {} of {}), test {:.2}%; {}",
        &t.key[..12],
        t.model,
        t.parameters,
        t.val_acc * 100.0,
        t.best_epoch,
        t.epochs_run,
        t.test_acc * 100.0,
        if t.from_cache {
            "from the cache".to_string()
        } else {
            format!("trained in {:.0} s", t.train_seconds)
        }
    )
}
