//! Tests of inputs that used to be mishandled without a word (issue 21, items 6, 8, 9, 10):
//! the kind of an idx directory guessed from its path, files of an ImageFolder tree left out,
//! images stretched far from their shape, class directories whose names are not UTF-8. Every
//! input is written by the test itself.

use std::path::{Path, PathBuf};

use super::idx::load_idx_dir_with;
use super::*;

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

fn err<T: std::fmt::Debug>(r: Result<T>) -> String {
    r.expect_err("expected an error").to_string()
}

// ---------------------------------------------------------------------------------------------
// Item 6: the kind of an idx directory comes from its content or from an option, never its path.

/// 4 train / 2 test images of 2x2; written gzipped (the layout of the published releases).
fn write_idx(dir: &Path) {
    let train = RawSplit::new((0u8..16).collect(), vec![9, 0, 0, 3], 1, 2, 2);
    let test = RawSplit::new((50u8..58).collect(), vec![9, 2], 1, 2, 2);
    for (prefix, sp) in [("train", &train), ("t10k", &test)] {
        write(
            &dir.join(format!("{prefix}-images-idx3-ubyte.gz")),
            &gzip_deterministic(&encode_idx_images(&sp.images, sp.n, sp.h, sp.w)),
        );
        write(
            &dir.join(format!("{prefix}-labels-idx1-ubyte.gz")),
            &gzip_deterministic(&encode_idx_labels(&sp.labels)),
        );
    }
}

/// A release list in which the files of `dir` are "the published Fashion-MNIST release".
fn fake_fashion_release(dir: &Path) -> IdxRelease {
    use sha2::{Digest, Sha256};
    let names = [
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    ];
    let files = names.map(|n| {
        let h = hex::encode(Sha256::digest(std::fs::read(dir.join(n)).unwrap()));
        (n, &*Box::leak(h.into_boxed_str()))
    });
    IdxRelease {
        flavor: IdxFlavor::Fashion,
        name: "Fashion-MNIST",
        files,
    }
}

#[test]
fn idx_kind_is_never_taken_from_the_path() {
    let tmp = tempfile::tempdir().unwrap();
    // Digits in a folder whose path says "fashion": before, Fashion-MNIST class names and flip.
    let fashion_path = tmp.path().join("fashion-experiments").join("digits");
    write_idx(&fashion_path);
    assert_eq!(
        err(load_idx_dir(&fashion_path, IdxFlavor::Auto)),
        format!(
            "{}: idx files that are not a published MNIST or Fashion-MNIST release (recognised \
             by the SHA-256 of their .gz files), so what their classes are is not known: give \
             --dataset-kind mnist (digits 0-9, no flip augmentation) or --dataset-kind \
             fashion-mnist (clothes, flip augmentation)",
            s(&fashion_path)
        )
    );
    let digits = load_idx_dir(&fashion_path, IdxFlavor::Mnist).unwrap();
    assert_eq!(digits.name, "mnist");
    assert!(!digits.mirror_invariant);
    assert_eq!(digits.class_names[9], "9");
    assert_eq!(
        digits.source,
        distillery_record::DatasetSource {
            format: "idx".into(),
            kind: Some("mnist".into()),
            kind_from: Some("option --dataset-kind".into()),
            ..Default::default()
        }
    );
    // Through resolve_dataset_with, as `bench --dataset-kind` passes it.
    let opts = |f| ResolveOptions {
        idx_flavor: f,
        ..Default::default()
    };
    let r = resolve_dataset_with(&s(&fashion_path), &opts(IdxFlavor::Fashion)).unwrap();
    assert_eq!(r.name, "fashion-mnist");
    assert!(r.mirror_invariant);
    assert_eq!(r.class_names[0], "T-shirt/top");
    assert_ne!(r.checksum, digits.checksum); // class names are part of it

    // Fashion-MNIST content under `fmnist/` (before: read as digits): recognised by content.
    let fmnist = tmp.path().join("fmnist");
    write_idx(&fmnist);
    let releases = [IDX_RELEASES[0], fake_fashion_release(&fmnist)];
    let auto = load_idx_dir_with(&fmnist, IdxFlavor::Auto, &releases).unwrap();
    assert_eq!(auto.name, "fashion-mnist");
    assert!(auto.mirror_invariant);
    assert_eq!(auto.source.kind.as_deref(), Some("fashion-mnist"));
    let from = auto.source.kind_from.clone().unwrap();
    assert!(
        from.starts_with(
            "content: the four .gz files are the published Fashion-MNIST release (SHA-256 of \
             train-images-idx3-ubyte.gz "
        ),
        "{from}"
    );
    // An option that agrees is fine; one that contradicts the content is refused.
    let same = load_idx_dir_with(&fmnist, IdxFlavor::Fashion, &releases).unwrap();
    assert_eq!(same.checksum, auto.checksum);
    assert_eq!(
        err(load_idx_dir_with(&fmnist, IdxFlavor::Mnist, &releases)),
        format!(
            "{}: --dataset-kind mnist, but these files are the published Fashion-MNIST release \
             (recognised by the SHA-256 of their .gz files): drop --dataset-kind or give the \
             right one",
            s(&fmnist)
        )
    );
    // A raw file next to its .gz is what is read: it must hold the same bytes to count.
    let raw = fmnist.join("t10k-labels-idx1-ubyte");
    write(&raw, &encode_idx_labels(&[9, 2]));
    let with_raw = load_idx_dir_with(&fmnist, IdxFlavor::Auto, &releases).unwrap();
    assert_eq!(with_raw.checksum, auto.checksum);
    write(&raw, &encode_idx_labels(&[9, 3]));
    assert!(err(load_idx_dir_with(&fmnist, IdxFlavor::Auto, &releases))
        .contains("so what their classes are is not known"));
    // The real release list does not know these files.
    std::fs::remove_file(&raw).unwrap();
    assert!(err(load_idx_dir(&fmnist, IdxFlavor::Auto)).contains("--dataset-kind"));
}

