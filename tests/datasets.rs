//! Datasets given as paths, end to end (issue 21, items 5, 6, 8, 9, 10): what `bench` refuses
//! before any cell runs, what it prints about the files it read and left out, and what the
//! record says about how the dataset was read. Every dataset is written by the test (tiny
//! PNG/BMP/WebP trees with the `image` crate, idx files with the harness's encoder).

use crate::common::{bench, record, s, text};
use std::path::Path;

const TINY: &str = "tests/fixtures/tiny-hard-label.toml";

fn solid(path: &Path, w: u32, h: u32, v: u8) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    image::RgbImage::from_pixel(w, h, image::Rgb([v, 255 - v, v / 2]))
        .save(path)
        .unwrap();
}

/// Two classes: `a` 5 train images (2 nested, one .bmp), `b` 6 (a nested .webp, a 1x1 and a
/// 500x3 image) and a text file; 2 test images each.
fn image_tree(root: &Path) {
    for (k, class) in ["a", "b"].iter().enumerate() {
        let v = 40 + 120 * k as u8;
        for i in 0..3 {
            solid(&root.join(format!("train/{class}/{i}.png")), 10, 10, v + i);
        }
        for i in 0..2 {
            solid(&root.join(format!("test/{class}/{i}.png")), 10, 10, v + i);
        }
    }
    solid(&root.join("train/a/more/3.png"), 10, 10, 43);
    solid(&root.join("train/a/more/4.bmp"), 10, 10, 44);
    solid(&root.join("train/b/x/3.webp"), 10, 10, 163);
    solid(&root.join("train/b/tiny.png"), 1, 1, 164);
    solid(&root.join("train/b/wide.png"), 500, 3, 165);
    std::fs::write(root.join("train/b/labels.txt"), "b").unwrap();
}

fn run(dataset: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "--protocol",
        TINY,
        "--dataset",
        s(dataset),
        "--out",
        s(out),
        "--methods",
        "random",
        "--ipc",
        "1",
        "--seeds",
        "1",
        "--threads",
        "1",
        "--jobs",
        "1",
        "--device",
        "cpu",
    ];
    args.extend_from_slice(extra);
    bench(&args, &[])
}

