//! MNIST / Fashion-MNIST idx files (idx3 uint8 images, idx1 uint8 labels), raw or gzipped.
//!
//! Format (all header integers big-endian u32): images `0x00000803, n, rows, cols` then
//! `n*rows*cols` pixel bytes; labels `0x00000801, n` then `n` label bytes. Gzip is detected by
//! the magic bytes `1f 8b`, never by the file extension. Files must be exactly as long as their
//! header declares (trailing bytes are an error too).

use std::borrow::Cow;
use std::io::{Read, Write};
use std::path::Path;

use distillery_record::DatasetSource;
use flate2::{read::MultiGzDecoder, Compression, GzBuilder};
use sha2::{Digest, Sha256};

use super::{disp, read_file, DataError, RawDataset, RawSplit, Result};

const IDX3_UBYTE_MAGIC: u32 = 0x0000_0803;
const IDX1_UBYTE_MAGIC: u32 = 0x0000_0801;

/// Fashion-MNIST class names, label order.
pub const FASHION_MNIST_CLASSES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

/// Which idx dataset a directory holds; decides class names and mirror invariance.
///
/// Never taken from the directory's path: a folder named `fashion` may hold digits and
/// `fmnist/` may hold Fashion-MNIST. [`load_idx_dir`] recognises the published releases by
/// the SHA-256 of their `.gz` files ([`IDX_RELEASES`]); anything else needs an explicit kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IdxFlavor {
    /// Digits: class names `"0".."9"`, not mirror invariant, dataset name `mnist`.
    Mnist,
    /// Fashion-MNIST: [`FASHION_MNIST_CLASSES`], mirror invariant, dataset name `fashion-mnist`.
    Fashion,
    /// From the content: a published release recognised by [`IDX_RELEASES`], else an error
    /// ([`DataError::UnknownKind`]) that asks for the kind.
    #[default]
    Auto,
}

impl IdxFlavor {
    /// The spelling used by `--dataset-kind` and in records: `mnist`, `fashion-mnist`, `auto`.
    pub fn name(self) -> &'static str {
        match self {
            IdxFlavor::Mnist => "mnist",
            IdxFlavor::Fashion => "fashion-mnist",
            IdxFlavor::Auto => "auto",
        }
    }
}

/// A published idx release, recognised by the SHA-256 of its four files as distributed
/// (gzipped): `(file name, sha256)` for train images, train labels, test images, test labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdxRelease {
    /// What the release holds.
    pub flavor: IdxFlavor,
    /// Its name in messages and records.
    pub name: &'static str,
    /// The four `.gz` files and their SHA-256 (lowercase hex).
    pub files: [(&'static str, &'static str); 4],
}

/// The releases [`IdxFlavor::Auto`] recognises: MNIST (LeCun et al.; the files torchvision,
/// TFDS and Keras download, SHA-256 as pinned by TFDS and torchvision's mirrors) and
/// Fashion-MNIST (Xiao et al. 2017, zalandoresearch/fashion-mnist `data/fashion`).
pub const IDX_RELEASES: [IdxRelease; 2] = [
    IdxRelease {
        flavor: IdxFlavor::Mnist,
        name: "MNIST",
        files: [
            (
                "train-images-idx3-ubyte.gz",
                "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            ),
            (
                "train-labels-idx1-ubyte.gz",
                "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            ),
            (
                "t10k-images-idx3-ubyte.gz",
                "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            ),
            (
                "t10k-labels-idx1-ubyte.gz",
                "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
            ),
        ],
    },
    IdxRelease {
        flavor: IdxFlavor::Fashion,
        name: "Fashion-MNIST",
        files: [
            (
                "train-images-idx3-ubyte.gz",
                "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
            ),
            (
                "train-labels-idx1-ubyte.gz",
                "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
            ),
            (
                "t10k-images-idx3-ubyte.gz",
                "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
            ),
            (
                "t10k-labels-idx1-ubyte.gz",
                "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
            ),
        ],
    },
];

/// Images decoded from an idx3 file: `n` images of `h x w`, row-major, uint8.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxImages {
    /// Number of images.
    pub n: usize,
    /// Rows per image.
    pub h: usize,
    /// Columns per image.
    pub w: usize,
    /// `n*h*w` bytes.
    pub pixels: Vec<u8>,
}

/// Returns `bytes` decompressed if they start with the gzip magic `1f 8b`, else unchanged.
/// `origin` (a path or a description) names the data in errors.
pub fn maybe_gunzip<'a>(bytes: &'a [u8], origin: &str) -> Result<Cow<'a, [u8]>> {
    if bytes.len() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b {
        let mut out = Vec::with_capacity(bytes.len() * 4);
        MultiGzDecoder::new(bytes)
            .read_to_end(&mut out)
            .map_err(|e| DataError::Gzip {
                path: origin.to_string(),
                source: e,
            })?;
        Ok(Cow::Owned(out))
    } else {
        Ok(Cow::Borrowed(bytes))
    }
}

