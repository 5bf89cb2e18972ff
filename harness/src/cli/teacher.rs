//! `bench teacher --protocol P`: train (or load from the cache) the protocol's teacher.

use super::args::{DataArgs, DeviceArgs, ThreadArgs};
use crate::error::{exit_code, BenchError};
use crate::protocol::{Loaded, TeacherFile};
use crate::record::TeacherRecord;
use std::path::PathBuf;

/// `--teacher FILE [--teacher-classes FILE]`: a pretrained teacher's weights for a protocol
/// with `[teacher.pretrained]` (the large-image protocols).
#[derive(clap::Args, Clone, Debug, Default)]
pub struct TeacherFileArgs {
    /// Pretrained teacher weights for a protocol with [teacher.pretrained]: a torchvision-layout
    /// state dict saved as .safetensors (README, "Large-image protocols", for converting a .pth).
    /// Its SHA-256 and accuracy go into every record.
    #[arg(long, value_name = "FILE")]
    pub teacher: Option<PathBuf>,
    /// The teacher's class order: one class name per line, in the order of its outputs
    /// (default: <weights stem>.classes.txt next to the weights). Must equal the dataset's.
    #[arg(long, value_name = "FILE", requires = "teacher")]
    pub teacher_classes: Option<PathBuf>,
}

impl TeacherFileArgs {
    /// The given files, as absolute paths; `None` without `--teacher`.
    pub fn resolve(&self) -> Option<TeacherFile> {
        let abs = |p: &PathBuf| std::path::absolute(p).unwrap_or(p.clone());
        self.teacher.as_ref().map(|f| TeacherFile {
            file: abs(f),
            classes: self.teacher_classes.as_ref().map(abs),
        })
    }

    /// `loaded` with the teacher's weights ([`Loaded::with_teacher`]); a usage error (exit 2)
    /// when they do not fit the protocol or cannot be read.
    pub fn apply(&self, loaded: Loaded) -> Result<Loaded, BenchError> {
        loaded
            .with_teacher(self.resolve().as_ref())
            .map_err(BenchError::Usage)
    }
}

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
    #[command(flatten)]
    pub weights: TeacherFileArgs,
}

/// Obtains the teacher and prints its line (or record) and its cache entry.
pub fn run(a: &TeacherArgs) -> Result<u8, BenchError> {
    let loaded = a.weights.apply(Loaded::resolve(&a.protocol)?)?;
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
    } else if let Some(f) = &t.file {
        println!("{}", teacher_line(&t));
        println!("weights: {f}");
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
    if let Some(file) = &t.file {
        return format!(
            "teacher {}: {}, {} parameters; val {:.2}%, test {:.2}%; pretrained, weights {file} (SHA-256 {})",
            &t.key[..12],
            t.model,
            t.parameters,
            t.val_acc * 100.0,
            t.test_acc * 100.0,
            t.weights_sha256.as_deref().unwrap_or("?")
        );
    }
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
