//! End-to-end tests of the label axis: the protocol's teacher (trained, cached, recorded with
//! its own accuracy), the soft-label protocol (online relabelling; the method's labels ignored;
//! label bytes zero and the teacher's parameters recorded), the native-label protocol with the
//! KD-family plugins' label functions, the label gain in reports, and `--method-config`.
//!
//! Real training on mnist-5k with the tiny fixtures (tests/fixtures/tiny-*-label.toml: a
//! width-32 student for 30 epochs and a width-32 teacher for up to 4 epochs).

use crate::common::*;

const HARD: &str = "tests/fixtures/tiny-hard-label.toml";
const SOFT: &str = "tests/fixtures/tiny-soft-label.toml";
const NATIVE: &str = "tests/fixtures/tiny-native-label.toml";

fn run(protocol: &str, methods: &str, ipc: &str, seeds: &str, out: &std::path::Path) -> String {
    let o = bench(
        &[
            "--protocol",
            protocol,
            "--methods",
            methods,
            "--ipc",
            ipc,
            "--seeds",
            seeds,
            "--out",
            s(out),
            "--jobs",
            "2",
            "--threads",
            "2",
        ],
        &[],
    );
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    t
}

fn top1(out: &std::path::Path, id: &str) -> f64 {
    record(out, id)["evaluation"]["top1"].as_f64().unwrap()
}

/// `bench teacher` trains the teacher once, reports its accuracy, and loads it afterwards.
#[test]
fn bench_teacher_trains_once_and_then_loads_from_the_cache() {
    let json = |o: &std::process::Output| -> serde_json::Value {
        assert!(o.status.success(), "{}", text(o));
        serde_json::from_slice(&o.stdout).unwrap()
    };
    let a = json(&bench(
        &["teacher", "--protocol", SOFT, "--threads", "1", "--json"],
        &[],
    ));
    let b = json(&bench(
        &["teacher", "--protocol", SOFT, "--threads", "1", "--json"],
        &[],
    ));
    assert_eq!(a["key"], b["key"]);
    assert_eq!(b["from_cache"], true);
    assert_eq!(a["test_acc"], b["test_acc"]);
    // A real teacher: well above chance (10%) on the test split and the validation split.
    assert!(a["test_acc"].as_f64().unwrap() > 0.85, "{a}");
    assert!(a["val_acc"].as_f64().unwrap() > 0.85, "{a}");
    // A protocol without a teacher is refused with its name.
    let o = bench(&["teacher", "--protocol", HARD], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("protocol 'tiny-hard-label' has no [teacher] table"),
        "{}",
        text(&o)
    );
}

/// Under the soft-label protocol the teacher labels every batch: the record carries the
/// teacher and its accuracy, no label bytes, and the teacher's parameter bytes; the report
/// pairs it with hard-label results for the label gain.
#[test]
fn soft_label_cells_record_the_teacher_and_report_the_label_gain() {
    let dir = tempfile::tempdir().unwrap();
    let (soft, hard) = (dir.path().join("soft"), dir.path().join("hard"));
    run(SOFT, "random", "10", "2", &soft);
    run(HARD, "random", "10", "2", &hard);
    let r = record(&soft, "random__ipc10__s0");
    assert_eq!(r["labels"], "soft");
    assert!(
        r["evaluation"]["labels"]
            .as_str()
            .unwrap()
            .starts_with("soft: online teacher"),
        "{r}"
    );
    assert!(r["teacher"]["test_acc"].as_f64().unwrap() > 0.85, "{r}");
    assert_eq!(r["storage"]["label_bytes"], 0);
    assert_eq!(r["storage"]["total_bytes"], r["storage"]["image_bytes"]);
    assert_eq!(
        r["storage"]["teacher_parameter_bytes"],
        r["teacher"]["parameter_bytes"]
    );
    for seed in 0..2 {
        let id = format!("random__ipc10__s{seed}");
        assert!(
            top1(&soft, &id) > 0.5,
            "the student learned from the teacher's labels"
        );
    }
    // The hard-label record of the same cell has label bytes and no teacher.
    let h = record(&hard, "random__ipc10__s0");
    assert_eq!(h["storage"]["label_bytes"], 100);
    assert!(h.get("teacher").is_none(), "{h}");
    let o = bench(
        &[
            "report",
            s(&soft),
            "--hard-label",
            s(&hard),
            "--width",
            "200",
        ],
        &[],
    );
    let t = text(&o);
    let gain = (top1(&soft, "random__ipc10__s0") + top1(&soft, "random__ipc10__s1")
        - top1(&hard, "random__ipc10__s0")
        - top1(&hard, "random__ipc10__s1"))
        / 2.0;
    assert!(
        t.contains(&format!(
            "Label gain (soft − hard): random @ IPC 10 {:+.2}",
            gain * 100.0
        )),
        "{t}"
    );
    assert!(t.contains("Teacher: ") && t.contains("test "), "{t}");
}

