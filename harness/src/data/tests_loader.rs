//! Tests of the large-ImageFolder loader (issue 17): ImageNet-style `train/` + `val/` trees,
//! sorted class order, the `[data]` preprocessing sizes and exact crop offsets, a truncated
//! JPEG named in the error, and the decoded-image cache (a hit gives the same tensors and
//! checksum; a changed file misses; a damaged entry is never used). Tiny images written by
//! the test; everything runs in well under a second.

use std::path::Path;

use super::*;

/// A PNG (lossless) whose pixel (x, y) is `(x + 10 * y, seed, 255 - x)`.
fn coded(path: &Path, w: u32, h: u32, seed: u8) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x + 10 * y) as u8, seed, (255 - x) as u8])
    })
    .save(path)
    .unwrap();
}

fn jpeg(path: &Path, side: u32, v: u8) -> Vec<u8> {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let img = image::RgbImage::from_fn(side, side, |x, y| {
        image::Rgb([v, (x * 7) as u8, (y * 5) as u8])
    });
    let mut buf = Vec::new();
    img.write_with_encoder(image::codecs::jpeg::JpegEncoder::new_with_quality(
        &mut buf, 90,
    ))
    .unwrap();
    std::fs::write(path, &buf).unwrap();
    buf
}

/// ImageNet layout: `train/<wnid>/` and `val/<wnid>/`, classes created out of order.
fn imagenet_like(root: &Path) {
    for (k, class) in ["n03", "n01", "n02"].iter().enumerate() {
        for i in 0..3u8 {
            jpeg(
                &root.join(format!("train/{class}/{class}_{i}.JPEG")),
                24,
                40 * k as u8 + i,
            );
        }
        // 40x20: shorter side 20 (no resize at eval_resize = 20), centre crop 16 at
        // x = round((40 - 16) / 2) = 12, y = round((20 - 16) / 2) = 2.
        coded(&root.join(format!("val/{class}/v.png")), 40, 20, k as u8);
    }
}

fn large_opts(cache: Option<&Path>) -> ImageFolderOptions {
    ImageFolderOptions {
        resolution: 16,
        eval: Some(Preprocess::ResizeCrop {
            resize: Some(20),
            crop: 16,
        }),
        cache: cache.map(Path::to_path_buf),
        ..Default::default()
    }
}

#[test]
fn imagenet_style_train_val_tree_is_preprocessed_as_torchvision() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("imnet");
    imagenet_like(&root);
    let ds = load_image_folder(&root, &large_opts(None)).unwrap();
    assert_eq!(ds.class_names, ["n01", "n02", "n03"], "sorted folder names");
    assert_eq!(ds.source.class_names, ds.class_names, "recorded");
    assert_eq!(ds.train.labels, [0, 0, 0, 1, 1, 1, 2, 2, 2]);
    assert_eq!(ds.test.labels, [0, 1, 2]);
    assert_eq!(
        (ds.train.n, ds.train.c, ds.train.h, ds.train.w),
        (9, 3, 16, 16)
    );
    assert_eq!((ds.test.n, ds.test.c, ds.test.h, ds.test.w), (3, 3, 16, 16));
    // The centre crop of val/n01/v.png (class 0 is "n01", written second with seed 1).
    let img = ds.test.image(0);
    for (j, (y, x)) in [(0u32, 0u32), (0, 15), (15, 0), (15, 15)]
        .into_iter()
        .enumerate()
    {
        let (sx, sy) = (x + 12, y + 2);
        let at = (y * 16 + x) as usize;
        let got = [img[at], img[256 + at], img[512 + at]];
        assert_eq!(
            got,
            [(sx + 10 * sy) as u8, 1, (255 - sx) as u8],
            "pixel {j} ({x}, {y})"
        );
    }
    let split = &ds.source.splits;
    assert_eq!(
        (split[0].split.as_str(), split[1].split.as_str()),
        ("train", "val")
    );
    let resize = ds.source.resize.as_deref().unwrap();
    assert!(
        resize.starts_with("train images stretched to 16x16 (no crop, no padding; bilinear")
            && resize.contains("test images shorter side resized to 20 (bilinear, image::imageops Triangle, aspect kept), then centre-cropped to 16x16 (torchvision Resize(20) + CenterCrop(16))"),
        "{resize}"
    );
    // A crop other than the train size is refused, naming the root.
    let e = load_image_folder(
        &root,
        &ImageFolderOptions {
            eval: Some(Preprocess::ResizeCrop {
                resize: None,
                crop: 8,
            }),
            ..large_opts(None)
        },
    )
    .unwrap_err()
    .to_string();
    assert_eq!(
        e,
        format!(
            "{}: expected a test-split preprocessing that gives 16x16 images, the train split's size, found centre-cropped to 8x8, no resize (torchvision CenterCrop(8))",
            root.display()
        )
    );
}