#[test]
fn dataset_kind_is_refused_where_it_does_not_apply() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("shapes");
    solid(&root.join("train/a/x.png"), 4, 4, [1, 2, 3]);
    solid(&root.join("test/a/y.png"), 4, 4, [1, 2, 3]);
    let opts = ResolveOptions {
        idx_flavor: IdxFlavor::Mnist,
        ..Default::default()
    };
    assert_eq!(
        err(resolve_dataset_with(&s(&root), &opts)),
        format!(
            "{}: --dataset-kind applies to directories of idx files only, and this dataset is an ImageFolder tree",
            s(&root)
        )
    );
    assert_eq!(
        err(resolve_dataset_with("mnist-5k", &opts)),
        "mnist-5k: --dataset-kind applies to directories of idx files only, and this dataset is the embedded MNIST digits"
    );
    // The embedded dataset says what it is and keeps its checksum.
    let m = resolve_dataset("mnist-5k").unwrap();
    assert_eq!(m.checksum, MNIST_5K_CHECKSUM);
    assert_eq!(m.source.format, "embedded");
    assert_eq!(m.source.kind.as_deref(), Some("mnist"));
}

// ---------------------------------------------------------------------------------------------
// Item 8: nested files and every format torchvision's ImageFolder reads; the rest is counted.

