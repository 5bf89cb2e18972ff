//! CIFAR-10 / CIFAR-100, "binary version" (the `*-binary.tar.gz` archives).
//!
//! CIFAR-10: `data_batch_1.bin` .. `data_batch_5.bin` (train, in that order), `test_batch.bin`,
//! `batches.meta.txt` (10 class names, one per line). Each record: 1 label byte + 3072 image
//! bytes (3x32x32, channel planes R, G, B, each row-major), i.e. already CHW.
//!
//! CIFAR-100: `train.bin`, `test.bin`, `fine_label_names.txt` (100 names). Each record: 1
//! coarse label byte + 1 fine label byte + 3072 image bytes; the fine label is used.
//!
//! Record files may also be gzipped (detected by magic bytes). Both datasets are mirror
//! invariant.

use std::path::Path;

use super::idx::maybe_gunzip;
use super::{disp, read_file, DataError, RawDataset, RawSplit, Result};

const IMAGE_BYTES: usize = 3 * 32 * 32;

/// Which CIFAR record layout a file uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CifarKind {
    Cifar10,
    Cifar100,
}

impl CifarKind {
    fn label_bytes(self) -> usize {
        match self {
            CifarKind::Cifar10 => 1,
            CifarKind::Cifar100 => 2,
        }
    }
    fn num_classes(self) -> usize {
        match self {
            CifarKind::Cifar10 => 10,
            CifarKind::Cifar100 => 100,
        }
    }
    fn what(self) -> &'static str {
        match self {
            CifarKind::Cifar10 => "CIFAR-10: 1 label byte + 3072 image bytes",
            CifarKind::Cifar100 => "CIFAR-100: coarse byte + fine byte + 3072 image bytes",
        }
    }
}

/// Parses the bytes of one CIFAR record file into a 3x32x32 split. `cifar100` selects the
/// CIFAR-100 layout (fine labels, `0..100`), otherwise CIFAR-10 (`0..10`). `origin` names the
/// data in errors.
pub fn parse_cifar_records(bytes: &[u8], origin: &str, cifar100: bool) -> Result<RawSplit> {
    let kind = if cifar100 {
        CifarKind::Cifar100
    } else {
        CifarKind::Cifar10
    };
    parse_records(bytes, origin, kind)
}

fn parse_records(bytes: &[u8], origin: &str, kind: CifarKind) -> Result<RawSplit> {
    let data = maybe_gunzip(bytes, origin)?;
    let b: &[u8] = &data;
    let lb = kind.label_bytes();
    let record = lb + IMAGE_BYTES;
    if !b.len().is_multiple_of(record) {
        return Err(DataError::RecordLength {
            path: origin.to_string(),
            what: kind.what(),
            record_size: record,
            len: b.len(),
        });
    }
    let n = b.len() / record;
    let mut images = Vec::with_capacity(n * IMAGE_BYTES);
    let mut labels = Vec::with_capacity(n);
    for (i, rec) in b.chunks_exact(record).enumerate() {
        let y = rec[lb - 1];
        if y as usize >= kind.num_classes() {
            return Err(DataError::LabelOutOfRange {
                path: origin.to_string(),
                index: i,
                label: y as i64,
                num_classes: kind.num_classes(),
            });
        }
        labels.push(y as i64);
        images.extend_from_slice(&rec[lb..]);
    }
    Ok(RawSplit::new(images, labels, 3, 32, 32))
}

fn read_names(path: &Path, expected: usize) -> Result<Vec<String>> {
    let bytes = read_file(path, &format!("a text file of {expected} class names"))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        DataError::invalid(disp(path), "UTF-8 text", format!("invalid UTF-8 ({e})"))
    })?;
    let names: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect();
    if names.len() != expected {
        return Err(DataError::invalid(
            disp(path),
            format!("{expected} non-empty lines (class names)"),
            format!("{} lines", names.len()),
        ));
    }
    Ok(names)
}

fn read_records(path: &Path, kind: CifarKind) -> Result<RawSplit> {
    let bytes = read_file(path, "a CIFAR record file")?;
    parse_records(&bytes, &disp(path), kind)
}

fn concat(parts: Vec<RawSplit>) -> RawSplit {
    let mut images = Vec::with_capacity(parts.iter().map(|p| p.images.len()).sum());
    let mut labels = Vec::with_capacity(parts.iter().map(|p| p.n).sum());
    for p in parts {
        images.extend_from_slice(&p.images);
        labels.extend_from_slice(&p.labels);
    }
    RawSplit::new(images, labels, 3, 32, 32)
}

/// Loads a CIFAR-10 binary directory (`data_batch_1..5.bin`, `test_batch.bin`,
/// `batches.meta.txt`; all required). Dataset name `cifar10`.
pub fn load_cifar10_dir(dir: impl AsRef<Path>) -> Result<RawDataset> {
    let dir = dir.as_ref();
    let names = read_names(&dir.join("batches.meta.txt"), 10)?;
    let mut parts = Vec::with_capacity(5);
    for i in 1..=5 {
        parts.push(read_records(
            &dir.join(format!("data_batch_{i}.bin")),
            CifarKind::Cifar10,
        )?);
    }
    let test = read_records(&dir.join("test_batch.bin"), CifarKind::Cifar10)?;
    Ok(RawDataset::new("cifar10", concat(parts), test, names, true))
}

/// Loads a CIFAR-100 binary directory (`train.bin`, `test.bin`, `fine_label_names.txt`; all
/// required), using the fine labels. Dataset name `cifar100`.
pub fn load_cifar100_dir(dir: impl AsRef<Path>) -> Result<RawDataset> {
    let dir = dir.as_ref();
    let names = read_names(&dir.join("fine_label_names.txt"), 100)?;
    let train = read_records(&dir.join("train.bin"), CifarKind::Cifar100)?;
    let test = read_records(&dir.join("test.bin"), CifarKind::Cifar100)?;
    Ok(RawDataset::new("cifar100", train, test, names, true))
}
