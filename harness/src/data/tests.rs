//! Tests of the data module. Every reader runs on small files generated in a tempdir; the
//! embedded `mnist-5k` is checked against values computed independently (Python) when it was
//! made.
//!
//! Over ~500 lines on purpose: one test file for the whole data module keeps each reader's
//! fixture writers (idx, CIFAR binary, ImageFolder, CSV) next to the tests that share them;
//! split it per reader when a reader's tests grow on their own.

use std::path::Path;

use flate2::{write::GzEncoder, Compression};
use sha2::{Digest, Sha256};

use super::*;

fn write(path: &Path, bytes: &[u8]) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(path, bytes).unwrap();
}

fn gzip_level(bytes: &[u8], level: u32) -> Vec<u8> {
    use std::io::Write;
    let mut e = GzEncoder::new(Vec::new(), Compression::new(level));
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn err<T: std::fmt::Debug>(r: Result<T>) -> String {
    r.expect_err("expected an error").to_string()
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

// ---------------------------------------------------------------------------------------------
// RawSplit / checksum

#[test]
fn raw_split_helpers() {
    let sp = RawSplit::new((0u8..12).collect(), vec![1, 0, 1], 1, 2, 2);
    assert_eq!(sp.len(), 3);
    assert!(!sp.is_empty());
    assert_eq!(sp.image_len(), 4);
    assert_eq!(sp.image(2), &[8, 9, 10, 11]);
    assert_eq!(sp.class_counts(3), vec![1, 2, 0]);
    let sub = sp.subset(&[2, 0, 2]);
    assert_eq!(sub.n, 3);
    assert_eq!(sub.labels, vec![1, 1, 1]);
    assert_eq!(sub.images, vec![8, 9, 10, 11, 0, 1, 2, 3, 8, 9, 10, 11]);
    assert_eq!((sub.c, sub.h, sub.w), (1, 2, 2));
}

#[test]
#[should_panic(expected = "need 8 image bytes, got 7")]
fn raw_split_new_checks_length() {
    RawSplit::new(vec![0; 7], vec![0, 1], 1, 2, 2);
}

/// Expected value computed independently in Python from the documented encoding.
#[test]
fn content_checksum_matches_documented_encoding() {
    let train = RawSplit::new(vec![0, 1, 2, 3, 4, 5, 6, 7], vec![0, 1], 1, 2, 2);
    let test = RawSplit::new(vec![9, 8, 7, 6], vec![1], 1, 2, 2);
    let names = vec!["a".to_string(), "b".to_string()];
    assert_eq!(
        content_checksum(&train, &test, &names),
        "821444ce57972c43bab893be5b810159b3d9ff99e1d07dedb5ac17592f7473b9"
    );
    // Name and mirror flag are not part of it; labels and class names are.
    let a = RawDataset::new("x", train.clone(), test.clone(), names.clone(), true);
    let b = RawDataset::new("y", train.clone(), test.clone(), names.clone(), false);
    assert_eq!(a.checksum, b.checksum);
    let mut t2 = train.clone();
    t2.labels[0] = 1;
    assert_ne!(content_checksum(&t2, &test, &names), a.checksum);
    assert_ne!(
        content_checksum(&train, &test, &["a".into(), "c".into()]),
        a.checksum
    );
}

// ---------------------------------------------------------------------------------------------
// idx

/// 5 train / 3 test images of 3x2 with distinct pixels.
fn idx_fixture() -> (RawSplit, RawSplit) {
    let train = RawSplit::new((0u8..30).collect(), vec![3, 0, 9, 3, 1], 1, 3, 2);
    let test = RawSplit::new((100u8..118).collect(), vec![2, 2, 7], 1, 3, 2);
    (train, test)
}

fn write_idx_dir(dir: &Path, train: &RawSplit, test: &RawSplit, gz: Option<u32>) {
    let enc = |b: Vec<u8>| match gz {
        Some(level) => gzip_level(&b, level),
        None => b,
    };
    let sfx = if gz.is_some() { ".gz" } else { "" };
    for (prefix, sp) in [("train", train), ("t10k", test)] {
        write(
            &dir.join(format!("{prefix}-images-idx3-ubyte{sfx}")),
            &enc(encode_idx_images(&sp.images, sp.n, sp.h, sp.w)),
        );
        write(
            &dir.join(format!("{prefix}-labels-idx1-ubyte{sfx}")),
            &enc(encode_idx_labels(&sp.labels)),
        );
    }
}

#[test]
fn idx_raw_and_gz_read_the_same() {
    let tmp = tempfile::tempdir().unwrap();
    let (train, test) = idx_fixture();
    let raw_dir = tmp.path().join("raw-digits");
    let gz_dir = tmp.path().join("gz-digits");
    let gz1_dir = tmp.path().join("gz1-digits");
    write_idx_dir(&raw_dir, &train, &test, None);
    write_idx_dir(&gz_dir, &train, &test, Some(9));
    write_idx_dir(&gz1_dir, &train, &test, Some(1));

    let a = load_idx_dir(&raw_dir, IdxFlavor::Mnist).unwrap();
    let b = load_idx_dir(&gz_dir, IdxFlavor::Mnist).unwrap();
    let c = load_idx_dir(&gz1_dir, IdxFlavor::Mnist).unwrap();
    assert_eq!(a.train, train);
    assert_eq!(a.test, test);
    assert_eq!((a.train.n, a.train.c, a.train.h, a.train.w), (5, 1, 3, 2));
    assert_eq!(a.train.labels, vec![3, 0, 9, 3, 1]);
    assert_eq!(a.test.image(2), &[112, 113, 114, 115, 116, 117]);
    assert_eq!(a.name, "mnist");
    assert!(!a.mirror_invariant);
    assert_eq!(
        a.class_names,
        (0..10).map(|d| d.to_string()).collect::<Vec<_>>()
    );
    assert_eq!(a.checksum, b.checksum);
    assert_eq!(a.checksum, c.checksum);
    assert_eq!(a, b);
    assert_eq!(a.checksum, content_checksum(&train, &test, &a.class_names));
}

#[test]
fn idx_fashion_flavor() {
    let tmp = tempfile::tempdir().unwrap();
    let (train, test) = idx_fixture();
    let dir = tmp.path().join("FashionMNIST").join("raw");
    write_idx_dir(&dir, &train, &test, Some(6));
    let fashion = load_idx_dir(&dir, IdxFlavor::Fashion).unwrap();
    assert_eq!(fashion.name, "fashion-mnist");
    assert!(fashion.mirror_invariant);
    assert_eq!(fashion.class_names[0], "T-shirt/top");
    assert_eq!(fashion.class_names[9], "Ankle boot");
    let digits = load_idx_dir(&dir, IdxFlavor::Mnist).unwrap();
    assert_eq!(digits.name, "mnist");
    assert!(!digits.mirror_invariant);
    assert_ne!(digits.checksum, fashion.checksum); // class names differ
                                                   // resolve_dataset descends into raw/; the path's "Fashion" decides nothing
                                                   // (tests_inputs.rs: the kind comes from the content or an option).
    let r = resolve_dataset_with(
        &s(&tmp.path().join("FashionMNIST")),
        &ResolveOptions {
            idx_flavor: IdxFlavor::Fashion,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(r.name, "fashion-mnist");
    assert_eq!(r.checksum, fashion.checksum);
}

#[test]
fn idx_bytes_api_with_origin() {
    let px: Vec<u8> = (0..8).collect();
    let bytes = encode_idx_images(&px, 2, 2, 2);
    assert_eq!(&bytes[..4], &[0, 0, 8, 3]);
    let imgs = parse_idx_images(&gzip_deterministic(&bytes), "embedded:x").unwrap();
    assert_eq!(
        imgs,
        IdxImages {
            n: 2,
            h: 2,
            w: 2,
            pixels: px
        }
    );
    let labels = parse_idx_labels(&encode_idx_labels(&[4, 2]), "embedded:y", 5).unwrap();
    assert_eq!(labels, vec![4, 2]);
    let e = err(parse_idx_labels(
        &encode_idx_labels(&[4, 5]),
        "embedded:y",
        5,
    ));
    assert_eq!(
        e,
        "embedded:y: label out of range: record 1 has label 5, expected 0..=4"
    );
}

#[test]
fn gzip_deterministic_is_reproducible() {
    let data: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 251) as u8).collect();
    let a = gzip_deterministic(&data);
    let b = gzip_deterministic(&data);
    assert_eq!(a, b);
    // gzip header: magic, deflate, no flags, mtime 0, XFL 2 (max compression), OS 255.
    assert_eq!(&a[..10], &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 0xff]);
    assert_eq!(maybe_gunzip(&a, "t").unwrap().as_ref(), &data[..]);
}

#[test]
fn idx_truncated_names_path_and_sizes() {
    let tmp = tempfile::tempdir().unwrap();
    let (train, test) = idx_fixture();
    write_idx_dir(tmp.path(), &train, &test, Some(9));
    // Header declares 3600 images of 28x28 but only 1000 pixel bytes follow.
    let mut bytes = Vec::new();
    for v in [0x803u32, 3600, 28, 28] {
        bytes.extend_from_slice(&v.to_be_bytes());
    }
    bytes.extend(std::iter::repeat_n(7u8, 1000));
    let p = tmp.path().join("train-images-idx3-ubyte.gz");
    write(&p, &gzip_deterministic(&bytes));
    let e = err(load_idx_dir(tmp.path(), IdxFlavor::Mnist));
    assert_eq!(
        e,
        format!(
            "{}: truncated: header declares 3600 images of 28x28 (2822400 bytes) but only 1000 bytes follow",
            s(&p)
        )
    );
    // Raw labels truncated.
    let e = err(parse_idx_labels(&[0, 0, 8, 1, 0, 0, 0, 9, 1, 2], "lab", 10));
    assert_eq!(
        e,
        "lab: truncated: header declares 9 labels (9 bytes) but only 2 bytes follow"
    );
    // Shorter than the header.
    let e = err(parse_idx_images(&[0, 0, 8, 3, 0, 0], "img"));
    assert_eq!(
        e,
        "img: truncated: expected a 16-byte idx3 image header, but the file has only 6 bytes"
    );
    // Trailing bytes.
    let mut long = encode_idx_labels(&[1, 2]);
    long.push(0);
    let e = err(parse_idx_labels(&long, "lab", 10));
    assert_eq!(
        e,
        "lab: trailing data: header declares 2 labels (2 bytes) but 3 bytes follow"
    );
}

#[test]
fn idx_wrong_magic() {
    let tmp = tempfile::tempdir().unwrap();
    let (train, test) = idx_fixture();
    write_idx_dir(tmp.path(), &train, &test, None);
    // A label file where the image file should be.
    let p = tmp.path().join("t10k-images-idx3-ubyte");
    write(&p, &encode_idx_labels(&[1, 2, 3]));
    let e = err(load_idx_dir(tmp.path(), IdxFlavor::Mnist));
    assert_eq!(
        e,
        format!(
            "{}: wrong magic: expected 0x00000803 (idx3 uint8 images), found 0x00000801",
            s(&p)
        )
    );
    let e = err(parse_idx_labels(
        &encode_idx_images(&[0; 4], 1, 2, 2),
        "L",
        10,
    ));
    assert_eq!(
        e,
        "L: wrong magic: expected 0x00000801 (idx1 uint8 labels), found 0x00000803"
    );
}

#[test]
fn idx_count_mismatch_and_label_range() {
    let tmp = tempfile::tempdir().unwrap();
    let (train, test) = idx_fixture();
    write_idx_dir(tmp.path(), &train, &test, None);
    let lp = tmp.path().join("train-labels-idx1-ubyte");
    let ip = tmp.path().join("train-images-idx3-ubyte");
    write(&lp, &encode_idx_labels(&[0, 1, 2, 3]));
    let e = err(load_idx_dir(tmp.path(), IdxFlavor::Mnist));
    assert_eq!(
        e,
        format!(
            "{}: count mismatch: 4 labels, but {} holds 5 images",
            s(&lp),
            s(&ip)
        )
    );

    write(&lp, &encode_idx_labels(&[0, 1, 12, 3, 4]));
    let e = err(load_idx_dir(tmp.path(), IdxFlavor::Mnist));
    assert_eq!(
        e,
        format!(
            "{}: label out of range: record 2 has label 12, expected 0..=9",
            s(&lp)
        )
    );
}

#[test]
fn idx_unreadable_gzip_and_missing_file() {
    let tmp = tempfile::tempdir().unwrap();
    let (train, test) = idx_fixture();
    write_idx_dir(tmp.path(), &train, &test, Some(9));
    let p = tmp.path().join("t10k-labels-idx1-ubyte.gz");
    let good = std::fs::read(&p).unwrap();
    write(&p, &good[..good.len() - 6]); // cut the gzip trailer
    let e = err(load_idx_dir(tmp.path(), IdxFlavor::Mnist));
    assert!(
        e.starts_with(&format!("{}: unreadable gzip: ", s(&p))),
        "{e}"
    );
    write(&p, &[0x1f, 0x8b, 1, 2, 3, 4, 5]);
    let e = err(load_idx_dir(tmp.path(), IdxFlavor::Mnist));
    assert!(
        e.starts_with(&format!("{}: unreadable gzip: ", s(&p))),
        "{e}"
    );

    std::fs::remove_file(&p).unwrap();
    let e = err(load_idx_dir(tmp.path(), IdxFlavor::Mnist));
    assert_eq!(
        e,
        format!(
            "{}: missing: expected t10k-labels-idx1-ubyte or t10k-labels-idx1-ubyte.gz",
            s(&tmp.path().join("t10k-labels-idx1-ubyte"))
        )
    );
}

#[test]
fn idx_train_test_size_mismatch() {
    let tmp = tempfile::tempdir().unwrap();
    let (train, _) = idx_fixture();
    let test = RawSplit::new(vec![0; 8], vec![0, 1], 1, 2, 2);
    write_idx_dir(tmp.path(), &train, &test, None);
    let e = err(load_idx_dir(tmp.path(), IdxFlavor::Mnist));
    assert_eq!(
        e,
        format!(
            "{}: expected images of 3x2 like the train split, found 2x2",
            s(&tmp.path().join("t10k-images-idx3-ubyte"))
        )
    );
}

// ---------------------------------------------------------------------------------------------
// CIFAR

fn cifar_record(prefix: &[u8], seed: u8) -> Vec<u8> {
    let mut r = prefix.to_vec();
    r.extend((0..3072u32).map(|i| (i as u8).wrapping_mul(3).wrapping_add(seed)));
    r
}

fn write_cifar10(dir: &Path) {
    write(
        &dir.join("batches.meta.txt"),
        b"airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n",
    );
    for b in 1..=5u8 {
        let mut bytes = cifar_record(&[b], b);
        bytes.extend(cifar_record(&[9 - b], 100 + b));
        write(&dir.join(format!("data_batch_{b}.bin")), &bytes);
    }
    let mut t = cifar_record(&[0], 200);
    t.extend(cifar_record(&[7], 201));
    t.extend(cifar_record(&[9], 202));
    write(&dir.join("test_batch.bin"), &t);
}

#[test]
fn cifar10_reads_batches_in_order() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("cifar-10-batches-bin");
    write_cifar10(&dir);
    let ds = load_cifar10_dir(&dir).unwrap();
    assert_eq!(ds.name, "cifar10");
    assert!(ds.mirror_invariant);
    assert_eq!(ds.class_names.len(), 10);
    assert_eq!(ds.class_names[1], "automobile");
    assert_eq!(ds.class_names[9], "truck");
    assert_eq!(
        (ds.train.n, ds.train.c, ds.train.h, ds.train.w),
        (10, 3, 32, 32)
    );
    assert_eq!(ds.train.labels, vec![1, 8, 2, 7, 3, 6, 4, 5, 5, 4]);
    assert_eq!(ds.test.labels, vec![0, 7, 9]);
    // Record bytes after the label are copied verbatim (already CHW).
    assert_eq!(ds.train.image(3), &cifar_record(&[], 102)[..]);
    assert_eq!(ds.test.image(1)[..4], [201, 204, 207, 210]);
    // Resolving the parent descends into cifar-10-batches-bin/.
    let r = resolve_dataset(&s(tmp.path())).unwrap();
    assert_eq!(r.checksum, ds.checksum);
}

