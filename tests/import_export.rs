//! End-to-end tests of importing compressed sets made elsewhere (`--from`, `--methods file:`)
//! and of `bench export`: a shipped plugin's set exported and re-imported reproduces its cell
//! bit for bit (safetensors, npz and ImageFolder), a set written by the Python example
//! (run with the project's virtualenv) is evaluated in the same table as the plugins, and bad
//! files are refused with the file, the tensor or key, and the problem named.
//!
//! Real training on the embedded mnist-5k with the tiny fixture protocol (30 epochs, width-32
//! student). The Python test needs the virtualenv of ./setup.sh (`make test` exports it; by
//! hand: `eval "$(./setup.sh --print-env)"`).

use distillery::import::tensors::{DType, RawTensor};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::{self, record, root, s, text};

const TINY: &str = "tests/fixtures/tiny-hard-label.toml";

fn bench(args: &[&str]) -> Output {
    common::bench(args, &[])
}

/// `bench export` of `random` under the tiny protocol.
fn export(method: &str, ipc: &str, seed: &str, out: &Path) {
    let o = bench(&[
        "export",
        "--protocol",
        TINY,
        "--method",
        method,
        "--ipc",
        ipc,
        "--seed",
        seed,
        "--out",
        s(out),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("evaluate it with: bench --protocol"),
        "{}",
        text(&o)
    );
}

/// top-1 and the bits of the final training loss: equal only if the training was identical.
fn outcome(r: &Value) -> (f64, u64) {
    assert_eq!(r["status"], "ok", "{r}");
    (
        r["evaluation"]["top1"].as_f64().unwrap(),
        r["evaluation"]["final_train_loss"]
            .as_f64()
            .unwrap()
            .to_bits(),
    )
}

/// A shipped plugin's set, exported and imported again, trains the student exactly as the
/// plugin's own cell does, from each format; a re-run reuses the cell only for the same file.
#[test]
fn exported_sets_reimport_bit_identically_from_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let st = dir.path().join("random-ipc1-s0.safetensors");
    let npz = dir.path().join("random-ipc1-s0.npz");
    let folder = dir.path().join("random-ipc1-s0");
    export("random", "1", "0", &st);
    export("random", "1", "0", &npz);
    export(
        "random",
        "1",
        "0",
        &PathBuf::from(format!("{}/", s(&folder))),
    );
    assert!(folder.join("3").is_dir() && folder.join("metadata.json").is_file());

    // `bench list` shows the built-in importer next to the plugins.
    let o = bench(&["list"]);
    let t = text(&o);
    assert!(
        o.status.success() && t.contains("file:PATH") && t.contains("built-in"),
        "{t}"
    );

    // What the file says about itself.
    let bytes = std::fs::read(&st).unwrap();
    let (tensors, meta) = distillery::import::safetensors::read(&st, &bytes).unwrap();
    let names: Vec<&str> = tensors.iter().map(|(n, _)| n.as_str()).collect();
    for n in ["images", "labels", "indices"] {
        assert!(names.contains(&n), "{names:?}");
    }
    let images = &tensors.iter().find(|(n, _)| n == "images").unwrap().1;
    assert_eq!(
        (images.dtype, images.shape.clone()),
        (DType::U8, vec![10, 1, 28, 28])
    );
    assert_eq!(meta["method"], "random");
    assert_eq!(meta["budget"], "ipc1");
    assert_eq!(meta["seed"], "0");
    assert_eq!(
        meta["dataset_checksum"],
        distillery::data::MNIST_5K_CHECKSUM
    );
    assert_eq!(meta["protocol"], "tiny-hard-label");
    let seeds: Value = serde_json::from_str(&meta["seeds"]).unwrap();
    assert_eq!(
        seeds,
        serde_json::to_value(distillery::plan::derive_seeds(0)).unwrap()
    );
    let storage: Value = serde_json::from_str(&meta["storage"]).unwrap();
    assert_eq!(storage["total_bytes"], 10 * 785);

    let out = dir.path().join("run");
    let run = |file: &Path| {
        let m = format!("random,file:{}", s(file));
        let o = bench(&[
            "--protocol",
            TINY,
            "--methods",
            &m,
            "--ipc",
            "1",
            "--seeds",
            "1",
            "--out",
            s(&out),
        ]);
        assert!(o.status.success(), "{}", text(&o));
        text(&o)
    };
    let t = run(&st);
    assert!(t.contains("file:random"), "{t}");
    let plugin_cell = outcome(&record(&out, "random__ipc1__s0"));
    let r = record(&out, "file.random__ipc1__s0");
    assert_eq!(
        outcome(&r),
        plugin_cell,
        "safetensors import != plugin cell"
    );
    assert!(
        plugin_cell.0 > 0.2,
        "random IPC 1 learns something: {plugin_cell:?}"
    );
    assert_eq!(r["method"], "file:random");
    assert_eq!(r["family"], "pruning", "the family declared by the file");
    assert_eq!(r["plugin_path"], s(&st));
    assert_eq!(r["seeds"], record(&out, "random__ipc1__s0")["seeds"]);
    assert_eq!(r["storage"]["total_bytes"], 10 * 785);
    let imp = &r["method_metadata"]["import"];
    assert_eq!(imp["format"], "safetensors");
    assert_eq!(imp["kind"], "indices");
    let sha = imp["sha256"].as_str().unwrap().to_string();
    assert_eq!(sha.len(), 64);
    assert!(r["plugin_version"].as_str().unwrap().contains(&sha[..16]));

    // The same command again reuses both cells.
    let t = run(&st);
    assert!(t.contains("2 of 2 cells already finished"), "{t}");

    // Another file (same content, another container) is not the finished cell: it runs again.
    let t = run(&npz);
    assert!(t.contains("1 of 2 cells already finished"), "{t}");
    assert!(t.contains("moved to"), "{t}");
    let r = record(&out, "file.random__ipc1__s0");
    assert_eq!(r["method_metadata"]["import"]["format"], "npz");
    assert_eq!(outcome(&r), plugin_cell, "npz import != plugin cell");

    // An ImageFolder of PNGs has no indices: evaluated from its images, still identical.
    run(&folder);
    let r = record(&out, "file.random__ipc1__s0");
    assert_eq!(r["method_metadata"]["import"]["format"], "image-folder");
    assert_eq!(r["method_metadata"]["import"]["kind"], "images");
    assert_eq!(
        outcome(&r),
        plugin_cell,
        "ImageFolder import != plugin cell"
    );
}

