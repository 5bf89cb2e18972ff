//! Results that must not get lost or misreported (issue 21, items 1, 3, 4 and 13): a diverged
//! student keeps its record and is marked in reports; repeated grid entries run once; numbers
//! across two result sets need comparable sets; below-chance cells are flagged with their
//! confusion. Every input is made here: a protocol copy, or records edited from the record
//! crate's fixtures.

use crate::common::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

const TINY: &str = "tests/fixtures/tiny-hard-label.toml";
const TINY_SOFT: &str = "tests/fixtures/tiny-soft-label.toml";

fn tiny_text(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap()
}

fn hash_of(text: &str) -> String {
    distillery::protocol::Loaded::parse(text, "t.toml")
        .unwrap()
        .hash
}

fn record_fixture(name: &str) -> Value {
    let p = root().join("crates/record/tests/fixtures").join(name);
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// Writes `records` under `dir/cells` and a `plan.json` holding `protocol_text`.
fn results_dir(dir: &Path, protocol_text: &str, records: &[Value]) -> PathBuf {
    std::fs::create_dir_all(dir.join("cells")).unwrap();
    for r in records {
        let id = r["cell_id"].as_str().unwrap();
        std::fs::write(
            dir.join("cells").join(format!("{id}.json")),
            serde_json::to_string_pretty(r).unwrap(),
        )
        .unwrap();
    }
    let plan = json!({"protocol_text": protocol_text, "protocol_origin": "t.toml"});
    std::fs::write(dir.join("plan.json"), plan.to_string()).unwrap();
    dir.to_path_buf()
}

/// Item 1 and 3 on one real run: a copy of the tiny protocol with lr = 1000 diverges. Before,
/// the cell wrote `final_train_loss: null`, the parent could not parse it and replaced the
/// record by "exited with status 0", and `bench report` called it failed. Now the cell is a
/// result: status ok, its accuracy, the epoch it diverged at, a record that parses, and a
/// report that marks it. `--ipc 1,1 --methods random,random` plans that cell once, with one
/// note.
#[test]
fn a_diverged_student_keeps_its_record_and_repeated_entries_run_once() {
    let dir = tempfile::tempdir().unwrap();
    let proto = dir.path().join("tiny-lr1000.toml");
    let proto_text = tiny_text(TINY).replace("lr = 0.01\n", "lr = 1000.0\n");
    assert_eq!(proto_text.matches("lr = 1000.0").count(), 2);
    std::fs::write(&proto, proto_text).unwrap();
    let out = dir.path().join("run");
    let o = bench(
        &[
            "--protocol",
            s(&proto),
            "--methods",
            "random,random",
            "--ipc",
            "1,1",
            "--seeds",
            "1",
            "--threads",
            "1",
            "--jobs",
            "1",
            "--out",
            s(&out),
        ],
        &[],
    );
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert_eq!(t.matches("ignored duplicate entries").count(), 1, "{t}");
    assert!(
        t.contains("note: ignored duplicate entries (each cell runs once): budget IPC 1 (given 2 times), method random (given 2 times)"),
        "{t}"
    );
    let plan: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("plan.json")).unwrap()).unwrap();
    let ids: Vec<&str> = plan["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["random__ipc1__s0"]);

    let r = record(&out, "random__ipc1__s0");
    assert_eq!(r["status"], "ok", "{r:#}");
    let ev = &r["evaluation"];
    let e = ev["diverged_at_epoch"].as_u64().expect("diverged_at_epoch");
    assert!((1..30).contains(&e), "{e}");
    assert_eq!(
        ev["epochs"].as_u64(),
        Some(e),
        "training stops at divergence"
    );
    assert!(
        matches!(
            ev["final_train_loss"].as_str(),
            Some("NaN" | "inf" | "-inf")
        ),
        "{}",
        ev["final_train_loss"]
    );
    // The confusion matrix: 10 x 10 counts over the 1000 test images, trace = top-1.
    let m: Vec<Vec<u64>> = serde_json::from_value(ev["confusion"].clone()).unwrap();
    assert_eq!((m.len(), m[0].len()), (10, 10));
    assert!(m.iter().all(|row| row.iter().sum::<u64>() == 100));
    let trace: u64 = (0..10).map(|i| m[i][i]).sum();
    assert_eq!(trace as f64 / 1000.0, ev["top1"].as_f64().unwrap());
    assert_eq!(ev["per_class_top1"].as_array().unwrap().len(), 10);
    let parsed = distillery::record::read(&out.join("cells/random__ipc1__s0.json"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!parsed.evaluation.unwrap().final_train_loss.is_finite());

    let o = bench(&["report", s(&out)], &[]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(!t.contains("unreadable") && !t.contains("failed"), "{t}");
    assert!(t.contains(" (diverged)"), "{t}");
    assert!(
        t.contains(&format!(
            "(diverged) random at IPC 1: seed 0: training diverged at epoch {e}; the accuracy shown is that of the diverged network (included in the mean)."
        )),
        "{t}"
    );
}

/// A hard-label record of `method` at IPC 1, seed `seed`, whose confusion matrix puts
/// `correct` images of each class on the diagonal and the rest on class `(t + 1) % 10`.
fn confused(method: &str, seed: u64, correct: u64) -> Value {
    let mut r = record_fixture("hard-random-ipc1.json");
    let m: Vec<Vec<u64>> = (0..10)
        .map(|t| {
            (0..10)
                .map(|p| {
                    if p == t {
                        correct
                    } else if p == (t + 1) % 10 {
                        100 - correct
                    } else {
                        0
                    }
                })
                .collect()
        })
        .collect();
    r["cell_id"] = json!(format!("{method}__ipc1__s{seed}"));
    r["method"] = json!(method);
    r["seed"] = json!(seed);
    r["evaluation"]["top1"] = json!(correct as f64 / 100.0);
    r["evaluation"]["confusion"] = json!(m);
    r
}

/// Item 13: an entry clearly below chance (mean + 2 SE < 1/classes) is marked and explained
/// with the most predicted class per true class; one within noise of chance is not.
#[test]
fn below_chance_entries_are_flagged_with_their_confusion() {
    let dir = tempfile::tempdir().unwrap();
    let mut recs = Vec::new();
    for (seed, c) in [(0, 3), (1, 4), (2, 2)] {
        recs.push(confused("random", seed, c));
        // 9% on 3 x 1000 images: within two standard errors of 10%.
        recs.push(confused("herding", seed, 9));
    }
    let out = results_dir(dir.path(), &tiny_text(TINY), &recs);
    let o = bench(&["report", s(&out)], &[]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("3.00 ± 1.00 (below chance)"), "{t}");
    assert!(
        t.contains("(below chance) random at IPC 1: mean top-1 3.00% is below chance (10.00% = 1/10 classes) by more than 2 standard errors (mean + 2 SE = 4.15%): the student systematically predicts wrong classes; most predicted class per true class (confusion matrices summed over seeds): 0→1 1→2 2→3 3→4 4→5 5→6 6→7 7→8 8→9 9→0; per-class top-1 (%): 3 3 3 3 3 3 3 3 3 3."),
        "{t}"
    );
    assert!(!t.contains("(below chance) herding"), "{t}");
    let o = bench(&["report", s(&out), "--format", "json"], &[]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let cell = |m: &str| {
        v["cells"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["method"] == m)
            .unwrap()
            .clone()
    };
    assert_eq!(cell("random")["below_chance"]["chance"], 0.1);
    assert!(cell("herding").get("below_chance").is_none());
    assert_eq!(v["classes"], 10);
}

/// Item 4: `bench report SOFT --hard-label HARD` refuses (exit 2) a hard-label side made with
/// another recipe (a copy with another lr and epoch count) and names what differs; with the
/// same recipe apart from the labels it reports the gain. `bench compare` between the two
/// hard-label recipes says, through the same check, what differs.
#[test]
fn label_gain_and_compare_check_that_the_two_sets_are_comparable() {
    let dir = tempfile::tempdir().unwrap();
    let soft_text = tiny_text(TINY_SOFT);
    let hard_text = tiny_text(TINY);
    let other_text = hard_text
        .replace("epochs = 30\n", "epochs = 20\n")
        .replace("lr = 0.01\n", "lr = 0.05\n");
    let with_hash = |mut r: Value, text: &str| {
        r["protocol"]["hash"] = json!(hash_of(text));
        r
    };
    let soft = results_dir(
        &dir.path().join("soft"),
        &soft_text,
        &[with_hash(
            record_fixture("soft-random-ipc1.json"),
            &soft_text,
        )],
    );
    let hard = results_dir(
        &dir.path().join("hard"),
        &hard_text,
        &[with_hash(
            record_fixture("hard-random-ipc1.json"),
            &hard_text,
        )],
    );
    let other = results_dir(
        &dir.path().join("other"),
        &other_text,
        &[with_hash(
            record_fixture("hard-random-ipc1.json"),
            &other_text,
        )],
    );

    let o = bench(&["report", s(&soft), "--hard-label", s(&other)], &[]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(
        t.contains(&format!(
            "label gain: the two result sets are not comparable: the recipes differ apart from the label regime ({}: protocol {}; {}: protocol {}): ",
            soft.display(),
            &hash_of(&soft_text)[..12],
            other.display(),
            &hash_of(&other_text)[..12]
        )),
        "{t}"
    );
    assert!(
        t.contains("train.epochs 30 vs 20") && t.contains("train.lr 0.01 vs 0.05"),
        "{t}"
    );

    let o = bench(&["report", s(&soft), "--hard-label", s(&hard)], &[]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(
        t.contains("Label gain (soft − hard): random @ IPC 1 "),
        "{t}"
    );

    let o = bench(&["compare", s(&hard), s(&other)], &[]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(
        t.contains("not comparable: protocol hashes differ (")
            && t.contains("train.epochs 30 vs 20"),
        "{t}"
    );
}