#[test]
fn cifar100_uses_fine_labels() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let names: String = (0..100).map(|i| format!("class_{i:03}\n")).collect();
    write(&dir.join("fine_label_names.txt"), names.as_bytes());
    let mut tr = cifar_record(&[3, 42], 1);
    tr.extend(cifar_record(&[19, 99], 2));
    tr.extend(cifar_record(&[0, 0], 3));
    write(&dir.join("train.bin"), &tr);
    write(&dir.join("test.bin"), &cifar_record(&[5, 57], 4));
    let ds = resolve_dataset(&s(dir)).unwrap();
    assert_eq!(ds.name, "cifar100");
    assert_eq!(ds.train.labels, vec![42, 99, 0]);
    assert_eq!(ds.test.labels, vec![57]);
    assert_eq!(ds.class_names[57], "class_057");
    assert_eq!(ds.train.image(1), &cifar_record(&[], 2)[..]);
    // gzipped record files read the same.
    write(&dir.join("train.bin"), &gzip_level(&tr, 5));
    assert_eq!(load_cifar100_dir(dir).unwrap().checksum, ds.checksum);
}

#[test]
fn cifar_bad_length_and_label() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write_cifar10(dir);
    let p = dir.join("test_batch.bin");
    let mut t = cifar_record(&[1], 0);
    t.extend(cifar_record(&[2], 0));
    t.extend([1, 2, 3, 4, 5]);
    write(&p, &t);
    let e = err(load_cifar10_dir(dir));
    assert_eq!(
        e,
        format!(
            "{}: length 6151 bytes is not a multiple of the 3073-byte record size \
             (CIFAR-10: 1 label byte + 3072 image bytes)",
            s(&p)
        )
    );
    write(&p, &cifar_record(&[10], 0));
    let e = err(load_cifar10_dir(dir));
    assert_eq!(
        e,
        format!(
            "{}: label out of range: record 0 has label 10, expected 0..=9",
            s(&p)
        )
    );

    let e = err(parse_cifar_records(&[0u8; 3073], "c100", true));
    assert_eq!(
        e,
        "c100: length 3073 bytes is not a multiple of the 3074-byte record size \
         (CIFAR-100: coarse byte + fine byte + 3072 image bytes)"
    );
    std::fs::remove_file(dir.join("data_batch_4.bin")).unwrap();
    let e = err(load_cifar10_dir(dir));
    assert_eq!(
        e,
        format!(
            "{}: missing: expected a CIFAR record file",
            s(&dir.join("data_batch_4.bin"))
        )
    );
    write(&dir.join("batches.meta.txt"), b"a\nb\n");
    let e = err(load_cifar10_dir(dir));
    assert_eq!(
        e,
        format!(
            "{}: expected 10 non-empty lines (class names), found 2 lines",
            s(&dir.join("batches.meta.txt"))
        )
    );
}

