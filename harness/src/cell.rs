//! One cell, run in its own child process (`bench __cell`): load the dataset, call the plugin
//! with the train and validation splits, check its output, train the protocol's student,
//! evaluate on the test split, write the record.

use crate::dataset::Prepared;
use crate::plan::{CellSpec, Plan};
use crate::record::{self, DatasetRef, Record, Status};
use crate::{plugin, train, validate};
use distillery_api::method::{device_string, parse_device, ProtocolView, RequestMeta};
use distillery_api::{Budget, Family, Split};
use std::path::Path;
use std::time::Instant;

/// Copies a split so a plugin that writes into its tensors cannot touch the harness's copy.
fn private_copy(s: &Split) -> Split {
    Split {
        images: s.images.copy(),
        labels: s.labels.copy(),
    }
}

/// Runs the cell and writes its record (also when the method fails). Returns the record.
pub fn run(plan: &Plan, cell: &CellSpec, out: &Path) -> anyhow::Result<Record> {
    let t0 = Instant::now();
    tch::set_num_threads(plan.threads_per_cell as i32);
    let device = parse_device(&plan.device);
    let loaded = plan.protocol()?;
    let p = &loaded.protocol;
    let data = Prepared::load(&plan.dataset, &plan.image, &p.data)?;
    if data.checksum != plan.dataset_checksum {
        anyhow::bail!(
            "dataset {} changed since the plan was made: checksum {} now, {} in {}",
            plan.dataset,
            data.checksum,
            plan.dataset_checksum,
            out.join("plan.json").display()
        );
    }
    let plugin = plugin::find(&cell.method, &plan.plugin_dirs)?;
    let load_seconds = t0.elapsed().as_secs_f64();

    let dataset = DatasetRef {
        name: data.name.clone(),
        checksum: data.checksum.clone(),
        classes: data.num_classes(),
        shape: data.shape,
        train: data.train.len(),
        val: data.val.len(),
        test: data.test.len(),
    };
    let mut rec = Record::skeleton(plan, cell, Some(&plugin), dataset);
    rec.timings.load_seconds = load_seconds;

    let reference = plugin.info.family == Family::Reference;
    let budget = cell.budget.unwrap_or(Budget::Fraction(1.0));
    let scratch = out.join("scratch").join(&cell.id);
    std::fs::create_dir_all(&scratch)?;
    let meta = RequestMeta {
        method: cell.method.clone(),
        budget,
        class_names: data.class_names.clone(),
        seeds: cell.seeds,
        device: device_string(device),
        scratch_dir: scratch,
        config: loaded.method_config(&cell.method),
        protocol: ProtocolView {
            name: p.name.clone(),
            hash: loaded.hash.clone(),
            student: p.student.clone(),
            train: p.train.clone(),
            mean: data.mean.clone(),
            std: data.std.clone(),
            mirror_invariant: data.mirror_invariant,
        },
    };
    let outcome = (|| -> Result<(), String> {
        let t = Instant::now();
        let (train_copy, val_copy) = (private_copy(&data.train), private_copy(&data.val));
        let mut last = Instant::now();
        let mut progress = |f: f64, m: &str| {
            if last.elapsed().as_secs_f64() > 5.0 {
                eprintln!("[{}] {:.0}% {m}", cell.id, f * 100.0);
                last = Instant::now();
            }
        };
        let raw = distillery_api::host::call_compress(
            plugin.header,
            &meta,
            &train_copy,
            &val_copy,
            &mut progress,
        )
        .map_err(|e| {
            format!(
                "plugin '{}' ({}) {e}",
                plugin.info.name,
                plugin.path.display()
            )
        })?;
        rec.timings.compress_seconds = t.elapsed().as_secs_f64();
        rec.compress_peak_rss_bytes = record::peak_rss_bytes();
        rec.method_metadata = raw.metadata.clone();
        let set = validate::check(
            raw,
            &data.train,
            data.num_classes(),
            data.shape,
            budget,
            plugin.info.family,
        )
        .map_err(|e| {
            format!(
                "plugin '{}' ({}) returned an invalid compressed set: {e}",
                plugin.info.name,
                plugin.path.display()
            )
        })?;
        rec.storage = Some(set.storage.clone());
        rec.per_class = Some(set.per_class.clone());
        let recipe = if reference { &p.reference } else { &p.train };
        let ev = train::train_and_evaluate(
            &data,
            &set,
            &p.student,
            recipe,
            p.eval.batch_size,
            &cell.seeds,
            device,
        )
        .map_err(|e| format!("training the student failed: {e}"))?;
        rec.timings.train_seconds = ev.train_seconds;
        rec.timings.eval_seconds = ev.eval_seconds;
        rec.evaluation = Some(ev);
        Ok(())
    })();
    match outcome {
        Ok(()) => rec.status = Status::Ok,
        Err(e) => rec.error = Some(e),
    }
    rec.timings.total_seconds = t0.elapsed().as_secs_f64();
    rec.peak_rss_bytes = record::peak_rss_bytes();
    rec.finished_at = record::now();
    record::write_atomic(&record::path_for(out, &cell.id), &rec)?;
    Ok(rec)
}