/// Native labels: the KD family's label functions are evaluated (with the teacher for KD and
/// DKD, without for label smoothing) on exactly the random baseline's images; under the
/// hard-label protocol the same plugins ARE the random baseline, bit for bit.
#[test]
fn kd_label_functions_change_only_the_labelling() {
    let dir = tempfile::tempdir().unwrap();
    let (native, hard) = (dir.path().join("native"), dir.path().join("hard"));
    run(NATIVE, "random,kd,dkd,label-smoothing", "10", "1", &native);
    let label = |m: &str| {
        record(&native, &format!("{m}__ipc10__s0"))["evaluation"]["labels"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(label("random"), "native: hard labels (cross-entropy)");
    assert!(
        label("kd").starts_with("native: kd (T 4, alpha 0.1) vs teacher "),
        "{}",
        label("kd")
    );
    assert!(
        label("dkd").starts_with("native: dkd (alpha 1, beta 8, T 4"),
        "{}",
        label("dkd")
    );
    assert_eq!(
        label("label-smoothing"),
        "native: label smoothing (epsilon 0.1)"
    );
    for m in ["kd", "dkd"] {
        let r = record(&native, &format!("{m}__ipc10__s0"));
        assert!(r["teacher"]["test_acc"].as_f64().unwrap() > 0.85, "{r}");
        assert_eq!(
            r["storage"]["label_bytes"], 100,
            "hard labels are still stored"
        );
        assert!(r["storage"]["teacher_parameter_bytes"].as_u64().unwrap() > 0);
    }
    assert!(record(&native, "label-smoothing__ipc10__s0")
        .get("teacher")
        .is_none());
    for m in ["random", "kd", "dkd", "label-smoothing"] {
        assert!(
            top1(&native, &format!("{m}__ipc10__s0")) > 0.5,
            "{m} learned"
        );
    }
    // Different labels, different students.
    assert_ne!(
        top1(&native, "kd__ipc10__s0"),
        top1(&native, "random__ipc10__s0")
    );
    run(HARD, "random,kd", "10", "1", &hard);
    assert_eq!(
        top1(&hard, "kd__ipc10__s0"),
        top1(&hard, "random__ipc10__s0")
    );
    assert_eq!(
        record(&hard, "kd__ipc10__s0")["evaluation"]["labels"],
        "hard (cross-entropy)"
    );
}

/// `--method-config FILE`: merged over the protocol, recorded in every cell, part of the
/// reuse decision; bad files and bad keys are named.
#[test]
fn method_config_files_are_recorded_and_change_what_is_reused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let cfg = dir.path().join("kd.toml");
    let go = |cfg: &std::path::Path| {
        bench(
            &[
                "--protocol",
                HARD,
                "--methods",
                "kd",
                "--ipc",
                "1",
                "--seeds",
                "1",
                "--out",
                s(&out),
                "--threads",
                "1",
                "--method-config",
                s(cfg),
            ],
            &[],
        )
    };
    std::fs::write(&cfg, "[methods.kd]\ntemperature = 2.0\n").unwrap();
    let o = go(&cfg);
    assert!(o.status.success(), "{}", text(&o));
    let r = record(&out, "kd__ipc1__s0");
    assert_eq!(r["method_config"], serde_json::json!({"temperature": 2.0}));
    assert_eq!(r["method_metadata"]["temperature"], 2.0);
    let o = go(&cfg);
    assert!(
        text(&o).contains("2 of 2 cells already finished"),
        "{}",
        text(&o)
    );
    std::fs::write(&cfg, "[methods.kd]\ntemperature = 3.0\n").unwrap();
    let o = go(&cfg);
    assert!(
        text(&o).contains("1 of 2 cells already finished"),
        "{}",
        text(&o)
    );
    assert_eq!(
        record(&out, "kd__ipc1__s0")["method_metadata"]["temperature"],
        3.0
    );
    // A misspelt key is named by the plugin; the cell fails, the run reports it.
    std::fs::write(&cfg, "[methods.kd]\ntemprature = 3.0\n").unwrap();
    let o = go(&cfg);
    assert_eq!(o.status.code(), Some(1));
    let e = record(&out, "kd__ipc1__s0")["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        e.contains("[methods.kd]") && e.contains("unknown field `temprature`"),
        "{e}"
    );
    // A file that is not a method config, or names no plugin, is refused before any cell runs.
    std::fs::write(&cfg, "[train]\nepochs = 1\n").unwrap();
    let t = text(&go(&cfg));
    assert!(t.contains("kd.toml: unknown top-level key `train`"), "{t}");
    std::fs::write(&cfg, "[methods.nope]\nx = 1\n").unwrap();
    let t = text(&go(&cfg));
    assert!(
        t.contains("[methods.nope] names no installed plugin"),
        "{t}"
    );
}

/// FKD-style stored labels are replayed (the student learns from them) and cost their file;
/// LPLD keeps a fraction of the epochs and costs proportionally less.
#[test]
fn stored_labels_are_replayed_and_their_bytes_counted() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("native");
    run(NATIVE, "fkd,lpld", "10", "1", &out);
    let fkd = record(&out, "fkd__ipc10__s0");
    let lpld = record(&out, "lpld__ipc10__s0");
    for r in [&fkd, &lpld] {
        assert_eq!(r["status"], "ok", "{r}");
        assert!(
            r["evaluation"]["labels"]
                .as_str()
                .unwrap()
                .starts_with("native: stored labels ("),
            "{r}"
        );
        assert!(r["evaluation"]["top1"].as_f64().unwrap() > 0.5, "{r}");
        let store = r["method_metadata"]["label_store_bytes"].as_u64().unwrap();
        // Hard labels (1 byte each) plus the store file.
        assert_eq!(r["storage"]["label_bytes"].as_u64().unwrap(), 100 + store);
        assert!(
            r["teacher"].is_null(),
            "stored labels need no online teacher: {r}"
        );
    }
    // 30 epochs stored vs round(30 / 40) -> 1 epoch kept: 30 x smaller label store (+ header).
    let (a, b) = (
        fkd["method_metadata"]["label_store_bytes"]
            .as_u64()
            .unwrap(),
        lpld["method_metadata"]["label_store_bytes"]
            .as_u64()
            .unwrap(),
    );
    assert_eq!(fkd["method_metadata"]["stored_epochs"], 30);
    assert_eq!(
        lpld["method_metadata"]["kept_epochs"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert!(b * 20 < a, "fkd {a} bytes, lpld {b} bytes");
    // Each logit costs 2 bytes: 30 epochs x 100 images x 10 classes at least.
    assert!(a > 30 * 100 * 10 * 2, "{a}");
}