// ---------------------------------------------------------------------------------------------
// ImageFolder

fn solid_rgb(path: &Path, w: u32, h: u32, rgb: [u8; 3]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    image::RgbImage::from_pixel(w, h, image::Rgb(rgb))
        .save(path)
        .unwrap();
}

fn solid_gray(path: &Path, w: u32, h: u32, v: u8) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    image::GrayImage::from_pixel(w, h, image::Luma([v]))
        .save(path)
        .unwrap();
}

/// train: cat (2 png), dog (png 8x4, gray png, jpg); test: cat (1), dog (1).
fn image_folder_fixture(root: &Path, test_name: &str) {
    solid_rgb(&root.join("train/dog/b.png"), 8, 4, [0, 0, 255]);
    solid_gray(&root.join("train/dog/a.png"), 6, 6, 100);
    solid_rgb(&root.join("train/dog/c.JPG"), 16, 16, [128, 128, 128]);
    solid_rgb(&root.join("train/cat/1.png"), 8, 8, [255, 0, 0]);
    solid_rgb(&root.join("train/cat/0.png"), 4, 4, [0, 255, 0]);
    write(&root.join("train/cat/notes.txt"), b"ignored");
    write(&root.join("train/.hidden/x.png"), b"ignored");
    solid_rgb(
        &root.join(format!("{test_name}/cat/t.png")),
        4,
        4,
        [10, 20, 30],
    );
    solid_rgb(
        &root.join(format!("{test_name}/dog/t.jpeg")),
        4,
        4,
        [200, 200, 200],
    );
}