fn be_u32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn check_len(origin: &str, declared: String, expected: u128, found: usize) -> Result<()> {
    let exp = usize::try_from(expected).unwrap_or(usize::MAX);
    if (found as u128) < expected {
        Err(DataError::Truncated {
            path: origin.to_string(),
            declared,
            expected: exp,
            found,
        })
    } else if (found as u128) > expected {
        Err(DataError::TrailingData {
            path: origin.to_string(),
            declared,
            expected: exp,
            found,
        })
    } else {
        Ok(())
    }
}

/// Parses an idx3 uint8 image file (raw or gzipped bytes). `origin` names it in errors.
pub fn parse_idx_images(bytes: &[u8], origin: &str) -> Result<IdxImages> {
    let data = maybe_gunzip(bytes, origin)?;
    let b: &[u8] = &data;
    if b.len() < 4 {
        return Err(DataError::ShortHeader {
            path: origin.to_string(),
            what: "idx3 image",
            expected: 16,
            found: b.len(),
        });
    }
    let magic = be_u32(b, 0);
    if magic != IDX3_UBYTE_MAGIC {
        return Err(DataError::BadMagic {
            path: origin.to_string(),
            what: "idx3 uint8 images",
            expected: IDX3_UBYTE_MAGIC,
            found: magic,
        });
    }
    if b.len() < 16 {
        return Err(DataError::ShortHeader {
            path: origin.to_string(),
            what: "idx3 image",
            expected: 16,
            found: b.len(),
        });
    }
    let (n, h, w) = (be_u32(b, 4), be_u32(b, 8), be_u32(b, 12));
    if h == 0 || w == 0 {
        return Err(DataError::invalid(
            origin,
            "non-zero image rows and columns in the idx3 header",
            format!("{h}x{w}"),
        ));
    }
    let expected = n as u128 * h as u128 * w as u128;
    check_len(
        origin,
        format!("{n} images of {h}x{w}"),
        expected,
        b.len() - 16,
    )?;
    Ok(IdxImages {
        n: n as usize,
        h: h as usize,
        w: w as usize,
        pixels: b[16..].to_vec(),
    })
}

/// Parses an idx1 uint8 label file (raw or gzipped bytes); every label must be in
/// `0..num_classes`. `origin` names it in errors.
pub fn parse_idx_labels(bytes: &[u8], origin: &str, num_classes: usize) -> Result<Vec<i64>> {
    let data = maybe_gunzip(bytes, origin)?;
    let b: &[u8] = &data;
    if b.len() < 4 {
        return Err(DataError::ShortHeader {
            path: origin.to_string(),
            what: "idx1 label",
            expected: 8,
            found: b.len(),
        });
    }
    let magic = be_u32(b, 0);
    if magic != IDX1_UBYTE_MAGIC {
        return Err(DataError::BadMagic {
            path: origin.to_string(),
            what: "idx1 uint8 labels",
            expected: IDX1_UBYTE_MAGIC,
            found: magic,
        });
    }
    if b.len() < 8 {
        return Err(DataError::ShortHeader {
            path: origin.to_string(),
            what: "idx1 label",
            expected: 8,
            found: b.len(),
        });
    }
    let n = be_u32(b, 4);
    check_len(origin, format!("{n} labels"), n as u128, b.len() - 8)?;
    b[8..]
        .iter()
        .enumerate()
        .map(|(i, &y)| {
            if (y as usize) < num_classes {
                Ok(y as i64)
            } else {
                Err(DataError::LabelOutOfRange {
                    path: origin.to_string(),
                    index: i,
                    label: y as i64,
                    num_classes,
                })
            }
        })
        .collect()
}

