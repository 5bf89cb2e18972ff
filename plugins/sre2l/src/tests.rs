use super::*;
use distillery_api::nn::BnInput;
use distillery_distill_kit::testing;

fn student(width: i64) -> ModelSpec {
    ModelSpec {
        width,
        ..ModelSpec::convnet()
    }
}

fn base() -> TrainSpec {
    serde_json::from_value(serde_json::json!({
        "epochs": 300, "batch_size": 256, "optimizer": "sgd", "lr": 0.01,
        "momentum": 0.9, "weight_decay": 0.0005, "schedule": "step", "augment": "dsa"
    }))
    .unwrap()
}

fn resolve(cfg: serde_json::Value) -> Result<Settings, MethodError> {
    serde_json::from_value::<Config>(cfg)
        .unwrap()
        .resolve(&student(128), &base(), false)
}

#[test]
fn presets_and_overrides_resolve() {
    let s = resolve(serde_json::json!({})).unwrap();
    assert_eq!(s.iterations, DEFAULT_ITERATIONS);
    assert_eq!((s.lr, s.r_bn, s.first_bn_multiplier), (0.25, 0.01, 10.0));
    assert_eq!(
        (s.init, s.jitter, s.flip, s.batch),
        (Init::Real, 4, false, 0)
    );
    assert_eq!(s.squeeze.model.arch, Arch::ConvnetBn);
    assert_eq!(s.squeeze.model.width, 128);
    assert_eq!(s.squeeze.train.epochs, DEFAULT_SQUEEZE_EPOCHS);
    let p = resolve(serde_json::json!({"preset": "paper"})).unwrap();
    assert_eq!((p.iterations, p.init), (1000, Init::Noise));
    assert_eq!(
        (p.squeeze.train.epochs, p.squeeze.patience),
        (PAPER_SQUEEZE_EPOCHS, 5)
    );
    // Flips only on mirror-invariant data.
    let c: Config = serde_json::from_value(serde_json::json!({})).unwrap();
    assert!(c.resolve(&student(128), &base(), true).unwrap().flip);
    let e = resolve(serde_json::json!({"squeeze": {"model": {"arch": "convnet"}}}))
        .unwrap_err()
        .to_string();
    assert!(e.contains("convnet-bn"), "{e}");
    let e = resolve(serde_json::json!({"jitter": -1}))
        .unwrap_err()
        .to_string();
    assert!(e.contains("jitter"), "{e}");
    assert!(serde_json::from_value::<Config>(serde_json::json!({"r-bn": 1.0})).is_err());
}

/// The BN term on a tiny hand-made tensor: one layer, two channels over a batch of 2 images
/// of 1×2 pixels. Channel 0 holds 1, 3 | 5, 7: mean 4, biased variance 5. Channel 1 holds 2
/// everywhere: mean 2, variance 0. Against running mean (0, 0) and running variance (1, 1):
/// ‖(5, 0) − (1, 1)‖ + ‖(4, 2) − (0, 0)‖ = √17 + √20; the first layer's multiplier scales it,
/// a second layer (identical input, running stats equal to its batch stats) adds 0.
#[test]
fn bn_term_matches_hand_computed_values() {
    let input = Tensor::from_slice(&[1.0f32, 3.0, 2.0, 2.0, 5.0, 7.0, 2.0, 2.0]).view([2, 2, 1, 2]);
    let layer = |rm: &[f32], rv: &[f32]| BnInput {
        input: input.shallow_clone(),
        running_mean: Tensor::from_slice(rm),
        running_var: Tensor::from_slice(rv),
    };
    let want = 17f64.sqrt() + 20f64.sqrt();
    let one = bn_loss(&[layer(&[0.0, 0.0], &[1.0, 1.0])], 1.0).double_value(&[]);
    assert!((one - want).abs() < 1e-5, "{one} vs {want}");
    let two = bn_loss(
        &[
            layer(&[0.0, 0.0], &[1.0, 1.0]),
            layer(&[4.0, 2.0], &[5.0, 0.0]),
        ],
        10.0,
    )
    .double_value(&[]);
    assert!((two - 10.0 * want).abs() < 1e-4, "{two} vs {}", 10.0 * want);
    // The multiplier applies to the first layer only.
    let swapped = bn_loss(
        &[
            layer(&[4.0, 2.0], &[5.0, 0.0]),
            layer(&[0.0, 0.0], &[1.0, 1.0]),
        ],
        10.0,
    )
    .double_value(&[]);
    assert!((swapped - want).abs() < 1e-5, "{swapped}");
}

/// Adam with the reference code's betas: the first step moves every coordinate by exactly
/// `lr` against the gradient's sign (bias-corrected m/√v = ±1).
#[test]
fn image_adam_first_step_is_lr_times_sign() {
    let mut x = Tensor::from_slice(&[1.0f32, -2.0, 0.5]).set_requires_grad(true);
    let g = Tensor::from_slice(&[3.0f32, -0.1, 0.0]);
    let mut adam = ImageAdam::new(&x);
    adam.step(&mut x, &g, 0.25);
    let v = Vec::<f32>::try_from(&x.detach()).unwrap();
    assert!(
        (v[0] - 0.75).abs() < 1e-5 && (v[1] + 1.75).abs() < 1e-5 && v[2] == 0.5,
        "{v:?}"
    );
    assert!((cosine_lr(0.25, 0, 10) - 0.25).abs() < 1e-12);
    assert!((cosine_lr(0.25, 5, 10) - 0.125).abs() < 1e-12);
}