#[test]
fn image_folder_rgb_resized() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("pets");
    image_folder_fixture(&root, "test");
    let opts = ImageFolderOptions {
        resolution: 4,
        channels: 3,
        mirror_invariant: true,
        ..Default::default()
    };
    let ds = load_image_folder(&root, &opts).unwrap();
    assert_eq!(ds.name, "pets");
    assert_eq!(ds.class_names, vec!["cat", "dog"]);
    assert_eq!(
        (ds.train.n, ds.train.c, ds.train.h, ds.train.w),
        (5, 3, 4, 4)
    );
    assert_eq!(ds.train.labels, vec![0, 0, 1, 1, 1]);
    assert_eq!(ds.test.labels, vec![0, 1]);
    // train order: cat/0.png (green), cat/1.png (red, 8x8 -> 4x4), dog/a.png (gray 100),
    // dog/b.png (blue, 8x4 -> 4x4), dog/c.JPG (gray 128, lossy).
    let planes = |img: &[u8]| -> Vec<Vec<u8>> { img.chunks(16).map(|p| p.to_vec()).collect() };
    assert_eq!(
        planes(ds.train.image(0)),
        vec![vec![0; 16], vec![255; 16], vec![0; 16]]
    );
    assert_eq!(
        planes(ds.train.image(1)),
        vec![vec![255; 16], vec![0; 16], vec![0; 16]]
    );
    assert_eq!(planes(ds.train.image(2)), vec![vec![100; 16]; 3]);
    assert_eq!(
        planes(ds.train.image(3)),
        vec![vec![0; 16], vec![0; 16], vec![255; 16]]
    );
    assert!(
        ds.train.image(4).iter().all(|&v| (126..=130).contains(&v)),
        "{:?}",
        ds.train.image(4)
    );
    assert_eq!(
        planes(ds.test.image(0)),
        vec![vec![10; 16], vec![20; 16], vec![30; 16]]
    );
    assert!(ds.test.image(1).iter().all(|&v| (198..=202).contains(&v)));
    // The same tree through resolve_dataset_with.
    let r = resolve_dataset_with(
        &s(&root),
        &ResolveOptions {
            image_folder: opts.clone(),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(r.checksum, ds.checksum);
    // Default options: 32x32 RGB.
    let d = resolve_dataset(&s(&root)).unwrap();
    assert_eq!((d.train.c, d.train.h, d.train.w), (3, 32, 32));
    assert!(d.mirror_invariant);
}

#[test]
fn image_folder_gray_and_val_fallback() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("g");
    image_folder_fixture(&root, "val");
    let opts = ImageFolderOptions {
        resolution: 2,
        channels: 1,
        mirror_invariant: false,
        ..Default::default()
    };
    let ds = load_image_folder(&root, &opts).unwrap();
    assert_eq!(
        (ds.train.n, ds.train.c, ds.train.h, ds.train.w),
        (5, 1, 2, 2)
    );
    assert_eq!(ds.train.image(2), &[100, 100, 100, 100]);
    assert_eq!(ds.test.n, 2);
    assert!(!ds.mirror_invariant);
    let e = err(load_image_folder(
        &root,
        &ImageFolderOptions {
            channels: 2,
            ..Default::default()
        },
    ));
    assert_eq!(
        e,
        format!(
            "{}: expected an ImageFolder channel count of 1 or 3, found 2",
            s(&root)
        )
    );
}