/// Parses an image file and its label file into a single-channel split, checking that the
/// counts agree.
pub(crate) fn parse_idx_pair(
    images: &[u8],
    images_origin: &str,
    labels: &[u8],
    labels_origin: &str,
    num_classes: usize,
) -> Result<RawSplit> {
    let imgs = parse_idx_images(images, images_origin)?;
    let labels = parse_idx_labels(labels, labels_origin, num_classes)?;
    if labels.len() != imgs.n {
        return Err(DataError::CountMismatch {
            labels_path: labels_origin.to_string(),
            images_path: images_origin.to_string(),
            labels: labels.len(),
            images: imgs.n,
        });
    }
    Ok(RawSplit::new(imgs.pixels, labels, 1, imgs.h, imgs.w))
}

/// Finds `dir/<stem>` or, if absent, `dir/<stem>.gz`.
fn find_idx_file(dir: &Path, stem: &str) -> Result<std::path::PathBuf> {
    let raw = dir.join(stem);
    if raw.is_file() {
        return Ok(raw);
    }
    let gz = dir.join(format!("{stem}.gz"));
    if gz.is_file() {
        return Ok(gz);
    }
    Err(DataError::MissingFile {
        path: disp(&raw),
        expected: format!("{stem} or {stem}.gz"),
    })
}

/// Loads an MNIST-style directory holding `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`,
/// `t10k-images-idx3-ubyte` and `t10k-labels-idx1-ubyte`, each raw or with a `.gz` suffix
/// (the raw file is used when both exist). Train and test images must have the same size.
///
/// `flavor` picks class names and mirror invariance; [`IdxFlavor::Auto`] takes it from the
/// content ([`IDX_RELEASES`]) and fails with [`DataError::UnknownKind`] when the files are not
/// a published release. An explicit flavor that contradicts a recognised release is
/// [`DataError::KindConflict`]. What decided is in the dataset's [`RawDataset::source`].
pub fn load_idx_dir(dir: impl AsRef<Path>, flavor: IdxFlavor) -> Result<RawDataset> {
    load_idx_dir_with(dir.as_ref(), flavor, &IDX_RELEASES)
}

/// [`load_idx_dir`] against a given list of known releases (tests use their own).
pub(crate) fn load_idx_dir_with(
    dir: &Path,
    flavor: IdxFlavor,
    releases: &[IdxRelease],
) -> Result<RawDataset> {
    let mut splits = Vec::with_capacity(2);
    let mut read = Vec::with_capacity(4);
    for prefix in ["train", "t10k"] {
        let ip = find_idx_file(dir, &format!("{prefix}-images-idx3-ubyte"))?;
        let lp = find_idx_file(dir, &format!("{prefix}-labels-idx1-ubyte"))?;
        let ib = read_file(&ip, "an idx3 image file")?;
        let lb = read_file(&lp, "an idx1 label file")?;
        splits.push((
            ip.clone(),
            parse_idx_pair(&ib, &disp(&ip), &lb, &disp(&lp), 10)?,
        ));
        read.push((ip, ib));
        read.push((lp, lb));
    }
    let (test_path, test) = splits.pop().expect("two splits");
    let (_, train) = splits.pop().expect("two splits");
    if (test.h, test.w) != (train.h, train.w) {
        return Err(DataError::invalid(
            disp(&test_path),
            format!("images of {}x{} like the train split", train.h, train.w),
            format!("{}x{}", test.h, test.w),
        ));
    }
    let recognised = identify(dir, &read, releases)?;
    let (flavor, kind_from) = match (flavor, recognised) {
        (IdxFlavor::Auto, None) => return Err(DataError::UnknownKind { path: disp(dir) }),
        (f, Some(r)) if f != IdxFlavor::Auto && f != r.flavor => {
            return Err(DataError::KindConflict {
                path: disp(dir),
                given: f.name(),
                release: r.name,
            })
        }
        (_, Some(r)) => (
            r.flavor,
            format!(
                "content: the four .gz files are the published {} release (SHA-256 of {} {})",
                r.name, r.files[0].0, r.files[0].1
            ),
        ),
        (f, None) => (f, "option --dataset-kind".to_string()),
    };
    let (name, class_names, mirror) = match flavor {
        IdxFlavor::Fashion => (
            "fashion-mnist",
            FASHION_MNIST_CLASSES
                .iter()
                .map(|s| s.to_string())
                .collect(),
            true,
        ),
        _ => ("mnist", (0..10).map(|d| d.to_string()).collect(), false),
    };
    let mut ds = RawDataset::new(name, train, test, class_names, mirror);
    ds.source = DatasetSource {
        format: "idx".into(),
        kind: Some(flavor.name().into()),
        kind_from: Some(kind_from),
        ..Default::default()
    };
    Ok(ds)
}

