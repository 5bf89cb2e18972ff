//! Reading and writing the safetensors container.
//!
//! The file is an 8-byte little-endian header length, a JSON header (`"__metadata__"`: a map of
//! strings; one entry per tensor: `dtype`, `shape`, `data_offsets`), then the tensor bytes.
//! Before the `safetensors` crate parses the file, the header is read here once so that a
//! truncated file, an element type this harness does not know, or inconsistent offsets are
//! reported with the file, the tensor and the numbers instead of a bare parse error.

use super::error::{ImportError, WriteError};
use super::tensors::{self, DType, RawTensor};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// Tensors in file order of their offsets, and the metadata.
pub type Contents = (Vec<(String, RawTensor)>, BTreeMap<String, String>);

/// Reads the tensors and metadata of the safetensors file `file`, whose content is `bytes`.
///
/// # Errors
/// [`ImportErrorKind::Container`](super::ImportErrorKind::Container) for a truncated file, a
/// header that is not JSON, non-string metadata or inconsistent offsets;
/// [`ImportErrorKind::Tensor`](super::ImportErrorKind::Tensor) for a tensor entry the header
/// describes wrongly; [`ImportErrorKind::UnknownDType`](super::ImportErrorKind::UnknownDType).
pub fn read(file: &Path, bytes: &[u8]) -> Result<Contents, ImportError> {
    let container = |text: String| ImportError::container(file, text);
    if bytes.len() < 8 {
        return Err(container(format!(
            "truncated or not a safetensors file: {} bytes, shorter than the 8-byte header length",
            bytes.len()
        )));
    }
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap());
    let rest = (bytes.len() - 8) as u64;
    if n > rest {
        return Err(container(format!(
            "truncated or not a safetensors file: the header length field says {n} bytes, but only {rest} follow it"
        )));
    }
    let n = n as usize;
    let not_json = || container("not a safetensors file (its header is not a JSON object)".into());
    let header: serde_json::Value = std::str::from_utf8(&bytes[8..8 + n])
        .ok()
        .filter(|s| s.trim_start().starts_with('{'))
        .and_then(|s| serde_json::from_str(s).ok())
        .ok_or_else(not_json)?;
    let obj = header.as_object().ok_or_else(not_json)?;
    let data_len = bytes.len() - 8 - n;
    let mut metadata = BTreeMap::new();
    let mut order: Vec<(usize, String)> = Vec::new();
    for (name, v) in obj {
        if name == "__metadata__" {
            let m = v
                .as_object()
                .ok_or_else(|| container("`__metadata__` must be a map of strings".into()))?;
            for (k, v) in m {
                let s = v.as_str().ok_or_else(|| {
                    container(format!("metadata key `{k}` must be a string (safetensors metadata holds strings only), found {v}"))
                })?;
                metadata.insert(k.clone(), s.to_string());
            }
            continue;
        }
        let bad = |why: &str| ImportError::tensor(file, name, why);
        let dtype_s = v
            .get("dtype")
            .and_then(|d| d.as_str())
            .ok_or_else(|| bad("no `dtype` in the header"))?;
        let dtype = DType::from_safetensors(dtype_s)
            .ok_or_else(|| tensors::unknown_dtype(file, name, dtype_s))?;
        let shape: Vec<usize> = v
            .get("shape")
            .and_then(|s| s.as_array())
            .and_then(|a| a.iter().map(|d| d.as_u64().map(|d| d as usize)).collect())
            .ok_or_else(|| bad("`shape` must be a list of non-negative integers"))?;
        let offs: Vec<usize> = v
            .get("data_offsets")
            .and_then(|s| s.as_array())
            .and_then(|a| a.iter().map(|d| d.as_u64().map(|d| d as usize)).collect())
            .filter(|o: &Vec<usize>| o.len() == 2 && o[0] <= o[1])
            .ok_or_else(|| bad("`data_offsets` must be [begin, end] with begin <= end"))?;
        let need = shape
            .iter()
            .try_fold(dtype.size(), |a, &d| a.checked_mul(d))
            .ok_or_else(|| bad(&format!("impossible shape {shape:?}")))?;
        if offs[1] - offs[0] != need {
            return Err(bad(&format!(
                "`data_offsets` {offs:?} span {} bytes, but shape {shape:?} of {dtype_s} needs {need}",
                offs[1] - offs[0]
            )));
        }
        if offs[1] > data_len {
            return Err(container(format!(
                "truncated: tensor `{name}` ends at byte {} of the data section, which has only {data_len} bytes ({} bytes missing)",
                offs[1],
                offs[1] - data_len
            )));
        }
        order.push((offs[0], name.clone()));
    }
    // The crate's own validation (contiguous, non-overlapping offsets covering the data).
    let st = safetensors::SafeTensors::deserialize(bytes)
        .map_err(|e| container(format!("not a valid safetensors file: {e:?}")))?;
    order.sort();
    let mut out = Vec::with_capacity(order.len());
    for (_, name) in order {
        let view = st
            .tensor(&name)
            .map_err(|e| ImportError::tensor(file, &name, format!("{e:?}")))?;
        let dtype = DType::from_safetensors(&format!("{:?}", view.dtype()))
            .ok_or_else(|| tensors::unknown_dtype(file, &name, &format!("{:?}", view.dtype())))?;
        out.push((
            name,
            RawTensor {
                dtype,
                shape: view.shape().to_vec(),
                data: view.data().to_vec(),
            },
        ));
    }
    Ok((out, metadata))
}

