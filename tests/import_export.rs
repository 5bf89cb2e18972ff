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
    // (Two files: the same path given twice is one entry, run once.)
    let copy = d.join("good-copy.safetensors");
    std::fs::copy(&good, &copy).unwrap();
    let two = format!("{},{}", s(&good), s(&copy));
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

/// The tensors and metadata of an exported set, by name.
fn read_set(path: &Path) -> (BTreeMap<String, RawTensor>, BTreeMap<String, String>) {
    let bytes = std::fs::read(path).unwrap();
    let (tensors, meta) = distillery::import::safetensors::read(path, &bytes).unwrap();
    (tensors.into_iter().collect(), meta)
}

fn tiny_run(from: &str, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "--protocol",
        TINY,
        "--from",
        from,
        "--ipc",
        "1",
        "--seeds",
        "1",
        "--threads",
        "1",
        "--jobs",
        "1",
        "--out",
        s(out),
    ];
    args.extend_from_slice(extra);
    bench(&args)
}

/// Issue 21, item 7. Softmax rows stored as bfloat16 (safetensors) or float16 (npz) are
/// valid soft labels: the row-sum tolerance follows the stored precision (bfloat16 rounding
/// alone moves 10-class rows by more than the old fixed 1e-3). Logits and unnormalised rows
/// are refused, and the message says which problem it is.
#[test]
fn reduced_precision_soft_labels_are_accepted_and_logits_named() {
    use distillery::api::tch::{Device, Kind, Tensor};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let good = d.join("random.safetensors");
    export("random", "1", "0", &good);
    let (t, meta) = read_set(&good);
    let images = || {
        tensor(
            t["images"].dtype,
            &t["images"].shape,
            t["images"].data.clone(),
        )
    };
    let labels = || {
        tensor(
            t["labels"].dtype,
            &t["labels"].shape,
            t["labels"].data.clone(),
        )
    };
    distillery::api::tch::manual_seed(11);
    let logits = Tensor::randn([10, 10], (Kind::Float, Device::Cpu)) * 3.0;
    let probs = logits.softmax(1, Kind::Float);
    let raw = |x: &Tensor| RawTensor::from_tensor(x).unwrap();
    let bf16 = probs.to_kind(Kind::BFloat16);
    let worst = (bf16
        .to_kind(Kind::Double)
        .sum_dim_intlist(1, false, Kind::Double)
        - 1.0)
        .abs()
        .max()
        .double_value(&[]);
    assert!(
        worst > 1e-3,
        "the rows must be a real test: bf16 rounding moves one by {worst}"
    );
    let with_method = |m: &str| {
        let mut x = meta.clone();
        x.insert("method".into(), m.into());
        x
    };
    let st = d.join("soft-bf16.safetensors");
    write_st(
        &st,
        vec![
            ("images", images()),
            ("labels", labels()),
            ("soft_labels", raw(&bf16)),
        ],
        &with_method("soft-bf16"),
    );
    let npz = d.join("soft-f16.npz");
    let f16 = vec![
        ("images".to_string(), images()),
        ("labels".to_string(), labels()),
        ("soft_labels".to_string(), raw(&probs.to_kind(Kind::Half))),
    ];
    std::fs::write(
        &npz,
        distillery::import::npz::to_bytes(&f16, &with_method("soft-f16")).unwrap(),
    )
    .unwrap();
    let out = d.join("out");
    let o = tiny_run(&format!("{},{}", s(&st), s(&npz)), &out, &[]);
    assert!(o.status.success(), "{}", text(&o));
    for id in ["file.soft-bf16__ipc1__s0", "file.soft-f16__ipc1__s0"] {
        let r = record(&out, id);
        assert_eq!(r["status"], "ok", "{r}");
        assert_eq!(r["method_metadata"]["import"]["kind"], "images");
    }

    // Logits (negative values) and exp(logits) (positive, rows far from 1) are named as such;
    // a bfloat16 row scaled by 1.06 is "not renormalised", not "logits".
    let scaled = probs.copy();
    let _ = scaled.get(4).g_mul_scalar_(1.06);
    let negatives = logits.lt(0.0).sum(Kind::Int64).int64_value(&[]);
    let cases = [
        (
            "logits",
            raw(&logits),
            format!("tensor `soft_labels` contain {negatives} negative values"),
        ),
        (
            "scores",
            raw(&logits.exp().to_kind(Kind::BFloat16)),
            "tensor `soft_labels` are not probability rows: row ".to_string(),
        ),
        (
            "scaled",
            raw(&scaled.to_kind(Kind::BFloat16)),
            "tensor `soft_labels` rows must sum to 1: row 4 sums to 1.0".to_string(),
        ),
    ];
    for (name, soft, expect) in cases {
        let p = d.join(format!("{name}.safetensors"));
        write_st(
            &p,
            vec![
                ("images", images()),
                ("labels", labels()),
                ("soft_labels", soft),
            ],
            &meta,
        );
        let o = tiny_run(s(&p), &d.join(format!("out-{name}")), &[]);
        let t = text(&o);
        assert_eq!(o.status.code(), Some(2), "{name}: {t}");
        assert!(t.contains(&expect), "{name}: expected {expect:?} in\n{t}");
        let hint = if name == "scaled" {
            "renormalise the rows"
        } else {
            "look like logits"
        };
        assert!(t.contains(hint), "{name}: {t}");
    }
}