fn venv_python() -> PathBuf {
    let venv = std::env::var_os("VIRTUAL_ENV")
        .or_else(|| std::env::var_os("DISTILLERY_VENV"))
        .unwrap_or_else(|| {
            panic!(
                "the project's virtualenv is not set: run the tests through `make test`, or first \
                 `eval \"$(./setup.sh --print-env)\"` so VIRTUAL_ENV points at it"
            )
        });
    let py = PathBuf::from(venv).join("bin").join("python");
    assert!(
        py.is_file(),
        "{} does not exist: run ./setup.sh to create the virtualenv",
        py.display()
    );
    py
}

/// The Python example writes a set from PyTorch; `bench` evaluates it next to the random
/// baseline, in the same table, with its paired difference from random.
#[test]
fn python_example_set_is_compared_with_random_in_the_same_table() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("kmeans-ipc1.safetensors");
    let py = venv_python();
    let o = Command::new(&py)
        .current_dir(root())
        .args([
            "examples/python/save_distilled_set.py",
            "--data",
            "harness/data/mnist-5k",
            "--ipc",
            "1",
            "--dataset-checksum",
            distillery::data::MNIST_5K_CHECKSUM,
            "--out",
            s(&file),
        ])
        .output()
        .expect("run the virtualenv's python");
    assert!(
        o.status.success(),
        "{} examples/python/save_distilled_set.py failed (is safetensors installed? ./setup.sh installs it):\n{}",
        py.display(),
        text(&o)
    );

    let out = dir.path().join("run");
    let m = format!("random,file:{}", s(&file));
    let o = bench(&[
        "--protocol",
        TINY,
        "--methods",
        &m,
        "--ipc",
        "1",
        "--seeds",
        "2",
        "--out",
        s(&out),
    ]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(
        !t.contains("no `dataset_checksum`"),
        "the file carries the dataset checksum: {t}"
    );
    let stdout = String::from_utf8_lossy(&o.stdout).to_string();
    let row = stdout
        .lines()
        .find(|l| {
            l.contains("file:kmeans-centroids") && l.contains("IPC 1") && l.contains("paired")
        })
        .unwrap_or_else(|| panic!("no row with a paired difference from random:\n{stdout}"));
    assert!(row.contains("2/2"), "{row}");
    assert!(
        stdout
            .lines()
            .any(|l| l.contains("│ random ") && l.contains("IPC 1")),
        "{stdout}"
    );
    for seed in 0..2 {
        let r = record(&out, &format!("file.kmeans-centroids__ipc1__s{seed}"));
        assert_eq!(r["family"], "distillation");
        assert_eq!(
            r["storage"]["image_bytes"],
            10 * 784 * 4,
            "float32 images: 4 bytes a pixel"
        );
        let acc = r["evaluation"]["top1"].as_f64().unwrap();
        assert!(
            acc > 0.4,
            "class-mean images train a student far above chance: {acc}"
        );
        assert_eq!(
            r["seeds"],
            record(&out, &format!("random__ipc1__s{seed}"))["seeds"]
        );
    }
}

