//! End-to-end tests of the `bench` binary: real training on the embedded mnist-5k with the tiny
//! fixture protocol (tests/fixtures/tiny-hard-label.toml: 30 epochs, width-32 student), plugin
//! loading and rejection, misbehaving plugins, bad input, determinism and resumption.
//!
//! They need the workspace's plugins built next to `bench` (`make test` runs ./setup.sh, which
//! builds them, before `cargo test`).

use crate::common::*;
use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

const TINY: &str = "tests/fixtures/tiny-hard-label.toml";

fn fixture_plugin() -> PathBuf {
    let p = build_dir().join("libdistillery_fixture_misbehave.so");
    assert!(
        p.exists(),
        "{} missing: build the workspace first (`./setup.sh` or `make test`)",
        p.display()
    );
    p
}

fn tiny_hash() -> String {
    let text = std::fs::read_to_string(root().join(TINY)).unwrap();
    distillery::protocol::Loaded::parse(&text, TINY)
        .unwrap()
        .hash
}

#[test]
fn version_and_env_report_the_toolchain() {
    let o = bench(&["--version"], &[]);
    assert!(o.status.success());
    let t = text(&o);
    assert!(
        t.contains("tch 0.24.0") && t.contains("libtorch 2.11.0"),
        "{t}"
    );
    let o = bench(&["env", "--json"], &[]);
    assert!(o.status.success(), "{}", text(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["tch"], "0.24.0");
    assert!(v["libtorch"].as_str().unwrap().starts_with("2.11.0"));
    assert!(v["intra_op_threads"].as_i64().unwrap() >= 1);
    assert_eq!(
        v["cuda_available"].as_bool().unwrap(),
        v["cuda_devices"].as_i64().unwrap() > 0
    );
}

/// The tiny protocol trains real students: random IPC 10 is far above chance (10%), the
/// full train split beats it, every record carries its provenance, and a re-run reuses them.
#[test]
fn tiny_run_learns_records_provenance_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = bench(&["--protocol", TINY, "--out", out.to_str().unwrap()], &[]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(
        t.contains("random") && t.contains("IPC 10") && t.contains("mean ± std"),
        "{t}"
    );

    let hash = tiny_hash();
    let mut ipc10 = Vec::new();
    for seed in 0..2 {
        let r = record(&out, &format!("random__ipc10__s{seed}"));
        assert_eq!(r["status"], "ok");
        assert_eq!(r["protocol"]["hash"], hash.as_str());
        assert_eq!(
            r["dataset"]["checksum"],
            distillery::data::MNIST_5K_CHECKSUM
        );
        assert_eq!(r["dataset"]["test"], 1000);
        assert_eq!(
            r["dataset"]["train"].as_u64().unwrap() + r["dataset"]["val"].as_u64().unwrap(),
            4000
        );
        assert_eq!(r["device"], "cpu");
        assert_eq!(r["plugin_version"], "0.1.0");
        assert_eq!(r["seed"], seed);
        for k in ["selection", "init", "order", "augment"] {
            assert!(r["seeds"][k].as_u64().is_some(), "seed {k} not logged");
        }
        assert_eq!(r["storage"]["images"], 100);
        assert_eq!(
            r["per_class"],
            serde_json::json!([10, 10, 10, 10, 10, 10, 10, 10, 10, 10])
        );
        assert_eq!(
            r["evaluation"]["augment"], "color_crop_cutout_scale_rotate",
            "flip must be dropped for digits"
        );
        ipc10.push(r["evaluation"]["top1"].as_f64().unwrap());
    }
    let full: Vec<f64> = (0..2)
        .map(|s| {
            record(&out, &format!("full__full__s{s}"))["evaluation"]["top1"]
                .as_f64()
                .unwrap()
        })
        .collect();
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    assert!(
        mean(&ipc10) > 0.5,
        "random IPC 10 should be far above chance (0.1): {ipc10:?}"
    );
    assert!(
        mean(&full) > mean(&ipc10) + 0.05,
        "full {full:?} should beat random IPC 10 {ipc10:?}"
    );
    let ipc1 = record(&out, "random__ipc1__s0")["evaluation"]["top1"]
        .as_f64()
        .unwrap();
    assert!(ipc1 > 0.2, "random IPC 1 above chance: {ipc1}");

    // Resumption: a second identical command runs nothing and leaves the records untouched.
    let before = std::fs::read(out.join("cells/random__ipc10__s0.json")).unwrap();
    let o = bench(&["--protocol", TINY, "--out", out.to_str().unwrap()], &[]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("6 of 6 cells already finished"), "{t}");
    assert_eq!(
        before,
        std::fs::read(out.join("cells/random__ipc10__s0.json")).unwrap()
    );

    // The report subcommand reads the same directory.
    let o = bench(&["report", out.to_str().unwrap()], &[]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("IPC 10"));
}

/// CPU runs are bit-identical for a seed.
#[test]
fn cpu_cells_are_bit_identical_per_seed() {
    let dir = tempfile::tempdir().unwrap();
    let mut results = Vec::new();
    for i in 0..2 {
        let out = dir.path().join(format!("r{i}"));
        let o = bench(
            &[
                "--protocol",
                TINY,
                "--methods",
                "random",
                "--ipc",
                "1",
                "--seeds",
                "1",
                "--out",
                out.to_str().unwrap(),
            ],
            &[],
        );
        assert!(o.status.success(), "{}", text(&o));
        let r = record(&out, "random__ipc1__s0");
        results.push((
            r["evaluation"]["top1"].as_f64().unwrap(),
            r["evaluation"]["final_train_loss"]
                .as_f64()
                .unwrap()
                .to_bits(),
        ));
    }
    assert_eq!(results[0], results[1]);
}

#[test]
fn malformed_protocols_name_file_key_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let src = std::fs::read_to_string(root().join(TINY)).unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        src.replacen("[train]\n", "[train]\nlearnig_rate = 0.1\n", 1),
    )
    .unwrap();
    let o = bench(
        &[
            "--protocol",
            bad.to_str().unwrap(),
            "--out",
            dir.path().join("o").to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2));
    let t = text(&o);
    let line = src.lines().position(|l| l == "[train]").unwrap() + 2;
    assert!(
        t.contains(bad.to_str().unwrap())
            && t.contains("unknown field `learnig_rate`")
            && t.contains(&format!("line {line}")),
        "{t}"
    );

    std::fs::write(&bad, src.replacen("lr = 0.01", "lr = -0.01", 1)).unwrap();
    let t = text(&bench(&["--protocol", bad.to_str().unwrap()], &[]));
    assert!(
        t.contains("[train] lr (line") && t.contains("must be a positive number, found -0.01"),
        "{t}"
    );

    let o = bench(&["--protocol", "no-such-protocol"], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("unknown protocol 'no-such-protocol'"),
        "{}",
        text(&o)
    );
    assert!(
        !dir.path().join("o").exists(),
        "nothing may be written for a bad protocol"
    );
}