/// Issue 21, item 12. A PyTorch file (both the zip format and the legacy one), a pickle, an
/// HDF5 and a lone .npy given to --from are recognised by their content and refused (exit 2,
/// nothing run) with the supported formats and a conversion recipe, instead of being read as
/// an npz ("data.pkl: not an .npy array"). A damaged Parquet file (read since issue 17) is
/// named as such.
#[test]
fn foreign_formats_are_recognised_and_a_conversion_is_offered() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let py = venv_python();
    let script = format!(
        "import torch, pickle\n\
         d = {{'images': torch.zeros(10, 1, 28, 28, dtype=torch.uint8), 'labels': torch.arange(10)}}\n\
         torch.save(d, r'{0}/set.pt')\n\
         torch.save(d, r'{0}/legacy.pth', _use_new_zipfile_serialization=False)\n\
         pickle.dump({{'images': d['images'].numpy(), 'labels': d['labels'].numpy()}}, open(r'{0}/set.pkl', 'wb'))\n",
        s(d)
    );
    let o = Command::new(&py).args(["-c", &script]).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let mut hdf5 = b"\x89HDF\r\n\x1a\n".to_vec();
    hdf5.resize(96, 0);
    std::fs::write(d.join("set.h5"), hdf5).unwrap();
    std::fs::write(d.join("set.parquet"), b"PAR1\x15\x04\x15\x00\x00\x00PAR1").unwrap();
    std::fs::write(d.join("set.npy"), b"\x93NUMPY\x01\x00v\x00{'descr': '|u1'}").unwrap();
    let torch_hint = "d = torch.load(\"set.pt\"); images, labels = d[\"images\"], d[\"labels\"]";
    let save = "save_file({\"images\": images.contiguous(), \"labels\": labels.long()}, \"set.safetensors\")";
    for (file, what, hint) in [
        (
            "set.pt",
            "is a PyTorch file (a torch.save zip archive, .pt/.pth), which is not supported",
            torch_hint,
        ),
        (
            "legacy.pth",
            "is a PyTorch file in the legacy torch.save format",
            torch_hint,
        ),
        (
            "set.pkl",
            "is a Python pickle (.pkl/.pickle), which is not supported",
            "pickle.load(open(\"set.pkl\", \"rb\"))",
        ),
        (
            "set.h5",
            "is an HDF5 file (.h5/.hdf5), which is not supported",
            "h5py.File(\"set.h5\")",
        ),
        ("set.parquet", "not a readable Parquet file: ", ""),
        (
            "set.npy",
            "is a single NumPy .npy array",
            "np.savez(\"set.npz\", images=images",
        ),
    ] {
        let path = d.join(file);
        let out = d.join(format!("out-{file}"));
        let o = tiny_run(s(&path), &out, &[]);
        let t = text(&o);
        assert_eq!(o.status.code(), Some(2), "{file}: {t}");
        assert!(
            t.contains(&format!("error: {}: {what}", s(&path))),
            "{file}: {t}"
        );
        if file == "set.parquet" {
            assert!(!out.exists(), "{file}: nothing may run");
            continue;
        }
        assert!(
            t.contains(
                "--from reads safetensors files, NumPy .npz archives, ImageFolder directories and Parquet files"
            ),
            "{file}: {t}"
        );
        assert!(t.contains(hint), "{file}: {t}");
        if file != "set.npy" {
            assert!(t.contains(save), "{file}: {t}");
        }
        assert!(!t.contains("bad magic"), "{file}: {t}");
        assert!(!out.exists(), "{file}: nothing may run");
    }
}

/// Writes an ImageFolder dataset of `classes` (train: 4 images each, test: 1) with 8x8 grey
/// PNGs whose brightness encodes the class.
fn numeric_image_folder(root: &Path, classes: usize) {
    for (split, n) in [("train", 4), ("test", 1)] {
        for c in 0..classes {
            let dir = root.join(split).join(c.to_string());
            std::fs::create_dir_all(&dir).unwrap();
            for i in 0..n {
                let v = (c * 20 + i) as u8;
                image::GrayImage::from_fn(8, 8, |x, y| {
                    image::Luma([v.wrapping_add((x * y) as u8)])
                })
                .save(dir.join(format!("{i}.png")))
                .unwrap();
            }
        }
    }
}

