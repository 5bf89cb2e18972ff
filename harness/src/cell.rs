//! One cell, run in its own child process (`bench __cell`): load the dataset, call the plugin
//! with the train and validation splits, check its output, train the protocol's student,
//! evaluate on the test split, write the record.

use crate::dataset::Prepared;
use crate::plan::{CellSpec, Plan};
use crate::protocol::{LabelMode, Protocol};
use crate::record::TeacherRecord;
use crate::record::{self, DatasetRef, Record, Status};
use crate::{train, validate};
use distillery_api::method::{device_string, parse_device, ProtocolView, RequestMeta};
use distillery_api::{Budget, Family, Split};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Why a cell's method did not yield an evaluation; recorded as the record's `error` (its
/// text) while the cell itself completes with a record.
#[derive(Debug, thiserror::Error)]
pub enum CellError {
    /// The plugin's `compress` failed (returned an error, panicked, malformed response).
    #[error("plugin '{name}' ({}) {error}", .path.display())]
    Compress {
        /// The plugin's name.
        name: String,
        /// Its file.
        path: PathBuf,
        /// How the call failed.
        error: distillery_api::host::CallError,
    },
    /// The plugin's output failed [`validate::check_output`].
    #[error("plugin '{name}' ({}) returned an invalid compressed set: {error}", .path.display())]
    Invalid {
        /// The plugin's name.
        name: String,
        /// Its file.
        path: PathBuf,
        /// What is wrong with the set.
        error: validate::InvalidOutput,
    },
    /// The teacher the labels need could not be had.
    #[error(transparent)]
    Teacher(#[from] TeacherError),
    /// Training or evaluating the student failed.
    #[error("training the student failed: {0}")]
    Training(anyhow::Error),
}

/// Why the protocol's teacher could not be had.
#[derive(Debug, thiserror::Error)]
pub enum TeacherError {
    /// The protocol's labels need a teacher but it declares none.
    #[error("protocol '{protocol}' has no [teacher] table, but its labels need one")]
    NotDeclared {
        /// The protocol's name.
        protocol: String,
    },
    /// Training or loading the teacher failed.
    #[error("the protocol's teacher: {0}")]
    Obtain(distillery_api::MethodError),
}

/// Copies a split so a plugin that writes into its tensors cannot touch the harness's copy.
fn private_copy(s: &Split) -> Split {
    Split {
        images: s.images.copy(),
        labels: s.labels.copy(),
    }
}

/// The request a cell's method receives: also what `bench export` sends (crate::export), so
/// an exported set is exactly the one the cell would evaluate. An imported cell's request
/// carries its planned file (crate::import::request_for).
pub fn request_meta(
    loaded: &crate::protocol::Loaded,
    cell: &CellSpec,
    data: &Prepared,
    device: tch::Device,
    scratch: std::path::PathBuf,
    config: serde_json::Value,
) -> RequestMeta {
    let p = &loaded.protocol;
    let meta = RequestMeta {
        method: cell.method.clone(),
        budget: cell.budget.unwrap_or(Budget::Fraction(1.0)),
        class_names: data.class_names.clone(),
        seeds: cell.seeds,
        device: device_string(device),
        scratch_dir: scratch,
        config,
        cache_dir: crate::executor::cache_root().unwrap_or_default(),
        protocol: ProtocolView {
            name: p.name.clone(),
            hash: loaded.hash.clone(),
            student: p.student.clone(),
            train: p.train.clone(),
            mean: data.mean.clone(),
            std: data.std.clone(),
            mirror_invariant: data.mirror_invariant,
            labels: p.labels.as_str().to_string(),
            teacher: p.teacher.clone(),
        },
    };
    crate::import::request_for(cell, meta)
}

/// Runs the cell and writes its record (also when the method fails). Returns the record.
///
/// `log` receives the cell's progress lines (`[<cell id>] 40% …`, at most one per 5 s, and the
/// teacher's `[teacher] …` lines) and warnings (`warning: …`); the command layer decides where
/// they go (`bench __cell` writes them to standard error, which the executor keeps as the
/// cell's log).
pub fn run(
    plan: &Plan,
    cell: &CellSpec,
    out: &Path,
    log: &mut dyn FnMut(&str),
) -> anyhow::Result<Record> {
    let mut recs = run_cells(plan, std::slice::from_ref(cell), out, log)?;
    Ok(recs.remove(0))
}

/// A cell whose method ran and whose set passed the checks: what training needs.
struct Ready {
    set: validate::TrainingSet,
    teacher: Option<distillery_api::teacher::Teacher>,
    /// A reference cell (trained with the protocol's reference recipe).
    reference: bool,
}

/// One cell of [`run_cells`] between its method and its training.
struct Staged<'a> {
    cell: &'a CellSpec,
    rec: Record,
    stage: Result<Ready, CellError>,
    /// Seconds of this cell's own work so far (its method, checks and teacher).
    own_seconds: f64,
}

/// Runs several cells of one plan in this process, loading the dataset once, and writes each
/// cell's record (also when its method fails). Each cell's method runs in turn; then the
/// students of the cells that can be trained as one grouped model (hard labels, ConvNet
/// student, DSA or no augmentation, no batch mixing, no sample weights, equal set sizes:
/// [`distillery_api::nn::grouped`]) are trained together, and the others one by one. With one
/// cell this is exactly [`run`]. Returns the records in the order of `cells`.
///
/// # Errors
/// The dataset cannot be loaded or changed since the plan was made, a plugin cannot be found,
/// a record cannot be written. A method's own failure is a record, not an error.
pub fn run_cells(
    plan: &Plan,
    cells: &[CellSpec],
    out: &Path,
    log: &mut dyn FnMut(&str),
) -> anyhow::Result<Vec<Record>> {
    let t0 = Instant::now();
    tch::set_num_threads(plan.threads_per_cell as i32);
    if plan.deterministic {
        crate::gpu::set_deterministic(true);
    }
    let device = parse_device(&plan.device)?;
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
    let load_seconds = t0.elapsed().as_secs_f64();
    let mut staged: Vec<Staged> = Vec::with_capacity(cells.len());
    for cell in cells {
        let t = Instant::now();
        // A plugin by name, or the built-in importer for a set imported from a file.
        let plugin = crate::import::plugin_for(cell, &plan.plugin_dirs)?;
        let dataset = DatasetRef {
            name: data.name.clone(),
            checksum: data.checksum.clone(),
            classes: data.num_classes(),
            shape: data.shape,
            train: data.train.len(),
            val: data.val.len(),
            test: data.test.len(),
            source: Some(data.source.clone()),
        };
        let mut rec = crate::provenance::skeleton(plan, cell, Some(&plugin), dataset);
        rec.slurm = crate::executor::slurm::from_env();
        rec.timings.load_seconds = load_seconds;
        let stage = compress_and_check(&loaded, &data, cell, &plugin, device, out, &mut rec, log);
        staged.push(Staged {
            cell,
            rec,
            stage,
            own_seconds: t.elapsed().as_secs_f64(),
        });
    }

    // Which students train grouped: the groupable cells, by set size (a group needs >= 2).
    let groupable = |s: &Staged| -> Option<i64> {
        let r = s.stage.as_ref().ok()?;
        let ok = cells.len() > 1
            && !r.reference
            && p.labels == LabelMode::Hard
            && r.set.weights.is_none()
            && distillery_api::nn::grouped::GroupedFit::eligible(&p.student, &p.train).is_ok();
        ok.then(|| r.set.labels.size()[0])
    };
    let mut by_size: std::collections::BTreeMap<i64, Vec<usize>> = Default::default();
    for (i, s) in staged.iter().enumerate() {
        if let Some(n) = groupable(s) {
            by_size.entry(n).or_default().push(i);
        }
    }
    let groups: Vec<Vec<usize>> = by_size.into_values().filter(|g| g.len() >= 2).collect();
    let in_group: std::collections::HashSet<usize> = groups.iter().flatten().copied().collect();

    let mut trained: Vec<Option<Result<train::Evaluation, CellError>>> =
        (0..staged.len()).map(|_| None).collect();
    for group in &groups {
        let sets: Vec<&validate::TrainingSet> = group
            .iter()
            .map(|&i| &staged[i].stage.as_ref().expect("groupable").set)
            .collect();
        let seeds: Vec<distillery_api::Seeds> =
            group.iter().map(|&i| staged[i].cell.seeds).collect();
        let ids: Vec<String> = group.iter().map(|&i| staged[i].cell.id.clone()).collect();
        log(&format!(
            "training {} students as one grouped model: {}",
            ids.len(),
            ids.join(", ")
        ));
        let t = Instant::now();
        let result = train::train_and_evaluate_grouped(
            &data,
            &sets,
            &p.student,
            &p.train,
            p.eval.batch_size,
            &seeds,
            device,
        );
        let group_seconds = t.elapsed().as_secs_f64();
        match result {
            Ok(evs) => {
                for (&i, ev) in group.iter().zip(evs) {
                    staged[i].rec.grouped = Some(record::GroupedInfo {
                        size: group.len(),
                        members: ids.clone(),
                        group_seconds,
                    });
                    trained[i] = Some(Ok(ev));
                }
            }
            Err(e) => {
                let msg = format!("{e:#}");
                for &i in group {
                    trained[i] = Some(Err(CellError::Training(anyhow::anyhow!(
                        "grouped training of {}: {msg}",
                        ids.join(", ")
                    ))));
                }
            }
        }
    }

    let mut recs = Vec::with_capacity(staged.len());
    for (i, s) in staged.into_iter().enumerate() {
        let Staged {
            cell,
            mut rec,
            stage,
            own_seconds,
        } = s;
        let outcome = stage.and_then(|ready| {
            let ev = match trained[i].take() {
                Some(r) => r?,
                None => {
                    debug_assert!(!in_group.contains(&i));
                    train_alone(p, &data, cell, &ready, device)?
                }
            };
            rec.timings.train_seconds = ev.train_seconds;
            rec.timings.eval_seconds = ev.eval_seconds;
            rec.evaluation = Some(ev);
            Ok(())
        });
        match outcome {
            Ok(()) => rec.status = Status::Ok,
            Err(e) => rec.error = Some(e.to_string()),
        }
        rec.timings.total_seconds = if cells.len() == 1 {
            t0.elapsed().as_secs_f64()
        } else {
            // This cell's share: the load, its own method, and its (possibly shared) training.
            load_seconds + own_seconds + rec.timings.train_seconds + rec.timings.eval_seconds
        };
        rec.peak_rss_bytes = record::peak_rss_bytes();
        rec.finished_at = record::now();
        record::write_atomic(&record::path_for(out, &cell.id), &rec)?;
        recs.push(rec);
    }
    Ok(recs)
}

/// The cell's method, the checks of its output, and the teacher its labels need; fills the
/// record's method-side fields (timings, metadata, per-class counts, storage, teacher).
#[allow(clippy::too_many_arguments)]
fn compress_and_check(
    loaded: &crate::protocol::Loaded,
    data: &Prepared,
    cell: &CellSpec,
    plugin: &crate::plugin::Plugin,
    device: tch::Device,
    out: &Path,
    rec: &mut Record,
    log: &mut dyn FnMut(&str),
) -> Result<Ready, CellError> {
    let p = &loaded.protocol;
    let reference = plugin.info.family == Family::Reference;
    let budget = cell.budget.unwrap_or(Budget::Fraction(1.0));
    let scratch = out.join("scratch").join(&cell.id);
    std::fs::create_dir_all(&scratch)
        .map_err(|e| CellError::Training(anyhow::anyhow!("creating {}: {e}", scratch.display())))?;
    let meta = request_meta(
        loaded,
        cell,
        data,
        device,
        scratch,
        rec.method_config.clone(),
    );
    let t = Instant::now();
    let (train_copy, val_copy) = (private_copy(&data.train), private_copy(&data.val));
    let mut last = Instant::now();
    let mut progress = |f: f64, m: &str| {
        if last.elapsed().as_secs_f64() > 5.0 {
            log(&format!("[{}] {:.0}% {m}", cell.id, f * 100.0));
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
    .map_err(|error| CellError::Compress {
        name: plugin.info.name.clone(),
        path: plugin.path.clone(),
        error,
    })?;
    rec.timings.compress_seconds = t.elapsed().as_secs_f64();
    rec.compress_peak_rss_bytes = record::peak_rss_bytes();
    rec.method_metadata = raw.metadata.clone();
    let set = validate::check_output(
        raw,
        &data.train,
        data.num_classes(),
        data.shape,
        budget,
        plugin.info.family,
    )
    .map_err(|error| CellError::Invalid {
        name: plugin.info.name.clone(),
        path: plugin.path.clone(),
        error,
    })?;
    rec.per_class = Some(set.per_class.clone());
    // The teacher, where the labels need one: every cell of a soft-label protocol, and a
    // native-label cell whose method declared a KD-style label function.
    let needs_teacher = match p.labels {
        LabelMode::Hard => false,
        LabelMode::Soft => true,
        LabelMode::Native => set.label_spec.as_ref().is_some_and(|l| l.needs_teacher()),
    };
    let teacher = if needs_teacher {
        let t = obtain_teacher(p, data, device, log)?;
        rec.teacher = Some(t.1.clone());
        Some(t.0)
    } else {
        None
    };
    let mut storage = set.storage.clone();
    match p.labels {
        // Labels come from the online teacher: nothing stored, its parameters instead.
        LabelMode::Soft => {
            storage.total_bytes -= storage.label_bytes;
            storage.label_bytes = 0;
            storage.teacher_parameter_bytes = rec.teacher.as_ref().map(|t| t.parameter_bytes);
        }
        LabelMode::Native => {
            storage.teacher_parameter_bytes = rec.teacher.as_ref().map(|t| t.parameter_bytes);
        }
        LabelMode::Hard => {}
    }
    rec.storage = Some(storage);
    Ok(Ready {
        set,
        teacher,
        reference,
    })
}

/// Trains and evaluates one cell's student on its own.
fn train_alone(
    p: &Protocol,
    data: &Prepared,
    cell: &CellSpec,
    ready: &Ready,
    device: tch::Device,
) -> Result<train::Evaluation, CellError> {
    let labelling = match p.labels {
        LabelMode::Hard => train::Labelling::Hard,
        LabelMode::Soft => train::Labelling::Soft {
            teacher: ready.teacher.as_ref().expect("obtained above"),
            temperature: p.soft.as_ref().map_or(1.0, |s| s.temperature),
            t_squared: p.soft.as_ref().is_none_or(|s| s.t_squared),
        },
        LabelMode::Native => train::Labelling::Native {
            teacher: ready.teacher.as_ref(),
        },
    };
    let recipe = if ready.reference {
        &p.reference
    } else {
        &p.train
    };
    train::train_and_evaluate(
        data,
        &ready.set,
        &p.student,
        recipe,
        &labelling,
        p.eval.batch_size,
        &cell.seeds,
        device,
    )
    .map_err(CellError::Training)
}

/// The protocol's teacher for `data` (cached per user; trained on first use) and its record,
/// including its own test accuracy. `log` receives the training progress (`[teacher] 40% …`,
/// at most one line per 5 s, and the last one) and warnings (`warning: …`, e.g. a corrupted
/// cache entry that is rebuilt).
///
/// # Errors
/// [`TeacherError::NotDeclared`] without a `[teacher]` table, [`TeacherError::Obtain`] when it
/// cannot be trained or loaded.
pub fn obtain_teacher(
    p: &Protocol,
    data: &Prepared,
    device: tch::Device,
    log: &mut dyn FnMut(&str),
) -> Result<(distillery_api::teacher::Teacher, TeacherRecord), TeacherError> {
    let spec = p
        .teacher
        .as_ref()
        .ok_or_else(|| TeacherError::NotDeclared {
            protocol: p.name.clone(),
        })?;
    if let Some(classes) = spec
        .pretrained
        .as_ref()
        .and_then(|pre| pre.classes.as_ref())
    {
        distillery_api::teacher::check_class_order(classes, &data.class_names)
            .map_err(|e| TeacherError::Obtain(distillery_api::MethodError::Config(e)))?;
    }
    let root = crate::executor::cache_root()
        .unwrap_or_else(|| std::env::temp_dir().join("distillery-cache"));
    let tdata = distillery_api::teacher::TeacherData {
        train: &data.train,
        val: &data.val,
        num_classes: data.num_classes(),
        mean: &data.mean,
        std: &data.std,
        mirror_invariant: data.mirror_invariant,
    };
    let mut last = Instant::now();
    // Progress and warnings both go to `log`; the teacher service calls one at a time.
    let log = std::cell::RefCell::new(log);
    let t = distillery_api::teacher::obtain(
        spec,
        &tdata,
        device,
        &root,
        &mut |f, m| {
            if last.elapsed().as_secs_f64() > 5.0 || f >= 1.0 {
                (log.borrow_mut())(&format!("[teacher] {:.0}% {m}", f * 100.0));
                last = Instant::now();
            }
        },
        &mut |w| (log.borrow_mut())(&format!("warning: {w}")),
    )
    .map_err(TeacherError::Obtain)?;
    // Normalised a batch at a time: a large test split never exists as float32.
    let test_acc = distillery_api::teacher::accuracy_raw(
        t.net.as_ref(),
        &data.test,
        &data.mean,
        &data.std,
        device,
    );
    let r = crate::provenance::teacher_record(&t, test_acc);
    Ok((t, r))
}