#[test]
fn image_folder_undecodable_image() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    image_folder_fixture(root, "test");
    let bad = root.join("train/dog/broken.png");
    write(&bad, b"\x89PNG\r\n\x1a\nthis is not a png");
    let e = err(load_image_folder(root, &ImageFolderOptions::default()));
    assert!(
        e.starts_with(&format!("{}: undecodable image: ", s(&bad))),
        "{e}"
    );
}

#[test]
fn image_folder_missing_test_class() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    image_folder_fixture(root, "test");
    solid_rgb(&root.join("train/emu/e.png"), 4, 4, [1, 2, 3]);
    let e = err(load_image_folder(root, &ImageFolderOptions::default()));
    assert_eq!(
        e,
        format!(
            "{}: missing class 'emu': expected the directory of a class present in {}, found no such directory",
            s(&root.join("test").join("emu")),
            s(&root.join("train"))
        )
    );
    // An empty directory counts as missing.
    std::fs::create_dir_all(root.join("test/emu")).unwrap();
    let e = err(load_image_folder(root, &ImageFolderOptions::default()));
    assert!(
        e.contains("missing class 'emu'")
            && e.ends_with(
                "found a directory without images (.bmp .jpeg .jpg .pgm .png .ppm .tif .tiff .webp)"
            ),
        "{e}"
    );
    // A test class absent from train.
    std::fs::remove_dir_all(root.join("train/emu")).unwrap();
    let e = err(load_image_folder(root, &ImageFolderOptions::default()));
    assert_eq!(
        e,
        format!(
            "{}: missing class 'emu': expected the directory of a class present in {}, found no such directory",
            s(&root.join("train").join("emu")),
            s(&root.join("test"))
        )
    );
}