#[test]
fn a_truncated_jpeg_is_named_in_the_error() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("t");
    imagenet_like(&root);
    let bad = root.join("train/n02/n02_1.JPEG");
    let bytes = std::fs::read(&bad).unwrap();
    std::fs::write(&bad, &bytes[..bytes.len() / 2]).unwrap();
    let e = load_image_folder(&root, &large_opts(None))
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with(&format!("{}: undecodable image: ", bad.display())),
        "{e}"
    );
}

#[test]
fn the_decoded_cache_gives_the_same_dataset_and_never_a_stale_or_damaged_one() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("c");
    let cache_dir = tmp.path().join("cache");
    imagenet_like(&root);
    let plain = load_image_folder(&root, &large_opts(None)).unwrap();
    assert_eq!(plain.cache_note, None);
    let first = load_image_folder(&root, &large_opts(Some(&cache_dir))).unwrap();
    let entries: Vec<_> = std::fs::read_dir(&cache_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(entries.len(), 1);
    let entry = &entries[0];
    assert_eq!(
        first.cache_note.as_deref(),
        Some(format!("decoded images written to the cache {}", entry.display()).as_str())
    );
    let hit = load_image_folder(&root, &large_opts(Some(&cache_dir))).unwrap();
    assert_eq!(
        hit.cache_note.as_deref(),
        Some(format!("decoded images read from the cache {}", entry.display()).as_str())
    );
    // Same tensors, labels, checksum and record as decoding without a cache.
    for ds in [&first, &hit] {
        assert_eq!(ds.train, plain.train);
        assert_eq!(ds.test, plain.test);
        assert_eq!(ds.checksum, plain.checksum);
        assert_eq!(ds.source, plain.source);
    }
    // Another preprocessing is another entry.
    let other = ImageFolderOptions {
        eval: None,
        ..large_opts(Some(&cache_dir))
    };
    let o = load_image_folder(&root, &other).unwrap();
    assert!(o.cache_note.unwrap().starts_with("decoded images written"));
    assert_eq!(std::fs::read_dir(&cache_dir).unwrap().count(), 2);
    // A damaged entry (one pixel changed) is detected by the checksum, deleted and decoded
    // again: the result is the true content.
    let mut bytes = std::fs::read(entry).unwrap();
    let last = bytes.len() - 3 * 8 - 1; // a test pixel, before the 3 stored sizes
    bytes[last] ^= 0xff;
    std::fs::write(entry, &bytes).unwrap();
    let healed = load_image_folder(&root, &large_opts(Some(&cache_dir))).unwrap();
    assert_eq!(
        healed.cache_note.as_deref(),
        Some(
            format!(
                "the cache entry {} did not match its recorded checksum: deleted and decoded again",
                entry.display()
            )
            .as_str()
        )
    );
    assert_eq!(healed.checksum, plain.checksum);
    assert_eq!(healed.test, plain.test);
    // A file changed in place is another key: decoded, not served stale.
    jpeg(&root.join("train/n01/n01_0.JPEG"), 24, 200);
    let changed = load_image_folder(&root, &large_opts(Some(&cache_dir))).unwrap();
    assert!(changed
        .cache_note
        .unwrap()
        .starts_with("decoded images written"));
    assert_ne!(changed.checksum, plain.checksum);
}
