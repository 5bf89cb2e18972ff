use super::*;
use distillery_distill_kit::testing;

fn base() -> TrainSpec {
    serde_json::from_value(serde_json::json!({
        "epochs": 300, "batch_size": 256, "optimizer": "sgd", "lr": 0.01,
        "momentum": 0.9, "weight_decay": 0.0005, "schedule": "step", "augment": "dsa"
    }))
    .unwrap()
}

#[test]
fn presets_and_overrides_resolve() {
    let student = ModelSpec::convnet();
    let c: Config = serde_json::from_value(serde_json::json!({})).unwrap();
    let s = c.resolve(&student, &base()).unwrap();
    assert_eq!((s.factor, s.mipc, s.num_crop), (1, 300, 5));
    assert_eq!(s.crop_scale, [0.08, 1.0]);
    assert_eq!(s.observer.model, student);
    assert_eq!(s.observer.train.epochs, DEFAULT_OBSERVER_EPOCHS);
    assert!(s.use_protocol_teacher);
    let p: Config = serde_json::from_value(serde_json::json!({"preset": "paper"})).unwrap();
    let s = p.resolve(&student, &base()).unwrap();
    assert_eq!(
        (s.observer.train.epochs, s.observer.patience),
        (PAPER_OBSERVER_EPOCHS, 5)
    );
    for bad in [
        serde_json::json!({"factor": 0}),
        serde_json::json!({"crop_scale": [0.5, 0.2]}),
        serde_json::json!({"num_crop": 0}),
    ] {
        let c: Config = serde_json::from_value(bad.clone()).unwrap();
        assert!(c.resolve(&student, &base()).is_err(), "{bad}");
    }
    assert!(serde_json::from_value::<Config>(serde_json::json!({"crops": 5})).is_err());
}

/// Stitching on hand-made patches: 8 constant 2×2 patches (value = rank), IPC 2, factor 2, a
/// 4×4 image. Image i's grid position k (row-major) holds patch k·IPC + i.
#[test]
fn stitching_puts_each_patch_in_its_quadrant() {
    let patches = Tensor::arange(8, (Kind::Float, Device::Cpu))
        .view([8, 1, 1, 1])
        .expand([8, 1, 2, 2], false)
        .contiguous();
    let out = stitch(&patches, 2, 2, 4, 4);
    assert_eq!(out.size(), vec![2, 1, 4, 4]);
    let px = |i: i64, r: i64, c: i64| out.double_value(&[i, 0, r, c]);
    // Image 0: TL 0, TR 2, BL 4, BR 6; image 1: 1, 3, 5, 7.
    for i in 0..2 {
        for (r, c, k) in [
            (0, 0, 0),
            (1, 1, 0),
            (0, 2, 1),
            (1, 3, 1),
            (2, 0, 2),
            (3, 1, 2),
            (2, 2, 3),
            (3, 3, 3),
        ] {
            assert_eq!(
                px(i, r, c),
                (k * 2 + i) as f64,
                "image {i} pixel ({r}, {c})"
            );
        }
    }
    // A patch with distinct pixels keeps its layout inside its quadrant.
    let p = Tensor::from_slice(&[1.0f32, 2.0, 3.0, 4.0]).view([1, 1, 2, 2]);
    let patches = Tensor::cat(&[p.shallow_clone(), &p * 10, &p * 100, &p * 1000], 0);
    let out = stitch(&patches, 1, 2, 4, 4);
    let want: Vec<f32> = vec![
        1., 2., 10., 20., //
        3., 4., 30., 40., //
        100., 200., 1000., 2000., //
        300., 400., 3000., 4000.,
    ];
    assert_eq!(Vec::<f32>::try_from(out.flatten(0, -1)).unwrap(), want);
    // Factor 1: the patches are the images.
    let one = stitch(&patches.narrow(0, 0, 2), 2, 1, 2, 2);
    assert!(one.equal(&patches.narrow(0, 0, 2)));
    // Odd sizes: the first row / column takes the extra pixel (5 = 3 + 2).
    let out = stitch(
        &Tensor::ones([4, 1, 2, 2], (Kind::Float, Device::Cpu)),
        1,
        2,
        5,
        5,
    );
    assert_eq!(out.sum(Kind::Float).double_value(&[]), 25.0);
}

