//! `bench --group`: students of several cells trained as one grouped model in one process.
//! Each member must end where its separate run ends, say it was grouped, and a crash of a
//! grouped process must not cost the other members their records.

use crate::common::*;

const TINY: &str = "tests/fixtures/tiny-hard-label.toml";

/// Three seeds of random at IPC 1 (three sets of 10 images, each its own init, order and DSA
/// draws), grouped into one model on the CPU, against the same cells one by one, after the
/// tiny protocol's 30 epochs: top-1 within 1 percentage point and final train loss within
/// 1% relative, and every grouped record names its group. Not bit-identical: grouped
/// convolutions round differently (weights differ by ~1e-7 after 18 steps, see
/// `nn::grouped::tests`), and 30 epochs of DSA training amplify that into a few flipped test
/// predictions and a last-epoch loss 0.14% apart (measured: two seeds identical, one top-1
/// 0.473 vs 0.470, loss 0.6304 vs 0.6313). A member trained with another member's draws or
/// order differs by several points and far more loss.
#[test]
fn grouped_students_end_where_their_separate_runs_end() {
    let dir = tempfile::tempdir().unwrap();
    let run = |group: &str, name: &str| {
        let out = dir.path().join(name);
        let o = bench(
            &[
                "--protocol",
                TINY,
                "--methods",
                "random",
                "--ipc",
                "1",
                "--seeds",
                "3",
                "--threads",
                "1",
                "--jobs",
                "1",
                "--group",
                group,
                "--out",
                s(&out),
            ],
            &[],
        );
        assert!(o.status.success(), "--group {group}: {}", text(&o));
        (out, text(&o))
    };
    let (grouped, t) = run("3", "grouped");
    assert!(t.contains("students grouped up to 3 per model"), "{t}");
    assert!(t.contains("grouped x3"), "{t}");
    let (alone, t) = run("off", "alone");
    assert!(!t.contains("grouped"), "{t}");
    let ids = ["random__ipc1__s0", "random__ipc1__s1", "random__ipc1__s2"];
    let mut top1s = Vec::new();
    for id in ids {
        let (g, a) = (record(&grouped, id), record(&alone, id));
        assert_eq!(g["status"], "ok", "{id}: {g}");
        assert_eq!(g["grouped"]["size"], 3, "{id}");
        assert_eq!(
            g["grouped"]["members"],
            serde_json::json!(ids),
            "{id}: the record names its group"
        );
        assert!(
            a.get("grouped").is_none(),
            "{id}: a separate run is not grouped"
        );
        let (ge, ae) = (&g["evaluation"], &a["evaluation"]);
        let (gt, at) = (ge["top1"].as_f64().unwrap(), ae["top1"].as_f64().unwrap());
        assert!(
            (gt - at).abs() <= 0.01,
            "{id}: top-1 {gt} grouped vs {at} alone"
        );
        assert_eq!(ge["steps"], ae["steps"], "{id}: steps");
        let (gl, al) = (
            ge["final_train_loss"].as_f64().unwrap(),
            ae["final_train_loss"].as_f64().unwrap(),
        );
        assert!(
            (gl - al).abs() <= 1e-2 * al.abs(),
            "{id}: loss {gl} vs {al}"
        );
        assert_eq!(g["seeds"], a["seeds"], "{id}: seeds");
        top1s.push(ae["top1"].as_f64().unwrap());
    }
    // The tiny student learns at IPC 1 (10 classes: chance 10%), and the seeds differ (the
    // members are not one network three times).
    assert!(top1s.iter().all(|&a| a > 0.2), "{top1s:?}");
    assert!(top1s[0] != top1s[1] || top1s[1] != top1s[2], "{top1s:?}");
}

/// A plugin that aborts inside a grouped process kills it before any member's record is
/// written: the executor runs each member again on its own, so the well-behaved member still
/// gets its (ok) record and only the aborting plugin's cell fails, with the signal named.
#[test]
fn a_crash_in_a_grouped_process_costs_only_the_crashing_cell() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let plug = build_dir().join("libdistillery_fixture_misbehave.so");
    assert!(
        plug.exists(),
        "{} missing: build the workspace first",
        plug.display()
    );
    let o = bench(
        &[
            "--protocol",
            TINY,
            "--methods",
            "random,misbehave",
            "--plugins",
            s(&plug),
            "--ipc",
            "1",
            "--seeds",
            "1",
            "--threads",
            "1",
            "--jobs",
            "1",
            "--group",
            "2",
            "--out",
            s(&out),
        ],
        &[("DISTILLERY_FIXTURE_MODE", "abort")],
    );
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "one failed cell: exit 1\n{t}");
    assert!(t.contains("run again on their own"), "{t}");
    let r = record(&out, "random__ipc1__s0");
    assert_eq!(r["status"], "ok", "{r}");
    assert!(r.get("grouped").is_none(), "{r}");
    let m = record(&out, "misbehave__ipc1__s0");
    assert_eq!(m["status"], "failed");
    assert!(
        m["error"].as_str().unwrap().contains("SIGABRT"),
        "{}",
        m["error"]
    );
}
