//! Reading (and, for tests and tools, writing) NumPy `.npz` archives: a zip of `.npy` files,
//! stored or deflated (`np.savez` / `np.savez_compressed`).
//!
//! Entries are the tensors of the layout (`images.npy`, `labels.npy`, ...) plus an optional
//! `metadata.npy`: a 0-d string array holding a JSON object, as written by
//! `np.savez(path, ..., metadata=np.array(json.dumps({...})))`. Object (pickled), complex,
//! big-endian and Fortran-ordered arrays are refused with the entry named.

use super::error::{ImportError, ImportErrorKind, NpyError, WriteError};
use super::tensors::{DType, RawTensor};
use std::collections::BTreeMap;
use std::io::{Cursor, Read, Write};
use std::path::Path;

pub type Contents = (Vec<(String, RawTensor)>, BTreeMap<String, String>);

const MAGIC: &[u8] = b"\x93NUMPY";

/// What an npy header's `descr` denotes.
enum Descr {
    Tensor(DType),
    /// Unicode (`<U n`, UTF-32) or bytes (`|S n`) string of `n` characters.
    Unicode(usize),
    Bytes(usize),
}

fn parse_descr(d: &str) -> Result<Descr, NpyError> {
    let (order, body) = match d.chars().next() {
        Some(c @ ('<' | '>' | '|' | '=')) => (c, &d[1..]),
        _ => ('=', d),
    };
    if order == '>' && !matches!(body, "u1" | "i1" | "b1") && !body.starts_with('S') {
        return Err(NpyError::BigEndian(d.to_string()));
    }
    Ok(Descr::Tensor(match body {
        "b1" | "?" => DType::Bool,
        "u1" | "B" => DType::U8,
        "i1" | "b" => DType::I8,
        "i2" | "h" => DType::I16,
        "u2" | "H" => DType::U16,
        "i4" | "i" => DType::I32,
        "u4" | "I" => DType::U32,
        "i8" | "q" | "l" => DType::I64,
        "u8" | "Q" | "L" => DType::U64,
        "f2" | "e" => DType::F16,
        "f4" | "f" => DType::F32,
        "f8" | "d" => DType::F64,
        s if s.starts_with('U') => {
            return s[1..]
                .parse()
                .map(Descr::Unicode)
                .map_err(|_| NpyError::UnknownDType(d.to_string()))
        }
        s if s.starts_with('S') => {
            return s[1..]
                .parse()
                .map(Descr::Bytes)
                .map_err(|_| NpyError::UnknownDType(d.to_string()))
        }
        "O" => return Err(NpyError::Pickled(d.to_string())),
        _ => return Err(NpyError::UnknownDType(d.to_string())),
    }))
}

/// The value of `key` in the header's Python dict literal (`{'descr': '<f4', ...}`).
fn header_value<'a>(h: &'a str, key: &str) -> Option<&'a str> {
    let at = h.find(&format!("'{key}'"))? + key.len() + 2;
    let rest = h[at..].trim_start().strip_prefix(':')?.trim_start();
    let end = if rest.starts_with('(') {
        rest.find(')')? + 1
    } else if let Some(r) = rest.strip_prefix('\'') {
        r.find('\'')? + 2
    } else {
        rest.find([',', '}']).unwrap_or(rest.len())
    };
    Some(rest[..end].trim())
}

/// Parses one `.npy` payload into its descr, shape and data bytes.
fn parse_npy(bytes: &[u8]) -> Result<(Descr, Vec<usize>, &[u8]), NpyError> {
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err(NpyError::BadMagic);
    }
    let (hlen, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes(bytes[8..12].try_into().unwrap()) as usize,
            12,
        ),
        v => return Err(NpyError::Version(v)),
    };
    if bytes.len() < start + hlen {
        return Err(NpyError::TruncatedHeader);
    }
    let h =
        std::str::from_utf8(&bytes[start..start + hlen]).map_err(|_| NpyError::HeaderNotText)?;
    let descr = header_value(h, "descr")
        .map(|d| d.trim_matches('\''))
        .ok_or(NpyError::MissingKey("descr"))?;
    let descr = parse_descr(descr)?;
    if header_value(h, "fortran_order") == Some("True") {
        return Err(NpyError::FortranOrder);
    }
    let shape_s = header_value(h, "shape").ok_or(NpyError::MissingKey("shape"))?;
    let shape: Vec<usize> = shape_s
        .trim_matches(|c| c == '(' || c == ')')
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.trim_end_matches('L').parse::<usize>())
        .collect::<Result<_, _>>()
        .map_err(|_| NpyError::BadShape(shape_s.to_string()))?;
    Ok((descr, shape, &bytes[start + hlen..]))
}