#[test]
fn bad_datasets_name_the_file_and_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let o = bench(&["--protocol", TINY, "--dataset", "/no/such/dataset"], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("/no/such/dataset"), "{}", text(&o));

    // An idx directory whose training images are truncated.
    let d = dir.path().join("mnist");
    std::fs::create_dir_all(&d).unwrap();
    let imgs = distillery::data::encode_idx_images(&vec![7u8; 3 * 28 * 28], 3, 28, 28);
    std::fs::write(d.join("train-images-idx3-ubyte"), &imgs[..imgs.len() - 100]).unwrap();
    std::fs::write(
        d.join("train-labels-idx1-ubyte"),
        distillery::data::encode_idx_labels(&[0, 1, 2]),
    )
    .unwrap();
    std::fs::write(d.join("t10k-images-idx3-ubyte"), &imgs).unwrap();
    std::fs::write(
        d.join("t10k-labels-idx1-ubyte"),
        distillery::data::encode_idx_labels(&[0, 1, 2]),
    )
    .unwrap();
    let o = bench(&["--protocol", TINY, "--dataset", d.to_str().unwrap()], &[]);
    assert_eq!(o.status.code(), Some(2));
    let t = text(&o);
    assert!(
        t.contains("train-images-idx3-ubyte") && t.contains("truncated"),
        "{t}"
    );
}