/// Issue 21, item 11. A dataset whose classes are named 0..10 (text order 0, 1, 10, 2, …) is
/// warned about when it is loaded; a set without `class_names` is accepted with a loud
/// warning (louder on such a dataset), and the record says the mapping was not checked. A set
/// that declares `class_names` in another order is refused (the existing check).
#[test]
fn unchecked_class_mappings_are_said_loudly() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = d.join("digits11");
    numeric_image_folder(&data, 11);
    // Labels in numeric order (label 2 = class "2"), as a codebase using int(folder) makes.
    let numeric: Vec<i64> = (0..11).collect();
    let mut px = Vec::new();
    for c in 0..11u8 {
        px.extend(std::iter::repeat_n(c * 20, 32 * 32));
    }
    let set = d.join("numeric-order.safetensors");
    write_st(
        &set,
        vec![
            ("images", tensor(DType::U8, &[11, 1, 32, 32], px.clone())),
            ("labels", tensor(DType::I64, &[11], i64s(&numeric))),
        ],
        &BTreeMap::new(),
    );
    let out = d.join("out");
    let ds = [
        "--dataset",
        s(&data),
        "--channels",
        "1",
        "--methods",
        "random",
    ];
    let o = tiny_run(s(&set), &out, &ds);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(
        t.contains("warning: dataset `digits11`: its class names are numbers, in text order (0, 1, 10, 2, 3, 4, 5, 6, 7, 8, 9): label 2 is class \"10\", not \"2\""),
        "{t}"
    );
    let w = format!(
        "warning: {}: no `class_names` in the metadata: cannot check the class mapping; label i is taken to be class i of `digits11` in its order (0, 1, 10, 2, 3, 4, 5, 6, 7, 8, 9)",
        s(&set)
    );
    assert!(t.contains(&w), "{t}");
    assert!(
        t.contains("CAUTION: the dataset's class names are numbers in text order (label 2 is class \"10\")"),
        "{t}"
    );
    let imp = &record(&out, "file.numeric-order__ipc1__s0")["method_metadata"]["import"];
    assert_eq!(imp["class_mapping"], "unchecked (no class_names)");
    assert!(
        imp["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().contains("no `class_names`")),
        "{imp}"
    );

    // With class_names in numeric order, the mismatch is found and refused.
    let names: Vec<String> = (0..11).map(|i| i.to_string()).collect();
    let declared = d.join("declared.safetensors");
    let mut m = BTreeMap::new();
    m.insert(
        "class_names".to_string(),
        serde_json::to_string(&names).unwrap(),
    );
    write_st(
        &declared,
        vec![
            ("images", tensor(DType::U8, &[11, 1, 32, 32], px)),
            ("labels", tensor(DType::I64, &[11], i64s(&numeric))),
        ],
        &m,
    );
    let o = tiny_run(s(&declared), &d.join("out-declared"), &ds);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(
        t.contains("metadata `class_names`: label 2 is \"2\" in the file but \"10\" in the dataset `digits11`"),
        "{t}"
    );

    // mnist-5k's classes 0..9 sort alike both ways: no dataset warning, and an exported set
    // (which carries class_names) is checked.
    let st = d.join("random.safetensors");
    export("random", "1", "0", &st);
    let out = d.join("out-mnist");
    let o = tiny_run(s(&st), &out, &["--methods", "random"]);
    let t = text(&o);
    assert!(
        o.status.success() && !t.contains("text order") && !t.contains("no `class_names`"),
        "{t}"
    );
    assert_eq!(
        record(&out, "file.random__ipc1__s0")["method_metadata"]["import"]["class_mapping"],
        "checked (class_names)"
    );
}

/// Issue 17: the sets the field publishes. Parquet written by pyarrow as the Hugging Face
/// `datasets` library writes it (an `image` struct {bytes, path} of PNG bytes, an int64
/// `class_id`, the ClassLabel names in the `huggingface` metadata), as a folder of two shards
/// in a Hub repository's `data/` layout, is evaluated next to `random` under the budget
/// checks; a set over the budget fails its cell like a plugin's; a wrong column name and
/// class names in another order are refused before any cell, naming the file and the fix.
#[test]
fn parquet_sets_as_the_hub_publishes_them_are_evaluated() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // One (good) or two (over the budget) train images per class, as PNG files.
    let ds = distillery::data::mnist_5k().unwrap();
    let (tr, pngs) = (&ds.train, d.join("png"));
    for (set, per_class) in [("good", 1), ("over", 2)] {
        for k in 0..10i64 {
            let idx: Vec<usize> = (0..tr.n)
                .filter(|&i| tr.labels[i] == k)
                .take(per_class)
                .collect();
            for (j, &i) in idx.iter().enumerate() {
                let p = pngs.join(set).join(format!("{k}_{j}.png"));
                std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                image::GrayImage::from_raw(28, 28, tr.image(i).to_vec())
                    .unwrap()
                    .save(&p)
                    .unwrap();
            }
        }
    }
    let script = r#"