fn decode_string(descr: &Descr, data: &[u8]) -> Option<String> {
    match *descr {
        Descr::Unicode(n) => {
            let chars: Option<String> = data
                .get(..4 * n)?
                .chunks_exact(4)
                .map(|c| char::from_u32(u32::from_le_bytes(c.try_into().unwrap())))
                .collect();
            Some(chars?.trim_end_matches('\0').to_string())
        }
        Descr::Bytes(n) => String::from_utf8(data.get(..n)?.to_vec())
            .ok()
            .map(|s| s.trim_end_matches('\0').to_string()),
        Descr::Tensor(_) => None,
    }
}

/// Reads the tensors and metadata of the `.npz` archive `file`, whose content is `bytes`.
///
/// # Errors
/// [`ImportErrorKind::Container`] for a broken zip, a bad `metadata` entry or a string array;
/// [`ImportErrorKind::Npy`] for an entry that is not an array this harness reads.
pub fn read(file: &Path, bytes: &[u8]) -> Result<Contents, ImportError> {
    let container = |text: String| ImportError::container(file, text);
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| {
        container(format!(
            "truncated or not an .npz archive: cannot read it as a zip file ({e})"
        ))
    })?;
    let mut tensors = Vec::new();
    let mut metadata = BTreeMap::new();
    for i in 0..zip.len() {
        let mut entry = zip
            .by_index(i)
            .map_err(|e| container(format!("entry {i} of the archive: {e}")))?;
        let entry_name = entry.name().to_string();
        let name = entry_name
            .strip_suffix(".npy")
            .unwrap_or(&entry_name)
            .to_string();
        let mut buf = Vec::new();
        entry
            .read_to_end(&mut buf)
            .map_err(|e| container(format!("entry `{entry_name}` is truncated or corrupt: {e}")))?;
        let (descr, shape, data) = parse_npy(&buf).map_err(|error| {
            let (tensor, entry) = (name.clone(), entry_name.clone());
            ImportError::new(
                file,
                ImportErrorKind::Npy {
                    tensor,
                    entry,
                    error,
                },
            )
        })?;
        if name == "metadata" {
            let text = decode_string(&descr, data).filter(|_| shape.is_empty()).ok_or_else(|| {
                container("`metadata` must be a 0-d string array holding a JSON object (np.array(json.dumps({...})))".into())
            })?;
            let v: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| container(format!("`metadata` is not valid JSON: {e}")))?;
            let obj = v
                .as_object()
                .ok_or_else(|| container("`metadata` must be a JSON object".into()))?;
            for (k, v) in obj {
                let s = match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                metadata.insert(k.clone(), s);
            }
            continue;
        }
        let dtype = match descr {
            Descr::Tensor(d) => d,
            Descr::Unicode(_) | Descr::Bytes(_) => {
                return Err(ImportError::bad_tensor(
                    file,
                    &name,
                    "is a string array; only `metadata` may hold text",
                ))
            }
        };
        tensors.push((
            name,
            RawTensor {
                dtype,
                shape,
                data: data.to_vec(),
            },
        ));
    }
    Ok((tensors, metadata))
}

fn npy_descr(d: DType) -> &'static str {
    match d {
        DType::Bool => "|b1",
        DType::U8 => "|u1",
        DType::I8 => "|i1",
        DType::I16 => "<i2",
        DType::U16 => "<u2",
        DType::I32 => "<i4",
        DType::U32 => "<u4",
        DType::I64 => "<i8",
        DType::U64 => "<u8",
        DType::F16 => "<f2",
        DType::F32 => "<f4",
        DType::F64 => "<f8",
        DType::BF16 => "<V2", // NumPy has no bfloat16
    }
}