/// Each kind of misbehaviour fails its own cell with a precise message; the baseline's earlier
/// record is untouched and the run goes on.
#[test]
fn misbehaving_plugins_fail_only_their_cell() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let plug = fixture_plugin();
    let common = [
        "--protocol",
        TINY,
        "--ipc",
        "1",
        "--seeds",
        "1",
        "--out",
        out.to_str().unwrap(),
    ];
    let o = bench(&[&common[..], &["--methods", "random"]].concat(), &[]);
    assert!(o.status.success(), "{}", text(&o));
    let baseline = std::fs::read(out.join("cells/random__ipc1__s0.json")).unwrap();

    let cases = [
        (
            "panic",
            "panicked: fixture panic: something went wrong inside the method",
        ),
        (
            "error",
            "returned an error: fixture error: the method gave up",
        ),
        (
            "too-many",
            "6 images labelled class 0, over the budget of 1 per class",
        ),
        ("nan", "images contain 1 NaN or infinite values"),
        (
            "bad-label",
            "label 13 is out of range: the dataset has 10 classes (0..9)",
        ),
        (
            "wrong-shape",
            "images must have rank 4 [N, C, H, W], got shape [10, 28, 28]",
        ),
        ("dup-index", "appears more than once"),
        (
            "oob-index",
            "is out of range: the train split has 3600 images",
        ),
        (
            "empty-class",
            "class 0 has no image, but an IPC 1 budget requires at least one per class",
        ),
        ("segfault", "killed by signal 11 SIGSEGV"),
        ("abort", "killed by signal 6 SIGABRT"),
    ];
    for (mode, expect) in cases {
        let args = [
            &common[..],
            &[
                "--methods",
                "random,misbehave",
                "--plugins",
                plug.to_str().unwrap(),
            ],
        ]
        .concat();
        let o = bench(&args, &[("DISTILLERY_FIXTURE_MODE", mode)]);
        let t = text(&o);
        assert_eq!(
            o.status.code(),
            Some(1),
            "{mode}: a failed cell means exit 1\n{t}"
        );
        let r = record(&out, "misbehave__ipc1__s0");
        assert_eq!(r["status"], "failed", "{mode}");
        let err = r["error"].as_str().unwrap();
        assert!(
            err.contains(expect),
            "{mode}: expected {expect:?} in {err:?}"
        );
        if !matches!(mode, "segfault" | "abort") {
            assert!(
                err.contains("plugin 'misbehave'"),
                "{mode}: the error names the plugin: {err}"
            );
        }
        assert!(t.contains("1 of 2 cells already finished"), "{mode}: {t}");
        assert_eq!(
            baseline,
            std::fs::read(out.join("cells/random__ipc1__s0.json")).unwrap(),
            "{mode}: baseline record changed"
        );
    }
    // A well-behaved run of the same plugin then replaces the failed record.
    let args = [
        &common[..],
        &[
            "--methods",
            "misbehave",
            "--plugins",
            plug.to_str().unwrap(),
        ],
    ]
    .concat();
    let o = bench(&args, &[("DISTILLERY_FIXTURE_MODE", "ok")]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(record(&out, "misbehave__ipc1__s0")["status"], "ok");
}

/// The plugin sees the train and validation splits, never a test image.
#[test]
fn plugins_never_receive_the_test_split() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let plug = fixture_plugin();
    let args = [
        "--protocol",
        TINY,
        "--ipc",
        "1",
        "--seeds",
        "1",
        "--methods",
        "misbehave",
        "--plugins",
        plug.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    let o = bench(&args, &[("DISTILLERY_FIXTURE_MODE", "inspect")]);
    assert!(o.status.success(), "{}", text(&o));
    let meta = &record(&out, "misbehave__ipc1__s0")["method_metadata"];
    assert_eq!(
        meta["train_n"].as_u64().unwrap() + meta["val_n"].as_u64().unwrap(),
        4000
    );
    let seen: std::collections::HashSet<String> = meta["train_hashes"]
        .as_array()
        .unwrap()
        .iter()
        .chain(meta["val_hashes"].as_array().unwrap())
        .map(|h| h.as_str().unwrap().to_string())
        .collect();
    let raw = distillery::data::mnist_5k().unwrap();
    let fnv = |img: &[u8]| {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in img {
            h = (h ^ *b as u64).wrapping_mul(0x0000_0100_0000_01B3);
        }
        format!("{h:016x}")
    };
    let train_hashes: std::collections::HashSet<String> = (0..raw.train.len())
        .map(|i| fnv(raw.train.image(i)))
        .collect();
    assert_eq!(
        seen, train_hashes,
        "the plugin saw exactly the train split (train + validation)"
    );
    let leaked = (0..raw.test.len())
        .filter(|&i| seen.contains(&fnv(raw.test.image(i))))
        .count();
    assert_eq!(leaked, 0, "test images reached the plugin");
}

