//! Tests on real data: digits from the embedded mnist-5k train split (read from the
//! repository's idx files), tiny ConvNets trained for real.

use super::*;
use crate::distill::{matching_loss, MatchSettings};
use crate::experts::{ExpertPlan, Origin};
use crate::functional::ParamLayout;
use distillery_api::method::RequestMeta;
use std::io::Read;

/// `per_class` images of each of the first `classes` digits of mnist-5k's train split (the
/// file is ordered by label: 400 per class).
fn mnist(per_class: usize, classes: usize, skip: usize) -> Split {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../harness/data/mnist-5k/train-images-idx3-ubyte.gz"
    );
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).expect("mnist-5k train images"))
        .read_to_end(&mut raw)
        .unwrap();
    assert_eq!(&raw[..4], &[0, 0, 8, 3], "idx3 magic");
    let (mut px, mut labels) = (Vec::new(), Vec::new());
    for c in 0..classes {
        for j in 0..per_class {
            let i = 400 * c + skip + j;
            px.extend_from_slice(&raw[16 + i * 784..16 + (i + 1) * 784]);
            labels.push(c as i64);
        }
    }
    let n = labels.len() as i64;
    Split {
        images: Tensor::from_slice(&px).view([n, 1, 28, 28]),
        labels: Tensor::from_slice(&labels),
    }
}

fn ctx_with(config: serde_json::Value, cache: &std::path::Path, width: i64, depth: i64) -> Context {
    ctx_arch(config, cache, "convnet", width, depth)
}

fn ctx_arch(
    config: serde_json::Value,
    cache: &std::path::Path,
    arch: &str,
    width: i64,
    depth: i64,
) -> Context {
    let meta: RequestMeta = serde_json::from_value(serde_json::json!({
        "method": "mtt", "budget": {"kind": "ipc", "value": 1},
        "class_names": ["0","1","2","3","4","5","6","7","8","9"],
        "seeds": {"run": 0, "selection": 11, "init": 2, "order": 3, "augment": 4},
        "device": "cpu", "scratch_dir": cache.join("scratch"), "cache_dir": cache,
        "config": config,
        "protocol": {
            "name": "t", "hash": "0",
            "student": {"arch": arch, "width": width, "depth": depth},
            "train": {"epochs": 2, "batch_size": 64, "optimizer": "sgd", "lr": 0.01,
                      "momentum": 0.9, "weight_decay": 0.0005, "schedule": "step", "augment": "dsa"},
            "mean": [0.1307], "std": [0.3081], "mirror_invariant": false
        }
    }))
    .unwrap();
    Context::new(meta)
}

fn tiny_plan(ctx: &Context, train: &Split, experts: usize, epochs: usize) -> ExpertPlan {
    let p = ctx.protocol();
    let mut recipe = p.train.clone();
    recipe.epochs = epochs;
    recipe.batch_size = 16;
    recipe.momentum = 0.0;
    recipe.weight_decay = 0.0;
    recipe.schedule = Schedule::Constant;
    ExpertPlan {
        model: p.student.clone(),
        in_shape: [1, 28, 28],
        classes: 10,
        recipe,
        mirror_invariant: false,
        mean: p.mean.clone(),
        std: p.std.clone(),
        dataset: experts::dataset_checksum(train),
        num_experts: experts,
        seed: 0,
        device: Device::Cpu,
    }
}

fn all_snapshots(t: &experts::Trajectory) -> Vec<Tensor> {
    (0..t.snapshots).map(|i| t.snapshot(i).unwrap()).collect()
}