import json, os, sys, pyarrow as pa, pyarrow.parquet as pq
src, dst, names = sys.argv[1], sys.argv[2], sys.argv[3:]
files = sorted(os.listdir(src))
rows = [(open(os.path.join(src, f), "rb").read(), f, int(f.split("_")[0])) for f in files]
def table(rows):
    img = pa.array([{"bytes": b, "path": p} for b, p, _ in rows],
                   type=pa.struct([("bytes", pa.binary()), ("path", pa.string())]))
    t = pa.table({"image": img, "class_id": pa.array([k for *_, k in rows], pa.int64())})
    feats = {"image": {"_type": "Image"}, "class_id": {"names": names, "_type": "ClassLabel"}}
    return t.replace_schema_metadata({"huggingface": json.dumps({"info": {"features": feats}})})
if dst.endswith(".parquet"):
    pq.write_table(table(rows), dst)
else:
    os.makedirs(os.path.join(dst, "data"))
    half = len(rows) // 2
    for i, part in enumerate([rows[:half], rows[half:]]):
        pq.write_table(table(part), os.path.join(dst, "data", f"train-0000{i}-of-00002.parquet"))
"#;
    let py = venv_python();
    let digits: Vec<String> = (0..10).map(|k| k.to_string()).collect();
    let write = |src: &str, dst: &Path, names: &[String]| {
        let mut args = vec!["-c", script, src, s(dst)];
        args.extend(names.iter().map(String::as_str));
        let o = Command::new(&py).args(&args).output().unwrap();
        assert!(
            o.status.success(),
            "pyarrow (./setup.sh installs it): {}",
            text(&o)
        );
    };
    let good = d.join("rethinkdc-random-ipc-1");
    write(s(&pngs.join("good")), &good, &digits);
    let over = d.join("over.parquet");
    write(s(&pngs.join("over")), &over, &digits);

    let out = d.join("run");
    let from = format!("{},{}", s(&good), s(&over));
    let o = tiny_run(&from, &out, &["--methods", "random"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "the over-budget cell fails\n{t}");
    let r = record(&out, "file.rethinkdc-random-ipc-1__ipc1__s0");
    assert_eq!(r["status"], "ok", "{r}");
    let imp = &r["method_metadata"]["import"];
    assert_eq!(imp["format"], "parquet");
    assert_eq!(imp["class_mapping"], "checked (class_names)");
    assert_eq!(imp["kind"], "images");
    assert!(
        imp["notes"].to_string().contains(
            "2 Parquet shard(s) read: train-00000-of-00002.parquet, train-00001-of-00002.parquet"
        ),
        "{imp}"
    );
    assert_eq!(r["storage"]["images"], 10, "{r}");
    assert!(r["evaluation"]["top1"].as_f64().unwrap() > 0.2, "{r}");
    let e = record(&out, "file.over__ipc1__s0");
    let err = e["error"].as_str().unwrap();
    assert!(
        err.contains(s(&over))
            && err.contains("2 images labelled class 0, over the budget of 1 per class"),
        "{err}"
    );
    assert_eq!(record(&out, "random__ipc1__s0")["status"], "ok");

    // A wrong column name: exit 2 before any cell, the shard, the columns and the option.
    let out2 = d.join("run2");
    let o = tiny_run(s(&over), &out2, &["--from-label-column", "label"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(
        t.contains(&format!(
            "error: {}: no column `label` (columns: `image`, `class_id`); name the label column with --from-label-column",
            s(&over)
        )),
        "{t}"
    );
    assert!(!out2.join("cells").exists(), "nothing may run: {t}");
    // ClassLabel names in another order: the labels would mean other classes.
    let shuffled = d.join("shuffled.parquet");
    let mut names = digits.clone();
    names.swap(0, 1);
    write(s(&pngs.join("good")), &shuffled, &names);
    let o = tiny_run(s(&shuffled), &d.join("run3"), &[]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(
        t.contains(&format!("error: {}: metadata `class_names`: label 0 is \"1\" in the file but \"0\" in the dataset `mnist-5k`", s(&shuffled))),
        "{t}"
    );
}