/// The release in `releases` whose four `.gz` files are in `dir` with their published
/// SHA-256, and whose content is what was read (a raw file read instead of its `.gz` must
/// hold the same bytes as the gunzipped `.gz`). `None` when no release matches.
fn identify(
    dir: &Path,
    read: &[(std::path::PathBuf, Vec<u8>)],
    releases: &[IdxRelease],
) -> Result<Option<IdxRelease>> {
    let names = [
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    ];
    let mut gz = Vec::with_capacity(4);
    for (name, (path, bytes)) in names.iter().zip(read) {
        if path.file_name().is_some_and(|n| n == *name) {
            gz.push((hex::encode(Sha256::digest(bytes)), None));
            continue;
        }
        let p = dir.join(name);
        if !p.is_file() {
            return Ok(None);
        }
        let gz_bytes = read_file(&p, "a gzipped idx file")?;
        gz.push((
            hex::encode(Sha256::digest(&gz_bytes)),
            Some((gz_bytes, bytes)),
        ));
    }
    for r in releases {
        if !r
            .files
            .iter()
            .zip(&gz)
            .all(|((_, want), (got, _))| want == got)
        {
            continue;
        }
        // The raw files read must be the release's content.
        for ((name, _), (_, pair)) in r.files.iter().zip(&gz) {
            if let Some((gz_bytes, raw)) = pair {
                if maybe_gunzip(gz_bytes, name)?.as_ref() != raw.as_slice() {
                    return Ok(None);
                }
            }
        }
        return Ok(Some(*r));
    }
    Ok(None)
}

/// Encodes `n` images of `h x w` (row-major uint8, `pixels.len() == n*h*w`) as an idx3 file.
///
/// # Panics
/// If `pixels.len() != n*h*w` or a dimension does not fit in u32.
pub fn encode_idx_images(pixels: &[u8], n: usize, h: usize, w: usize) -> Vec<u8> {
    assert_eq!(pixels.len(), n * h * w, "encode_idx_images: pixel count");
    let mut out = Vec::with_capacity(16 + pixels.len());
    for v in [IDX3_UBYTE_MAGIC as usize, n, h, w] {
        out.extend_from_slice(
            &u32::try_from(v)
                .expect("idx dimension fits u32")
                .to_be_bytes(),
        );
    }
    out.extend_from_slice(pixels);
    out
}

/// Encodes labels as an idx1 uint8 file.
///
/// # Panics
/// If a label is outside `0..=255`.
pub fn encode_idx_labels(labels: &[i64]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + labels.len());
    out.extend_from_slice(&IDX1_UBYTE_MAGIC.to_be_bytes());
    out.extend_from_slice(
        &u32::try_from(labels.len())
            .expect("count fits u32")
            .to_be_bytes(),
    );
    out.extend(
        labels
            .iter()
            .map(|&y| u8::try_from(y).expect("label fits u8")),
    );
    out
}

/// Gzips `bytes` deterministically: header mtime 0, no file name, OS byte 255 (unknown),
/// compression level 9 (flate2's default miniz_oxide backend). The same input and the same
/// flate2/miniz_oxide versions give identical output bytes.
pub fn gzip_deterministic(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzBuilder::new()
        .mtime(0)
        .operating_system(255)
        .write(Vec::with_capacity(bytes.len() / 3), Compression::new(9));
    enc.write_all(bytes).expect("writing to a Vec cannot fail");
    enc.finish().expect("writing to a Vec cannot fail")
}