struct View<'a>(&'a RawTensor);

impl safetensors::View for View<'_> {
    fn dtype(&self) -> safetensors::Dtype {
        use safetensors::Dtype as D;
        match self.0.dtype {
            DType::Bool => D::BOOL,
            DType::U8 => D::U8,
            DType::I8 => D::I8,
            DType::I16 => D::I16,
            DType::U16 => D::U16,
            DType::I32 => D::I32,
            DType::U32 => D::U32,
            DType::I64 => D::I64,
            DType::U64 => D::U64,
            DType::F16 => D::F16,
            DType::BF16 => D::BF16,
            DType::F32 => D::F32,
            DType::F64 => D::F64,
        }
    }
    fn shape(&self) -> &[usize] {
        &self.0.shape
    }
    fn data(&self) -> std::borrow::Cow<'_, [u8]> {
        (&self.0.data[..]).into()
    }
    fn data_len(&self) -> usize {
        self.0.data.len()
    }
}

/// Serialises tensors and metadata to safetensors bytes.
///
/// # Errors
/// [`WriteError::Safetensors`] when the crate refuses the tensors.
pub fn to_bytes(
    tensors: &[(String, RawTensor)],
    metadata: &BTreeMap<String, String>,
) -> Result<Vec<u8>, WriteError> {
    let meta: HashMap<String, String> = metadata.clone().into_iter().collect();
    safetensors::serialize(
        tensors.iter().map(|(n, t)| (n.as_str(), View(t))),
        &Some(meta),
    )
    .map_err(|e| WriteError::Safetensors(format!("{e:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<(String, RawTensor)> {
        vec![
            (
                "images".into(),
                RawTensor {
                    dtype: DType::U8,
                    shape: vec![2, 1, 2, 2],
                    data: (0..8).collect(),
                },
            ),
            (
                "labels".into(),
                RawTensor {
                    dtype: DType::I64,
                    shape: vec![2],
                    data: [1i64, 0].iter().flat_map(|v| v.to_le_bytes()).collect(),
                },
            ),
        ]
    }

    #[test]
    fn writes_what_it_reads_and_reports_truncation_precisely() {
        let mut meta = BTreeMap::new();
        meta.insert("method".to_string(), "x".to_string());
        let bytes = to_bytes(&sample(), &meta).unwrap();
        let f = Path::new("s.safetensors");
        let (t, m) = read(f, &bytes).unwrap();
        assert_eq!(m, meta);
        let names: Vec<&str> = t.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names.len(), 2);
        let img = &t.iter().find(|(n, _)| n == "images").unwrap().1;
        assert_eq!(img.data, (0..8).collect::<Vec<u8>>());
        assert_eq!(img.shape, vec![2, 1, 2, 2]);
        // The last tensor in the data section loses 5 bytes.
        let e = read(f, &bytes[..bytes.len() - 5]).unwrap_err().to_string();
        assert!(e.starts_with("s.safetensors: truncated: tensor `"), "{e}");
        assert!(e.ends_with("(5 bytes missing)"), "{e}");
        assert!(read(f, &bytes[..4])
            .unwrap_err()
            .to_string()
            .contains("shorter than the 8-byte header length"));
        let e = read(f, &bytes[..20]).unwrap_err().to_string();
        assert!(e.contains("the header length field says"), "{e}");
        let e = read(f, b"PK\x03\x04not really anything at all")
            .unwrap_err()
            .to_string();
        assert!(e.contains("truncated or not a safetensors file"), "{e}");
    }

    #[test]
    fn unknown_dtypes_are_named_before_the_crate_sees_them() {
        let header = r#"{"images":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}}"#;
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(header.as_bytes());
        bytes.push(0);
        let e = read(Path::new("q.safetensors"), &bytes)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("q.safetensors: tensor `images` has unknown dtype \"F8_E4M3\": `images` must be uint8"),
            "{e}"
        );
    }
}
