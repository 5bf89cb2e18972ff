//! The large-image protocols (issue 17): the published files against each other and their test
//! fixtures, a torchvision ResNet-18 against the Rust one (same logits), and `bench` end to end
//! with a pretrained teacher given as a torchvision-layout safetensors file.

use crate::common::{bench, record, root, s, text};
use distillery::api::nn::{self, torchvision, FitOptions, Targets};
use distillery::api::spec::{Arch, Augment, ModelSpec, Optimizer, Schedule, TrainSpec};
use distillery::protocol::Loaded;
use serde_json::Value;
use std::path::{Path, PathBuf};
use tch::{nn::VarStore, Device, Tensor};

fn parsed(path: &str) -> Value {
    let l = Loaded::resolve(root().join(path).to_str().unwrap()).unwrap();
    serde_json::to_value(&l.protocol).unwrap()
}

/// Removes `keys` (`table.key` paths) from a protocol's JSON; missing keys are an error, so a
/// renamed key cannot make the comparison vacuous.
fn without(mut v: Value, keys: &[&str], name: &str) -> Value {
    for k in keys {
        let (table, key) = match k.split_once('.') {
            Some((t, k)) => (Some(t), k),
            None => (None, *k),
        };
        let obj = match table {
            Some(t) => v[t].as_object_mut(),
            None => v.as_object_mut(),
        };
        let removed = obj.and_then(|o| o.remove(key));
        assert!(removed.is_some(), "{name}: no key {k}");
    }
    v
}