// ---------------------------------------------------------------------------------------------
// resolve_dataset

#[test]
fn resolve_errors() {
    let e = err(resolve_dataset("/nonexistent/dataset/dir"));
    assert_eq!(
        e,
        "/nonexistent/dataset/dir: not a dataset: expected `mnist-5k` or an existing directory, found no such path"
    );
    let tmp = tempfile::tempdir().unwrap();
    let e = err(resolve_dataset(&s(tmp.path())));
    assert!(
        e.starts_with(&format!(
            "{}: not a dataset: expected idx files",
            s(tmp.path())
        )),
        "{e}"
    );
    assert_eq!(detect_format(tmp.path()), None);
}

// ---------------------------------------------------------------------------------------------
// mnist-5k (embedded)

const EXPECTED_MNIST_5K_CHECKSUM: &str =
    "515a40ef9a9f27384e4431a567fd75c3b27427ff404ff50a12f94112b5936458";

#[test]
fn mnist_5k_embedded() {
    let ds = mnist_5k().unwrap();
    assert_eq!(ds.name, "mnist-5k");
    assert_eq!(
        (ds.train.n, ds.train.c, ds.train.h, ds.train.w),
        (4000, 1, 28, 28)
    );
    assert_eq!(
        (ds.test.n, ds.test.c, ds.test.h, ds.test.w),
        (1000, 1, 28, 28)
    );
    assert_eq!(ds.train.images.len(), 4000 * 784);
    assert_eq!(ds.train.class_counts(10), vec![400; 10]);
    assert_eq!(ds.test.class_counts(10), vec![100; 10]);
    assert_eq!(
        ds.class_names,
        (0..10).map(|d| d.to_string()).collect::<Vec<_>>()
    );
    assert!(!ds.mirror_invariant);
    assert_eq!(ds.checksum, EXPECTED_MNIST_5K_CHECKSUM);
    assert_eq!(MNIST_5K_CHECKSUM, EXPECTED_MNIST_5K_CHECKSUM);
    // The README documents the same checksum.
    let readme = include_str!("../../data/mnist-5k/README.md");
    assert!(readme.contains(EXPECTED_MNIST_5K_CHECKSUM));
    // resolve_dataset knows it.
    assert_eq!(
        resolve_dataset("mnist-5k").unwrap().checksum,
        EXPECTED_MNIST_5K_CHECKSUM
    );
    // Train pixel statistics, computed independently (Python, exact fractions) at conversion.
    let (mean, std) = normalization_stats(&ds.train);
    assert!((mean[0] - 0.13171832608043219).abs() < 1e-12, "{mean:?}");
    assert!((std[0] - 0.3090372851189359).abs() < 1e-12, "{std:?}");
}