fn solid(path: &Path, w: u32, h: u32, rgb: [u8; 3]) {
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

/// The red channel of every train image (solid images), in split order.
fn reds(ds: &RawDataset) -> Vec<u8> {
    (0..ds.train.n).map(|i| ds.train.image(i)[0]).collect()
}

#[test]
fn image_folder_reads_nested_files_and_every_torchvision_format() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("formats");
    // Class a: two files at its top, two in sub-folders; lossless formats, distinct reds.
    solid(&root.join("train/a/0.png"), 4, 4, [10, 0, 0]);
    solid(&root.join("train/a/4.tif"), 4, 4, [14, 0, 0]);
    solid(&root.join("train/a/sub/1.bmp"), 4, 4, [11, 0, 0]);
    solid(&root.join("train/a/sub/deeper/2.webp"), 4, 4, [12, 0, 0]);
    solid(&root.join("train/a-b/x.PPM"), 4, 4, [20, 0, 0]);
    write(&root.join("train/a/notes.txt"), b"not an image");
    write(&root.join("train/a/anim.gif"), b"GIF89a");
    write(&root.join("train/a/.DS_Store"), b"\0\0\0\x01Bud1");
    // Class b: a grayscale .pgm, a .TIFF one level down, a .jpeg.
    solid_gray(&root.join("train/b/y.pgm"), 4, 4, 30);
    solid(&root.join("train/b/z/w.TIFF"), 4, 4, [31, 0, 0]);
    solid(&root.join("train/b/v.jpeg"), 4, 4, [128, 128, 128]);
    solid(&root.join("train/stray.png"), 4, 4, [1, 1, 1]);
    solid(&root.join("test/a/q/q.webp"), 4, 4, [40, 0, 0]);
    solid(&root.join("test/a-b/p.png"), 4, 4, [42, 0, 0]);
    solid(&root.join("test/b/r.bmp"), 4, 4, [41, 0, 0]);
    let opts = ImageFolderOptions {
        resolution: 4,
        channels: 3,
        mirror_invariant: true,
        ..Default::default()
    };
    let ds = load_image_folder(&root, &opts).unwrap();
    assert_eq!(ds.class_names, vec!["a", "a-b", "b"]);
    // 9 images of 11 files under the classes; before, 3 (0.png, v.jpeg and nothing of a-b).
    assert_eq!(ds.train.labels, vec![0, 0, 0, 0, 1, 2, 2, 2]);
    // torchvision's order: by directory path, then file name (a/ before a/sub/ before a/sub/deeper/).
    let r = reds(&ds);
    assert_eq!(r[..5], [10, 14, 11, 12, 20]);
    assert!((126..=130).contains(&r[5]), "{r:?}"); // b/v.jpeg (lossy), then b/y.pgm, b/z/w.TIFF
    assert_eq!(r[6..], [30, 31]);
    assert_eq!(ds.test.labels, vec![0, 1, 2]);
    assert_eq!(
        (0..3).map(|i| ds.test.image(i)[0]).collect::<Vec<_>>(),
        vec![40, 42, 41]
    );
    // The counts per split: used, and left out by reason.
    let src = &ds.source;
    assert_eq!(src.format, "image-folder");
    assert_eq!(src.splits.len(), 2);
    let train = &src.splits[0];
    assert_eq!((train.split.as_str(), train.used), ("train", 8));
    let skipped: Vec<(&str, usize)> = train
        .skipped
        .iter()
        .map(|(k, v)| (k.as_str(), *v))
        .collect();
    assert_eq!(
        skipped,
        vec![
            ("hidden (name starts with '.')", 1),
            (
                "not an image extension (.bmp .jpeg .jpg .pgm .png .ppm .tif .tiff .webp)",
                2
            ),
            ("not in a class directory", 1),
        ]
    );
    assert_eq!((src.splits[1].used, src.splits[1].skipped.len()), (3, 0));
    assert!(src.warnings.is_empty(), "{:?}", src.warnings);
    assert_eq!(
        src.resize.as_deref(),
        Some(
            "every image stretched to 4x4 (no crop, no padding; bilinear, image::imageops \
             Triangle; not resampled when already 4x4), RGB (--image-size 4 --channels 3)"
        )
    );
    // A class with nothing readable names what is read.
    write(&root.join("train/c/readme.md"), b"#");
    write(&root.join("test/c/readme.md"), b"#");
    assert_eq!(
        err(load_image_folder(&root, &opts)),
        format!(
            "{}: expected at least one of the images (.bmp .jpeg .jpg .pgm .png .ppm .tif .tiff \
             .webp), found none",
            s(&root.join("train/c"))
        )
    );
}

#[cfg(unix)]
#[test]
fn image_folder_follows_links_and_refuses_link_loops() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("links");
    let elsewhere = tmp.path().join("elsewhere");
    solid(&elsewhere.join("e.png"), 2, 2, [7, 0, 0]);
    solid(&root.join("train/a/0.png"), 2, 2, [5, 0, 0]);
    solid(&root.join("test/a/0.png"), 2, 2, [5, 0, 0]);
    std::os::unix::fs::symlink(&elsewhere, root.join("train/a/linked")).unwrap();
    let opts = ImageFolderOptions {
        resolution: 2,
        ..Default::default()
    };
    let ds = load_image_folder(&root, &opts).unwrap();
    assert_eq!(reds(&ds), vec![5, 7]);
    std::os::unix::fs::symlink(root.join("train/a"), root.join("train/a/loop")).unwrap();
    let e = err(load_image_folder(&root, &opts));
    assert!(
        e.contains("expected a directory tree without symbolic-link loops, found a link back to"),
        "{e}"
    );
}

// ---------------------------------------------------------------------------------------------
// Item 9: images far from the target shape are stretched with one warning per condition.

