//! The sets the field publishes: Parquet files as the Hugging Face `datasets` library writes
//! them (`push_to_hub`, `to_parquet`), one row per image.
//!
//! * **Input**: one `.parquet` file, or a folder of shards: the `.parquet` files directly in
//!   it, else in its `data/` subfolder (a Hub repository's layout), in name order; when some
//!   shard names start with `train` (`train-00000-of-00003.parquet`) only those are read, so
//!   a repository that also holds a test split never feeds it to training.
//! * **Columns** ([`Columns`], `--from-image-column`, `--from-label-column`): the image column
//!   (default `image`) holds encoded PNG/JPEG bytes, either as the `Image` feature stores them,
//!   a struct `{bytes: binary, path: string}`, or as a plain binary column; the label column
//!   (default `class_id`, the benchmark's name) holds integers. Other columns are not read.
//!   A missing column, a wrong type or a null value is an error naming the shard, the column
//!   and the columns found.
//! * **Classes**: when the label column is a `ClassLabel` feature (the `huggingface` key of
//!   the file's metadata lists its `names`), those names become the set's `class_names`
//!   metadata and are checked against the dataset's class order like every other format;
//!   otherwise label `i` is taken as the dataset's class `i`, with the usual warning. Other
//!   key-value metadata of the file (except pyarrow's `ARROW:schema`, `pandas` and
//!   `huggingface`) is read as the set's metadata (`method`, `budget`, ...).
//! * **Decoding**: as an ImageFolder set ([`super::folder`]): converted to the dataset's
//!   channels and, when not at the dataset's resolution, stretched to it (bilinear), counted;
//!   in parallel, one shard at a time (memory: one shard's bytes plus the decoded set).
//! * **Compression**: the codecs pyarrow writes by default (snappy) and uncompressed pages;
//!   another codec (zstd, gzip, ...) is refused with its name by the `parquet` crate.
//! * **Identity**: SHA-256 over the shards' names and bytes, in order.

use super::error::{ImportError, ImportErrorKind};
use super::tensors::{DType, RawTensor};
use crate::data::{decode, Preprocess};
pub use crate::plan::imported::Columns;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::Field;
use parquet::schema::types::Type;
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What a Parquet set holds once read.
pub struct Parquet {
    /// `images` (uint8 `[N, C, H, W]`, rows in shard order) and `labels` (int64 `[N]`).
    pub tensors: Vec<(String, RawTensor)>,
    /// The files' key-value metadata and `class_names` from a `ClassLabel` feature.
    pub metadata: BTreeMap<String, String>,
    /// SHA-256 over the shards' names and bytes.
    pub sha256: String,
    /// Images whose size differed from the dataset's resolution (resized).
    pub resized: usize,
    /// Notes for the record (the shards read).
    pub notes: Vec<String>,
}

/// Whether `dir` is a folder of Parquet shards (see the module docs) rather than an
/// ImageFolder set.
pub fn is_shard_folder(dir: &Path) -> bool {
    !shards(dir).is_empty()
}

/// The shards of a folder, in the order they are read (see the module docs).
pub fn shards(dir: &Path) -> Vec<PathBuf> {
    let list = |d: &Path| -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(d)
            .map(|it| {
                it.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| {
                        p.is_file()
                            && p.extension()
                                .is_some_and(|e| e.eq_ignore_ascii_case("parquet"))
                            && !p
                                .file_name()
                                .is_some_and(|n| n.as_encoded_bytes().starts_with(b"."))
                    })
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    };
    let mut v = list(dir);
    if v.is_empty() {
        v = list(&dir.join("data"));
    }
    let is_train = |p: &PathBuf| {
        p.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("train"))
    };
    if v.iter().any(is_train) {
        v.retain(is_train);
    }
    v
}