/// Selection on hand-made scores: per image the lowest-CE crop, then the images with the
/// lowest best CE, in ascending order; extra crops only when more are needed than images.
#[test]
fn selection_keeps_the_most_realistic_crops() {
    let scores = vec![
        vec![2.0, 0.9, 3.0], // image 0: best crop 1 (0.9)
        vec![0.1, 0.5, 0.2], // image 1: best crop 0 (0.1)
        vec![5.0, 4.0, 6.0], // image 2: best crop 1 (4.0)
        vec![0.7, 0.3, 0.3], // image 3: best crop 1 (0.3, first of a tie)
    ];
    assert_eq!(select_crops(&scores, 1), vec![(1, 0)]);
    assert_eq!(select_crops(&scores, 3), vec![(1, 0), (3, 1), (0, 1)]);
    // Image 1's second-best crop (0.2) does not displace another image's best (4.0).
    assert_eq!(
        select_crops(&scores, 4),
        vec![(1, 0), (3, 1), (0, 1), (2, 1)]
    );
    // More than images: the remaining crops, best first.
    assert_eq!(select_crops(&scores, 6)[4..], [(1, 2), (3, 2)]);
}

#[test]
fn crop_boxes_stay_inside_and_cover_the_scale_range() {
    let mut rng = SplitMix64::new(1);
    let mut sides = Vec::new();
    for _ in 0..500 {
        let b = sample_box(28, 28, [0.08, 1.0], &mut rng);
        assert!(b.top >= 0 && b.left >= 0 && b.top + b.size <= 28 && b.left + b.size <= 28);
        sides.push(b.size);
    }
    // sqrt(0.08·784) ≈ 7.9 .. 28.
    assert!(*sides.iter().min().unwrap() <= 9 && *sides.iter().max().unwrap() >= 27);
    assert!(sides.iter().all(|&s| s >= 8));
    // A full-size box is the image itself; a resized crop has the requested size.
    let x = Tensor::rand([1, 1, 28, 28], (Kind::Float, Device::Cpu));
    let full = CropBox {
        top: 0,
        left: 0,
        size: 28,
    };
    assert!(crop_resize(&x, full, 28).equal(&x));
    assert_eq!(
        crop_resize(
            &x,
            CropBox {
                top: 3,
                left: 5,
                size: 20
            },
            14
        )
        .size(),
        vec![1, 1, 14, 14]
    );
    assert_eq!(
        pad_to(
            &Tensor::ones([1, 1, 14, 14], (Kind::Float, Device::Cpu)),
            28,
            28
        )
        .sum(Kind::Float)
        .double_value(&[]),
        196.0
    );
}

/// End to end with the context's (absent) teacher: the own observer is trained, IPC honoured,
/// labels per class, pixels in [0, 1], deterministic per seed; factor 2 gives stitched images.
#[test]
fn compress_honours_the_budget_and_is_deterministic() {
    let _rng = testing::rng_lock();
    let cfg = serde_json::json!({
        "mipc": 6, "num_crop": 2,
        "observer": {"model": {"arch": "convnet", "width": 4, "depth": 2}, "epochs": 1}
    });
    let out = testing::compress::<Rded>(cfg.clone(), Budget::Ipc(2), 10, 1).unwrap();
    let (images, labels) = testing::images_of(&out);
    assert_eq!(images.size(), vec![6, 1, 28, 28]);
    assert_eq!(
        Vec::<i64>::try_from(labels).unwrap(),
        vec![0, 0, 1, 1, 2, 2]
    );
    assert!(images.min().double_value(&[]) >= 0.0 && images.max().double_value(&[]) <= 1.0);
    assert_eq!(out.metadata["observer"]["source"], "own observer model");
    // Each class's selected crops come from images of that class, best (lowest CE) first.
    let train = testing::mnist_split(&[0, 1, 2], 10);
    let y = train.labels_vec();
    for c in 0..3 {
        let r = &out.metadata["classes"][c];
        let imgs: Vec<usize> = serde_json::from_value(r["images"].clone()).unwrap();
        assert!(imgs.iter().all(|&i| y[i] == c as i64));
        let ce: Vec<f64> = serde_json::from_value(r["ce"].clone()).unwrap();
        assert!(ce.windows(2).all(|w| w[0] <= w[1]), "{ce:?}");
    }
    let again = testing::compress::<Rded>(cfg.clone(), Budget::Ipc(2), 10, 1).unwrap();
    assert!(images.equal(testing::images_of(&again).0));
    let other = testing::compress::<Rded>(cfg.clone(), Budget::Ipc(2), 10, 2).unwrap();
    assert!(!images.equal(testing::images_of(&other).0));
    let mut f2 = cfg.clone();
    f2["factor"] = 2.into();
    let out = testing::compress::<Rded>(f2, Budget::Ipc(1), 10, 1).unwrap();
    assert_eq!(testing::images_of(&out).0.size(), vec![3, 1, 28, 28]);
    assert_eq!(
        out.metadata["classes"][0]["images"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    let e = testing::compress::<Rded>(cfg, Budget::Fraction(0.1), 10, 1).unwrap_err();
    assert!(matches!(e, MethodError::Unsupported(_)), "{e}");
}
