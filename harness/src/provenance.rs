//! Building a cell record from the harness's own types: the plan, the cell, the loaded
//! plugin, the protocol and the teacher. The record's schema and its files are the
//! `distillery-record` crate (re-exported as [`crate::record`]); only what needs harness types
//! lives here.

use crate::plan::{CellSpec, Plan};
use crate::plugin::Plugin;
use crate::protocol::Protocol;
use crate::record::{
    DatasetRef, ProtocolRef, Record, Status, TeacherRecord, Timings, Versions, SCHEMA,
};

/// The versions of this build: the harness ([`crate::VERSION`]), the plugin API, rustc, tch
/// and libtorch.
pub fn versions() -> Versions {
    Versions {
        distillery: crate::VERSION.into(),
        api: distillery_api::API_VERSION.into(),
        rustc: distillery_api::RUSTC_VERSION.into(),
        tch: distillery_api::TCH_VERSION.into(),
        libtorch: distillery_api::LIBTORCH_VERSION.into(),
    }
}

/// The record of `cell` before anything has run (status `Failed`, nothing measured): the
/// one skeleton both the cell process and, for a crashed cell, the executor fill in.
/// `plugin` is `None` when it could not be loaded (its fields stay empty); the protocol's
/// name, version, label mode and the method's configuration come from the plan's protocol
/// text, and stay empty if it does not parse.
pub fn skeleton(
    plan: &Plan,
    cell: &CellSpec,
    plugin: Option<&Plugin>,
    dataset: DatasetRef,
) -> Record {
    let loaded = plan.protocol().ok();
    let from_protocol = |f: fn(&Protocol) -> &String| {
        loaded
            .as_ref()
            .map(|l| f(&l.protocol).clone())
            .unwrap_or_default()
    };
    Record {
        schema: SCHEMA,
        status: Status::Failed,
        cell_id: cell.id.clone(),
        method: cell.method.clone(),
        family: plugin
            .map(|p| p.info.family.as_str().to_string())
            .unwrap_or_default(),
        plugin_version: plugin.map(|p| p.info.version.clone()).unwrap_or_default(),
        plugin_path: plugin
            .map(|p| p.path.display().to_string())
            .unwrap_or_default(),
        budget: cell.budget,
        budget_label: cell
            .budget
            .map(|b| b.label())
            .unwrap_or_else(|| "full".into()),
        seed: cell.seed,
        seeds: cell.seeds,
        protocol: ProtocolRef {
            name: from_protocol(|p| &p.name),
            version: from_protocol(|p| &p.version),
            hash: plan.protocol_hash.clone(),
            origin: plan.protocol_origin.clone(),
        },
        dataset,
        device: plan.device.clone(),
        threads: plan.threads_per_cell,
        deterministic: plan.device == "cpu",
        versions: versions(),
        evaluation: None,
        storage: None,
        per_class: None,
        timings: Timings::default(),
        peak_rss_bytes: 0,
        compress_peak_rss_bytes: 0,
        method_metadata: serde_json::Value::Null,
        method_config: loaded
            .as_ref()
            .map(|l| plan.method_config(l, &cell.method))
            .unwrap_or_default(),
        labels: loaded
            .as_ref()
            .map(|l| l.protocol.labels.as_str().to_string())
            .unwrap_or_default(),
        teacher: None,
        error: None,
        cached_from: None,
        slurm: None,
        finished_at: 0,
    }
}

/// The record of teacher `t`, with its top-1 accuracy on the test split `test_acc` (a
/// fraction, measured by the caller).
pub fn teacher_record(t: &distillery_api::teacher::Teacher, test_acc: f64) -> TeacherRecord {
    TeacherRecord {
        key: t.info.key.clone(),
        model: t.info.spec.model.describe(),
        val_acc: t.info.val_acc,
        test_acc,
        best_epoch: t.info.best_epoch,
        epochs_run: t.info.epochs_run,
        parameters: t.info.parameters,
        parameter_bytes: t.info.parameter_bytes,
        from_cache: t.from_cache,
        train_seconds: t.info.train_seconds,
    }
}