fn npy_bytes(descr: &str, shape: &[usize], data: &[u8]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape_s = match dims.len() {
        0 => "()".to_string(),
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let mut h = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape_s}, }}");
    while (10 + h.len() + 1) % 64 != 0 {
        h.push(' ');
    }
    h.push('\n');
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&(h.len() as u16).to_le_bytes());
    out.extend_from_slice(h.as_bytes());
    out.extend_from_slice(data);
    out
}

/// Writes an `.npz` (stored, like `np.savez`) with `metadata` as a JSON string entry.
///
/// # Errors
/// [`WriteError::NoBf16`] for a bfloat16 tensor; [`WriteError::Zip`] if the archive cannot
/// be written.
pub fn to_bytes(
    tensors: &[(String, RawTensor)],
    metadata: &BTreeMap<String, String>,
) -> Result<Vec<u8>, WriteError> {
    let zip_err = |e: &dyn std::fmt::Display| WriteError::Zip(e.to_string());
    let mut zw = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts =
        zip::write::FileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, t) in tensors {
        if t.dtype == DType::BF16 {
            return Err(WriteError::NoBf16(name.clone()));
        }
        zw.start_file(format!("{name}.npy"), opts)
            .map_err(|e| zip_err(&e))?;
        zw.write_all(&npy_bytes(npy_descr(t.dtype), &t.shape, &t.data))
            .map_err(|e| zip_err(&e))?;
    }
    if !metadata.is_empty() {
        let json = serde_json::to_string(metadata).map_err(|e| zip_err(&e))?;
        let n = json.chars().count();
        let data: Vec<u8> = json
            .chars()
            .flat_map(|c| (c as u32).to_le_bytes())
            .collect();
        zw.start_file("metadata.npy", opts)
            .map_err(|e| zip_err(&e))?;
        zw.write_all(&npy_bytes(&format!("<U{n}"), &[], &data))
            .map_err(|e| zip_err(&e))?;
    }
    Ok(zw.finish().map_err(|e| zip_err(&e))?.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numpy_headers_parse() {
        // Exactly what NumPy 2.x writes for np.zeros((2, 3), np.uint8) and a 0-d string.
        let mut b =
            b"\x93NUMPY\x01\x00v\x00{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3), }"
                .to_vec();
        b.resize(10 + 0x76, b' ');
        *b.last_mut().unwrap() = b'\n';
        b.extend_from_slice(&[7; 6]);
        let (d, shape, data) = parse_npy(&b).unwrap();
        assert!(matches!(d, Descr::Tensor(DType::U8)));
        assert_eq!(shape, vec![2, 3]);
        assert_eq!(data, &[7; 6]);
        assert!(matches!(parse_descr("<U10"), Ok(Descr::Unicode(10))));
        assert!(matches!(parse_descr("<f4"), Ok(Descr::Tensor(DType::F32))));
        assert_eq!(
            parse_descr(">f4").err().unwrap().to_string(),
            "dtype \">f4\" is big-endian; save little-endian arrays (`a.astype(a.dtype.newbyteorder('<'))`)"
        );
        assert_eq!(
            parse_descr("<c8").err().unwrap().to_string(),
            "unknown dtype \"<c8\""
        );
        assert!(parse_descr("|O")
            .err()
            .unwrap()
            .to_string()
            .contains("pickled"));
        assert_eq!(header_value("{'shape': (), }", "shape"), Some("()"));
        assert_eq!(header_value("{'shape': (5,), }", "shape"), Some("(5,)"));
    }

    #[test]
    fn written_archives_read_back_with_metadata() {
        let t = RawTensor {
            dtype: DType::F32,
            shape: vec![2, 2],
            data: [0.5f32, 1.0, 0.0, 0.25]
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect(),
        };
        let mut meta = BTreeMap::new();
        meta.insert("method".to_string(), "dé".to_string());
        let bytes = to_bytes(&[("images".into(), t)], &meta).unwrap();
        let (ts, m) = read(Path::new("a.npz"), &bytes).unwrap();
        assert_eq!(m, meta);
        assert_eq!(ts[0].0, "images");
        assert_eq!(ts[0].1.shape, vec![2, 2]);
        assert_eq!(ts[0].1.data.len(), 16);
        let e = read(Path::new("a.npz"), &bytes[..bytes.len() / 2])
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("a.npz: truncated or not an .npz archive: cannot read it as a zip file"),
            "{e}"
        );
    }
}