/// A second call reads every expert from the cache (no training, identical snapshots); a
/// corrupted file and a truncated file are detected and rebuilt to the same trajectory; a
/// changed train split gets new experts.
#[test]
fn expert_cache_reuses_and_rebuilds_corrupted_files() {
    let _rng = test_lock();
    let dir = tempfile::tempdir().unwrap();
    let ctx = ctx_with(serde_json::json!({}), dir.path(), 4, 2);
    let train = mnist(4, 10, 0);
    let val = mnist(2, 10, 300);
    let plan = tiny_plan(&ctx, &train, 2, 2);
    let edir = dir.path().join("experts");

    let (a, ra) = experts::obtain(&ctx, &plan, &edir, &train, &val, (0.0, 1.0)).unwrap();
    assert_eq!(ra.origins, vec![Origin::Trained, Origin::Trained]);
    assert!(ra.train_seconds > 0.0);
    assert_eq!(a[0].snapshots, 3, "initialisation + 2 epochs");
    let layout = ParamLayout::convnet(&plan.model, [1, 28, 28], 10).unwrap();
    assert_eq!(a[0].num_params, layout.num_params);
    let sa: Vec<Vec<Tensor>> = a.iter().map(all_snapshots).collect();
    // Training moved the parameters, and the two experts differ (different seeds).
    assert!((&sa[0][0] - &sa[0][2]).abs().max().double_value(&[]) > 0.0);
    assert!(!sa[0][0].equal(&sa[1][0]));

    let (b, rb) = experts::obtain(&ctx, &plan, &edir, &train, &val, (0.0, 1.0)).unwrap();
    assert_eq!(rb.origins, vec![Origin::Cache, Origin::Cache]);
    assert_eq!(rb.train_seconds, 0.0, "nothing trained on the second call");
    for (x, y) in sa.iter().zip(b.iter().map(all_snapshots)) {
        assert!(x.iter().zip(&y).all(|(p, q)| p.equal(q)));
    }
    drop(b);

    // Corrupt one byte in the middle of expert 1's parameters.
    let path1 = edir.join(format!("{}.traj", plan.key(1)));
    let mut bytes = std::fs::read(&path1).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    std::fs::write(&path1, &bytes).unwrap();
    // Truncate expert 0's file.
    let path0 = edir.join(format!("{}.traj", plan.key(0)));
    let len0 = std::fs::metadata(&path0).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path0)
        .unwrap()
        .set_len(len0 - 100)
        .unwrap();
    let (c, rc) = experts::obtain(&ctx, &plan, &edir, &train, &val, (0.0, 1.0)).unwrap();
    match (&rc.origins[0], &rc.origins[1]) {
        (Origin::Rebuilt(w0), Origin::Rebuilt(w1)) => {
            assert!(w0.contains("checksum"), "{w0}");
            assert!(w1.contains("checksum"), "{w1}");
        }
        other => panic!("expected both rebuilt, got {other:?}"),
    }
    assert!(rc.train_seconds > 0.0);
    // Retraining is deterministic: the rebuilt trajectories equal the originals.
    for (x, y) in sa.iter().zip(c.iter().map(all_snapshots)) {
        assert!(x.iter().zip(&y).all(|(p, q)| p.equal(q)));
    }
    let (_, rd) = experts::obtain(&ctx, &plan, &edir, &train, &val, (0.0, 1.0)).unwrap();
    assert_eq!(
        rd.origins,
        vec![Origin::Cache, Origin::Cache],
        "rewritten files are valid"
    );

    // One changed pixel is another dataset: another key, trained anew.
    let other = Split {
        images: train.images.copy(),
        labels: train.labels.copy(),
    };
    let _ = other.images.get(0).get(0).get(14).get(14).fill_(7);
    let plan2 = tiny_plan(&ctx, &other, 1, 2);
    assert_ne!(plan2.key(0), plan.key(0));
    let (_, re) = experts::obtain(&ctx, &plan2, &edir, &other, &val, (0.0, 1.0)).unwrap();
    assert_eq!(re.origins, vec![Origin::Trained]);
}

/// A lock left by a dead process is ignored; an expert a live process is training is waited
/// for and then read from the cache (nothing trained here).
#[test]
fn expert_locks_stale_and_live() {
    let _rng = test_lock();
    let dir = tempfile::tempdir().unwrap();
    let ctx = ctx_with(serde_json::json!({}), dir.path(), 4, 1);
    let train = mnist(3, 10, 0);
    let val = mnist(1, 10, 300);
    let plan = tiny_plan(&ctx, &train, 1, 1);
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::create_dir_all(&a).unwrap();
    let lock_a = a.join(format!("{}.lock", plan.key(0)));
    std::fs::write(&lock_a, format!("{}:4000000000", host.trim())).unwrap();
    let (ta, ra) = experts::obtain(&ctx, &plan, &a, &train, &val, (0.0, 1.0)).unwrap();
    assert_eq!(
        ra.origins,
        vec![Origin::Trained],
        "a dead process's lock is stale"
    );
    assert!(!lock_a.exists(), "the lock is released");

    // Process 1 (alive) "holds" expert 0 in b; another thread plays that process: it writes
    // the trajectory (a copy of a's) and releases the lock a moment later.
    std::fs::create_dir_all(&b).unwrap();
    let lock_b = b.join(format!("{}.lock", plan.key(0)));
    std::fs::write(&lock_b, format!("{}:1", host.trim())).unwrap();
    let name = format!("{}.traj", plan.key(0));
    let (src, dst, lb) = (a.join(&name), b.join(&name), lock_b.clone());
    let other = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(1500));
        std::fs::copy(src, dst).unwrap();
        std::fs::remove_file(lb).unwrap();
    });
    let (tb, rb) = experts::obtain(&ctx, &plan, &b, &train, &val, (0.0, 1.0)).unwrap();
    other.join().unwrap();
    assert_eq!(rb.origins, vec![Origin::Waited]);
    assert_eq!(rb.train_seconds, 0.0);
    assert!(rb.wait_seconds > 0.5, "{}", rb.wait_seconds);
    for (x, y) in all_snapshots(&ta[0]).iter().zip(all_snapshots(&tb[0])) {
        assert!(x.equal(&y));
    }
}