fn tensor(dtype: DType, shape: &[usize], data: Vec<u8>) -> RawTensor {
    RawTensor {
        dtype,
        shape: shape.to_vec(),
        data,
    }
}

fn i64s(v: &[i64]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn f32s(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn write_st(path: &Path, tensors: Vec<(&str, RawTensor)>, meta: &BTreeMap<String, String>) {
    let t: Vec<(String, RawTensor)> = tensors
        .into_iter()
        .map(|(n, t)| (n.to_string(), t))
        .collect();
    std::fs::write(
        path,
        distillery::import::safetensors::to_bytes(&t, meta).unwrap(),
    )
    .unwrap();
}

/// Every kind of bad file is refused before anything runs (exit 2), naming the file and the
/// tensor or metadata key; a set over the budget fails its cell (exit 1) like a plugin's.
#[test]
fn bad_files_are_refused_with_the_file_and_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let good = d.join("good.safetensors");
    export("random", "2", "0", &good);
    let bytes = std::fs::read(&good).unwrap();
    let (tensors, meta) = distillery::import::safetensors::read(&good, &bytes).unwrap();
    let get = |n: &str| {
        let t = &tensors.iter().find(|(m, _)| m == n).unwrap().1;
        tensor(t.dtype, &t.shape, t.data.clone())
    };
    let labels: Vec<i64> = get("labels")
        .data
        .chunks(8)
        .map(|b| i64::from_le_bytes(b.try_into().unwrap()))
        .collect();
    let pixels = get("images").data;
    let without = |keys: &[&str]| {
        let mut m = meta.clone();
        for k in keys {
            m.remove(*k);
        }
        m
    };
    let with = |k: &str, v: &str| {
        let mut m = without(&["budget"]);
        m.insert(k.to_string(), v.to_string());
        m
    };
    let unbudgeted = without(&["budget"]);
    let img = || get("images");
    let lab = || get("labels");
    let floats: Vec<f32> = pixels.iter().map(|&p| p as f32 / 255.0).collect();

    let mut cases: Vec<(&str, PathBuf, String)> = Vec::new();
    let mut case = |name: &'static str,
                    tensors: Vec<(&str, RawTensor)>,
                    m: &BTreeMap<String, String>,
                    expect: String| {
        let p = d.join(format!("{name}.safetensors"));
        write_st(&p, tensors, m);
        cases.push((name, p, expect));
    };
    case(
        "wrong-shape",
        vec![("images", tensor(DType::U8, &[20, 28, 28], pixels.clone())), ("labels", lab())],
        &unbudgeted,
        "tensor `images` has shape [20, 28, 28]: expected [N, 1, 28, 28] (N images at the dataset's resolution, channels first) (add the channel dimension: images[:, None])".into(),
    );
    let mut bad_labels = labels.clone();
    bad_labels[3] = 10;
    case(
        "label-range",
        vec![("images", img()), ("labels", tensor(DType::I64, &[20], i64s(&bad_labels)))],
        &unbudgeted,
        "tensor `labels`: label 10 (image 3) is out of range: the dataset `mnist-5k` has 10 classes (0..9)".into(),
    );
    case(
        "int32-images",
        vec![("images", tensor(DType::I32, &[20, 1, 28, 28], pixels.iter().flat_map(|&p| (p as i32).to_le_bytes()).collect())), ("labels", lab())],
        &unbudgeted,
        "tensor `images` has dtype I32 (int32): `images` must be uint8 (U8, pixels 0-255) or floating point (F32, F16, BF16, F64; pixels in [0, 1])".into(),
    );
    case(
        "missing-labels",
        vec![("images", img())],
        &unbudgeted,
        "no tensor `labels` (int64 [N]): a compressed set holds `images` [N, C, H, W] and `labels` [N]".into(),
    );
    case(
        "other-dataset",
        vec![("images", img()), ("labels", lab())],
        &with("dataset_checksum", &"ab".repeat(32)),
        format!("metadata `dataset_checksum`: the set was made from another dataset (checksum {}); the dataset `mnist-5k` has checksum {}", "ab".repeat(32), distillery::data::MNIST_5K_CHECKSUM),
    );
    case(
        "class-names",
        vec![("images", img()), ("labels", lab())],
        &with("class_names", r#"["zero","1","2","3","4","5","6","7","8","9"]"#),
        "metadata `class_names`: label 0 is \"zero\" in the file but \"0\" in the dataset `mnist-5k`: the labels would mean other classes".into(),
    );
    case(
        "declared-ipc2",
        vec![("images", img()), ("labels", lab())],
        &meta,
        "metadata `budget` declares IPC 2, but this run's budgets are IPC 1".into(),
    );
    case(
        "declared-seed",
        vec![("images", img()), ("labels", lab())],
        &with("seed", "3"),
        "metadata `seed` = 3 (the run seed the set was made for), but this run has seeds 0..0"
            .into(),
    );
    let mut nan = floats.clone();
    nan[100] = f32::NAN;
    case(
        "nan",
        vec![
            ("images", tensor(DType::F32, &[20, 1, 28, 28], f32s(&nan))),
            ("labels", lab()),
        ],
        &unbudgeted,
        "tensor `images` contains 1 NaN or infinite values".into(),
    );
    let normalised: Vec<f32> = floats.iter().map(|x| (x - 0.1307) / 0.3081).collect();
    case(
        "normalised",
        vec![
            (
                "images",
                tensor(DType::F32, &[20, 1, 28, 28], f32s(&normalised)),
            ),
            ("labels", lab()),
        ],
        &unbudgeted,
        "tensor `images` has values in [-0.424, 2.821], outside the [0, 1] pixel scale".into(),
    );
    // Ten test images, one per class: never allowed in a compressed set.
    let raw = distillery::data::mnist_5k().unwrap();
    let (mut leak_px, mut leak_y) = (Vec::new(), Vec::new());
    for c in 0..10 {
        let i = raw.test.labels.iter().position(|&l| l == c).unwrap();
        leak_px.extend_from_slice(raw.test.image(i));
        leak_y.push(c);
    }
    case(
        "test-images",
        vec![
            ("images", tensor(DType::U8, &[10, 1, 28, 28], leak_px)),
            ("labels", tensor(DType::I64, &[10], i64s(&leak_y))),
        ],
        &unbudgeted,
        "tensor `images`: image 0 (label 0) is identical to test image".into(),
    );
    // Over the budget: 2 per class in an IPC 1 cell (checked in the cell, like a plugin). No
    // checksum either: a warning says what could not be verified, and the cell still runs.
    case(
        "too-many",
        vec![("images", img()), ("labels", lab())],
        &without(&["budget", "dataset_checksum"]),
        String::new(),
    );

    // A truncated file, an unknown dtype only newer writers know, a truncated npz.
    let truncated = d.join("truncated.safetensors");
    std::fs::write(&truncated, &bytes[..bytes.len() - 100]).unwrap();
    cases.push(("truncated", truncated, "truncated: tensor `".into()));
    let header = r#"{"images":{"dtype":"C64","shape":[20,1,28,28],"data_offsets":[0,125440]}}"#;
    let mut c64 = (header.len() as u64).to_le_bytes().to_vec();
    c64.extend_from_slice(header.as_bytes());
    c64.resize(c64.len() + 125440, 0);
    let unknown = d.join("complex.safetensors");
    std::fs::write(&unknown, c64).unwrap();
    cases.push((
        "unknown-dtype",
        unknown,
        "tensor `images` has unknown dtype \"C64\": `images` must be uint8".into(),
    ));
    let npz = d.join("short.npz");
    let t: Vec<(String, RawTensor)> = vec![("images".into(), img()), ("labels".into(), lab())];
    let zb = distillery::import::npz::to_bytes(&t, &unbudgeted).unwrap();
    std::fs::write(&npz, &zb[..zb.len() / 2]).unwrap();
    cases.push((
        "npz-truncated",
        npz,
        "truncated or not an .npz archive".into(),
    ));
    cases.push((
        "missing",
        d.join("nope.safetensors"),
        "no such file or directory".into(),
    ));

    for (name, path, expect) in &cases {
        let out = d.join(format!("out-{name}"));
        let o = bench(&[
            "--protocol",
            TINY,
            "--from",
            s(path),
            "--ipc",
            "1",
            "--seeds",
            "1",
            "--out",
            s(&out),
        ]);
        let t = text(&o);
        if *name == "too-many" {
            assert_eq!(o.status.code(), Some(1), "{name}: the cell fails\n{t}");
            let r = record(&out, "file.random__ipc1__s0");
            let err = r["error"].as_str().unwrap();
            assert!(
                err.contains(s(path))
                    && err.contains("2 images labelled class 0, over the budget of 1 per class"),
                "{name}: {err}"
            );
            assert_eq!(record(&out, "random__ipc1__s0")["status"], "ok");
            assert!(
                t.contains(&format!("warning: {}: no `dataset_checksum` in the metadata: cannot verify that the set was made from `mnist-5k`", s(path))),
                "{t}"
            );
            continue;
        }
        assert_eq!(
            o.status.code(),
            Some(2),
            "{name}: bad input means exit 2\n{t}"
        );
        assert!(
            t.contains(&format!("error: {}", s(path))),
            "{name}: names the file\n{t}"
        );
        assert!(
            t.contains(expect.as_str()),
            "{name}: expected {expect:?} in\n{t}"
        );
        assert!(!out.exists(), "{name}: nothing may run for a bad file");
    }

    // Two files for one row, budget and seed: which one the row shows would be arbitrary.
    let two = format!("{},{}", s(&good), s(&good));
    let out = d.join("out-two");
    let o = bench(&[
        "--protocol",
        TINY,
        "--from",
        &two,
        "--ipc",
        "2",
        "--seeds",
        "1",
        "--out",
        s(&out),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("both give row `file:random` a set at IPC 2 for seed 0"),
        "{}",
        text(&o)
    );
}