#[test]
fn rejected_libraries_explain_host_vs_plugin_and_how_to_rebuild() {
    let plug = fixture_plugin();
    let o = bench(
        &["plugin", "check", plug.to_str().unwrap()],
        &[("DISTILLERY_FIXTURE_MODE", "abi")],
    );
    assert_eq!(o.status.code(), Some(1));
    let t = text(&o);
    assert!(
        t.contains("plugin ABI version 99, host ABI version 1")
            && t.contains("cargo build --release -p distillery-fixture-misbehave"),
        "{t}"
    );

    let o = bench(
        &["plugin", "check", plug.to_str().unwrap()],
        &[("DISTILLERY_FIXTURE_MODE", "rustc")],
    );
    let t = text(&o);
    assert!(
        t.contains("rustc version differs: host \"rustc 1.")
            && t.contains("plugin \"rustc 0.0.0 (fixture)\""),
        "{t}"
    );

    // A plain shared library that is not a plugin.
    let dir = tempfile::tempdir().unwrap();
    let c = dir.path().join("plain.c");
    std::fs::write(&c, "int answer(void) { return 42; }\n").unwrap();
    let so = dir.path().join("libplain.so");
    let cc = Command::new("cc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(&so)
        .arg(&c)
        .status()
        .expect("a C compiler (cc)");
    assert!(cc.success());
    let o = bench(&["plugin", "check", so.to_str().unwrap()], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("not a Distillery plugin (it does not export `distillery_plugin_entry`)"),
        "{}",
        text(&o)
    );

    // `bench list` shows the rejected library with its reason, and the good ones as ok.
    let o = bench(&["list", "--plugins", so.to_str().unwrap()], &[]);
    let t = text(&o);
    assert!(
        t.contains("random")
            && t.contains("ok")
            && t.contains("rejected")
            && t.contains("libplain.so"),
        "{t}"
    );
}

/// Every plugin in the build output, and the template, passes the conformance check.
#[test]
fn shipped_plugins_and_the_template_are_conformant() {
    let mut libs: Vec<PathBuf> = std::fs::read_dir(build_dir())
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("libdistillery_plugin_")
                && p.extension().is_some_and(|x| x == "so")
        })
        .collect();
    libs.sort();
    assert!(
        libs.len() >= 2,
        "expected the shipped plugins in {}",
        build_dir().display()
    );
    libs.push(build_dir().join("libdistillery_template.so"));
    for lib in libs {
        // Expensive methods are checked with the tiny settings of their fixture config.
        let name = lib
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .replace("libdistillery_plugin_", "")
            .replace('_', "-");
        let cfg = root()
            .join("tests/fixtures/conformance")
            .join(format!("{name}.toml"));
        let mut args = vec!["plugin", "check", lib.to_str().unwrap()];
        if cfg.exists() {
            args.extend(["--config", cfg.to_str().unwrap()]);
        }
        let o = bench(&args, &[]);
        let t = text(&o);
        assert!(
            o.status.success() && t.contains("conformant\n") && !t.contains("FAIL"),
            "{}:\n{t}",
            lib.display()
        );
    }
    // And a non-deterministic or over-budget plugin is caught by the same check.
    let o = bench(
        &["plugin", "check", fixture_plugin().to_str().unwrap()],
        &[("DISTILLERY_FIXTURE_MODE", "too-many")],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("FAIL  valid output at IPC 1: 6 images labelled class 0, over the budget of 1 per class"), "{}", text(&o));
}

/// Byte budgets are enforced on what is stored: random keeps as many uint8 images (784 bytes
/// plus a 1-byte label each) as fit, class-balanced.
#[test]
fn byte_budgets_count_images_and_labels() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = bench(
        &[
            "--protocol",
            TINY,
            "--methods",
            "random",
            "--bytes",
            "50000",
            "--seeds",
            "1",
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
    );
    assert!(o.status.success(), "{}", text(&o));
    let r = record(&out, "random__bytes50000__s0");
    assert_eq!(r["storage"]["images"], 63); // floor(50000 / 785)
    assert_eq!(r["storage"]["total_bytes"], 63 * 785);
    assert_eq!(
        r["per_class"],
        serde_json::json!([7, 7, 7, 6, 6, 6, 6, 6, 6, 6])
    );
    // The fixture plugin returning more than fits is refused, with the bytes spelt out.
    let plug = fixture_plugin();
    let o = bench(
        &[
            "--protocol",
            TINY,
            "--methods",
            "misbehave",
            "--bytes",
            "1000",
            "--seeds",
            "1",
            "--plugins",
            plug.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        &[("DISTILLERY_FIXTURE_MODE", "ok")],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = record(&out, "misbehave__bytes1000__s0")["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        err.contains("7850 bytes (images 7840 + labels 10), over the budget of 1000 bytes"),
        "{err}"
    );
}