/// The hard and soft large-image protocols differ only where their headers say (labels, the
/// CutMix of [train] and [reference], [soft], [teacher]); the 224 px and 64 px ones only in the
/// stem and the load-time sizes; the test fixtures keep every published value but size, width,
/// epochs and the run defaults.
#[test]
fn large_protocols_differ_only_where_the_files_say() {
    let soft224 = parsed("protocols/large-soft-label-224.toml");
    let hard224 = parsed("protocols/large-hard-label-224.toml");
    let soft64 = parsed("protocols/large-soft-label-64.toml");
    let hard64 = parsed("protocols/large-hard-label-64.toml");
    // What the benchmark's code fixes (rethinkdc), in the published soft file.
    let t = &soft224["train"];
    assert_eq!(
        (
            t["epochs"].as_u64(),
            t["batch_size"].as_u64(),
            t["optimizer"].as_str(),
            t["lr"].as_f64(),
            t["weight_decay"].as_f64(),
            t["schedule"].as_str(),
            t["augment"].as_str(),
            t["mix"].as_str(),
            t["mix_alpha"].as_f64(),
        ),
        (
            Some(300),
            Some(128),
            Some("adamw"),
            Some(0.001),
            Some(0.01),
            Some("cosine"),
            Some("rrc-flip"),
            Some("cutmix"),
            Some(1.0)
        )
    );
    assert_eq!(t["rrc_scale"], serde_json::json!([0.08, 1.0]));
    assert_eq!(
        soft224["soft"],
        serde_json::json!({"temperature": 20.0, "t_squared": false})
    );
    assert_eq!(soft224["data"]["normalization"], "imagenet");
    assert_eq!(
        (
            &soft224["data"]["train_resize"],
            &soft224["data"]["eval_resize"],
            &soft224["data"]["eval_crop"]
        ),
        (&Value::from(224), &Value::from(256), &Value::from(224))
    );
    assert_eq!(soft224["student"]["arch"], "resnet18-imagenet");
    assert_eq!(soft224["student"]["width"], 64);
    assert_eq!(soft64["student"]["arch"], "resnet18");
    assert_eq!(soft224["teacher"]["pretrained"]["layout"], "torchvision");
    assert_eq!(hard224["labels"], "hard");
    assert_eq!(hard224["train"]["mix"], "none");

    // Soft vs hard: labels, CutMix, [soft], [teacher]; and the names.
    // (Prose aside: name, description, source.)
    let soft_only = [
        "name",
        "description",
        "source",
        "labels",
        "train.mix",
        "train.mix_alpha",
        "reference.mix",
        "reference.mix_alpha",
        "soft",
        "teacher",
    ];
    let hard_only = [
        "name",
        "description",
        "source",
        "labels",
        "train.mix",
        "train.mix_alpha",
        "reference.mix",
        "reference.mix_alpha",
    ];
    for (s, h, what) in [(&soft224, &hard224, "224"), (&soft64, &hard64, "64")] {
        assert_eq!(
            without(s.clone(), &soft_only, what),
            without(h.clone(), &hard_only, what),
            "{what}: soft and hard differ elsewhere"
        );
        // The hard file's mix is CutMix-free, its default alpha aside.
        assert_eq!(h["train"]["mix_alpha"], 1.0);
    }
    // 224 vs 64: the stem and the three sizes.
    // (And the run defaults: the default dataset's name.)
    let res = [
        "name",
        "description",
        "source",
        "defaults",
        "student",
        "data.train_resize",
        "data.eval_resize",
        "data.eval_crop",
    ];
    let mut s64 = without(soft64.clone(), &res, "soft64");
    let mut s224 = without(soft224.clone(), &res, "soft224");
    for v in [&mut s64, &mut s224] {
        v["teacher"]["model"]["arch"] = Value::Null;
    }
    assert_eq!(s224, s64, "224 and 64 px soft differ elsewhere");
    assert_eq!(
        without(hard224.clone(), &res, "hard224"),
        without(hard64.clone(), &res, "hard64")
    );
    // The fixtures: the published values but name, sizes, widths and epochs.
    for kind in ["soft", "hard"] {
        let published = parsed(&format!("protocols/large-{kind}-label-224.toml"));
        let fixture = parsed(&format!("tests/fixtures/large-{kind}-label-tiny.toml"));
        assert_eq!(fixture["student"]["width"], 8);
        let changed = [
            "name",
            "description",
            "source",
            "defaults",
            "data.train_resize",
            "data.eval_resize",
            "data.eval_crop",
            "student",
            "train.epochs",
            "reference.epochs",
        ];
        let (mut f, mut p) = (
            without(fixture, &changed, kind),
            without(published, &changed, kind),
        );
        if kind == "soft" {
            for v in [&mut f, &mut p] {
                v["teacher"]["model"]["width"] = Value::Null;
            }
        }
        assert_eq!(
            f, p,
            "fixture large-{kind}-label-tiny changed a published value"
        );
    }
}

fn python() -> PathBuf {
    let venv = std::env::var_os("VIRTUAL_ENV").expect("VIRTUAL_ENV (eval ./setup.sh --print-env)");
    PathBuf::from(venv).join("bin/python")
}