/// The matching loss falls on a fixed toy problem: tiny experts trained on a few real digits,
/// one synthetic image per class, no augmentation and every image in every step, so the loss
/// is a deterministic function of the images and the step size.
#[test]
fn trajectory_matching_loss_decreases_on_a_toy_problem() {
    let _rng = test_lock();
    let dir = tempfile::tempdir().unwrap();
    let ctx = ctx_with(serde_json::json!({}), dir.path(), 8, 2);
    let classes = 3;
    let train = mnist(10, classes, 0);
    let val = mnist(1, classes, 300);
    // The context's networks have 10 outputs; only the first 3 classes have data.
    let mut plan = tiny_plan(&ctx, &train, 1, 3);
    plan.recipe.augment = Augment::None;
    let log = |_e: usize, _l: f64| {};
    let (snaps, _) = experts::train_expert(&ctx, &plan, 0, &train, &val, &log).unwrap();
    let layout = ParamLayout::convnet(&plan.model, [1, 28, 28], 10).unwrap();
    // One real image per class, normalised.
    let idx = Tensor::from_slice(&[0i64, 10, 20]);
    let init = ctx.normalize(&train.images.index_select(0, &idx));
    let labels = Tensor::from_slice(&[0i64, 1, 2]);
    let s = MatchSettings {
        iterations: 20,
        syn_steps: 6,
        expert_epochs: 2,
        max_start_epoch: 1,
        batch_syn: 3,
        lr_img: 100.0,
        lr_lr: 1e-5,
        lr_teacher: 0.01,
        momentum: 0.5,
        dsa: false,
    };
    let before = matching_loss(&layout, &init, &labels, &snaps[0], &snaps[2], 0.01, 6);
    let mut seen = Vec::new();
    let (start, target) = (snaps[0].copy(), snaps[2].copy());
    let out = distill::distill(
        &layout,
        &[snaps],
        &init,
        &labels,
        &s,
        None,
        1,
        &mut |it, l, _| seen.push((it, l)),
    )
    .unwrap();
    assert_eq!(out.losses.len(), 20);
    assert_eq!(seen.len(), 20);
    // The loop's first loss is the deterministic loss at the initial images and step size.
    assert!(
        (out.losses[0] - before).abs() < 1e-4 * before,
        "{} vs {before}",
        out.losses[0]
    );
    let after = matching_loss(
        &layout,
        &out.images,
        &labels,
        &start,
        &target,
        out.syn_lr,
        6,
    );
    eprintln!("toy matching loss {before:.4} -> {after:.4}");
    assert!(
        after < 0.8 * before,
        "matching loss {before:.4} -> {after:.4} (curve {:?})",
        out.losses
    );
    assert!(out.syn_lr != 0.01, "the step size is learned");
    assert!(!out.images.equal(&init), "the images are learned");
}

/// The whole method on tiny real data: IPC 2, shapes, labels, pixel scale, metadata, and the
/// same output for the same seeds whether the experts were trained or read from the cache.
#[test]
fn compress_end_to_end_is_deterministic_and_reports_its_cost() {
    let _rng = test_lock();
    let dir = tempfile::tempdir().unwrap();
    let cfg = serde_json::json!({
        "num_experts": 2, "train_epochs": 2, "iterations": 3, "syn_steps": 3,
        "expert_epochs": 1, "max_start_epoch": 2, "batch_syn": 10, "lr_img": 0.5
    });
    let train = mnist(6, 10, 0);
    let val = mnist(2, 10, 300);
    let names: Vec<String> = (0..10).map(|c| c.to_string()).collect();
    let run = || {
        let ctx = ctx_with(cfg.clone(), dir.path(), 4, 2);
        let input = Input {
            train: &train,
            val: &val,
            class_names: &names,
            budget: Budget::Ipc(2),
        };
        Mtt.compress(&input, &ctx).unwrap()
    };
    let a = run();
    let b = run();
    let (
        Output::Images {
            images: ia,
            labels: la,
            ..
        },
        Output::Images {
            images: ib,
            labels: lb,
            ..
        },
    ) = (&a.output, &b.output)
    else {
        panic!("images expected");
    };
    assert_eq!(ia.size(), vec![20, 1, 28, 28]);
    assert_eq!(ia.kind(), Kind::Float);
    assert_eq!(
        Vec::<i64>::try_from(la).unwrap(),
        (0..10).flat_map(|c| [c, c]).collect::<Vec<i64>>()
    );
    // Pixel scale: roughly [0, 1] (distillation may step slightly outside).
    let (lo, hi) = (ia.min().double_value(&[]), ia.max().double_value(&[]));
    assert!(lo > -0.5 && hi < 1.5 && hi > 0.5, "range {lo}..{hi}");
    assert!(ia.equal(ib) && la.equal(lb), "same seeds, same set");
    assert_eq!(
        a.metadata["experts"]["origins"],
        serde_json::json!(["trained", "trained"])
    );
    assert_eq!(
        b.metadata["experts"]["origins"],
        serde_json::json!(["cache", "cache"])
    );
    assert_eq!(b.metadata["cost"]["experts_from_cache"], true);
    assert!(a.metadata["cost"]["expert_train_seconds"].as_f64().unwrap() > 0.0);
    assert_eq!(
        b.metadata["cost"]["expert_train_seconds"].as_f64().unwrap(),
        0.0
    );
    assert!(a.metadata["cost"]["distill_seconds"].as_f64().unwrap() > 0.0);
    // Initialised from real train images of the right classes.
    let init: Vec<i64> = serde_json::from_value(a.metadata["init_indices"].clone()).unwrap();
    assert_eq!(init.len(), 20);
    for (j, &i) in init.iter().enumerate() {
        assert_eq!(i / 6, (j / 2) as i64, "slot {j} initialised from image {i}");
    }
}