/// Reads the set at `path` (a `.parquet` file or a folder of shards) at the dataset's
/// `shape` (`[C, H, W]`).
///
/// # Errors
/// [`ImportErrorKind::Container`] naming the shard for an unreadable file, a missing or
/// mistyped column, a null or out-of-range value; [`ImportErrorKind::Data`] for an image that
/// does not decode (naming the shard and row).
pub fn read(path: &Path, shape: [i64; 3], columns: &Columns) -> Result<Parquet, ImportError> {
    let [c, h, w] = shape;
    if h != w || !(c == 1 || c == 3) {
        return Err(ImportError::container(path, format!(
            "a Parquet set needs a dataset with square 1- or 3-channel images; this dataset's are {c}x{h}x{w}"
        )));
    }
    let files = if path.is_dir() {
        let s = shards(path);
        if s.is_empty() {
            return Err(ImportError::container(
                path,
                "no .parquet file in this folder or its data/ subfolder",
            ));
        }
        s
    } else {
        vec![path.to_path_buf()]
    };
    let (c, side) = (c as usize, h as u32);
    let mut hasher = Sha256::new();
    hasher.update(b"distillery-parquet-set-v1\n");
    let mut images = Vec::new();
    let mut labels: Vec<i64> = Vec::new();
    let mut metadata = BTreeMap::new();
    let mut resized = 0;
    for file in &files {
        let bytes = std::fs::read(file).map_err(|e| {
            let kind = if e.kind() == std::io::ErrorKind::NotFound {
                ImportErrorKind::NotFound
            } else {
                ImportErrorKind::Unreadable(e)
            };
            ImportError::new(file, kind)
        })?;
        let name = file.file_name().unwrap_or_default().as_encoded_bytes();
        hasher.update((name.len() as u64).to_le_bytes());
        hasher.update(name);
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(&bytes);
        let shard = read_shard(file, bytes, columns)?;
        for (k, v) in shard.metadata {
            metadata.entry(k).or_insert(v);
        }
        let len = c * (side as usize).pow(2);
        let start = images.len();
        images.resize(start + shard.images.len() * len, 0u8);
        let sizes: Vec<Result<(u32, u32), ImportError>> = images[start..]
            .par_chunks_mut(len)
            .zip(shard.images.par_iter())
            .enumerate()
            .map(|(row, (out, bytes))| {
                let at = PathBuf::from(format!(
                    "{} (row {row}, column `{}`)",
                    file.display(),
                    columns.image
                ));
                decode::decode_into(&at, bytes, c, Preprocess::Stretch(side), out)
                    .map_err(|e| ImportError::new(file, ImportErrorKind::Data(e)))
            })
            .collect();
        for s in sizes {
            if s? != (side, side) {
                resized += 1;
            }
        }
        labels.extend(shard.labels);
    }
    let n = labels.len();
    if n == 0 {
        return Err(ImportError::container(
            path,
            "no row in the Parquet file(s)",
        ));
    }
    let mut notes = Vec::new();
    if files.len() > 1 || path.is_dir() {
        let names: Vec<String> = files
            .iter()
            .map(|f| {
                f.file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        notes.push(format!(
            "{} Parquet shard(s) read: {}",
            files.len(),
            names.join(", ")
        ));
    }
    let tensors = vec![
        (
            "images".to_string(),
            RawTensor {
                dtype: DType::U8,
                shape: vec![n, c, side as usize, side as usize],
                data: images,
            },
        ),
        (
            "labels".to_string(),
            RawTensor {
                dtype: DType::I64,
                shape: vec![n],
                data: labels.iter().flat_map(|l| l.to_le_bytes()).collect(),
            },
        ),
    ];
    Ok(Parquet {
        tensors,
        metadata,
        sha256: hex::encode(hasher.finalize()),
        resized,
        notes,
    })
}

/// One shard's encoded images, labels and metadata.
struct Shard {
    images: Vec<Vec<u8>>,
    labels: Vec<i64>,
    metadata: BTreeMap<String, String>,
}

/// Keys of a Parquet file's key-value metadata that are not the set's metadata.
const WRITER_KEYS: [&str; 3] = ["ARROW:schema", "pandas", "huggingface"];

fn read_shard(file: &Path, bytes: Vec<u8>, columns: &Columns) -> Result<Shard, ImportError> {
    let bad = |msg: String| ImportError::container(file, msg);
    let reader = SerializedFileReader::new(bytes::Bytes::from(bytes))
        .map_err(|e| bad(format!("not a readable Parquet file: {e}")))?;
    let meta = reader.metadata().file_metadata();
    let root = meta.schema_descr().root_schema();
    let fields = root.get_fields();
    let found = || {
        fields
            .iter()
            .map(|f| format!("`{}`", f.name()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let find = |name: &str, option: &str| {
        fields
            .iter()
            .find(|f| f.name() == name)
            .cloned()
            .ok_or_else(|| {
                bad(format!(
                    "no column `{name}` (columns: {}); name the {} column with {option}",
                    found(),
                    if option.contains("image") {
                        "image"
                    } else {
                        "label"
                    }
                ))
            })
    };
    let image = find(&columns.image, "--from-image-column")?;
    let label = find(&columns.label, "--from-label-column")?;
    check_image_type(&image, &columns.image).map_err(bad)?;
    check_label_type(&label, &columns.label).map_err(bad)?;
    let mut metadata = BTreeMap::new();
    for kv in meta.key_value_metadata().into_iter().flatten() {
        if let Some(v) = &kv.value {
            if !WRITER_KEYS.contains(&kv.key.as_str()) {
                metadata.insert(kv.key.clone(), v.clone());
            }
            if kv.key == "huggingface" {
                if let Some(names) = class_label_names(v, &columns.label) {
                    metadata.insert(
                        "class_names".into(),
                        serde_json::to_string(&names).expect("strings"),
                    );
                }
            }
        }
    }
    let projection = Type::group_type_builder(root.name())
        .with_fields(vec![image, label])
        .build()
        .map_err(|e| bad(e.to_string()))?;
    let rows = reader
        .get_row_iter(Some(projection))
        .map_err(|e| bad(format!("cannot read its rows: {e}")))?;
    let n = meta.num_rows().max(0) as usize;
    let (mut images, mut labels) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for (i, row) in rows.enumerate() {
        let row = row.map_err(|e| bad(format!("row {i}: {e}")))?;
        let mut cols = row.into_columns().into_iter();
        let (Some((_, img)), Some((_, lab))) = (cols.next(), cols.next()) else {
            return Err(bad(format!("row {i}: missing values")));
        };
        images.push(
            image_bytes(img)
                .map_err(|why| bad(format!("row {i}: column `{}` {why}", columns.image)))?,
        );
        labels.push(
            label_value(&lab)
                .map_err(|why| bad(format!("row {i}: column `{}` {why}", columns.label)))?,
        );
    }
    Ok(Shard {
        images,
        labels,
        metadata,
    })
}

/// The image column is binary, or a struct with a binary `bytes` field (the `Image` feature).
fn check_image_type(t: &Type, name: &str) -> Result<(), String> {
    use parquet::basic::Type as Physical;
    let binary = |t: &Type| !t.is_group() && t.get_physical_type() == Physical::BYTE_ARRAY;
    let ok = binary(t)
        || (t.is_group()
            && t.get_fields()
                .iter()
                .any(|f| f.name() == "bytes" && binary(f)));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "column `{name}` is not encoded images: expected binary PNG/JPEG bytes, or a struct {{bytes: binary, path: string}} as the Hugging Face Image feature stores them"
        ))
    }
}

/// The label column holds integers.
fn check_label_type(t: &Type, name: &str) -> Result<(), String> {
    use parquet::basic::Type as Physical;
    if !t.is_group() && matches!(t.get_physical_type(), Physical::INT32 | Physical::INT64) {
        Ok(())
    } else {
        Err(format!(
            "column `{name}` is not integer class indices (found {}); name the label column with --from-label-column",
            if t.is_group() {
                "a struct".to_string()
            } else {
                format!("{:?}", t.get_physical_type())
            }
        ))
    }
}

fn image_bytes(f: Field) -> Result<Vec<u8>, &'static str> {
    match f {
        Field::Bytes(b) => Ok(b.data().to_vec()),
        Field::Group(row) => row
            .into_columns()
            .into_iter()
            .find(|(n, _)| n == "bytes")
            .map_or(Err("has no `bytes`"), |(_, v)| match v {
                Field::Bytes(b) => Ok(b.data().to_vec()),
                Field::Null => {
                    Err("is null (an image stored by path only is not read: store its bytes)")
                }
                _ => Err("holds no bytes"),
            }),
        Field::Null => Err("is null"),
        _ => Err("holds no bytes"),
    }
}

fn label_value(f: &Field) -> Result<i64, &'static str> {
    match *f {
        Field::Byte(v) => Ok(v as i64),
        Field::Short(v) => Ok(v as i64),
        Field::Int(v) => Ok(v as i64),
        Field::Long(v) => Ok(v),
        Field::UByte(v) => Ok(v as i64),
        Field::UShort(v) => Ok(v as i64),
        Field::UInt(v) => Ok(v as i64),
        Field::ULong(v) => i64::try_from(v).map_err(|_| "is too large"),
        Field::Null => Err("is null"),
        _ => Err("is not an integer"),
    }
}

/// The `names` of a `ClassLabel` feature `column` in the `huggingface` metadata JSON
/// (`{"info": {"features": {column: {"_type": "ClassLabel", "names": [...]}}}}`).
fn class_label_names(json: &str, column: &str) -> Option<Vec<String>> {
    let v: serde_json::Value = serde_json::from_str(json).ok()?;
    let f = v.get("info")?.get("features")?.get(column)?;
    if f.get("_type")?.as_str()? != "ClassLabel" {
        return None;
    }
    f.get("names")?
        .as_array()?
        .iter()
        .map(|n| n.as_str().map(str::to_string))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_label_names_come_from_the_huggingface_metadata() {
        let j = r#"{"info": {"features": {"image": {"_type": "Image"}, "class_id": {"names": ["cat", "dog"], "_type": "ClassLabel"}}}}"#;
        assert_eq!(
            class_label_names(j, "class_id"),
            Some(vec!["cat".to_string(), "dog".to_string()])
        );
        assert_eq!(class_label_names(j, "image"), None);
        let plain = r#"{"info": {"features": {"class_id": {"dtype": "int64", "_type": "Value"}}}}"#;
        assert_eq!(class_label_names(plain, "class_id"), None);
    }
}