/// A torchvision ResNet-18 with random weights and BatchNorm statistics (both stems), saved as
/// a state dict in safetensors by `tests/fixtures/torchvision_equivalence.py`, gives the same
/// logits in Rust as in PyTorch on the same input, in eval mode (running statistics) and in
/// train mode (batch statistics). Tolerance: |Δ| ≤ 1e-4 · max(1, max |logit|) per logit
/// (float32; the two sum convolutions in different orders).
#[test]
fn torchvision_resnet18_gives_the_same_logits_in_rust() {
    let dir = tempfile::tempdir().unwrap();
    let o = std::process::Command::new(python())
        .arg(root().join("tests/fixtures/torchvision_equivalence.py"))
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "the torchvision script failed (is torchvision installed? ./setup.sh installs it):\n{}",
        text(&o)
    );
    for (name, arch) in [
        ("imagenet", Arch::Resnet18Imagenet),
        ("small", Arch::Resnet18),
    ] {
        let spec = ModelSpec {
            arch,
            width: 64,
            depth: 0,
        };
        tch::manual_seed(7); // another init than Python's: everything must come from the file
        let mut vs = VarStore::new(Device::Cpu);
        let net = nn::build(&vs.root(), &spec, [3, 32, 32], 10);
        let loaded = torchvision::load_state_dict(
            &mut vs,
            &spec,
            &dir.path().join(format!("resnet18-{name}.safetensors")),
        )
        .unwrap();
        // 62 parameters + 40 running statistics; 20 num_batches_tracked ignored.
        assert_eq!((loaded.tensors, loaded.ignored), (102, 20), "{name}");
        let io: std::collections::HashMap<String, Tensor> =
            Tensor::read_safetensors(dir.path().join(format!("io-{name}.safetensors")))
                .unwrap()
                .into_iter()
                .collect();
        let _g = tch::no_grad_guard();
        for (mode, train) in [("eval", false), ("train", true)] {
            let ours = net.forward_t(&io["x"], train);
            let theirs = &io[mode];
            let scale = theirs.abs().max().double_value(&[]).max(1.0);
            let diff = (&ours - theirs).abs().max().double_value(&[]);
            assert!(
                diff <= 1e-4 * scale,
                "{name} stem, {mode} mode: max |Δ logit| {diff:e} (max |logit| {scale})"
            );
            assert_eq!(
                ours.argmax(1, false),
                theirs.argmax(1, false),
                "{name} {mode}"
            );
        }
    }
}

/// A small real ImageFolder: mnist-5k digits (28x28, written as RGB PNGs), `train` and `val`
/// images per class; the loader stretches them to the protocol's 32 px.
fn digit_folder(root_dir: &Path, train: usize, val: usize) {
    let raw = distillery::data::mnist_5k().unwrap();
    let mut seen = [0usize; 10];
    let px = 28 * 28;
    for i in 0..raw.train.n {
        let c = raw.train.labels[i] as usize;
        let k = seen[c];
        if k >= train + val {
            continue;
        }
        seen[c] += 1;
        let split = if k < train { "train" } else { "val" };
        let d = root_dir.join(split).join(format!("digit{c}"));
        std::fs::create_dir_all(&d).unwrap();
        let luma = &raw.train.images[i * px..(i + 1) * px];
        let img = image::RgbImage::from_fn(28, 28, |x, y| {
            let v = luma[(y * 28 + x) as usize];
            image::Rgb([v, v, v])
        });
        img.save(d.join(format!("{k:03}.png"))).unwrap();
    }
}

