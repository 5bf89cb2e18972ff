//! In-memory datasets: [`RawSplit`], [`RawDataset`] and their content checksum.

use distillery_record::DatasetSource;
use sha2::{Digest, Sha256};

/// One split (train or test) of a dataset as plain buffers.
///
/// Invariants (checked by [`RawSplit::new`]): `images.len() == n * c * h * w` and
/// `labels.len() == n`. Images are uint8, laid out NCHW (example-major, then channel, then
/// row, then column).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawSplit {
    /// `n * c * h * w` bytes, NCHW.
    pub images: Vec<u8>,
    /// One label per example, `0..num_classes`.
    pub labels: Vec<i64>,
    /// Number of examples.
    pub n: usize,
    /// Channels (1 = grayscale, 3 = RGB).
    pub c: usize,
    /// Height in pixels.
    pub h: usize,
    /// Width in pixels.
    pub w: usize,
}

impl RawSplit {
    /// Builds a split; `n` is `labels.len()`.
    ///
    /// # Panics
    /// If `images.len() != labels.len() * c * h * w`.
    pub fn new(images: Vec<u8>, labels: Vec<i64>, c: usize, h: usize, w: usize) -> Self {
        let n = labels.len();
        assert_eq!(
            images.len(),
            n * c * h * w,
            "RawSplit::new: {n} labels of {c}x{h}x{w} need {} image bytes, got {}",
            n * c * h * w,
            images.len()
        );
        RawSplit {
            images,
            labels,
            n,
            c,
            h,
            w,
        }
    }

    /// Number of examples.
    pub fn len(&self) -> usize {
        self.n
    }

    /// True when the split has no examples.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Bytes per example (`c * h * w`).
    pub fn image_len(&self) -> usize {
        self.c * self.h * self.w
    }

    /// The CHW bytes of example `i`.
    ///
    /// # Panics
    /// If `i >= n`.
    pub fn image(&self, i: usize) -> &[u8] {
        assert!(
            i < self.n,
            "RawSplit::image: index {i} out of range for {} examples",
            self.n
        );
        let l = self.image_len();
        &self.images[i * l..(i + 1) * l]
    }

    /// The examples at `indices`, in that order (repeats allowed).
    ///
    /// # Panics
    /// If an index is `>= n`.
    pub fn subset(&self, indices: &[usize]) -> RawSplit {
        let l = self.image_len();
        let mut images = Vec::with_capacity(indices.len() * l);
        let mut labels = Vec::with_capacity(indices.len());
        for &i in indices {
            images.extend_from_slice(self.image(i));
            labels.push(self.labels[i]);
        }
        RawSplit::new(images, labels, self.c, self.h, self.w)
    }

    /// Number of examples of each class `0..num_classes`.
    ///
    /// # Panics
    /// If a label is outside `0..num_classes`.
    pub fn class_counts(&self, num_classes: usize) -> Vec<usize> {
        let mut counts = vec![0usize; num_classes];
        for (i, &y) in self.labels.iter().enumerate() {
            assert!(
                y >= 0 && (y as usize) < num_classes,
                "RawSplit::class_counts: example {i} has label {y}, outside 0..{num_classes}"
            );
            counts[y as usize] += 1;
        }
        counts
    }
}

/// A whole dataset: train and test splits, class names and a content checksum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawDataset {
    /// Short name (`mnist-5k`, `mnist`, `fashion-mnist`, `cifar10`, `cifar100`, or the
    /// ImageFolder root's directory name). Not part of the checksum.
    pub name: String,
    /// Training split.
    pub train: RawSplit,
    /// Test split.
    pub test: RawSplit,
    /// Index = label.
    pub class_names: Vec<String>,
    /// Whether horizontal mirroring preserves the class (false for digits: DSA drops `flip`).
    /// Not part of the checksum.
    pub mirror_invariant: bool,
    /// [`content_checksum`] of the splits and class names (64 lowercase hex digits). For an
    /// ImageFolder class directory whose name is not UTF-8, the name's exact bytes are hashed
    /// ([`content_checksum_bytes`]), not the lossy `class_names` entry.
    pub checksum: String,
    /// How the dataset was read (format, what decided its kind, resize policy, files used and
    /// left out, warnings): recorded in every cell ([`distillery_record::DatasetRef::source`]).
    /// Not part of the checksum.
    pub source: DatasetSource,
    /// Whether the decoded images came from (or went to) the decoded-image cache, in words
    /// (ImageFolder trees; printed before a run, not recorded: the content is the same).
    pub cache_note: Option<String>,
}

impl RawDataset {
    /// Builds a dataset and computes its checksum.
    pub fn new(
        name: impl Into<String>,
        train: RawSplit,
        test: RawSplit,
        class_names: Vec<String>,
        mirror_invariant: bool,
    ) -> Self {
        let checksum = content_checksum(&train, &test, &class_names);
        RawDataset {
            name: name.into(),
            train,
            test,
            class_names,
            mirror_invariant,
            checksum,
            source: DatasetSource::default(),
            cache_note: None,
        }
    }

    /// Number of classes (`class_names.len()`).
    pub fn num_classes(&self) -> usize {
        self.class_names.len()
    }
}

/// Content checksum of a dataset: lowercase hex sha256 of this canonical byte encoding
/// (all integers unsigned 64-bit little-endian unless stated):
///
/// ```text
/// b"distillery-rawdataset-v1\n"                      (25 bytes, domain tag)
/// K                                                   number of class names
/// K times:  len(name_utf8)  name_utf8                 class names in label order
/// for split in [train, test]:
///     n  c  h  w                                      shape
///     images                                          n*c*h*w bytes, uint8, NCHW
///     n times: label as i64 little-endian             labels in example order
/// ```
///
/// It depends only on the decoded content, not on the file format it came from (raw or
/// gzipped idx give the same checksum) and not on the dataset's `name` or `mirror_invariant`.
pub fn content_checksum(train: &RawSplit, test: &RawSplit, class_names: &[String]) -> String {
    content_checksum_bytes(train, test, class_names.iter().map(|n| n.as_bytes()))
}

/// [`content_checksum`] with class names given as bytes: `name_utf8` in the encoding is then
/// the name's exact bytes (an ImageFolder class directory's name as the file system holds it,
/// UTF-8 or not). For UTF-8 names both functions agree.
pub fn content_checksum_bytes<'a>(
    train: &RawSplit,
    test: &RawSplit,
    class_names: impl ExactSizeIterator<Item = &'a [u8]>,
) -> String {
    let mut h = Sha256::new();
    h.update(b"distillery-rawdataset-v1\n");
    h.update((class_names.len() as u64).to_le_bytes());
    for name in class_names {
        h.update((name.len() as u64).to_le_bytes());
        h.update(name);
    }
    for split in [train, test] {
        for d in [split.n, split.c, split.h, split.w] {
            h.update((d as u64).to_le_bytes());
        }
        h.update(&split.images);
        let mut buf = Vec::with_capacity(split.labels.len() * 8);
        for &y in &split.labels {
            buf.extend_from_slice(&y.to_le_bytes());
        }
        h.update(&buf);
    }
    hex::encode(h.finalize())
}