#[test]
fn mnist_5k_follows_the_split_rule() {
    let ds = mnist_5k().unwrap();
    let key = |sp: &RawSplit, i: usize| -> (i64, [u8; 32]) {
        (sp.labels[i], Sha256::digest(sp.image(i)).into())
    };
    for sp in [&ds.train, &ds.test] {
        for i in 1..sp.n {
            assert!(
                key(sp, i - 1) < key(sp, i),
                "split not ordered by (label, hash) at {i}"
            );
        }
    }
    // Per class, every test hash is below every train hash.
    for k in 0..10i64 {
        let max_test = (0..ds.test.n)
            .filter(|&i| ds.test.labels[i] == k)
            .map(|i| key(&ds.test, i).1)
            .max();
        let min_train = (0..ds.train.n)
            .filter(|&i| ds.train.labels[i] == k)
            .map(|i| key(&ds.train, i).1)
            .min();
        assert!(max_test.unwrap() < min_train.unwrap(), "class {k}");
    }
    // Re-applying the rule to the union reproduces the split exactly.
    let mut all = ds.train.clone();
    all.images.extend_from_slice(&ds.test.images);
    all.labels.extend_from_slice(&ds.test.labels);
    all.n += ds.test.n;
    let (train, test) = hash_split(&all, 10, 100);
    assert_eq!(train, ds.train);
    assert_eq!(test, ds.test);
}

#[test]
fn mnist_5k_raw_vs_gz_same_checksum() {
    let ds = mnist_5k().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let raw = tmp.path().join("raw");
    let gz = tmp.path().join("gz");
    write_idx_dir(&raw, &ds.train, &ds.test, None);
    write_idx_dir(&gz, &ds.train, &ds.test, Some(1));
    assert_eq!(
        load_idx_dir(&raw, IdxFlavor::Mnist).unwrap().checksum,
        EXPECTED_MNIST_5K_CHECKSUM
    );
    assert_eq!(
        load_idx_dir(&gz, IdxFlavor::Mnist).unwrap().checksum,
        EXPECTED_MNIST_5K_CHECKSUM
    );
}

/// The committed .gz files are exactly what `gzip_deterministic` produces from their content,
/// i.e. `make_mnist_5k` reproduces them byte for byte. (If this fails after a flate2 /
/// miniz_oxide upgrade, the content and checksum are unaffected; re-run the example.)
#[test]
fn mnist_5k_files_are_reproducible() {
    use super::mnist5k::{TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES, TRAIN_LABELS};
    for f in [TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS] {
        let raw = maybe_gunzip(f, "embedded").unwrap();
        assert_eq!(gzip_deterministic(&raw), f);
    }
    let sha = |b: &[u8]| hex::encode(Sha256::digest(b));
    let readme = include_str!("../../data/mnist-5k/README.md");
    for f in [TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS] {
        assert!(
            readme.contains(&sha(f)),
            "README lacks the sha256 of an embedded file"
        );
    }
}

#[test]
fn hash_split_ignores_input_order() {
    // 3 classes x 5 images of 2x2, some duplicates.
    let mut images = Vec::new();
    let mut labels = Vec::new();
    for i in 0..15u8 {
        images.extend([
            i % 5,
            i / 5,
            ((i as u32 * 37) % 11) as u8,
            if i == 4 { 2 } else { i },
        ]);
        labels.push((i % 3) as i64);
    }
    images.extend([0, 0, 0, 0, 0, 0, 0, 0]);
    labels.extend([1, 1]);
    let all = RawSplit::new(images, labels, 1, 2, 2);
    let (tr, te) = hash_split(&all, 3, 2);
    assert_eq!(te.class_counts(3), vec![2, 2, 2]);
    assert_eq!(tr.class_counts(3), vec![3, 5, 3]);
    let rev: Vec<usize> = (0..all.n).rev().collect();
    let (tr2, te2) = hash_split(&all.subset(&rev), 3, 2);
    assert_eq!((&tr, &te), (&tr2, &te2));
    let rot: Vec<usize> = (0..all.n).map(|i| (i + 7) % all.n).collect();
    let (tr3, te3) = hash_split(&all.subset(&rot), 3, 2);
    assert_eq!((tr2, te2), (tr3, te3));
}

// ---------------------------------------------------------------------------------------------
// split_validation / SplitMix64 / normalization_stats

#[test]
fn splitmix64_reference_values() {
    // Reference outputs of the published SplitMix64 (seed 1234567 and seed 0).
    let mut r = SplitMix64::new(1234567);
    let got: Vec<u64> = (0..5).map(|_| r.next_u64()).collect();
    assert_eq!(
        got,
        vec![
            6457827717110365317,
            3203168211198807973,
            9817491932198370423,
            4593380528125082431,
            16408922859458223821
        ]
    );
    assert_eq!(SplitMix64::new(0).next_u64(), 0xe220a8397b1dcdaf);
    let mut r = SplitMix64::new(9);
    for bound in [1u64, 2, 3, 10, 1 << 40] {
        for _ in 0..100 {
            assert!(r.below(bound) < bound);
        }
    }
}