#[test]
fn stretched_images_are_counted_and_warned_about_once() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("odd");
    solid(&root.join("train/a/ok.png"), 8, 8, [1, 0, 0]);
    let tiny = root.join("train/a/tiny.png");
    solid(&tiny, 1, 1, [2, 0, 0]);
    let wide = root.join("train/a/wide.png");
    solid(&wide, 500, 3, [3, 0, 0]);
    solid(&root.join("train/b/big.png"), 100, 60, [4, 0, 0]); // 1.67:1, downscaled: fine
    solid(&root.join("test/a/t.png"), 8, 4, [5, 0, 0]); // exactly 2:1: fine
    solid(&root.join("test/b/u.png"), 3, 3, [6, 0, 0]); // 3 < 8/2: upscaled beyond 2x
    let opts = ImageFolderOptions {
        resolution: 8,
        ..Default::default()
    };
    let ds = load_image_folder(&root, &opts).unwrap();
    let counts: Vec<(usize, usize)> = ds
        .source
        .splits
        .iter()
        .map(|f| (f.aspect_beyond_2, f.upscaled_beyond_2))
        .collect();
    assert_eq!(counts, vec![(1, 2), (0, 1)]);
    assert_eq!(
        ds.source.warnings,
        vec![
            format!(
                "1 of 4 train images and 0 of 2 test images have an aspect ratio beyond 2:1 and \
                 were stretched to 8x8 (no crop, no padding), e.g. {} (500x3); check \
                 --image-size, or resize or crop them yourself",
                s(&wide)
            ),
            format!(
                "2 of 4 train images and 1 of 2 test images are upscaled more than 2x to 8x8 (a \
                 side shorter than 4 px), e.g. {} (1x1); check --image-size, or resize or crop \
                 them yourself",
                s(&tiny)
            ),
        ]
    );
    // Still stretched (the stated policy): every pixel of the 1x1 image is its colour.
    assert!(ds.train.image(1)[..64].iter().all(|&v| v == 2));
    // Nothing far from the target: no warning.
    let opts = ImageFolderOptions {
        resolution: 2,
        ..Default::default()
    };
    std::fs::remove_file(&wide).unwrap();
    let ds = load_image_folder(&root, &opts).unwrap();
    assert_eq!(ds.source.warnings, Vec::<String>::new());
}

// ---------------------------------------------------------------------------------------------
// Item 10: class directories whose names are not UTF-8.

#[cfg(unix)]
#[test]
fn class_names_that_are_not_utf8_are_kept_byte_exactly() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("latin1");
    // "café" and "cafè" in Latin-1 (0xE9, 0xE8): not UTF-8, the same when shown lossily.
    let e9 = OsStr::from_bytes(b"caf\xe9");
    let e8 = OsStr::from_bytes(b"caf\xe8");
    let class = |split: &str, name: &OsStr| -> PathBuf { root.join(split).join(name) };
    solid(&class("train", e9).join("1.png"), 2, 2, [1, 0, 0]);
    solid(&class("train", e8).join("2.png"), 2, 2, [2, 0, 0]);
    solid(&root.join("train/cafe/3.png"), 2, 2, [3, 0, 0]);
    solid(&class("test", e9).join("4.png"), 2, 2, [4, 0, 0]);
    solid(&class("test", e8).join("5.png"), 2, 2, [5, 0, 0]);
    solid(&root.join("test/cafe/6.png"), 2, 2, [6, 0, 0]);
    let opts = ImageFolderOptions {
        resolution: 2,
        ..Default::default()
    };
    let ds = load_image_folder(&root, &opts).unwrap();
    // Sorted by bytes: "cafe" (0x65) < "caf\xe8" < "caf\xe9"; shown with U+FFFD.
    assert_eq!(ds.class_names, vec!["cafe", "caf\u{FFFD}", "caf\u{FFFD}"]);
    assert_eq!(reds(&ds), vec![3, 2, 1]);
    assert_eq!(ds.train.labels, vec![0, 1, 2]);
    // Each test directory is matched to its own train class, byte for byte.
    let test: Vec<(i64, u8)> = (0..3)
        .map(|i| (ds.test.labels[i], ds.test.image(i)[0]))
        .collect();
    assert_eq!(test, vec![(0, 6), (1, 5), (2, 4)]);
    // The checksum hashes the exact names.
    let exact: Vec<&[u8]> = vec![b"cafe", b"caf\xe8", b"caf\xe9"];
    assert_eq!(
        ds.checksum,
        content_checksum_bytes(&ds.train, &ds.test, exact.into_iter())
    );
    assert_ne!(
        ds.checksum,
        content_checksum(&ds.train, &ds.test, &ds.class_names)
    );
    // A class really missing from the test split is named lossily, with its exact path.
    std::fs::remove_dir_all(class("test", e8)).unwrap();
    assert_eq!(
        err(load_image_folder(&root, &opts)),
        format!(
            "{}: missing class 'caf\u{FFFD}': expected the directory of a class present in {}, \
             found no such directory",
            s(&class("test", e8)),
            s(&root.join("train"))
        )
    );
}
