//! `bench plugin check PATH`: a conformance run of one plugin on tiny real data (a slice of
//! the embedded mnist-5k), with a tiny training recipe for any model the plugin trains.
//!
//! Checks, in order: the library loads and its header passes every version check; it declares
//! a name, family, version, paper and description; for IPC 1, IPC 3 and a 5% fraction it
//! returns a set that passes every output check (budget, shapes, dtype, finiteness, label range,
//! indices) — a budget the plugin reports as unsupported is skipped, not failed, but at least
//! one must pass; the same seed gives the same output; and a tiny budget (IPC 1) works.
//! The check calls the plugin in this process: a plugin that crashes it fails the check.

use crate::data::{self, RawSplit};
use crate::dataset::to_split;
use crate::plugin;
use crate::validate;
use distillery_api::host::{call_compress, CallError, RawOutput};
use distillery_api::method::{ProtocolView, RequestMeta};
use distillery_api::spec::{Arch, Augment, ModelSpec, Optimizer, Schedule, TrainSpec};
use distillery_api::{Budget, Family, Split};
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Pass(String),
    Skip(String),
    Fail(String),
}

pub struct Check {
    pub name: String,
    pub outcome: Outcome,
}

/// Runs the conformance check; the report lists every check. `config` is the method's table
/// (from `bench plugin check --config FILE`), `{}` for the plugin's defaults.
pub fn run(path: &Path, config: &serde_json::Value) -> Vec<Check> {
    // One thread, as a default CPU cell runs: libtorch's default pool only adds contention on
    // a tiny problem (and on a loaded machine slows the check down many times).
    tch::set_num_threads(1);
    let mut out = Vec::new();
    let push = |out: &mut Vec<Check>, name: &str, o: Outcome| {
        out.push(Check {
            name: name.into(),
            outcome: o,
        })
    };
    let plugin = match plugin::load(path) {
        Ok(p) => {
            push(
                &mut out,
                "loads and passes the header checks",
                Outcome::Pass(format!(
                    "ABI, rustc, API {}, tch, libtorch match",
                    p.info.api_version
                )),
            );
            p
        }
        Err(e) => {
            push(
                &mut out,
                "loads and passes the header checks",
                Outcome::Fail(e.to_string()),
            );
            return out;
        }
    };
    let i = &plugin.info;
    let missing: Vec<&str> = [
        ("version", &i.version),
        ("paper", &i.paper),
        ("description", &i.description),
    ]
    .iter()
    .filter(|(_, v)| v.trim().is_empty())
    .map(|(k, _)| *k)
    .collect();
    push(
        &mut out,
        "declares name, family, version, paper, description",
        if missing.is_empty() {
            Outcome::Pass(format!(
                "{} ({}, v{})",
                i.name,
                i.family.as_str(),
                i.version
            ))
        } else {
            Outcome::Fail(format!("empty: {}", missing.join(", ")))
        },
    );

    let raw = match data::mnist_5k() {
        Ok(r) => r,
        Err(e) => {
            push(&mut out, "tiny data", Outcome::Fail(e.to_string()));
            return out;
        }
    };
    // 20 train + 5 validation images per class.
    let pick = |split: &RawSplit, from: usize, per: usize| -> RawSplit {
        let mut idx = Vec::new();
        for c in 0..raw.num_classes() as i64 {
            idx.extend(
                split
                    .labels
                    .iter()
                    .enumerate()
                    .filter(|(_, &l)| l == c)
                    .skip(from)
                    .take(per)
                    .map(|(i, _)| i),
            );
        }
        split.subset(&idx)
    };
    let (train_raw, val_raw) = (pick(&raw.train, 0, 20), pick(&raw.train, 20, 5));
    let (train, val) = (to_split(&train_raw), to_split(&val_raw));
    let (mean, std) = data::normalization_stats(&raw.train);
    let shape = [1i64, 28, 28];
    let tiny = TrainSpec {
        epochs: 2,
        batch_size: 64,
        optimizer: Optimizer::Sgd,
        lr: 0.01,
        momentum: 0.9,
        weight_decay: 5e-4,
        nesterov: false,
        schedule: Schedule::Step,
        augment: Augment::Dsa,
        dsa_strategy: distillery_api::spec::default_dsa_strategy(),
        rrc_scale: distillery_api::spec::default_rrc_scale(),
        mix: distillery_api::nn::mix::Mix::None,
        mix_alpha: 1.0,
    };
    let scratch = std::env::temp_dir().join(format!("distillery-check-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&scratch);
    let meta = |budget: Budget, seed: u64| RequestMeta {
        method: i.name.clone(),
        budget,
        class_names: raw.class_names.clone(),
        seeds: crate::plan::derive_seeds(seed),
        device: "cpu".into(),
        scratch_dir: scratch.clone(),
        cache_dir: scratch.join("cache"),
        config: config.clone(),
        protocol: ProtocolView {
            name: "conformance".into(),
            hash: "conformance".into(),
            student: ModelSpec {
                arch: Arch::Convnet,
                width: 16,
                depth: 3,
            },
            train: tiny.clone(),
            mean: mean.clone(),
            std: std.clone(),
            mirror_invariant: false,
            labels: "hard".into(),
            // A tiny teacher for methods that ask for one (trained once per check).
            teacher: Some(distillery_api::spec::TeacherSpec {
                model: ModelSpec {
                    arch: Arch::Convnet,
                    width: 8,
                    depth: 3,
                },
                train: tiny.clone(),
                seed: 0,
                patience: 0,
                pretrained: None,
            }),
        },
    };
    let call = |budget: Budget, seed: u64| -> Result<RawOutput, CallError> {
        let copy = |s: &Split| Split {
            images: s.images.copy(),
            labels: s.labels.copy(),
        };
        call_compress(
            plugin.header,
            &meta(budget, seed),
            &copy(&train),
            &copy(&val),
            &mut |_, _| {},
        )
    };
    let unsupported =
        |e: &CallError| matches!(e, CallError::Error(m) if m.starts_with("unsupported:"));
    let mut passed = 0;
    for budget in [Budget::Ipc(1), Budget::Ipc(3), Budget::Fraction(0.05)] {
        let name = format!("valid output at {}", budget.header());
        let o = match call(budget, 0) {
            Ok(raw_out) => {
                match validate::check_output(
                    raw_out,
                    &train,
                    raw.num_classes(),
                    shape,
                    budget,
                    i.family,
                ) {
                    Ok(set) => {
                        passed += 1;
                        Outcome::Pass(format!(
                            "{} images ({}), {} bytes",
                            set.storage.images, set.kind, set.storage.total_bytes
                        ))
                    }
                    Err(e) => Outcome::Fail(e.to_string()),
                }
            }
            Err(e) if unsupported(&e) => Outcome::Skip(e.to_string()),
            Err(e) => Outcome::Fail(e.to_string()),
        };
        push(&mut out, &name, o);
    }
    if passed == 0 && i.family != Family::Reference {
        push(
            &mut out,
            "at least one budget works",
            Outcome::Fail("no budget produced a valid set".into()),
        );
    }
    let det = match (call(Budget::Ipc(3), 7), call(Budget::Ipc(3), 7)) {
        (Ok(a), Ok(b)) => {
            if same(&a, &b) {
                Outcome::Pass("two calls with seed 7 returned identical sets".into())
            } else {
                Outcome::Fail("two calls with the same seeds returned different sets: derive all randomness from ctx.seeds()".into())
            }
        }
        (Err(e), _) | (_, Err(e)) if unsupported(&e) => Outcome::Skip(e.to_string()),
        (Err(e), _) | (_, Err(e)) => Outcome::Fail(e.to_string()),
    };
    push(&mut out, "deterministic for a seed", det);
    let _ = std::fs::remove_dir_all(&scratch);
    out
}

fn same(a: &RawOutput, b: &RawOutput) -> bool {
    let eq = |x: &Option<tch::Tensor>, y: &Option<tch::Tensor>| match (x, y) {
        (None, None) => true,
        (Some(x), Some(y)) => x.size() == y.size() && x.kind() == y.kind() && x.equal(y),
        _ => false,
    };
    a.kind == b.kind
        && eq(&a.indices, &b.indices)
        && eq(&a.images, &b.images)
        && eq(&a.labels, &b.labels)
        && eq(&a.soft_labels, &b.soft_labels)
}

/// Renders the checks; returns (text, all passed or skipped).
pub fn render(path: &Path, checks: &[Check]) -> (String, bool) {
    let mut ok = true;
    let mut s = format!("plugin check {}\n", path.display());
    for c in checks {
        let (tag, msg) = match &c.outcome {
            Outcome::Pass(m) => ("PASS", m),
            Outcome::Skip(m) => ("SKIP", m),
            Outcome::Fail(m) => {
                ok = false;
                ("FAIL", m)
            }
        };
        s.push_str(&format!("  {tag}  {}: {msg}\n", c.name));
    }
    s.push_str(if ok {
        "conformant\n"
    } else {
        "NOT conformant\n"
    });
    (s, ok)
}
