//! Benchmark: how fast does an ImageFolder of 224-px JPEGs load, cold and from the decoded
//! cache, against how fast a ResNet-18 student trains on 224-px images? (Rust, tch.)
//!
//! `cargo bench -p distillery --bench loader` (after ./setup.sh). Environment: `IMAGES`
//! (train images written, default 3000, plus 10% as many in val/), `CLASSES` (default 10),
//! `SIDE` (default 224), `BATCH` (student batch, default 32), `STEPS` (timed student steps,
//! default 5; 0 skips the student), `THREADS` (libtorch threads, default all CPUs), `KEEP` (a
//! folder to write the dataset and cache into and keep; default a temporary folder), `LOADS`
//! (which loads to time, comma-separated, default `nocache,cold,warm`; `warm` alone with
//! `KEEP` reuses the entry of an earlier run, e.g. to measure one load's peak memory with
//! `/usr/bin/time -v`), `PREPARE=1` (also convert the loaded dataset to tensors with the
//! validation hold-out, `Prepared::new`, as a cell does).
//!
//! Writes `train/<class>/<i>.jpg` and `val/<class>/<i>.jpg` (quality 90, smooth gradients
//! plus noise so that each JPEG is ~10-20 kB like a real photo at 224 px), then times
//! 1. `load_image_folder` without a cache (parallel decode only),
//! 2. the first load with a cache folder (hashing + decode + writing the entry),
//! 3. the second load (hashing + reading the entry): what every later cell pays,
//!
//! each as images/s, and a ResNet-18 (torchvision layout, `tch::vision::resnet`) SGD step at
//! `SIDE` px, batch `BATCH` (forward + backward + update) as images/s. The loader runs once per
//! cell process (the decoded splits stay in memory for every epoch), so a cell pays
//! `images / loader rate` once and `epochs * set size / step rate` for training.

use distillery::data::{load_image_folder, ImageFolderOptions};
use std::path::Path;
use std::time::Instant;
use tch::nn::{ModuleT, OptimizerConfig, VarStore};
use tch::{Device, Kind, Tensor};

fn env_or(k: &str, d: usize) -> usize {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(d)
}

/// A deterministic pseudo-photo: two gradients, a blob and noise.
fn picture(i: usize, side: u32) -> image::RgbImage {
    let mut state = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut noise = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % 24) as i32 - 12
    };
    let (a, b) = ((i * 37 % 200) as i32, (i * 91 % 200) as i32);
    image::RgbImage::from_fn(side, side, |x, y| {
        let (x, y) = (x as i32, y as i32);
        let d = ((x - a).pow(2) + (y - b).pow(2)) / 300;
        let mut px = |base: i32| (base + noise()).clamp(0, 255) as u8;
        image::Rgb([
            px(x + 20 - d.min(60)),
            px(y + (i as i32 % 50)),
            px(255 - (x + y) / 2 + d.min(40)),
        ])
    })
}

fn write_folder(root: &Path, images: usize, classes: usize, side: u32) -> u64 {
    let mut bytes = 0;
    for (split, n) in [("train", images), ("val", images.div_ceil(10))] {
        for i in 0..n {
            let dir = root.join(split).join(format!("class{:03}", i % classes));
            std::fs::create_dir_all(&dir).unwrap();
            let path = dir.join(format!("{i:06}.jpg"));
            let mut buf = Vec::new();
            let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut buf, 90);
            picture(i, side).write_with_encoder(enc).unwrap();
            bytes += buf.len() as u64;
            std::fs::write(path, buf).unwrap();
        }
    }
    bytes
}

fn main() {
    let images = env_or("IMAGES", 3000);
    let classes = env_or("CLASSES", 10);
    let side = env_or("SIDE", 224) as u32;
    let batch = env_or("BATCH", 32) as i64;
    let steps = env_or("STEPS", 5);
    let threads = env_or(
        "THREADS",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
    );
    let tmp = tempfile::tempdir().unwrap();
    let base = std::env::var_os("KEEP").map_or(tmp.path().to_path_buf(), Into::into);
    let root = base.join("jpegs");
    let cache = base.join("cache");
    let total = images + images.div_ceil(10);
    if !root.join("train").is_dir() {
        let t = Instant::now();
        let bytes = write_folder(&root, images, classes, side);
        println!(
            "wrote {total} JPEGs ({side}x{side}, {:.1} kB each on average) in {:.1} s",
            bytes as f64 / total as f64 / 1e3,
            t.elapsed().as_secs_f64()
        );
    }
    let loads = std::env::var("LOADS").unwrap_or_else(|_| "nocache,cold,warm".into());
    let loads: Vec<&str> = loads.split(',').collect();
    if loads.contains(&"cold") {
        let _ = std::fs::remove_dir_all(&cache);
    }
    let prepare = std::env::var("PREPARE").is_ok_and(|v| v == "1");
    let opts = |cache: Option<&Path>| ImageFolderOptions {
        resolution: side,
        cache: cache.map(Path::to_path_buf),
        ..Default::default()
    };
    let time = |what: &str, o: &ImageFolderOptions| {
        let t = Instant::now();
        let ds = load_image_folder(&root, o).unwrap();
        let checksum = ds.checksum.clone();
        if prepare {
            let spec = distillery::protocol::DataSpec {
                val_fraction: 0.1,
                val_seed: 0,
                train_resize: None,
                eval_resize: None,
                eval_crop: None,
                normalization: None,
            };
            drop(distillery::dataset::Prepared::new(ds, &spec));
        }
        let s = t.elapsed().as_secs_f64();
        println!(
            "{what:<44} {s:7.2} s  {:8.0} images/s  ({} threads){}",
            total as f64 / s,
            rayon::current_num_threads(),
            if prepare { ", with Prepared::new" } else { "" }
        );
        checksum
    };
    let mut sums = Vec::new();
    for (name, what, cache) in [
        ("nocache", "load, no cache (parallel decode)", None),
        (
            "cold",
            "load, cache cold (hash + decode + store)",
            Some(&cache),
        ),
        ("warm", "load, cache warm (hash + read entry)", Some(&cache)),
    ] {
        if loads.contains(&name) {
            sums.push(time(what, &opts(cache.map(|c| c.as_path()))));
        }
    }
    assert!(
        sums.windows(2).all(|w| w[0] == w[1]),
        "the cache changed the content"
    );
    if steps == 0 {
        return;
    }

    tch::set_num_threads(threads as i32);
    tch::manual_seed(0);
    let vs = VarStore::new(Device::Cpu);
    let net = tch::vision::resnet::resnet18(&vs.root(), classes as i64);
    let mut opt = tch::nn::Sgd {
        momentum: 0.9,
        ..Default::default()
    }
    .build(&vs, 0.01)
    .unwrap();
    let x = Tensor::randn(
        [batch, 3, side as i64, side as i64],
        (Kind::Float, Device::Cpu),
    );
    let y = Tensor::randint(classes as i64, [batch], (Kind::Int64, Device::Cpu));
    let mut step = || {
        let loss = net.forward_t(&x, true).cross_entropy_for_logits(&y);
        opt.backward_step(&loss);
    };
    step(); // warm-up
    let t = Instant::now();
    for _ in 0..steps {
        step();
    }
    let s = t.elapsed().as_secs_f64() / steps as f64;
    println!(
        "{:<44} {:7.2} s  {:8.1} images/s  ({threads} threads, batch {batch}, {side}px)",
        "ResNet-18 SGD step (fwd + bwd + update)",
        s,
        batch as f64 / s
    );
}