/// Recovery lowers its objective on a fixed toy problem: a small ConvNet-BN whose running
/// statistics come from real digits of 2 classes, images starting from noise.
#[test]
fn recover_loss_decreases_on_a_fixed_bn_network() {
    let _rng = testing::rng_lock();
    let pool = testing::mnist_pool(&[3, 7], 20);
    tch::manual_seed(0);
    let vs = tch::nn::VarStore::new(Device::Cpu);
    let spec = ModelSpec {
        arch: Arch::ConvnetBn,
        width: 8,
        depth: 2,
    };
    let net = nn::build(&vs.root(), &spec, pool.shape(), 2);
    {
        let _g = tch::no_grad_guard();
        let real = Tensor::cat(
            &[
                pool.images_at(&(0..20).collect::<Vec<_>>()),
                pool.images_at(&(20..40).collect::<Vec<_>>()),
            ],
            0,
        );
        for _ in 0..30 {
            let _ = net.forward_t(&real, true);
        }
    }
    let c: Config = serde_json::from_value(serde_json::json!({
        "iterations": 200, "lr": 0.05, "r_bn": 0.1, "init": "noise",
        "squeeze": {"model": {"arch": "convnet-bn", "width": 8, "depth": 2}}
    }))
    .unwrap();
    let s = c.resolve(&student(8), &base(), false).unwrap();
    let syn = SynSet::init(&pool, 2, Init::Noise, 3).unwrap();
    let bounds = pixel_bounds(pool.mean(), pool.std(), Device::Cpu);
    let (x, report) = recover_all(net.as_ref(), &syn, &s, &bounds, 5, &mut |_, _| {}).unwrap();
    assert_eq!(report.batches, 2);
    let t = report.trace.losses();
    let (first, last) = (t[0], *t.last().unwrap());
    // (A random small network gives weak logits: CE cannot fall far below log 2.)
    assert!(
        last < 0.75 * first,
        "recover loss did not fall: {first} -> {last}; {report:?}"
    );
    assert!(report.last.bn < 0.7 * report.first.bn, "{report:?}");
    assert!(report.last.ce < report.first.ce, "{report:?}");
    // Clipped to the pixel range.
    assert!(x.ge_tensor(&bounds.0).all().int64_value(&[]) == 1);
    assert!(x.le_tensor(&bounds.1).all().int64_value(&[]) == 1);
    // The recovered images are classified as their classes by the model.
    let pred = net.forward_t(&x, false).argmax(-1, false);
    assert!(pred.equal(syn.labels()), "{pred:?}");
}

/// End to end: IPC honoured, class labels, real-image init moved, deterministic for a seed,
/// another seed another set, non-IPC budgets declined; under the native-label protocol the
/// squeeze model's labels are declared as a stored label spec.
#[test]
fn compress_honours_the_budget_and_is_deterministic() {
    let _rng = testing::rng_lock();
    let cfg = serde_json::json!({
        "iterations": 3,
        "squeeze": {"model": {"arch": "convnet-bn", "width": 4, "depth": 2}, "epochs": 1}
    });
    let out = testing::compress::<Sre2l>(cfg.clone(), Budget::Ipc(2), 10, 1).unwrap();
    let (images, labels) = testing::images_of(&out);
    assert_eq!(images.size(), vec![6, 1, 28, 28]);
    assert_eq!(
        Vec::<i64>::try_from(labels).unwrap(),
        vec![0, 0, 1, 1, 2, 2]
    );
    assert!(
        out.label_spec.is_none(),
        "hard-label protocol: no label spec"
    );
    assert!(images.min().double_value(&[]) >= 0.0 && images.max().double_value(&[]) <= 1.0);
    let init: Vec<i64> = serde_json::from_value(out.metadata["init_indices"].clone()).unwrap();
    let start = testing::mnist_split(&[0, 1, 2], 10)
        .images
        .index_select(0, &Tensor::from_slice(&init))
        .to_kind(Kind::Float)
        / 255.0;
    assert!((images - &start).abs().max().double_value(&[]) > 1e-3);
    assert_eq!(out.metadata["batches"], 2);
    let again = testing::compress::<Sre2l>(cfg.clone(), Budget::Ipc(2), 10, 1).unwrap();
    assert!(images.equal(testing::images_of(&again).0));
    let other = testing::compress::<Sre2l>(cfg.clone(), Budget::Ipc(2), 10, 2).unwrap();
    assert!(!images.equal(testing::images_of(&other).0));
    let e = testing::compress::<Sre2l>(cfg.clone(), Budget::Fraction(0.1), 10, 1).unwrap_err();
    assert!(matches!(e, MethodError::Unsupported(_)), "{e}");

    // Native labels: a stored label store made from the squeeze model.
    let train = testing::mnist_split(&[0, 1, 2], 10);
    let val = testing::mnist_split(&[0, 1, 2], 2);
    let names = testing::class_names(3);
    let mut ctx = testing::context("sre2l", 3, cfg, 8, 1);
    let mut meta = ctx.meta().clone();
    meta.protocol.labels = "native".into();
    meta.protocol.train.epochs = 2;
    meta.scratch_dir = std::env::temp_dir().join(format!("sre2l-test-{}", std::process::id()));
    std::fs::create_dir_all(&meta.scratch_dir).unwrap();
    ctx = Context::new(meta);
    let input = Input {
        train: &train,
        val: &val,
        class_names: &names,
        budget: Budget::Ipc(1),
    };
    let out = Sre2l.compress(&input, &ctx).unwrap();
    let Some(distillery_api::spec::LabelSpec::Stored { file, sha256 }) = &out.label_spec else {
        panic!("expected stored labels, got {:?}", out.label_spec)
    };
    let store = distillery_api::label_store::LabelStore::read(file, Some(sha256)).unwrap();
    assert_eq!(
        (store.set_size, store.classes, store.epochs.len()),
        (3, 3, 2)
    );
    assert_eq!(store.temperature, 20.0);
    let _ = std::fs::remove_dir_all(ctx.scratch_dir());
}
