//! Test helpers for the distillation plugins (feature `testing`, never in a plugin build):
//! real mnist-5k digits read from the repository's `harness/data/mnist-5k` (the embedded
//! dataset's train split), a request context, and the lock that serialises tests seeding
//! libtorch's global generator.

use crate::real::RealPool;
use distillery_api::method::RequestMeta;
use distillery_api::{Context, Split};
use flate2::read::GzDecoder;
use std::io::Read;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard, OnceLock};
use tch::{Device, Tensor};

/// MNIST's usual normalisation statistics.
pub const MNIST_MEAN: f64 = 0.1307;
pub const MNIST_STD: f64 = 0.3081;

/// Held by every test that seeds libtorch's global generator (tests run on parallel threads).
/// Also pins libtorch to one intra-op thread, as a cell on CPU runs: the tests hold the lock
/// one at a time anyway, and several OpenMP threads on a loaded machine only wait for each
/// other.
pub fn rng_lock() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    let guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    tch::set_num_threads(1);
    guard
}

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../harness/data/mnist-5k")
}

fn read_gz(name: &str) -> Vec<u8> {
    let path = data_dir().join(name);
    let f = std::fs::File::open(&path)
        .unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()));
    let mut out = Vec::new();
    GzDecoder::new(f)
        .read_to_end(&mut out)
        .unwrap_or_else(|e| panic!("cannot decompress {}: {e}", path.display()));
    out
}

fn be32(b: &[u8], at: usize) -> usize {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]) as usize
}

/// The mnist-5k train split: (pixels of 28×28 images, labels).
pub fn mnist_train() -> &'static (Vec<u8>, Vec<u8>) {
    static DATA: OnceLock<(Vec<u8>, Vec<u8>)> = OnceLock::new();
    DATA.get_or_init(|| {
        let img = read_gz("train-images-idx3-ubyte.gz");
        let lab = read_gz("train-labels-idx1-ubyte.gz");
        assert_eq!(be32(&img, 0), 0x803, "idx3 magic");
        assert_eq!(be32(&lab, 0), 0x801, "idx1 magic");
        let n = be32(&img, 4);
        assert_eq!((be32(&img, 8), be32(&img, 12)), (28, 28));
        assert_eq!(be32(&lab, 4), n);
        (img[16..16 + n * 784].to_vec(), lab[8..8 + n].to_vec())
    })
}

/// The first `per_class` train images of each digit in `digits`, relabelled `0..digits.len()`
/// in that order (uint8 `[N, 1, 28, 28]`).
pub fn mnist_split(digits: &[u8], per_class: usize) -> Split {
    let (img, lab) = mnist_train();
    let (mut pixels, mut labels) = (Vec::new(), Vec::new());
    for (new, &d) in digits.iter().enumerate() {
        let idx: Vec<usize> = (0..lab.len())
            .filter(|&i| lab[i] == d)
            .take(per_class)
            .collect();
        assert_eq!(
            idx.len(),
            per_class,
            "mnist-5k has fewer than {per_class} {d}s"
        );
        for i in idx {
            pixels.extend_from_slice(&img[i * 784..(i + 1) * 784]);
            labels.push(new as i64);
        }
    }
    let n = labels.len() as i64;
    Split {
        images: Tensor::from_slice(&pixels).view([n, 1, 28, 28]),
        labels: Tensor::from_slice(&labels),
    }
}

pub fn class_names(k: usize) -> Vec<String> {
    (0..k).map(|c| c.to_string()).collect()
}

/// A [`RealPool`] over [`mnist_split`] on CPU.
pub fn mnist_pool(digits: &[u8], per_class: usize) -> RealPool {
    RealPool::new(
        &mnist_split(digits, per_class),
        &class_names(digits.len()),
        &[MNIST_MEAN],
        &[MNIST_STD],
        Device::Cpu,
    )
    .expect("a valid pool")
}

/// This test process's own scratch directory (models a method trains through the teacher
/// service are cached under it): a fresh one per process, so no test reuses a model another
/// run of the tests, perhaps of older code, left behind.
fn scratch_dir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("distillery-test-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("a scratch directory");
    d
}