#[test]
fn split_validation_counts_and_determinism() {
    // class sizes: 0 -> 10, 1 -> 5, 2 -> 1, 3 -> 2, 4 -> 0, interleaved.
    let mut labels = Vec::new();
    labels.extend(std::iter::repeat_n(0i64, 10));
    labels.extend(std::iter::repeat_n(1i64, 5));
    labels.push(2);
    labels.extend([3, 3]);
    let order: Vec<usize> = (0..labels.len()).map(|i| (i * 7) % labels.len()).collect();
    let labels: Vec<i64> = order.iter().map(|&i| labels[i]).collect();
    let n = labels.len();

    let count = |idx: &[usize]| {
        let mut c = [0usize; 5];
        for &i in idx {
            c[labels[i] as usize] += 1;
        }
        c
    };
    let (tr, va) = split_validation(&labels, 5, 0.2, 42);
    assert_eq!(count(&va), [2, 1, 0, 1, 0]); // round(2.0), round(1.0), <2 examples, max(round(0.4),1)
    assert_eq!(count(&tr), [8, 4, 1, 1, 0]);
    assert!(tr.windows(2).all(|w| w[0] < w[1]) && va.windows(2).all(|w| w[0] < w[1]));
    let mut union: Vec<usize> = tr.iter().chain(&va).copied().collect();
    union.sort();
    assert_eq!(union, (0..n).collect::<Vec<_>>());
    // Deterministic; another seed picks differently.
    assert_eq!(
        split_validation(&labels, 5, 0.2, 42),
        (tr.clone(), va.clone())
    );
    let other: Vec<_> = (43..53)
        .map(|s| split_validation(&labels, 5, 0.2, s).1)
        .collect();
    assert!(other.iter().any(|v| *v != va));
    // Edge fractions.
    let (tr0, va0) = split_validation(&labels, 5, 0.0, 1);
    assert!(va0.is_empty());
    assert_eq!(tr0.len(), n);
    let (_, va1) = split_validation(&labels, 5, 1.0, 1);
    assert_eq!(count(&va1), [9, 4, 0, 1, 0]); // every class keeps one training example
    let (_, va_half) = split_validation(&labels, 5, 0.5, 1);
    assert_eq!(count(&va_half), [5, 3, 0, 1, 0]); // round(2.5) = 3
}

#[test]
fn split_validation_pinned_output() {
    // Pins the documented algorithm (SplitMix64 + Fisher-Yates, per-class seeds), so a change
    // of the PRNG or the shuffle is caught.
    let labels: Vec<i64> = (0..20).map(|i| (i % 2) as i64).collect();
    let (tr, va) = split_validation(&labels, 2, 0.3, 7);
    assert_eq!(va.len(), 6);
    assert_eq!(tr.len(), 14);
    assert_eq!(va, pinned_val());
    // Class 0 with seed 7: SplitMix64(7) Fisher-Yates over [0,2,...,18]; the first 3 are its
    // hold-out. Recompute by hand to keep the pin honest.
    let mut idx: Vec<usize> = (0..20).step_by(2).collect();
    let mut rng = SplitMix64::new(7);
    for i in (1..idx.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        idx.swap(i, j);
    }
    let mut class0: Vec<usize> = idx[..3].to_vec();
    class0.sort();
    assert_eq!(
        va.iter()
            .copied()
            .filter(|i| i % 2 == 0)
            .collect::<Vec<_>>(),
        class0
    );
}

fn pinned_val() -> Vec<usize> {
    PINNED_VAL.to_vec()
}

/// Computed independently (Python) from the documented algorithm.
const PINNED_VAL: [usize; 6] = [9, 10, 11, 13, 16, 18];

#[test]
fn normalization_stats_known_values() {
    // 2 examples, 2 channels, 1x2: channel 0 = {0,255,0,255}, channel 1 = {51,51,51,51}.
    let sp = RawSplit::new(vec![0, 255, 51, 51, 0, 255, 51, 51], vec![0, 0], 2, 1, 2);
    let (mean, std) = normalization_stats(&sp);
    assert_eq!(mean.len(), 2);
    assert!(
        (mean[0] - 0.5).abs() < 1e-15 && (std[0] - 0.5).abs() < 1e-15,
        "{mean:?} {std:?}"
    );
    assert!(
        (mean[1] - 0.2).abs() < 1e-15 && std[1] == 0.0,
        "{mean:?} {std:?}"
    );
    let empty = RawSplit::new(vec![], vec![], 3, 2, 2);
    let (m, s) = normalization_stats(&empty);
    assert!(m.len() == 3 && m.iter().chain(&s).all(|v| v.is_nan()));
}