/// Item 5: an image size the student cannot run on is refused (exit 2) before any cell, with
/// the minimum and the option to change; the minimum itself runs.
#[test]
fn images_too_small_for_the_student_are_refused_before_any_cell() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("tree");
    image_tree(&root);
    let out = dir.path().join("out");
    for size in ["7", "4"] {
        let o = run(&root, &out, &["--image-size", size]);
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
        assert!(
            text(&o).contains(&format!(
                "error: dataset tree: images are {size}x{size} (--image-size {size}), but the \
                 student of protocol 'tiny-hard-label', ConvNet-3 (width 32, instance norm), \
                 needs at least 8x8 for 3-channel images: use --image-size 8 or more"
            )),
            "{}",
            text(&o)
        );
        assert!(!out.join("cells").exists(), "no cell may have run");
    }
    // Grayscale: the first conv's padding 3 lowers the minimum to 4.
    let o = run(&root, &out, &["--image-size", "3", "--channels", "1"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("needs at least 4x4 for 1-channel images: use --image-size 4 or more"),
        "{}",
        text(&o)
    );
    // The minimum trains and evaluates (items 8 and 9 are checked on the same run).
    let o = run(&root, &out, &["--image-size", "8"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    // Item 8: nested and .bmp/.webp files used, the text file counted as left out.
    assert!(
        t.contains("dataset tree: train: 11 image files used, 1 left out (1 not an image extension (.bmp .jpeg .jpg .pgm .png .ppm .tif .tiff .webp))"),
        "{t}"
    );
    assert!(
        t.contains("dataset tree: test: 4 image files used, 0 left out"),
        "{t}"
    );
    // Item 9: the resize policy and one warning per condition, with an example.
    assert!(
        t.contains("dataset tree: every image stretched to 8x8 (no crop, no padding;"),
        "{t}"
    );
    let wide = root.join("train/b/wide.png");
    assert!(
        t.contains(&format!(
            "warning: 1 of 11 train images and 0 of 4 test images have an aspect ratio beyond \
             2:1 and were stretched to 8x8 (no crop, no padding), e.g. {} (500x3)",
            s(&wide)
        )),
        "{t}"
    );
    assert_eq!(t.matches("have an aspect ratio beyond").count(), 1, "{t}");
    assert!(
        t.contains("warning: 2 of 11 train images and 0 of 4 test images are upscaled more than 2x to 8x8 (a side shorter than 4 px), e.g. "),
        "{t}"
    );
    // The record says how the dataset was read.
    let r = record(&out, "random__ipc1__s0");
    assert_eq!(r["status"], "ok");
    assert_eq!(r["dataset"]["shape"], serde_json::json!([3, 8, 8]));
    let src = &r["dataset"]["source"];
    assert_eq!(src["format"], "image-folder");
    assert_eq!(src["splits"][0]["split"], "train");
    assert_eq!(src["splits"][0]["used"], 11);
    assert_eq!(
        src["splits"][0]["skipped"],
        serde_json::json!({"not an image extension (.bmp .jpeg .jpg .pgm .png .ppm .tif .tiff .webp)": 1})
    );
    assert_eq!(src["splits"][0]["aspect_beyond_2"], 1);
    assert_eq!(src["splits"][0]["upscaled_beyond_2"], 2);
    assert_eq!(src["splits"][1]["used"], 4);
    assert_eq!(src["warnings"].as_array().unwrap().len(), 2);
    assert!(src["resize"]
        .as_str()
        .unwrap()
        .ends_with("RGB (--image-size 8 --channels 3)"));
}

/// 28x28 idx files with 3 train and 2 test images per digit 0-9.
fn idx_dir(dir: &Path) {
    use distillery::data::{encode_idx_images, encode_idx_labels};
    std::fs::create_dir_all(dir).unwrap();
    for (prefix, per) in [("train", 3usize), ("t10k", 2)] {
        let labels: Vec<i64> = (0..10).flat_map(|y| std::iter::repeat_n(y, per)).collect();
        let px: Vec<u8> = labels
            .iter()
            .flat_map(|&y| (0..784).map(move |i| ((i * (y as usize + 1)) % 256) as u8))
            .collect();
        std::fs::write(
            dir.join(format!("{prefix}-images-idx3-ubyte")),
            encode_idx_images(&px, labels.len(), 28, 28),
        )
        .unwrap();
        std::fs::write(
            dir.join(format!("{prefix}-labels-idx1-ubyte")),
            encode_idx_labels(&labels),
        )
        .unwrap();
    }
}

/// Item 6: digits under a path that says "fashion" are not Fashion-MNIST; without a release
/// the content identifies, the kind must be given, and the record says what decided it.
#[test]
fn idx_kind_comes_from_an_option_not_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("fashion").join("digits");
    idx_dir(&d);
    let out = dir.path().join("out");
    let o = run(&d, &out, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains(&format!(
            "error: {}: idx files that are not a published MNIST or Fashion-MNIST release",
            s(&d)
        )) && text(&o).contains("give --dataset-kind mnist"),
        "{}",
        text(&o)
    );
    let o = run(&d, &out, &["--dataset-kind", "mnist"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(
        t.contains("dataset mnist: kind mnist, from option --dataset-kind"),
        "{t}"
    );
    let r = record(&out, "random__ipc1__s0");
    assert_eq!(r["dataset"]["name"], "mnist");
    assert_eq!(r["dataset"]["source"]["kind"], "mnist");
    assert_eq!(r["dataset"]["source"]["kind_from"], "option --dataset-kind");
    assert_eq!(
        r["evaluation"]["augment"], "color_crop_cutout_scale_rotate",
        "digits: no flip"
    );
    // The embedded dataset refuses the option instead of ignoring it.
    let o = run(Path::new("mnist-5k"), &out, &["--dataset-kind", "mnist"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("--dataset-kind applies to directories of idx files only"),
        "{}",
        text(&o)
    );
}

/// Item 10: a class directory named with Latin-1 bytes runs end to end.
#[cfg(unix)]
#[test]
fn latin1_class_directories_run() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("latin1");
    let name = OsStr::from_bytes(b"caf\xe9");
    for split in ["train", "test"] {
        for (k, class) in [OsStr::new("tea"), name].iter().enumerate() {
            for i in 0..4 {
                let p = root.join(split).join(class).join(format!("{i}.png"));
                solid(&p, 8, 8, 30 + 100 * k as u8 + i);
            }
        }
    }
    let out = dir.path().join("out");
    let o = run(&root, &out, &["--image-size", "8"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let r = record(&out, "random__ipc1__s0");
    assert_eq!(r["dataset"]["classes"], 2);
    assert_eq!(r["dataset"]["source"]["splits"][1]["used"], 8);
}