/// A CPU request context for `method` with `classes` classes, the method's `config` table, a
/// ConvNet student of `student_width` (depth 3) and the hard-label recipe.
pub fn context(
    method: &str,
    classes: usize,
    config: serde_json::Value,
    student_width: i64,
    selection_seed: u64,
) -> Context {
    let meta: RequestMeta = serde_json::from_value(serde_json::json!({
        "method": method, "budget": {"kind": "ipc", "value": 1},
        "class_names": class_names(classes),
        "seeds": {"run": 0, "selection": selection_seed, "init": 2, "order": 3, "augment": 4},
        "device": "cpu", "scratch_dir": scratch_dir(), "config": config,
        "protocol": {
            "name": "test", "hash": "0",
            "student": {"arch": "convnet", "width": student_width, "depth": 3},
            "train": {
                "epochs": 300, "batch_size": 256, "optimizer": "sgd", "lr": 0.01,
                "momentum": 0.9, "weight_decay": 0.0005, "schedule": "step", "augment": "dsa",
                "dsa_strategy": "color_crop_cutout_flip_scale_rotate"
            },
            "mean": [MNIST_MEAN], "std": [MNIST_STD], "mirror_invariant": false
        }
    }))
    .expect("a valid request");
    Context::new(meta)
}

/// Runs `M::compress` on the first `per_class` mnist-5k train images of digits 0, 1 and 2
/// (2 more per class as validation), with `config` as its table, a width-8 student and
/// `seed` as the selection seed.
pub fn compress<M: distillery_api::Method>(
    config: serde_json::Value,
    budget: distillery_api::Budget,
    per_class: usize,
    seed: u64,
) -> Result<distillery_api::Compressed, distillery_api::MethodError> {
    let train = mnist_split(&[0, 1, 2], per_class);
    let val = mnist_split(&[0, 1, 2], 2);
    let names = class_names(3);
    let ctx = context(M::NAME, 3, config, 8, seed);
    let input = distillery_api::Input {
        train: &train,
        val: &val,
        class_names: &names,
        budget,
    };
    M::default().compress(&input, &ctx)
}

/// The images and labels of an `Output::Images`; panics on anything else.
pub fn images_of(c: &distillery_api::Compressed) -> (&Tensor, &Tensor) {
    match &c.output {
        distillery_api::Output::Images {
            images,
            labels,
            soft_labels: None,
        } => (images, labels),
        other => panic!("expected images with hard labels only, got {other:?}"),
    }
}

/// The DC / DSA plugin end to end on real digits with a tiny configuration: the IPC budget
/// gives that many images per class with their class labels and no soft labels, the images
/// moved from the real digits they started as, `siamese` is recorded as the DSA setting, the
/// same seed gives the same set and another seed another one, and non-IPC budgets are declined
/// as unsupported.
pub fn check_gradient_matching_plugin<M: distillery_api::Method>(siamese: bool) {
    use distillery_api::{Budget, MethodError};
    use tch::Kind;
    let _rng = rng_lock();
    let cfg = serde_json::json!({
        "iterations": 2, "batch_real": 8, "outer_loop": 2, "inner_loop": 1
    });
    let out = compress::<M>(cfg.clone(), Budget::Ipc(2), 12, 1).unwrap();
    let (images, labels) = images_of(&out);
    assert_eq!(images.size(), vec![6, 1, 28, 28]);
    assert_eq!(images.kind(), Kind::Float);
    assert_eq!(
        Vec::<i64>::try_from(labels).unwrap(),
        vec![0, 0, 1, 1, 2, 2]
    );
    assert_eq!(out.metadata["image_updates"], 4);
    assert_eq!(out.metadata["settings"]["siamese_dsa"], siamese);
    let init: Vec<i64> = serde_json::from_value(out.metadata["init_indices"].clone()).unwrap();
    let start = mnist_split(&[0, 1, 2], 12)
        .images
        .index_select(0, &Tensor::from_slice(&init))
        .to_kind(Kind::Float)
        / 255.0;
    let moved = (images - &start).abs().max().double_value(&[]);
    assert!(moved > 1e-4, "images did not move ({moved})");
    let again = compress::<M>(cfg.clone(), Budget::Ipc(2), 12, 1).unwrap();
    assert!(images.equal(images_of(&again).0));
    let other = compress::<M>(cfg.clone(), Budget::Ipc(2), 12, 2).unwrap();
    assert!(!images.equal(images_of(&other).0));
    let e = compress::<M>(cfg, Budget::Fraction(0.05), 12, 1).unwrap_err();
    assert!(matches!(e, MethodError::Unsupported(_)), "{e}");
}