/// `bench --protocol <large soft-label fixture> --dataset <ImageFolder> --teacher <resnet18
/// .safetensors> --methods random --ipc 10` end to end on the CPU: a teacher trained here and
/// written as a torchvision state dict relabels the student's batches; the student learns
/// (above chance by a margin); the record carries the teacher's file, SHA-256 and accuracies.
/// A class list in another order is refused before any cell runs.
#[test]
fn large_soft_label_protocol_runs_with_a_pretrained_teacher() {
    let tmp = tempfile::tempdir().unwrap();
    let data_dir = tmp.path().join("digits");
    digit_folder(&data_dir, 40, 20);
    let fixture = root().join("tests/fixtures/large-soft-label-tiny.toml");
    let loaded = Loaded::resolve(fixture.to_str().unwrap()).unwrap();
    let p = &loaded.protocol;
    let data = distillery::dataset::Prepared::load(
        s(&data_dir),
        &distillery::dataset::ImageOptions::default(),
        &p.data,
    )
    .unwrap();
    assert_eq!(data.shape, [3, 32, 32]);
    assert_eq!(
        data.mean,
        vec![0.485, 0.456, 0.406],
        "ImageNet normalisation"
    );
    // The teacher: the fixture's width-8 ResNet-18 trained on the train split.
    let spec = p.teacher.as_ref().unwrap().model.clone();
    tch::manual_seed(0);
    let vs = VarStore::new(Device::Cpu);
    let teacher = nn::build(&vs.root(), &spec, data.shape, 10);
    let recipe = TrainSpec {
        epochs: 30,
        batch_size: 64,
        optimizer: Optimizer::Adamw,
        lr: 0.003,
        momentum: 0.0,
        weight_decay: 0.0,
        nesterov: false,
        schedule: Schedule::Cosine,
        augment: Augment::None,
        dsa_strategy: distillery::api::spec::default_dsa_strategy(),
        rrc_scale: distillery::api::spec::default_rrc_scale(),
        mix: distillery::api::nn::mix::Mix::None,
        mix_alpha: 1.0,
    };
    nn::fit(
        teacher.as_ref(),
        &vs,
        &data.train.images,
        Targets::Hard(&data.train.labels),
        &recipe,
        FitOptions {
            normalize: Some((data.mean.clone(), data.std.clone())),
            ..Default::default()
        },
    )
    .unwrap();
    let weights = tmp.path().join("resnet18.safetensors");
    torchvision::save_state_dict(&vs, &spec, &weights).unwrap();
    std::fs::write(
        tmp.path().join("resnet18.classes.txt"),
        data.class_names.join("\n") + "\n",
    )
    .unwrap();

    let out = tmp.path().join("out");
    let o = bench(
        &[
            "--protocol",
            s(&fixture),
            "--dataset",
            s(&data_dir),
            "--teacher",
            s(&weights),
            "--methods",
            "random",
            "--ipc",
            "10",
            "--seeds",
            "1",
            "--threads",
            "1",
            "--out",
            s(&out),
        ],
        &[],
    );
    assert!(o.status.success(), "{}", text(&o));
    let r = record(&out, "random__ipc10__s0");
    assert_eq!(r["status"], "ok", "{r}");
    let t = &r["teacher"];
    let sha = distillery::api::teacher::sha256_of(&weights).unwrap();
    assert_eq!(t["weights_sha256"], sha.as_str());
    assert_eq!(t["key"], sha.as_str());
    assert_eq!(t["file"], s(&weights));
    assert_eq!(t["model"], "ResNet-18 (ImageNet stem, width 8)");
    let (tv, tt) = (
        t["val_acc"].as_f64().unwrap(),
        t["test_acc"].as_f64().unwrap(),
    );
    assert!(
        tt > 0.5,
        "the teacher learned the digits: test {tt}, val {tv}"
    );
    let e = &r["evaluation"];
    assert_eq!(
        e["augment"],
        "rrc-flip (scale [0.08, 1.0]) + cutmix (alpha 1)"
    );
    assert!(
        e["labels"]
            .as_str()
            .unwrap()
            .ends_with("(KL, T 20, no T^2)"),
        "{}",
        e["labels"]
    );
    let acc = e["top1"].as_f64().unwrap();
    eprintln!(
        "large-soft-label-tiny, random IPC 10: student top-1 {acc:.4}, teacher val {tv:.4} / test {tt:.4}, train {:.1} s, cell {:.1} s",
        e["train_seconds"], r["timings"]["total_seconds"]
    );
    assert!(acc >= 0.2, "the student learns: top-1 {acc} (chance 0.1)");
    assert_eq!(r["storage"]["label_bytes"], 0);

    // Another class order: refused before any cell, naming the first difference.
    let mut names = data.class_names.clone();
    names.swap(0, 1);
    let wrong = tmp.path().join("wrong.txt");
    std::fs::write(&wrong, names.join("\n")).unwrap();
    let o = bench(
        &[
            "--protocol",
            s(&fixture),
            "--dataset",
            s(&data_dir),
            "--teacher",
            s(&weights),
            "--teacher-classes",
            s(&wrong),
            "--methods",
            "random",
            "--ipc",
            "10",
            "--seeds",
            "1",
            "--threads",
            "1",
            "--out",
            s(&tmp.path().join("out2")),
        ],
        &[],
    );
    assert!(!o.status.success());
    assert!(
        text(&o).contains("differs from the dataset's at output 0: 'digit1' vs 'digit0'"),
        "{}",
        text(&o)
    );
}
