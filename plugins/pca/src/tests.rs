use super::*;
use distillery_api::method::RequestMeta;
use std::io::Read;

/// Tests that seed libtorch's global generator hold this lock (tests run on parallel threads).
/// It also pins libtorch to one intra-op thread, as a harness cell on CPU runs.
fn test_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    tch::set_num_threads(1);
    guard
}

/// `per_class` images of each digit from mnist-5k's train split (ordered by label, 400 each).
fn mnist(per_class: usize, skip: usize) -> Split {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../harness/data/mnist-5k/train-images-idx3-ubyte.gz"
    );
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).expect("mnist-5k train images"))
        .read_to_end(&mut raw)
        .unwrap();
    let (mut px, mut labels) = (Vec::new(), Vec::new());
    for c in 0..10 {
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

fn ctx(config: serde_json::Value) -> Context {
    let meta: RequestMeta = serde_json::from_value(serde_json::json!({
        "method": "pca", "budget": {"kind": "ipc", "value": 1},
        "class_names": ["0","1","2","3","4","5","6","7","8","9"],
        "seeds": {"run": 0, "selection": 5, "init": 2, "order": 3, "augment": 4},
        "device": "cpu", "scratch_dir": std::env::temp_dir(), "config": config,
        "protocol": {
            "name": "t", "hash": "0",
            "student": {"arch": "convnet", "width": 8, "depth": 2},
            "train": {"epochs": 2, "batch_size": 64, "optimizer": "sgd", "lr": 0.01,
                      "momentum": 0.9, "weight_decay": 0.0005, "schedule": "step", "augment": "dsa"},
            "mean": [0.1307], "std": [0.3081], "mirror_invariant": false
        }
    }))
    .unwrap();
    Context::new(meta)
}

/// Hand-made scores: the easiest of each class are picked, in rank order, for each metric's
/// direction; a class smaller than the request is wrapped; ties follow the tie-break keys.
#[test]
fn easiest_selection_on_hand_made_scores() {
    //            idx:  0    1    2    3    4    5    6    7
    let labels = [0i64, 1, 0, 1, 0, 1, 2, 0];
    let scores = [0.5, 0.9, 0.1, 0.2, 0.7, 0.3, 0.4, 0.05];
    let low = easiest_per_class(&scores, &labels, 3, 2, Order::LowestFirst, &TieBreak::Index);
    assert_eq!(low, vec![vec![7, 2], vec![3, 5], vec![6, 6]]);
    let high = easiest_per_class(
        &scores,
        &labels,
        3,
        3,
        Order::HighestFirst,
        &TieBreak::Index,
    );
    assert_eq!(high, vec![vec![4, 0, 2], vec![1, 5, 3], vec![6, 6, 6]]);
    assert_eq!(Score::El2n.easiest_first(), Order::LowestFirst);
    assert_eq!(Score::Forgetting.easiest_first(), Order::LowestFirst);
    assert_eq!(Score::Aum.easiest_first(), Order::HighestFirst);
    // Forgetting: never learned (+inf) is hardest; ties (0 events) by index here.
    let f = [0.0, 0.0, f64::INFINITY, 0.0, 1.0, 0.0, 0.0, 0.0];
    let got = easiest_per_class(&f, &labels, 3, 4, Order::LowestFirst, &TieBreak::Index);
    assert_eq!(got[0], vec![0, 7, 4, 2]);
    assert_eq!(got[1], vec![1, 3, 5, 1]);
    // A seeded tie-break reorders the ties only.
    let seeded = easiest_per_class(&f, &labels, 3, 4, Order::LowestFirst, &TieBreak::Seeded(9));
    let mut tied: Vec<usize> = seeded[0][..2].to_vec();
    tied.sort();
    assert_eq!(tied, vec![0, 7]);
    assert_eq!(&seeded[0][2..], &[4, 2]);
}

/// The whole method on real digits: the budget is honoured (exactly IPC images per class,
/// uint8 at the dataset's resolution), every output image is the combination of the images
/// its metadata names, those are of the slot's class and ranked easiest first, and the same
/// seeds give the same set.
#[test]
fn compress_on_real_digits_honours_the_budget_and_combines_the_easiest() {
    let _rng = test_lock();
    let train = mnist(12, 0);
    let val = mnist(2, 300);
    let names: Vec<String> = (0..10).map(|c| c.to_string()).collect();
    let cfg = serde_json::json!({"scoring": {"epochs": 1, "model": {"arch": "convnet", "width": 8, "depth": 2}}});
    let run = |ipc: usize| {
        let input = Input {
            train: &train,
            val: &val,
            class_names: &names,
            budget: Budget::Ipc(ipc),
        };
        Pca.compress(&input, &ctx(cfg.clone())).unwrap()
    };
    let a = run(2);
    let Output::Images {
        images,
        labels,
        soft_labels,
    } = &a.output
    else {
        panic!("images expected")
    };
    assert!(soft_labels.is_none(), "hard labels only");
    assert_eq!(images.size(), vec![20, 1, 28, 28]);
    assert_eq!(images.kind(), Kind::Uint8);
    let lv = Vec::<i64>::try_from(labels).unwrap();
    assert_eq!(lv, (0..10).flat_map(|c| [c, c]).collect::<Vec<i64>>());
    let slots: Vec<Vec<i64>> = serde_json::from_value(a.metadata["slots"].clone()).unwrap();
    let slot_scores: Vec<Vec<f64>> =
        serde_json::from_value(a.metadata["slot_scores"].clone()).unwrap();
    assert_eq!(slots.len(), 20);
    assert_eq!(
        a.metadata["distinct_source_images"], 80,
        "8 distinct images per class"
    );
    for (k, group) in slots.iter().enumerate() {
        assert_eq!(group.len(), 4);
        for &i in group {
            assert_eq!(i / 12, lv[k], "slot {k} uses image {i} of another class");
        }
        let src = train.images.index_select(0, &Tensor::from_slice(group));
        assert!(
            images.get(k as i64).equal(&combine::combine(&src, 2)),
            "slot {k}"
        );
    }
    // EL2N ranks easiest (lowest) first within each class: slot 0's scores are the class's
    // lowest and everything is non-decreasing.
    for c in 0..10 {
        let seq: Vec<f64> = slot_scores[2 * c]
            .iter()
            .chain(&slot_scores[2 * c + 1])
            .copied()
            .collect();
        assert!(seq.windows(2).all(|w| w[0] <= w[1]), "class {c}: {seq:?}");
    }
    let b = run(2);
    let Output::Images { images: ib, .. } = &b.output else {
        panic!()
    };
    assert!(images.equal(ib), "same seeds, same set");

    // factor 1: pure easy-sample selection, the selected real images themselves.
    let input = Input {
        train: &train,
        val: &val,
        class_names: &names,
        budget: Budget::Ipc(1),
    };
    let mut c1 = cfg.clone();
    c1["factor"] = 1.into();
    c1["score"] = "aum".into();
    let one = Pca.compress(&input, &ctx(c1)).unwrap();
    let Output::Images { images: i1, .. } = &one.output else {
        panic!()
    };
    let slots1: Vec<Vec<i64>> = serde_json::from_value(one.metadata["slots"].clone()).unwrap();
    for (k, g) in slots1.iter().enumerate() {
        assert_eq!(g.len(), 1);
        assert!(i1.get(k as i64).equal(&train.images.get(g[0])));
    }
}

#[test]
fn bad_budgets_and_configs_are_reported_by_name() {
    let train = mnist(1, 0);
    let names: Vec<String> = (0..10).map(|c| c.to_string()).collect();
    let input = |budget| Input {
        train: &train,
        val: &train,
        class_names: &names,
        budget,
    };
    let e = Pca
        .compress(&input(Budget::Fraction(0.05)), &ctx(serde_json::json!({})))
        .unwrap_err();
    assert!(matches!(e, MethodError::Unsupported(_)), "{e}");
    assert!(e.to_string().contains("5%"), "{e}");
    let e = Pca
        .compress(
            &input(Budget::Ipc(1)),
            &ctx(serde_json::json!({"factor": 0})),
        )
        .unwrap_err()
        .to_string();
    assert!(e.contains("factor"), "{e}");
    let e = Pca
        .compress(
            &input(Budget::Ipc(1)),
            &ctx(serde_json::json!({"facto": 2})),
        )
        .unwrap_err()
        .to_string();
    assert!(e.contains("facto"), "{e}");
    let e = Pca
        .compress(
            &input(Budget::Ipc(1)),
            &ctx(serde_json::json!({"score": "grand"})),
        )
        .unwrap_err()
        .to_string();
    assert!(e.contains("grand"), "{e}");
}