#[test]
fn config_presets_validation_and_unsupported_budgets() {
    let c: Config = serde_json::from_value(serde_json::json!({})).unwrap();
    let r = c.resolve(1).unwrap();
    assert_eq!(r.preset, Preset::Cpu);
    assert_eq!(
        (r.expert_lr, r.expert_momentum, r.expert_batch),
        (0.01, 0.0, 256)
    );
    assert_eq!(r.matching.momentum, 0.5);
    let p: Config = serde_json::from_value(serde_json::json!({"preset": "paper"})).unwrap();
    let r1 = p.resolve(1).unwrap();
    assert_eq!(
        (r1.num_experts, r1.train_epochs, r1.matching.iterations),
        (100, 50, 5000)
    );
    assert_eq!(
        (
            r1.matching.syn_steps,
            r1.matching.expert_epochs,
            r1.matching.max_start_epoch
        ),
        (50, 2, 2)
    );
    assert_eq!((r1.matching.lr_img, r1.matching.lr_lr), (1000.0, 1e-7));
    assert_eq!(
        r1.matching.batch_syn,
        usize::MAX,
        "paper: all synthetic images per step"
    );
    let r10 = p.resolve(10).unwrap();
    assert_eq!(
        (
            r10.matching.syn_steps,
            r10.matching.max_start_epoch,
            r10.matching.lr_lr
        ),
        (30, 20, 1e-5)
    );
    // Explicit keys override the preset.
    let o: Config =
        serde_json::from_value(serde_json::json!({"preset": "paper", "num_experts": 7})).unwrap();
    assert_eq!(o.resolve(10).unwrap().num_experts, 7);
    // A misspelt key is named.
    let e = serde_json::from_value::<Config>(serde_json::json!({"iteration": 5})).unwrap_err();
    assert!(e.to_string().contains("iteration"), "{e}");
    // Values a type check cannot catch name the key.
    let bad: Config = serde_json::from_value(serde_json::json!({
        "train_epochs": 3, "max_start_epoch": 3, "expert_epochs": 2
    }))
    .unwrap();
    let e = bad.resolve(1).unwrap_err().to_string();
    assert!(
        e.contains("max_start_epoch") && e.contains("train_epochs"),
        "{e}"
    );
    let bad: Config = serde_json::from_value(serde_json::json!({"lr_img": -1.0})).unwrap();
    assert!(bad.resolve(1).unwrap_err().to_string().contains("lr_img"));

    // Fraction budgets are declined with a message naming the budget.
    let dir = tempfile::tempdir().unwrap();
    let ctx = ctx_with(serde_json::json!({}), dir.path(), 4, 1);
    let train = mnist(1, 10, 0);
    let names: Vec<String> = (0..10).map(|c| c.to_string()).collect();
    let input = Input {
        train: &train,
        val: &train,
        class_names: &names,
        budget: Budget::Fraction(0.05),
    };
    let e = Mtt.compress(&input, &ctx).unwrap_err();
    assert!(matches!(e, MethodError::Unsupported(_)));
    assert!(e.to_string().contains("5%"), "{e}");
    // A protocol student MTT cannot unroll is declined by name.
    let ctx = ctx_arch(serde_json::json!({}), dir.path(), "resnet18", 4, 1);
    let input = Input {
        budget: Budget::Ipc(1),
        ..input
    };
    let e = Mtt.compress(&input, &ctx).unwrap_err().to_string();
    assert!(e.contains("ResNet-18"), "{e}");
}
